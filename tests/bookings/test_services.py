from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from bookings.links import booking_from_signed_token, booking_signed_token
from bookings.models import Booking, BookingEvent, Participant, Session
from bookings.pricing import booking_price
from bookings.selectors import booking_event_list_after, booking_list_for_guest
from bookings.services import (
    BookingError,
    ConsentChoice,
    ParticipantData,
    booking_cancel,
    booking_check_in,
    bookings_complete_ended,
    payment_provider,
)
from destination.models import ConsentEvent, ConsentWording, Guest, TimelineEvent
from partners.access import timeline_visible_to
from partners.models import Partner, PartnerGuestLink
from tests.factories import MembershipFactory, PartnerFactory, book, offer_make, session_make

pytestmark = pytest.mark.django_db


def test_on_site_booking_is_confirmed_with_guests_timeline_link_and_outbox(
    session, on_site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(
            session,
            participants=[
                ParticipantData("Camille1", "Martin"),
                ParticipantData("Léo", "Martin", is_child=True),
            ],
            adults=1,
            children=1,
        )
    session.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.reference.startswith("VN-") and len(booking.reference) == 9
    assert session.seats_taken == 2
    assert booking.total_cents == 2 * 5000
    booker = booking.booker
    assert booker.first_name == "Camille1"
    participants = list(booking.participants.order_by("pk"))
    assert participants[0].guest_id == booker.pk  # the booker is resolved once
    assert participants[1].guest_id not in (None, booker.pk)
    for guest_id in (booker.pk, participants[1].guest_id):
        entry = TimelineEvent.objects.get(guest_id=guest_id, kind=TimelineEvent.Kind.BOOKING)
        assert booking.reference in entry.title
        assert entry.partner_id == booking.partner_id
        link = PartnerGuestLink.objects.get(partner=booking.partner, guest_id=guest_id)
        assert link.has_booked
    kinds = list(BookingEvent.objects.filter(booking=booking).values_list("kind", flat=True))
    assert kinds == ["created", "confirmed"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["camille.martin1@example.org"]
    assert "confirmée" in mail.outbox[0].subject  # the booking's language
    assert booking.reference in mail.outbox[0].body
    assert mail.outbox[0].alternatives[0].mimetype == "text/html"


def test_booking_timeline_follows_partner_access(session, on_site):
    booking = book(session)
    own = timeline_visible_to(partner=booking.partner, guest=booking.booker)
    assert own.filter(kind=TimelineEvent.Kind.BOOKING).exists()
    stranger = PartnerFactory(kind=Partner.Kind.RESTAURANT)
    seen = timeline_visible_to(partner=stranger, guest=booking.booker)
    # An unrelated restaurant sees another partner's booking only when its rules open BOOKINGS.
    from partners.access import guest_access
    from partners.models import Section

    opens = guest_access(partner=stranger, guest=booking.booker).can(Section.BOOKINGS)
    assert seen.filter(kind=TimelineEvent.Kind.BOOKING).exists() == opens


def test_known_guest_is_matched_not_duplicated(session, on_site):
    first = book(session, adults=1)
    second = book(session, adults=1)
    assert first.booker_id == second.booker_id
    assert Guest.objects.filter(first_name="Camille1").count() == 1
    assert set(booking_list_for_guest(first.booker)) == {first, second}


def test_consents_recorded_with_exact_wording(session, on_site):
    wording = ConsentWording.objects.create(
        purpose="newsletter", language="en", version="v1", text="I want the newsletter."
    )
    offers = ConsentWording.objects.create(
        purpose="partner_offers", language="en", version="v1", text="Offers from the school"
    )
    # The booking is in French and only an English wording was shown: the proof is that
    # English row, and no French wording is written from it.
    booking = book(
        session,
        language="fr",
        consents=[
            ConsentChoice(purpose="newsletter", wording=wording, given=True),
            ConsentChoice(purpose="partner_offers", wording=offers, given=False),
        ],
    )
    events = list(
        ConsentEvent.objects.filter(guest=booking.booker).select_related("proof__wording")
    )
    assert len(events) == 1  # the unticked box records nothing
    assert events[0].purpose == "newsletter" and events[0].granted and events[0].channel == "email"
    assert events[0].proof.wording == wording
    assert events[0].proof.evidence["booking"] == booking.reference
    assert ConsentWording.objects.count() == 2


def test_card_booking_is_held(session, fake_stripe, settings):
    booking = book(session, payment_method=Booking.PaymentMethod.CARD)
    assert booking.status == Booking.Status.HELD
    expected = timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    assert abs((booking.hold_expires_at - expected).total_seconds()) < 5
    assert list(booking.events.values_list("kind", flat=True)) == ["created"]


def test_payment_provider_follows_keys(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert payment_provider() == "on_site"
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert payment_provider() == "stripe"


def test_stay_price_per_unit_and_night_with_deposit(ski_school):
    offer = offer_make(
        ski_school, kind="stay", pricing="per_unit", price_cents=12000, deposit_percent=30,
        balance_due_days=30,
    )  # fmt: skip
    session = session_make(offer, days=60, hours=24 * 7)
    price = booking_price(session=session, adults=2, children=1, units=2)
    assert price.seats == 2
    assert price.total_cents == 12000 * 2 * 7
    assert price.deposit_cents == round(12000 * 2 * 7 * 0.3)
    assert price.balance_due_on == timezone.localdate(session.starts_at) - timedelta(days=30)
    soon = session_make(offer, days=10, hours=24 * 2)
    late = booking_price(session=soon, adults=2, children=0, units=1)
    assert late.deposit_cents == 0 and late.balance_due_on is None  # pay in full
    assert (
        booking_price(session=session, adults=2, children=0, units=1, card=False).deposit_cents == 0
    )


def test_child_price(ski_school):
    offer = offer_make(ski_school, price_cents=5000, child_price_cents=3500)
    session = session_make(offer)
    assert booking_price(session=session, adults=1, children=2).total_cents == 5000 + 7000


def test_signed_token_round_trip(session, on_site):
    booking = book(session)
    token = booking_signed_token(booking)
    assert booking_from_signed_token(token) == booking
    assert booking_from_signed_token(token[:-2] + "xx") is None
    assert booking_from_signed_token("garbage") is None


def test_visitor_cancels_within_policy(session, on_site):
    booking = book(session)
    cancelled = booking_cancel(booking=booking, reason="Plans changed")
    session.refresh_from_db()
    assert cancelled.status == Booking.Status.CANCELLED
    assert session.seats_taken == 0
    assert booking.events.order_by("id").last().kind == "cancelled"
    with pytest.raises(BookingError):
        booking_cancel(booking=booking)


def test_visitor_cannot_cancel_late_but_staff_can(ski_school, on_site):
    offer = offer_make(ski_school, free_cancellation_days=7)
    session = session_make(offer, days=3)
    booking = book(session)
    with pytest.raises(BookingError) as exc:
        booking_cancel(booking=booking)
    assert "Free cancellation ended" in str(exc.value.messages[0])
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CONFIRMED
    staff = MembershipFactory(partner=ski_school).user
    with pytest.raises(BookingError) as exc:
        booking_cancel(booking=booking, by=staff)
    assert "reason" in exc.value.message_dict
    booking_cancel(booking=booking, by=staff, reason="Guest ill, refund agreed")
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.CANCELLED


def test_check_in_and_complete(ski_school, on_site):
    offer = offer_make(ski_school)
    session = session_make(offer, days=0, hours=2)
    Session.objects.filter(pk=session.pk).update(
        starts_at=timezone.now() + timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=3)
    )
    booking = book(session)
    staff = MembershipFactory(partner=ski_school).user
    with pytest.raises(BookingError):
        booking_check_in(booking=booking, by=PartnerFactory() and None)
    checked = booking_check_in(booking=booking, by=staff)
    assert checked.status == Booking.Status.CHECKED_IN
    assert bookings_complete_ended(now=timezone.now() + timedelta(hours=4)) == 1
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.COMPLETED
    assert bookings_complete_ended(now=timezone.now() + timedelta(hours=4)) == 0
    kinds = list(booking.events.values_list("kind", flat=True))
    assert kinds == ["created", "confirmed", "checked_in", "completed"]


def test_outbox_reads_after_id(session, on_site):
    first = book(session, adults=1)
    book(session, adults=1)
    events = booking_event_list_after(0, limit=100)
    assert [e.id for e in events] == sorted(e.id for e in events)
    after = booking_event_list_after(events[1].id)
    assert [e.booking_id for e in after] != [first.pk] * len(after)
    assert len(booking_event_list_after(events[-1].id)) == 0
    assert len(booking_event_list_after(0, limit=3)) == 3


def test_outbox_rolls_back_with_state_change(session, on_site, monkeypatch):
    """A failure after the state change (here, writing the outbox row itself) rolls back the
    booking, the seats, the guests' timeline and the outbox together."""
    import bookings.services as services

    def broken(*args, **kwargs):
        raise IntegrityError("outbox down")

    monkeypatch.setattr(services, "booking_event_write", broken)
    with pytest.raises(IntegrityError):
        book(session)
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert not Booking.objects.exists()
    assert not BookingEvent.objects.exists()
    assert not TimelineEvent.objects.filter(kind=TimelineEvent.Kind.BOOKING).exists()
    assert not Participant.objects.exists()


def test_outbox_cancel_rolls_back(session, on_site, monkeypatch):
    booking = book(session)
    import bookings.services as services

    monkeypatch.setattr(services, "booking_event_write", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        booking_cancel(booking=booking)
    booking.refresh_from_db()
    session.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert session.seats_taken == 2
