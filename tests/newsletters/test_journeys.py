"""Journeys: enrol / move / exit on booking events, no double enrolment, due times in the
destination's time zone, conditions, cross-partner consent at send time, the SKIP LOCKED claim
under two workers, welcome and reactivation, the demo seed, the Wagtail snippet."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from bookings.models import Booking, BookingEvent, Offer
from bookings.services import booking_cancel
from destination.models import Guest
from newsletters.journey_content import journey_template_name
from newsletters.journey_seed import journeys_demo_create
from newsletters.journeys import (
    journey_booking_reschedule,
    journey_steps_process,
    journey_subscription_enrol,
    journeys_inactive_enrol,
)
from newsletters.models import Enrolment, EnrolmentStep, Journey, JourneyStep, Message
from newsletters.outbox import booking_events_consume, booking_events_cursor_set
from newsletters.services import message_build, message_send
from partners.models import Partner
from tests.factories import OfferFactory, SessionFactory, book, person
from tests.newsletters.helpers import grant

PARIS = ZoneInfo("Europe/Paris")


def consume() -> int:
    return booking_events_consume(consumer="journeys")


@pytest.fixture
def lodging(db):
    return Partner.objects.create(name="Chalet Les Cimes", slug="cimes", kind=Partner.Kind.LODGING)


@pytest.fixture
def school(db):
    return Partner.objects.create(name="École Alpine", slug="alpine", kind=Partner.Kind.SKI_SCHOOL)


def _step(journey: Journey, order: int, **fields) -> JourneyStep:
    defaults = {
        "name": f"step {order}",
        "subject_fr": "Bonjour [[first_name]]",
        "subject_en": "Hello [[first_name]]",
        "body_fr": "<mj-text>Bonjour [[first_name]], séjour [[booking_reference]].</mj-text>",
        "body_en": "<mj-text>Hello [[first_name]], stay [[booking_reference]].</mj-text>",
    }
    defaults.update(fields)
    step = JourneyStep(journey=journey, sort_order=order, **defaults)
    step.full_clean()
    step.save()
    return step


@pytest.fixture
def stay(db):
    """A lodging journey: on confirmation, J-7 at 09:00, J+2 after the end at 10:00."""
    journey = Journey.objects.create(
        name="Stay", slug="stay-test", trigger=Journey.Trigger.BOOKING_CONFIRMED,
        partner_kind=Partner.Kind.LODGING, is_active=True,
    )  # fmt: skip
    _step(journey, 0, name="confirmation")
    _step(journey, 1, name="J-7", anchor="booking_start", offset_days=-7, send_time=dt.time(9))
    _step(journey, 2, name="J+2", anchor="booking_end", offset_days=2, send_time=dt.time(10))
    return journey


def _lodging_booking(lodging: Partner, *, days: int = 40, n: int = 1, **kwargs) -> Booking:
    offer = OfferFactory(partner=lodging, kind=Offer.Kind.STAY, title_en="Chalet week")
    session = SessionFactory(offer=offer, days=days, hours=24 * 6)
    return book(session, booker=person(n, email=f"guest{n}@example.org"), **kwargs)


def _due(enrolment: Enrolment) -> dict[str, EnrolmentStep]:
    return {row.step.name: row for row in enrolment.steps.select_related("step")}


@pytest.mark.django_db
def test_a_confirmed_booking_enrols_with_due_times_in_the_destination_time_zone(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    enrolment = Enrolment.objects.get(journey=stay)
    assert enrolment.guest_id == booking.booker_id
    assert enrolment.booking_id == booking.pk
    due = _due(enrolment)
    start = booking.session.starts_at.astimezone(PARIS)
    end = booking.session.ends_at.astimezone(PARIS)
    j7 = due["J-7"].due_at.astimezone(PARIS)
    assert (j7.date(), j7.time()) == (start.date() - dt.timedelta(days=7), dt.time(9))
    j2 = due["J+2"].due_at.astimezone(PARIS)
    assert (j2.date(), j2.time()) == (end.date() + dt.timedelta(days=2), dt.time(10))
    assert abs(due["confirmation"].due_at - booking.confirmed_at) < dt.timedelta(seconds=5)
    assert due["confirmation"].status == EnrolmentStep.Status.SENT  # due now: sent at once
    assert due["J-7"].status == due["J+2"].status == EnrolmentStep.Status.PENDING


@pytest.mark.django_db
def test_due_times_follow_local_wall_clock_across_daylight_saving(stay):
    step = stay.steps.get(name="J-7")
    from newsletters.journeys import journey_step_due_at

    # Arrival on 4 April 2027 (summer time, UTC+2): J-7 is 28 March 09:00 Paris (also CEST,
    # DST starts 28 March 2027 at 02:00) = 07:00 UTC; in winter 09:00 Paris = 08:00 UTC.
    summer = journey_step_due_at(
        step, anchor_at=dt.datetime(2027, 4, 4, 14, tzinfo=dt.UTC), zone=PARIS
    )
    winter = journey_step_due_at(
        step, anchor_at=dt.datetime(2027, 1, 20, 14, tzinfo=dt.UTC), zone=PARIS
    )
    assert summer == dt.datetime(2027, 3, 28, 7, tzinfo=dt.UTC)
    assert winter == dt.datetime(2027, 1, 13, 8, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_replayed_event_and_an_overlapping_second_booking_never_double_enrol(stay, lodging):
    first = _lodging_booking(lodging)
    consume()
    booking_events_cursor_set(consumer="journeys", last_event_id=0)  # replay everything
    consume()
    assert Enrolment.objects.filter(journey=stay).count() == 1

    # Same guest, same week, another lodging booking: one stay, one series.
    offer = OfferFactory(partner=lodging, kind=Offer.Kind.STAY)
    same_week = SessionFactory(offer=offer, days=41, hours=24 * 3)
    book(same_week, booker=person(1, email="guest1@example.org"))
    consume()
    assert Enrolment.objects.filter(journey=stay).count() == 1

    # Next season: a new series.
    later = SessionFactory(offer=offer, days=300, hours=24 * 6)
    next_season = book(later, booker=person(1, email="guest1@example.org"))
    assert next_season.booker_id == first.booker_id
    consume()
    assert Enrolment.objects.filter(journey=stay).count() == 2


@pytest.mark.django_db
def test_filters_on_partner_kind(stay, school):
    offer = OfferFactory(partner=school, kind=Offer.Kind.GROUP_LESSON)
    book(SessionFactory(offer=offer), booker=person(5, email="g5@example.org"))
    consume()
    assert not Enrolment.objects.exists()


@pytest.mark.django_db
def test_a_cancellation_exits_and_cancels_pending_steps(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))  # confirmation sent
    booking_cancel(booking=booking, by=None)
    consume()
    enrolment = Enrolment.objects.get(journey=stay)
    assert enrolment.status == Enrolment.Status.EXITED
    assert enrolment.exit_reason == "booking cancelled"
    due = _due(enrolment)
    assert due["confirmation"].status == EnrolmentStep.Status.SENT
    assert due["J-7"].status == due["J+2"].status == EnrolmentStep.Status.CANCELLED
    far = timezone.now() + dt.timedelta(days=400)
    assert journey_steps_process(now=far) == {}
    assert Message.objects.filter(source=Message.Source.JOURNEY).count() == 1


@pytest.mark.django_db
def test_a_cancelled_booking_hands_the_journey_to_the_next_one(stay, lodging):
    first = _lodging_booking(lodging)
    offer = OfferFactory(partner=lodging, kind=Offer.Kind.STAY)
    second = book(
        SessionFactory(offer=offer, days=42, hours=24), booker=person(1, email="guest1@example.org")
    )
    consume()
    assert list(Enrolment.objects.values_list("booking_id", flat=True)) == [first.pk]
    booking_cancel(booking=first, by=None)
    consume()
    active = Enrolment.objects.get(status=Enrolment.Status.ACTIVE)
    assert active.booking_id == second.pk


@pytest.mark.django_db
def test_an_expired_or_refunded_booking_exits(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    from django.db import transaction

    from bookings.services import booking_event_write

    with transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.REFUNDED)
        booking.refresh_from_db()
        booking_event_write(booking, BookingEvent.Kind.REFUNDED)
    consume()
    assert Enrolment.objects.get().status == Enrolment.Status.EXITED


@pytest.mark.django_db
def test_a_date_change_moves_the_remaining_steps(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    enrolment = Enrolment.objects.get()
    before = _due(enrolment)
    session = booking.session
    session.starts_at += dt.timedelta(days=10)
    session.ends_at += dt.timedelta(days=10)
    session.save()
    assert journey_booking_reschedule(booking=booking) == 2
    after = _due(enrolment)
    assert after["J-7"].due_at - before["J-7"].due_at == dt.timedelta(days=10)
    assert after["confirmation"].due_at == before["confirmation"].due_at  # trigger-anchored


@pytest.mark.django_db
def test_the_claim_follows_moved_dates_even_without_an_event(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    j7 = _due(Enrolment.objects.get())["J-7"]
    Booking.objects.get(pk=booking.pk).session.__class__.objects.filter(
        pk=booking.session_id
    ).update(starts_at=booking.session.starts_at + dt.timedelta(days=5))
    journey_steps_process(now=j7.due_at + dt.timedelta(minutes=1))
    j7.refresh_from_db()
    assert j7.status == EnrolmentStep.Status.PENDING
    assert (
        j7.due_at.astimezone(PARIS).date()
        == (booking.session.starts_at + dt.timedelta(days=5 - 7)).astimezone(PARIS).date()
    )


@pytest.mark.django_db
def test_a_due_step_is_enqueued_once_and_renders_in_the_guests_language(stay, lodging):
    booking = _lodging_booking(lodging)
    consume()
    # A step due at enrolment goes out with it, without waiting for the tick.
    assert Message.objects.filter(source=Message.Source.JOURNEY).count() == 1
    now = timezone.now() + dt.timedelta(minutes=1)
    assert journey_steps_process(now=now) == {}  # nothing due twice
    row = _due(Enrolment.objects.get())["confirmation"]
    message = Message.objects.get(dedupe_key=f"journey:{row.step_id}:{row.enrolment_id}")
    assert row.message == message
    assert message.template == journey_template_name(row.step)
    assert message.language == "fr"
    email = message_build(message)
    assert email.subject == "Bonjour Camille1"
    assert f"séjour {booking.reference}" in email.alternatives[0][0]
    assert f"séjour {booking.reference}" in email.body
    # A crash after the claim replays it: the dedupe key keeps it one message.
    EnrolmentStep.objects.filter(pk=row.pk).update(status=EnrolmentStep.Status.PENDING)
    journey_steps_process(now=now)
    assert Message.objects.filter(source=Message.Source.JOURNEY).count() == 1


@pytest.mark.django_db
def test_editor_text_cannot_run_template_code(stay, lodging):
    step = stay.steps.get(name="confirmation")
    step.body_fr = "<mj-text>{{ brand.sender_email }} {% now 'Y' %} {# x #}</mj-text>"
    step.save()
    _lodging_booking(lodging)
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))
    html = message_build(Message.objects.get()).alternatives[0][0]
    assert "{{ brand.sender_email }} {% now 'Y' %} {# x #}" in html


@pytest.mark.django_db
def test_an_edited_step_compiles_its_new_content(stay, lodging):
    step = stay.steps.get(name="confirmation")
    old_name = journey_template_name(step)
    step.subject_fr = "Nouveau [[first_name]]"
    step.save()
    assert journey_template_name(step) != old_name
    _lodging_booking(lodging)
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))
    assert message_build(Message.objects.get()).subject == "Nouveau Camille1"


@pytest.mark.django_db
def test_conditions_are_checked_for_the_guest_at_send_time(stay, lodging):
    step = stay.steps.get(name="confirmation")
    step.conditions = {"rule": "language", "in": ["en"]}
    step.full_clean()
    step.save()
    _lodging_booking(lodging)  # a French guest
    _lodging_booking(lodging, n=2, language="en")
    Guest.objects.filter(emails__email="guest2@example.org").update(language="en")
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))
    rows = EnrolmentStep.objects.filter(step=step).select_related("enrolment__guest")
    outcome = {r.enrolment.guest.language: (r.status, r.reason) for r in rows}
    assert outcome["fr"] == (EnrolmentStep.Status.SKIPPED, "conditions not met")
    assert outcome["en"][0] == EnrolmentStep.Status.SENT


@pytest.mark.django_db
def test_step_validation(stay, school):
    bad = JourneyStep(journey=stay, name="x", subject_fr="s", subject_en="s", body_fr="b",
                      body_en="b [[password]]", conditions={"rule": "nope"}, kind="marketing")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    errors = exc.value.message_dict
    assert {"conditions", "purpose", "body_en"} <= errors.keys()
    partner_needed = JourneyStep(journey=stay, name="x", subject_fr="s", subject_en="s",
                                 body_fr="b", body_en="b", kind="marketing", purpose="partner_offers")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        partner_needed.full_clean()
    assert "partner" in exc.value.message_dict
    welcome = Journey.objects.create(name="W", slug="w", trigger="subscription_confirmed")
    anchored = JourneyStep(journey=welcome, name="x", subject_fr="s", subject_en="s",
                           body_fr="[[booking_reference]]", body_en="b", anchor="booking_start")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        anchored.full_clean()
    assert {"anchor", "body_fr"} <= exc.value.message_dict.keys()


# --- Across partners -------------------------------------------------------------------------


@pytest.fixture
def upsell(stay, school):
    lesson = OfferFactory(partner=school, kind=Offer.Kind.GROUP_LESSON, title_en="Lesson")
    return _step(
        stay, 5, name="upsell", kind="marketing", purpose="partner_offers", partner=school,
        promoted_offer=lesson, subject_fr="Un cours ? [[promoted_offer_title]]",
        subject_en="A lesson? [[promoted_offer_title]]",
    )  # fmt: skip


@pytest.mark.django_db
def test_a_cross_partner_upsell_needs_that_partners_consent_at_send_time(
    stay, lodging, school, upsell
):
    no_consent = _lodging_booking(lodging, n=1)
    granted = _lodging_booking(lodging, n=2)
    grant(granted.booker, purpose="partner_offers", partner=school)
    grant(no_consent.booker, purpose="partner_offers", partner=lodging)  # not the school's
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))  # confirmation + upsell
    rows = EnrolmentStep.objects.filter(step=upsell).select_related("enrolment", "message")
    assert {r.status for r in rows} == {EnrolmentStep.Status.SENT}
    results = {r.enrolment.guest_id: message_send(message_id=r.message_id) for r in rows}
    assert results[no_consent.booker_id] == Message.Status.SKIPPED
    assert results[granted.booker_id] == Message.Status.SENT
    skipped = Message.objects.get(guest=no_consent.booker, partner=school)
    assert skipped.skip_reason == Message.SkipReason.NO_CONSENT
    # Attribution: the email promotes the school's lesson, whoever the booking was with.
    row = rows.get(enrolment__guest=granted.booker)
    assert row.promoted_partner == school and row.promoted_offer == upsell.promoted_offer
    assert row.message.context["promoted_partner"] == school.pk
    assert row.message.context["promoted_offer"] == upsell.promoted_offer_id


@pytest.mark.django_db
def test_a_destination_offer_needs_the_destination_newsletter_consent(stay, lodging):
    step = _step(stay, 6, name="destination offer", kind="marketing", purpose="newsletter")
    booking = _lodging_booking(lodging)
    consume()
    journey_steps_process(now=timezone.now() + dt.timedelta(minutes=1))
    row = EnrolmentStep.objects.get(step=step)
    assert message_send(message_id=row.message_id) == Message.Status.SKIPPED
    grant(booking.booker, purpose="newsletter")
    Message.objects.filter(pk=row.message_id).update(status=Message.Status.QUEUED, skip_reason="")
    assert message_send(message_id=row.message_id) == Message.Status.SENT


# --- Welcome series, reactivation, seed, admin ---------------------------------------------------


@pytest.mark.django_db
def test_a_confirmed_subscription_enrols_in_the_welcome_series_once():
    journeys_demo_create()
    guest = Guest.objects.create(first_name="Léa", language="fr", source="web")
    assert len(journey_subscription_enrol(guest=guest)) == 1
    assert journey_subscription_enrol(guest=guest) == []
    enrolment = Enrolment.objects.get(journey__slug="welcome")
    assert enrolment.steps.count() == 2


@pytest.mark.django_db
def test_a_confirmed_newsletter_signup_starts_the_welcome_series():
    from content.models import NewsletterSignup
    from newsletters.signup import (
        newsletter_confirmation_token,
        newsletter_signup_confirm,
        newsletter_wording,
    )

    journeys_demo_create()
    signup = NewsletterSignup.objects.create(
        email="welcome@example.org",
        email_normalized="welcome@example.org",
        language="fr",
        wording=newsletter_wording("fr"),
    )
    assert not Enrolment.objects.exists()  # pending: nobody is enrolled before the click
    newsletter_signup_confirm(token=newsletter_confirmation_token(signup))
    signup.refresh_from_db()
    enrolment = Enrolment.objects.get(journey__slug="welcome")
    assert enrolment.guest == signup.guest
    welcome = Message.objects.get(guest=signup.guest, source=Message.Source.JOURNEY)
    assert welcome.kind == "marketing" and welcome.purpose == "newsletter"
    assert message_send(message_id=welcome.pk) == Message.Status.SENT
    newsletter_signup_confirm(token=newsletter_confirmation_token(signup))  # a second click
    assert Enrolment.objects.count() == 1


@pytest.mark.django_db
def test_the_tick_scans_for_silent_guests_at_most_once_an_hour():
    from django.core.cache import cache

    from newsletters.journeys import journeys_tick

    cache.delete("newsletters:journeys:inactive")
    assert "inactive_enrolled" in journeys_tick()
    assert "inactive_enrolled" not in journeys_tick()


@pytest.mark.django_db
def test_guests_without_real_contact_are_reactivated_once_per_silence():
    journeys_demo_create()
    now = timezone.now()
    from tests.newsletters.helpers import guest_make

    silent = guest_make(last_contact_at=now - dt.timedelta(days=400))
    recent = guest_make(last_contact_at=now - dt.timedelta(days=30))
    guest_make(last_contact_at=None)  # never contacted: not "silent for 12 months"
    assert journeys_inactive_enrol(now=now) == 1
    assert journeys_inactive_enrol(now=now) == 0
    enrolment = Enrolment.objects.get(journey__slug="reactivation")
    assert enrolment.guest == silent and recent.journey_enrolments.count() == 0
    # They come back, then fall silent again: a new reactivation.
    enrolment.status = Enrolment.Status.COMPLETED
    enrolment.save()
    Guest.objects.filter(pk=silent.pk).update(last_contact_at=now + dt.timedelta(days=1))
    # (400 days on, the guest seen 30 days ago has fallen silent too.)
    assert journeys_inactive_enrol(now=now + dt.timedelta(days=400)) == 2
    assert silent.journey_enrolments.count() == 2


@pytest.mark.django_db
def test_the_demo_seed_creates_valid_journeys_once(school):
    OfferFactory(partner=school)
    created = journeys_demo_create()
    assert [j.slug for j in created] == ["stay", "welcome", "reactivation"]
    stay = Journey.objects.get(slug="stay")
    assert list(stay.steps.order_by("sort_order").values_list("offset_days", flat=True)) == [
        0, -7, -6, 0, 2, 300,
    ]  # fmt: skip
    assert stay.steps.get(offset_days=-6).partner == school
    assert journeys_demo_create() == []


@pytest.mark.django_db
def test_the_marketing_team_edits_journeys_in_wagtail(client, stay):
    from tests.factories import UserFactory

    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get("/cms/snippets/newsletters/journey/").status_code == 200
    edit = client.get(f"/cms/snippets/newsletters/journey/edit/{stay.pk}/")
    assert edit.status_code == 200
    assert b"J-7" in edit.content


def _snippet_post(step: dict[str, str]) -> dict[str, str]:
    data = {
        "name": "Ski week", "slug": "ski-week", "trigger": "booking_confirmed",
        "partner_kind": "", "offer_kind": "", "inactive_months": "", "is_active": "on",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    base = {
        "name": "J-7", "anchor": "booking_start", "offset_days": "-7", "send_time": "09:00",
        "kind": "transactional", "purpose": "", "partner": "", "promoted_offer": "",
        "conditions": "{}", "subject_fr": "Bientôt", "subject_en": "Soon",
        "body_fr": "<mj-text>Bonjour [[first_name]]</mj-text>",
        "body_en": "<mj-text>Hello [[first_name]]</mj-text>", "ORDER": "1", "id": "", "DELETE": "",
    }  # fmt: skip
    base.update(step)
    data.update({f"steps-0-{k}": v for k, v in base.items()})
    return data


@pytest.mark.django_db
def test_a_journey_with_its_steps_is_created_in_wagtail_and_validated(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = "/cms/snippets/newsletters/journey/add/"
    refused = client.post(url, _snippet_post({"conditions": '{"rule": "nope"}'}))
    assert refused.status_code == 200 and not Journey.objects.exists()
    assert "nope" in refused.content.decode()
    created = client.post(url, _snippet_post({"conditions": '{"rule": "language", "in": ["fr"]}'}))
    assert created.status_code == 302
    step = Journey.objects.get(slug="ski-week").steps.get()
    assert (step.offset_days, step.send_time, step.conditions) == (
        -7, dt.time(9), {"rule": "language", "in": ["fr"]},
    )  # fmt: skip


# --- Two workers ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_due_steps_with_skip_locked_each_once(stay, lodging):
    for n in range(12):
        _lodging_booking(lodging, n=n + 1)
    consume()  # the confirmations went out with the enrolments; the J-7 rows are due later
    j7 = EnrolmentStep.objects.filter(step__name="J-7")
    now = max(j7.values_list("due_at", flat=True)) + dt.timedelta(minutes=1)
    assert EnrolmentStep.objects.filter(due_at__lte=now, status="pending").count() == 12
    barrier = threading.Barrier(2)
    from newsletters import journeys

    real = journeys._step_process

    def slow(row, **kwargs):
        with connection.cursor() as c:
            c.execute("SELECT pg_sleep(0.05)")  # keep the claim open while the other claims
        return real(row, **kwargs)

    def worker() -> dict[str, int]:
        try:
            barrier.wait(timeout=30)
            return journey_steps_process(now=now, limit=6)
        finally:
            connection.close()

    journeys._step_process = slow
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _i: worker(), range(2)))
    finally:
        journeys._step_process = real
    assert [r.get("sent", 0) for r in results] == [6, 6]  # disjoint claims, none waited
    assert (
        Message.objects.filter(
            source=Message.Source.JOURNEY, template__contains=f"/{j7[0].step_id}/"
        ).count()
        == 12
    )
    assert not EnrolmentStep.objects.filter(due_at__lte=now, status="pending").exists()


# --- GDPR: merge, erasure, export ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_merge_never_enrols_the_survivor_twice():
    from destination.services.merge import guest_merge
    from tests.newsletters.helpers import guest_make

    journeys_demo_create()
    survivor, merged = guest_make(), guest_make()
    journey_subscription_enrol(guest=survivor)
    journey_subscription_enrol(guest=merged)
    guest_merge(survivor=survivor, merged=merged, actor=None)
    enrolments = Enrolment.objects.filter(guest=survivor, journey__slug="welcome")
    assert enrolments.count() == 2  # both histories kept...
    assert enrolments.filter(status=Enrolment.Status.ACTIVE).count() == 1  # ...one runs
    duplicate = enrolments.get(status=Enrolment.Status.EXITED)
    assert duplicate.exit_reason == "merged"
    assert not duplicate.steps.filter(status="pending").exists()


@pytest.mark.django_db
def test_erasure_stops_journeys_and_export_lists_them(stay, lodging):
    from destination.services.gdpr import guest_erase, guest_export

    booking = _lodging_booking(lodging)
    consume()
    export = guest_export(guest=booking.booker, actor=None)
    assert export["journeys"][0]["journey"] == "Stay"
    assert {s["step"] for s in export["journeys"][0]["steps"]} == {"confirmation", "J-7", "J+2"}
    guest_erase(guest=booking.booker, actor=None, reason="request")
    assert not EnrolmentStep.objects.filter(status="pending").exists()
    assert Enrolment.objects.get().status == Enrolment.Status.EXITED
