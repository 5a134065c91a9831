"""Partner managers edit their own offers and dates in the portal; the tourist office sees and
edits all; agents and other partners cannot. Capacities never drop below the places sold, and
a session with bookings is never deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from bookings import catalogue, selectors
from bookings.models import Offer, Session
from bookings.services import BookingError
from partners.models import Membership, Partner
from tests.bookings.web_helpers import make_booking, make_offer, make_session
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.queries import assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: object) -> str:
    with translation.override("en"):
        return reverse(f"offers:{name}", kwargs=kwargs)


@pytest.fixture
def office() -> Partner:
    return PartnerFactory(name="Tourist Office", kind=Partner.Kind.TOURIST_OFFICE)


def member(partner: Partner, role: str = Membership.Role.MANAGER) -> Membership:
    return MembershipFactory(partner=partner, role=role, user=UserFactory(language="en"))


def offer_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": Offer.Kind.GROUP_LESSON,
        "title_en": "Freestyle morning",
        "title_fr": "Matinée freestyle",
        "description_en": "Jumps and rails with a coach.",
        "description_fr": "Sauts et rails avec un coach.",
        "pricing": Offer.Pricing.PER_PERSON,
        "price": "59.50",
        "child_price": "45",
        "deposit_percent": "",
        "balance_due_days": "30",
        "free_cancellation_days": "2",
        "needs_participant_names": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def series_post(first: dt.date, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_day": first.isoformat(),
        "last_day": (first + dt.timedelta(days=13)).isoformat(),
        "weekdays": ["0", "1", "2", "3", "4"],
        "start_time": "09:00",
        "end_time": "11:30",
        "nights": "0",
        "capacity": "8",
    }
    data.update(overrides)
    return data


def next_monday(weeks: int = 1) -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 * weeks - today.weekday())


# --- Who may do what ------------------------------------------------------------------------


def test_managers_edit_their_own_offers_and_the_tourist_office_edits_all(school, lodge, office):
    ours = make_offer(partner=school)
    theirs = make_offer(partner=lodge, kind=Offer.Kind.STAY)
    manager, agent = member(school), member(school, Membership.Role.AGENT)
    office_manager = member(office)
    office_agent = member(office, Membership.Role.AGENT)

    assert catalogue.catalogue_can_edit(manager, ours)
    assert not catalogue.catalogue_can_edit(manager, theirs)
    assert not catalogue.catalogue_can_edit(agent, ours)
    assert not catalogue.catalogue_can_edit(agent)  # nor create one
    assert catalogue.catalogue_can_edit(office_manager, theirs)
    assert not catalogue.catalogue_can_edit(office_agent, theirs)


def test_each_partner_sees_its_offers_and_the_office_and_desk_see_all(school, lodge, office):
    ours = make_offer(partner=school)
    theirs = make_offer(partner=lodge, kind=Offer.Kind.STAY)
    desk = PartnerFactory(kind=Partner.Kind.BOOKING_DESK)
    assert list(selectors.offer_list_for_catalogue(school)) == [ours]
    assert set(selectors.offer_list_for_catalogue(office)) == {ours, theirs}
    assert set(selectors.offer_list_for_catalogue(desk)) == {ours, theirs}


def test_the_list_counts_upcoming_dates_and_places_in_one_query(client, school):
    manager = member(school)
    offers = [make_offer(partner=school, sessions=0) for _ in range(3)]
    make_session(offers[0], days=2, capacity=10, taken=4)
    make_session(offers[0], days=3, capacity=6, taken=1)
    make_session(offers[0], days=-2, capacity=50, taken=50)  # past: not counted
    listed = {o.pk: o for o in selectors.offer_list_for_catalogue(school)}
    assert listed[offers[0].pk].upcoming_sessions == 2
    assert (listed[offers[0].pk].upcoming_taken, listed[offers[0].pk].upcoming_capacity) == (5, 16)
    assert listed[offers[1].pk].upcoming_sessions == 0

    client.force_login(manager.user)
    client.get(url("list"))  # the first request after signing in also updates the session
    with capture_queries() as few:
        assert client.get(url("list")).status_code == 200
    for _ in range(9):
        make_session(make_offer(partner=school, sessions=0), days=5)
    with capture_queries() as many:
        page = client.get(url("list")).content.decode()
    assert_same_num_queries(few, many)
    assert "4 / 10" not in page and "5 / 16" in page


def test_agents_read_but_cannot_change(client, school):
    offer = make_offer(partner=school)
    client.force_login(member(school, Membership.Role.AGENT).user)
    page = client.get(url("list")).content.decode()
    assert offer.title_en in page and url("new") not in page
    assert client.get(url("new")).status_code == 403
    detail = client.get(url("edit", slug=offer.slug))
    assert detail.status_code == 200 and b"Save the offer" not in detail.content
    assert client.post(url("edit", slug=offer.slug), offer_post()).status_code == 403
    session = offer.sessions.first()
    assert client.post(url("capacity", pk=session.pk), {"capacity": 1}).status_code == 403
    assert client.post(url("session-delete", pk=session.pk)).status_code == 403
    offer.refresh_from_db()
    assert offer.title_en != "Freestyle morning" and offer.sessions.count() == 2


def test_another_partners_offer_does_not_exist_for_a_manager(client, school, lodge):
    theirs = make_offer(partner=lodge, kind=Offer.Kind.STAY)
    session = theirs.sessions.first()
    client.force_login(member(school).user)
    assert theirs.title_en not in client.get(url("list")).content.decode()
    assert client.get(url("edit", slug=theirs.slug)).status_code == 404
    assert client.post(url("edit", slug=theirs.slug), offer_post()).status_code == 404
    first = next_monday()
    response = client.post(url("sessions-add", slug=theirs.slug), series_post(first))
    assert response.status_code == 404
    assert client.post(url("capacity", pk=session.pk), {"capacity": 1}).status_code == 404
    assert client.post(url("session-delete", pk=session.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.title_en.startswith("Group ski lesson") and theirs.sessions.count() == 2


def test_the_tourist_office_edits_any_partners_offer(client, office, lodge):
    theirs = make_offer(partner=lodge, kind=Offer.Kind.STAY, names=False)
    client.force_login(member(office).user)
    response = client.post(url("edit", slug=theirs.slug), offer_post(kind=Offer.Kind.STAY))
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.title_en == "Freestyle morning" and theirs.price_cents == 5950
    assert theirs.partner == lodge and theirs.child_price_cents == 4500


# --- Creating and editing offers ------------------------------------------------------------


def test_a_manager_creates_an_offer_for_their_partner(client, school):
    client.force_login(member(school).user)
    response = client.post(url("new"), offer_post(partner=PartnerFactory().pk))
    assert response.status_code == 302
    offer = Offer.objects.get(title_en="Freestyle morning")
    assert response["Location"] == url("edit", slug=offer.slug)
    # The partner field is not theirs to choose: the offer is their partner's.
    assert offer.partner == school and offer.slug == "freestyle-morning"
    assert (offer.price_cents, offer.child_price_cents) == (5950, 4500)
    assert not offer.is_published and offer.needs_participant_names


def test_the_office_chooses_the_partner_and_slugs_stay_unique(client, office, lodge):
    client.force_login(member(office).user)
    for _ in range(2):
        response = client.post(url("new"), offer_post(partner=lodge.pk, kind=Offer.Kind.STAY))
        assert response.status_code == 302
    slugs = sorted(Offer.objects.filter(partner=lodge).values_list("slug", flat=True))
    assert slugs == ["freestyle-morning", "freestyle-morning-2"]
    response = client.post(url("new"), offer_post(partner=""))
    assert response.status_code == 422 and "partner" in response.context["form"].errors


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"price": "0"}, "price", "greater than or equal to 0.01"),
        ({"price": "-5"}, "price", "greater than or equal to 0.01"),
        ({"title_en": ""}, "title_en", "This field is required."),
        ({"deposit_percent": "100"}, "deposit_percent", "less than or equal to 99"),
        ({"balance_due_days": "-1"}, "balance_due_days", "greater than or equal to 0"),
        ({"pricing": Offer.Pricing.PER_UNIT}, "child_price", "per-person offers only"),
        ({"child_price": "80"}, "child_price", "cannot be above the adult price"),
        ({"kind": "spaceflight"}, "kind", "Select a valid choice"),
    ],
)
def test_bad_offers_get_field_errors_and_nothing_changes(client, school, overrides, field, message):
    offer = make_offer(partner=school)
    client.force_login(member(school).user)
    before = Offer.objects.count()
    created = client.post(url("new"), offer_post(**overrides))
    assert created.status_code == 422
    assert message in " ".join(created.context["form"].errors[field])
    assert Offer.objects.count() == before
    edited = client.post(url("edit", slug=offer.slug), offer_post(**overrides))
    assert edited.status_code == 422
    assert message in " ".join(edited.context["form"].errors[field])
    offer.refresh_from_db()
    assert offer.title_en.startswith("Group ski lesson") and offer.price_cents == 4500


def test_publishing_puts_the_offer_on_the_website(client, school):
    offer = make_offer(partner=school, is_published=False)
    with translation.override("en"):
        public = reverse("bookings:offer-list")
    assert offer.title_en not in client.get(public).content.decode()
    client.force_login(member(school).user)
    data = offer_post(title_en=offer.title_en, is_published="on")
    assert client.post(url("edit", slug=offer.slug), data).status_code == 302
    client.logout()
    assert offer.title_en in client.get(public).content.decode()


# --- Dates ----------------------------------------------------------------------------------


def test_a_series_of_dates_is_added_once(client, school):
    offer = make_offer(partner=school, sessions=0)
    client.force_login(member(school).user)
    first = next_monday()
    response = client.post(url("sessions-add", slug=offer.slug), series_post(first))
    assert response.status_code == 302
    sessions = list(offer.sessions.order_by("starts_at"))
    # Two weeks, Monday to Friday.
    assert len(sessions) == 10
    assert {timezone.localtime(s.starts_at).weekday() for s in sessions} == {0, 1, 2, 3, 4}
    start = timezone.localtime(sessions[0].starts_at)
    assert (start.date(), start.hour, start.minute) == (first, 9, 0)
    assert sessions[0].ends_at - sessions[0].starts_at == dt.timedelta(hours=2, minutes=30)
    assert all(s.capacity == 8 and s.seats_taken == 0 for s in sessions)

    # The same series again (a double click, a retry) adds nothing and says so.
    again = client.post(url("sessions-add", slug=offer.slug), series_post(first), follow=True)
    assert offer.sessions.count() == 10
    assert "0 sessions added. 10 already existed" in again.content.decode()


def test_a_stay_lasts_its_nights(school):
    offer = make_offer(partner=school, kind=Offer.Kind.STAY, sessions=0)
    saturday = next_monday() + dt.timedelta(days=5)
    series = catalogue.SessionSeries(
        first_day=saturday,
        last_day=saturday + dt.timedelta(days=21),
        weekdays=frozenset({5}),
        start_time=dt.time(17),
        end_time=dt.time(10),
        nights=7,
        capacity=4,
    )
    result = catalogue.session_series_add(membership=member(school), offer=offer, series=series)
    assert (result.created, result.skipped) == (4, 0)
    session = offer.sessions.order_by("starts_at").first()
    assert session.nights == 7
    assert timezone.localtime(session.ends_at).date() == saturday + dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_day": "2020-01-06", "last_day": ""}, "first_day", "start in the future"),
        ({"end_time": "08:00"}, "end_time", "must end after it starts"),
        ({"capacity": "0"}, "capacity", "greater than or equal to 1"),
        ({"capacity": "-3"}, "capacity", "greater than or equal to 1"),
        ({"weekdays": []}, "weekdays", "Choose at least one day"),
        ({"weekdays": ["5"], "last_day": "+1"}, "weekdays", "None of these days"),
        ({"last_day": "-1"}, "last_day", "cannot be before the first day"),
        ({"last_day": "+500"}, "last_day", "At most 400 sessions"),
        ({"start_time": "25:00"}, "start_time", "Enter a valid time"),
    ],
)
def test_bad_dates_get_field_errors_and_nothing_is_added(client, school, overrides, field, message):
    offer = make_offer(partner=school, sessions=0)
    client.force_login(member(school).user)
    first = next_monday()
    if str(overrides.get("last_day", "")).startswith(("+", "-")):
        overrides["last_day"] = (first + dt.timedelta(days=int(overrides["last_day"]))).isoformat()
        overrides["weekdays"] = overrides.get("weekdays", [str(d) for d in range(7)])
    response = client.post(url("sessions-add", slug=offer.slug), series_post(first, **overrides))
    assert response.status_code == 422
    assert message in " ".join(response.context["series_form"].errors[field])
    assert not offer.sessions.exists()


def test_capacity_cannot_drop_below_the_places_sold(client, school):
    offer = make_offer(partner=school, sessions=1, capacity=8)
    session = offer.sessions.get()
    make_booking(session, adults=3)
    client.force_login(member(school).user)

    response = client.post(url("capacity", pk=session.pk), {"capacity": 2})
    assert response.status_code == 422
    assert "3 places are already booked" in response.content.decode()
    session.refresh_from_db()
    assert (session.capacity, session.seats_taken) == (8, 3)

    assert client.post(url("capacity", pk=session.pk), {"capacity": 3}).status_code == 302
    session.refresh_from_db()
    assert session.capacity == 3 and session.seats_left == 0


def test_the_capacity_check_is_made_by_the_database_not_a_stale_object(school):
    session = make_offer(partner=school, sessions=1, capacity=8).sessions.get()
    stale = Session.objects.get(pk=session.pk)
    Session.objects.filter(pk=session.pk).update(seats_taken=6)  # bookings meanwhile
    with pytest.raises(BookingError, match="6 places are already booked"):
        catalogue.session_capacity_set(membership=member(school), session=stale, capacity=4)
    session.refresh_from_db()
    assert session.capacity == 8


def test_a_session_with_bookings_is_never_deleted(client, school):
    offer = make_offer(partner=school, sessions=2)
    booked, free = offer.sessions.order_by("starts_at")
    booking = make_booking(booked)
    booking.status = "cancelled"  # even a cancelled booking is history to keep
    booking.save(update_fields=["status"])
    client.force_login(member(school).user)

    page = client.get(url("edit", slug=offer.slug)).content.decode()
    assert url("session-delete", pk=free.pk) in page
    assert url("session-delete", pk=booked.pk) not in page

    response = client.post(url("session-delete", pk=booked.pk), follow=True)
    assert "This session has bookings" in response.content.decode()
    assert Session.objects.filter(pk=booked.pk).exists()
    assert client.post(url("session-delete", pk=free.pk)).status_code == 302
    assert not Session.objects.filter(pk=free.pk).exists()


def test_the_edit_page_runs_the_same_queries_for_3_or_30_dates(client, school):
    offer = make_offer(partner=school, sessions=3)
    client.force_login(member(school).user)
    client.get(url("edit", slug=offer.slug))
    with capture_queries() as few:
        assert client.get(url("edit", slug=offer.slug)).status_code == 200
    for day in range(27):
        make_session(offer, days=10 + day)
    with capture_queries() as many:
        assert client.get(url("edit", slug=offer.slug)).status_code == 200
    assert_same_num_queries(few, many)


def test_the_portal_navigation_shows_offers(client, school):
    client.force_login(member(school, Membership.Role.AGENT).user)
    with translation.override("en"):
        home = client.get(reverse("portal:home")).content.decode()
    assert f'href="{url("list")}"' in home


def test_a_season_of_dates_is_paged(client, school):
    offer = make_offer(partner=school, sessions=0)
    for day in range(45):
        make_session(offer, days=2 + day)
    client.force_login(member(school).user)
    first = client.get(url("edit", slug=offer.slug)).content.decode()
    second = client.get(url("edit", slug=offer.slug), {"page": 2}).content.decode()
    assert first.count('id="session-') == 40 and second.count('id="session-') == 5
    assert "Page 1 of 2" in first and "Later dates" in first
