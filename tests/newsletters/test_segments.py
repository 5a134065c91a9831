"""Segments: each rule and combinations against hand-built data, NOT over bookings, partner
scope and sharing rules, validation errors, query counts and the count's statement timeout."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, Offer, Participant, Session
from destination.errors import DomainError
from destination.models import (
    Channel,
    ConsentProof,
    Guest,
    Household,
    Purpose,
)
from destination.services.consent import consent_record
from newsletters import segments
from newsletters.segments import (
    season_bounds,
    segment_count,
    segment_preview,
    segment_queryset,
    segment_rules_validate,
)
from partners.models import Partner
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    PartnerFactory,
    TagFactory,
)
from tests.newsletters.tracking_helpers import campaign_make, hit_make, message_make

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 12, 2, 10, 0))
_refs = itertools.count(1)


def at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(day).replace(hour=10))


def book(
    guest: Guest,
    partner: Partner,
    *,
    day: str = "2026-02-10",
    kind: str = Offer.Kind.GROUP_LESSON,
    status: str = Booking.Status.CONFIRMED,
    children: int = 0,
) -> Booking:
    """A booking row written directly: the segment only reads it."""
    offer = Offer.objects.create(
        partner=partner, kind=kind, slug=f"offer-{next(_refs)}", title_en="Offer", price_cents=1000
    )
    start = at(day)
    session = Session.objects.create(
        offer=offer, starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=10
    )
    return Booking.objects.create(
        reference=f"REF{next(_refs)}",
        session=session,
        partner=partner,
        booker=guest,
        status=status,
        seats=1 + children,
        adults=1,
        children=children,
        total_cents=1000,
        payment_method=Booking.PaymentMethod.ON_SITE,
        channel=Booking.Channel.WEB,
        hold_expires_at=start if status == Booking.Status.HELD else None,
    )


def grant(guest: Guest, purpose: str, *, partner=None, channel="email", granted=True) -> None:
    consent_record(
        guest=guest,
        purpose=purpose,
        granted=granted,
        method=ConsentProof.Method.DESK,
        partners=[partner] if partner else [],
        channels=[channel] if channel else [],
        wording=ConsentWordingFactory(purpose=purpose) if granted else None,
    )


def ids(rules: Any, **kwargs: Any) -> set[int]:
    return set(segment_queryset(rules, now=NOW, **kwargs).values_list("pk", flat=True))


@pytest.fixture
def school() -> Partner:
    return PartnerFactory(name="School", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def hotel() -> Partner:
    return PartnerFactory(name="Hotel", kind=Partner.Kind.LODGING)


# --- Validation -------------------------------------------------------------------------------


def test_a_valid_tree_has_no_errors(school):
    rules = {
        "all": [
            {"rule": "language", "in": ["fr", "en"]},
            {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}},
            {
                "any": [
                    {"rule": "consent", "purpose": "partner_offers", "partner": school.pk,
                     "channel": "email"},
                    {"rule": "stay", "season": "last_winter"},
                ]
            },
        ]
    }  # fmt: skip
    assert segment_rules_validate(rules) == []


@pytest.mark.parametrize(
    ("rules", "path", "fragment"),
    [
        ({"rule": "shoe_size"}, "rule", "Unknown rule"),
        ({"rule": "language", "in": ["fr"], "colour": 1}, "colour", "Unknown field"),
        (
            {
                "all": [
                    {"rule": "language", "in": ["fr"]},
                    {"not": {"rule": "booked", "season": "2025-27"}},
                ]
            },
            "all.1.not.season",
            "season",
        ),
        ({"rule": "language"}, "in", "needs"),
        ({"rule": "language", "in": []}, "in", "non-empty"),
        ({"rule": "country", "in": ["XX"]}, "in", "not a valid value"),
        ({"rule": "consent", "purpose": "partner_offers", "channel": "email"}, "partner", "needs"),
        ({"rule": "consent", "purpose": "newsletter"}, "channel", "needs"),
        ({"rule": "consent", "purpose": "profiling", "channel": "email"}, "channel", "not given"),
        ({"rule": "consent", "purpose": "lottery"}, "purpose", "not one of"),
        ({"rule": "booked", "partner": 999999}, "partner", "no partner"),
        ({"rule": "booked", "partner": "7"}, "partner", "id"),
        ({"rule": "stay"}, "rule", "arrival dates"),
        ({"rule": "stay", "arriving_from": "2026-02-30"}, "arriving_from", "date"),
        (
            {"rule": "stay", "arriving_from": "2026-03-01", "arriving_to": "2026-02-01"},
            "arriving_to",
            "before",
        ),
        ({"rule": "last_contact", "before": "2026-01-01", "within_days": 3}, "rule", "exactly one"),
        ({"rule": "last_contact", "within_days": 0}, "within_days", "between"),
        ({"rule": "last_contact", "within_days": True}, "within_days", "between"),
        ({"any": []}, "any", "at least one"),
        ({"all": {"rule": "language"}}, "all", "list"),
        ({"all": [], "any": []}, "", "exactly one"),
        ({"not": [1]}, "not", "object"),
        ("language = fr; DROP TABLE", "", "object"),
        (None, "", "object"),
        ({"rule": ["language"]}, "rule", "Unknown rule"),
        ({"rule": {"x": 1}}, "rule", "Unknown rule"),
        ({"rule": "language", "in": [["fr"]]}, "in", "not a valid value"),
        ({"rule": "clicked", "campaign": {"$gt": 0}}, "campaign", "id"),
    ],
)
def test_each_problem_is_named_by_its_path(rules, path, fragment):
    errors = segment_rules_validate(rules)
    assert (path, fragment) in [(p, fragment) for p, m in errors if fragment in m], errors


def test_depth_and_size_are_limited():
    deep: dict = {"rule": "language", "in": ["fr"]}
    for _ in range(segments.MAX_DEPTH + 2):
        deep = {"not": deep}
    assert any("nests at most" in m for _p, m in segment_rules_validate(deep))
    wide = {"any": [{"rule": "language", "in": ["fr"]}] * (segments.MAX_NODES + 5)}
    errors = segment_rules_validate(wide)
    assert [m for _p, m in errors if "at most" in m] and len(errors) == 1
    long = {"rule": "language", "in": ["fr"] * (segments.MAX_LIST + 1)}
    assert segment_rules_validate(long)[0][0] == "in"


def test_an_invalid_tree_raises_one_domain_error_with_field_paths():
    with pytest.raises(DomainError) as caught:
        segment_queryset({"all": [{"rule": "nope"}, {"not": {"rule": "booked", "season": "x"}}]})
    assert caught.value.code == "invalid_segment"
    assert set(caught.value.field_errors) == {"all.0.rule", "all.1.not.season"}
    with pytest.raises(DomainError) as caught:
        segment_count(42)
    assert "__all__" in caught.value.field_errors


# --- Profile rules --------------------------------------------------------------------------


def test_language_country_and_interests():
    ski, spa = TagFactory(slug="skiing"), TagFactory(slug="spa")
    fr = GuestFactory(language="fr", country="FR")
    en = GuestFactory(language="en", country="GB")
    de = GuestFactory(language="de", country="CH")
    fr.tags.add(ski)
    de.tags.add(spa, ski)
    assert ids({"rule": "language", "in": ["fr", "en"]}) == {fr.pk, en.pk}
    assert ids({"rule": "country", "in": ["CH", "GB"]}) == {en.pk, de.pk}
    assert ids({"rule": "interests", "in": ["spa"]}) == {de.pk}
    assert ids({"rule": "interests", "in": ["skiing", "spa"]}) == {fr.pk, de.pk}
    assert ids({"all": []}) == {fr.pk, en.pk, de.pk}


def test_merged_and_erased_guests_are_never_in_a_segment():
    kept = GuestFactory()
    GuestFactory(status=Guest.Status.ERASED)
    GuestFactory(status=Guest.Status.MERGED, merged_into=kept)
    assert ids({"rule": "language", "in": ["fr"]}) == {kept.pk}
    assert ids({"not": {"rule": "language", "in": ["en"]}}) == {kept.pk}


def test_consent_is_the_current_state_of_its_exact_scope(school, hotel):
    yes = GuestFactory()
    grant(yes, Purpose.PARTNER_OFFERS, partner=school)
    withdrawn = GuestFactory()
    grant(withdrawn, Purpose.PARTNER_OFFERS, partner=school)
    grant(withdrawn, Purpose.PARTNER_OFFERS, partner=school, granted=False)
    other_partner = GuestFactory()
    grant(other_partner, Purpose.PARTNER_OFFERS, partner=hotel)
    other_channel = GuestFactory()
    grant(other_channel, Purpose.PARTNER_OFFERS, partner=school, channel=Channel.SMS)
    newsletter = GuestFactory()
    grant(newsletter, Purpose.NEWSLETTER)
    rule = {
        "rule": "consent",
        "purpose": "partner_offers",
        "partner": school.pk,
        "channel": "email",
    }
    assert ids(rule) == {yes.pk}
    assert ids({"rule": "consent", "purpose": "newsletter", "channel": "email"}) == {newsletter.pk}


def test_last_contact_before_after_within_and_never():
    never = GuestFactory(last_contact_at=None)
    old = GuestFactory(last_contact_at=NOW - dt.timedelta(days=400))
    recent = GuestFactory(last_contact_at=NOW - dt.timedelta(days=10))
    assert ids({"rule": "last_contact", "within_days": 30}) == {recent.pk}
    assert ids({"rule": "last_contact", "before": "2026-01-01"}) == {old.pk}
    assert ids({"rule": "last_contact", "after": "2026-01-01"}) == {recent.pk}
    # "No real contact for 30 days" includes the guest never contacted.
    assert ids({"not": {"rule": "last_contact", "within_days": 30}}) == {never.pk, old.pk}


def test_clicked_counts_settled_human_clicks_only(school):
    """The settled human clicks of the tracking table: not machine clicks, not the trap, not
    a click the settle pass has not judged yet."""
    winter, spring = campaign_make("Winter"), campaign_make("Spring")
    human, machine, trap, pending, other = (GuestFactory() for _ in range(5))
    three_days_ago = NOW - dt.timedelta(days=3)
    hit_make(message_make(human, winter), at=three_days_ago)
    hit_make(
        message_make(machine, winter), at=three_days_ago, verdict="machine", reason="link_burst"
    )
    hit_make(message_make(trap, winter), at=three_days_ago, link_index=0)
    hit_make(message_make(pending, winter), at=three_days_ago, settled=False)
    hit_make(message_make(other, spring), at=three_days_ago)
    assert ids({"rule": "clicked", "campaign": winter.pk}) == {human.pk}
    assert ids({"rule": "clicked"}) == {human.pk, other.pk}
    assert ids({"rule": "clicked", "within_days": 2}) == set()
    assert ids({"not": {"rule": "clicked", "campaign": winter.pk}}) >= {machine.pk, other.pk}


def test_household_with_children(school):
    lesson_child = GuestFactory()
    Participant.objects.create(booking=book(lesson_child, school), first_name="Léo", is_child=True)
    counted_child = GuestFactory()
    book(counted_child, school, children=2)
    cancelled_child = GuestFactory()
    book(cancelled_child, school, children=1, status=Booking.Status.CANCELLED)
    family = Household.objects.create(name="Martin")
    parent = GuestFactory(household=family, birth_date=dt.date(1985, 1, 1))
    GuestFactory(household=family, birth_date=dt.date(2015, 6, 1))
    couple = Household.objects.create(name="Duval")
    adult = GuestFactory(household=couple, birth_date=dt.date(1980, 1, 1))
    GuestFactory(household=couple, birth_date=dt.date(1982, 1, 1))
    lone_adult_booker = GuestFactory()
    Participant.objects.create(booking=book(lone_adult_booker, school), first_name="Ana")
    matched = ids({"rule": "household_children"})
    assert {lesson_child.pk, counted_child.pk, parent.pk} <= matched
    assert not {cancelled_child.pk, adult.pk, lone_adult_booker.pk} & matched


# --- Bookings, and NOT over bookings ----------------------------------------------------------


def test_booked_with_a_partner_an_offer_kind_in_a_season(school, hotel):
    lesson = GuestFactory()
    book(lesson, school, day="2026-02-10")
    stay = GuestFactory()
    book(stay, hotel, day="2025-12-20", kind=Offer.Kind.STAY)
    summer = GuestFactory()
    book(summer, school, day="2026-07-10")
    cancelled = GuestFactory()
    book(cancelled, school, day="2026-02-10", status=Booking.Status.CANCELLED)
    held = GuestFactory()
    book(held, school, day="2026-02-10", status=Booking.Status.HELD)
    assert ids({"rule": "booked", "partner": school.pk}) == {lesson.pk, summer.pk}
    assert ids({"rule": "booked", "partner_kind": "lodging"}) == {stay.pk}
    assert ids({"rule": "booked", "offer_kind": "stay"}) == {stay.pk}
    assert ids({"rule": "booked", "season": "2025-26"}) == {lesson.pk, stay.pk}
    assert ids({"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}) == {lesson.pk}


def test_not_booked_means_has_no_such_booking(school, hotel):
    no_bookings = GuestFactory()
    only_other = GuestFactory()
    book(only_other, hotel, day="2026-01-05", kind=Offer.Kind.STAY)
    book(only_other, school, day="2024-12-28")  # the right partner, another season
    only_cancelled = GuestFactory()
    book(only_cancelled, school, day="2026-01-05", status=Booking.Status.CANCELLED)
    such = GuestFactory()
    book(such, school, day="2026-01-05")
    book(such, hotel, day="2026-01-05")
    rule = {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}}
    assert ids(rule) == {no_bookings.pk, only_other.pk, only_cancelled.pk}


def test_stay_arriving_between_and_last_winter(school):
    feb = GuestFactory()
    book(feb, school, day="2026-02-14")
    march = GuestFactory()
    book(march, school, day="2026-03-02")
    earlier = GuestFactory()
    book(earlier, school, day="2024-12-30")
    assert ids({"rule": "stay", "arriving_from": "2026-02-01", "arriving_to": "2026-02-14"}) == {
        feb.pk
    }
    assert ids({"rule": "stay", "arriving_to": "2025-01-31"}) == {earlier.pk}
    # On 2 December 2026 the last season that has ended is 2025-26.
    assert ids({"rule": "stay", "season": "last_winter"}) == {feb.pk, march.pk}


def test_season_bounds():
    start, end = season_bounds("2025-26")
    assert (start.date(), end.date()) == (dt.date(2025, 11, 1), dt.date(2026, 5, 1))
    assert season_bounds("last_winter", today=dt.date(2026, 3, 1))[0].year == 2024
    assert season_bounds("last_winter", today=dt.date(2026, 6, 1))[0].year == 2025
    assert season_bounds("last_winter", today=dt.date(2026, 12, 2))[0].year == 2025


def test_combinations(school, hotel):
    a = GuestFactory(language="fr")
    grant(a, Purpose.NEWSLETTER)
    b = GuestFactory(language="en")
    grant(b, Purpose.NEWSLETTER)
    book(b, school, day="2026-01-10")
    c = GuestFactory(language="de", last_contact_at=NOW - dt.timedelta(days=5))
    d = GuestFactory(language="fr")
    rules = {
        "all": [
            {"rule": "language", "in": ["fr", "en"]},
            {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}},
            {"any": [
                {"rule": "consent", "purpose": "newsletter", "channel": "email"},
                {"rule": "last_contact", "within_days": 30},
            ]},
        ]
    }  # fmt: skip
    assert ids(rules) == {a.pk}
    either = {"any": [rules, {"rule": "language", "in": ["de"]}]}
    assert ids(either) == {a.pk, c.pk}
    assert ids({"not": either}) == {b.pk, d.pk}


# --- A partner's segments ---------------------------------------------------------------------


def test_a_partners_segment_reaches_only_guests_with_its_marketing_consent(school, hotel):
    mine = GuestFactory()
    grant(mine, Purpose.PARTNER_OFFERS, partner=school)
    withdrawn = GuestFactory()
    grant(withdrawn, Purpose.PARTNER_OFFERS, partner=school)
    grant(withdrawn, Purpose.PARTNER_OFFERS, partner=school, granted=False)
    theirs = GuestFactory()
    grant(theirs, Purpose.PARTNER_OFFERS, partner=hotel)
    destination_only = GuestFactory()
    grant(destination_only, Purpose.NEWSLETTER)
    sms_only = GuestFactory()
    grant(sms_only, Purpose.PARTNER_OFFERS, partner=school, channel=Channel.SMS)
    everyone = {"all": []}
    assert ids(everyone, partner=school) == {mine.pk}
    assert ids(everyone) >= {mine.pk, withdrawn.pk, theirs.pk, destination_only.pk, sms_only.pk}
    # Even a rule naming another partner's consent cannot widen it.
    other = {
        "rule": "consent",
        "purpose": "partner_offers",
        "partner": hotel.pk,
        "channel": "email",
    }
    assert ids(other, partner=school) == set()
    school.is_active = False
    school.save()
    assert ids(everyone, partner=school) == set()


def test_a_partners_rules_read_other_partners_bookings_only_where_the_sharing_rules_open_them(
    school, hotel
):
    # Both guests granted the school's offers (which makes them RELATED) and booked the hotel;
    # only the second shared the profile with the school, which opens BOOKINGS to it.
    hidden, shared = GuestFactory(), GuestFactory()
    for guest in (hidden, shared):
        grant(guest, Purpose.PARTNER_OFFERS, partner=school)
        book(guest, hotel, day="2026-01-10", kind=Offer.Kind.STAY)
    grant(shared, Purpose.PROFILE_SHARING, partner=school, channel="")
    own = GuestFactory()
    grant(own, Purpose.PARTNER_OFFERS, partner=school)
    book(own, school, day="2026-01-10")
    stayed = {"rule": "booked", "offer_kind": "stay"}
    assert ids(stayed) >= {hidden.pk, shared.pk}
    assert ids(stayed, partner=school) == {shared.pk}
    # Hidden data counts as absent, so NOT does not reveal it either.
    assert ids({"not": stayed}, partner=school) == {hidden.pk, own.pk}
    # Its own bookings are always its own to read.
    assert ids({"rule": "booked", "partner": school.pk}, partner=school) == {own.pk}
    assert ids({"rule": "booked"}, partner=school) == {shared.pk, own.pk}


# --- Counting ---------------------------------------------------------------------------------


def _setup_counting(school: Partner, n: int) -> None:
    for i in range(n):
        guest = GuestFactory(language="fr" if i % 2 else "en")
        grant(guest, Purpose.PARTNER_OFFERS, partner=school)
        if i % 3 == 0:
            book(guest, school, day="2026-01-10")


THREE_RULES = {
    "all": [
        {"rule": "language", "in": ["fr", "en"]},
        {"rule": "consent", "purpose": "partner_offers", "partner": None, "channel": "email"},
        {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}},
    ]
}


def _three_rules(school: Partner) -> dict:
    rules = {"all": [dict(r) for r in THREE_RULES["all"]]}
    rules["all"][1]["partner"] = school.pk
    return rules


@pytest.mark.parametrize("n", [3, 9])
def test_a_count_is_one_query_whatever_the_number_of_guests(school, n):
    _setup_counting(school, n)
    rules = _three_rules(school)
    with CaptureQueriesContext(connection) as queries:
        count = segment_count(rules, now=NOW)
    expected = len([i for i in range(n) if i % 3])
    assert count == expected
    counts = [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    # Validation checks the partner id (1), then the count; PostgreSQL adds the timeout.
    # On PostgreSQL, the statement timeout set, then put back (tests run in a transaction).
    extra = 2 if connection.vendor == "postgresql" else 0
    savepoints = len([q for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()])
    assert len(queries) == 2 + extra + savepoints, [q["sql"] for q in queries.captured_queries]


def test_a_count_naming_no_partner_is_exactly_one_query(school):
    _setup_counting(school, 6)
    rules = {"all": [{"rule": "language", "in": ["fr"]}, {"not": {"rule": "booked"}}]}
    with CaptureQueriesContext(connection) as queries:
        count = segment_count(rules, now=NOW)
    assert count == 2  # i = 1, 5: French; 3 booked
    run = [q["sql"] for q in queries.captured_queries if "statement_timeout" not in q["sql"]]
    assert len([q for q in run if "SAVEPOINT" not in q.upper()]) == 1, run


def test_a_partners_count_adds_one_sharing_rule_query_per_section_read(school):
    _setup_counting(school, 4)
    rules = _three_rules(school)
    with CaptureQueriesContext(connection) as queries:
        count = segment_count(rules, partner=school, now=NOW)
    assert count == 2
    # On PostgreSQL, the statement timeout set, then put back (tests run in a transaction).
    extra = 2 if connection.vendor == "postgresql" else 0
    savepoints = len([q for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()])
    # Partner check, sharing rules for DEMOGRAPHICS and BOOKINGS, the count.
    assert len(queries) == 4 + extra + savepoints, [q["sql"] for q in queries.captured_queries]


@pytest.mark.postgres
def test_a_count_that_runs_out_of_time_is_unavailable_not_zero(monkeypatch, school):
    GuestFactory()
    slow = Guest.objects.extra(where=["(SELECT 1 FROM pg_sleep(0.5)) = 1"])
    real = segments.segment_queryset
    monkeypatch.setattr(segments, "segment_queryset", lambda rules, **kw: slow)
    assert segment_count({"all": []}, timeout_ms=50) is None
    # The connection is still usable, and a count within its budget is exact.
    monkeypatch.setattr(segments, "segment_queryset", real)
    assert segment_count({"all": []}, timeout_ms=5000) == 1
    assert segments.queryset_count_within(slow, timeout_ms=5000) == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"  # SET LOCAL did not leak past the count


# --- Preview ----------------------------------------------------------------------------------


def _previewed(school: Partner, n: int) -> list[Guest]:
    guests = []
    for i in range(n):
        guest = GuestFactory(first_name=f"Anna{i}", last_name="Weber")
        GuestEmailFactory(guest=guest, email=f"anna.weber{i}@mail.example")
        grant(guest, Purpose.PARTNER_OFFERS, partner=school)
        guests.append(guest)
    return guests


def test_the_preview_shows_guests_through_the_access_layer_masked(school, hotel):
    guests = _previewed(school, 3)
    GuestFactory(first_name="Not", last_name="Consented")
    rows = segment_preview({"all": []}, partner=school, now=NOW)
    assert [r["id"] for r in rows] == [g.pk for g in guests]
    assert rows[0]["name"] == "Anna0 Weber"
    assert rows[0]["email"] == "a•••0@mail.example"
    assert "anna.weber0" not in str(rows)
    assert segment_preview({"all": []}, partner=hotel, now=NOW) == []


def test_the_preview_follows_the_sharing_rules(school):
    from partners.models import SharingRule

    _previewed(school, 2)
    SharingRule.objects.update(sections=["demographics"])
    rows = segment_preview({"all": []}, partner=school, now=NOW)
    assert rows and all(set(r) == {"id", "level", "language", "country"} for r in rows)


@pytest.mark.parametrize("n", [2, 6])
def test_the_preview_takes_the_same_queries_whatever_the_number_of_guests(school, n):
    _previewed(school, n)
    with CaptureQueriesContext(connection) as queries:
        rows = segment_preview({"rule": "language", "in": ["fr"]}, partner=school, limit=4)
    assert len(rows) == min(n, 4)
    # Sharing rules for DEMOGRAPHICS (compile), the guests, access rules and levels, emails.
    assert len(queries) == 5, [q["sql"] for q in queries.captured_queries]


def test_clicked_in_a_partner_segment_counts_its_own_messages_clicks(school):
    campaign = campaign_make("School offers", sender_partner=school, approved_at=NOW)
    own, stranger = GuestFactory(), GuestFactory()
    for guest in (own, stranger):
        consent_record(
            guest=guest, purpose=Purpose.PARTNER_OFFERS, granted=True,
            method=ConsentProof.Method.FORM, partners=[school], channels=[Channel.EMAIL],
            wording=ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS),
        )  # fmt: skip
    hit_make(
        message_make(own, campaign, purpose="partner_offers", partner=school),
        at=NOW - dt.timedelta(days=1),
    )
    other_partner = PartnerFactory(kind=Partner.Kind.LODGING)
    hit_make(
        message_make(
            stranger, dedupe_key="test:other", purpose="partner_offers", partner=other_partner
        ),
        at=NOW - dt.timedelta(days=1),
    )
    assert ids({"rule": "clicked"}, partner=school) >= {own.pk}
    assert ids({"rule": "clicked", "campaign": campaign.pk}, partner=school) == {own.pk}
