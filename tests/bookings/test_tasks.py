"""Holds that expire, balances requested, reminded once and flagged; emails sent once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bookings.balances import bookings_balances_process
from bookings.models import Booking, Payment
from bookings.selectors import booking_list_balance_overdue
from bookings.services import (
    ParticipantData,
    booking_checkout_url,
    booking_confirmation_send,
    bookings_holds_expire,
)
from bookings.stripe_events import stripe_checkout_completed
from bookings.tasks import booking_balances_task, booking_holds_expire_task
from destination.models import TimelineEvent
from tests.factories import book, offer_make, person, session_make

pytestmark = pytest.mark.django_db


def test_hold_expiry_releases_seats_once(session, fake_stripe, django_capture_on_commit_callbacks):
    held = [book(session, payment_method="card", booker=person(n), adults=2) for n in range(3)]
    booking_checkout_url(booking=held[0], success_url="https://x/ok", cancel_url="https://x/ko")
    confirmed = book(session, booker=person(9), adults=1)
    session.refresh_from_db()
    assert session.seats_taken == 7
    assert bookings_holds_expire() == 0  # not yet
    later = timezone.now() + timedelta(minutes=16)
    with django_capture_on_commit_callbacks(execute=True):
        assert bookings_holds_expire(now=later) == 3
    session.refresh_from_db()
    assert session.seats_taken == 1
    assert set(Booking.objects.values_list("status", flat=True)) == {"expired", "confirmed"}
    assert confirmed.events.count() == 2
    for booking in held:
        assert booking.events.last().kind == "expired"
        assert TimelineEvent.objects.filter(
            guest=booking.booker, title__contains="expired"
        ).exists()
    # The open Checkout Session is closed at Stripe so it cannot be paid any more.
    assert len([r for r in fake_stripe.requests if r["path"].endswith("/expire")]) == 1
    assert bookings_holds_expire(now=later) == 0  # idempotent
    session.refresh_from_db()
    assert session.seats_taken == 1


def test_hold_expiry_tells_the_whole_party(ski_school, fake_stripe):
    """The job writes what the webhook path writes: one entry per concerned guest."""
    offer = offer_make(ski_school, needs_participant_names=True)
    session = session_make(offer)
    party = [
        ParticipantData("Camille1", "Martin"),
        ParticipantData("Jules", "Martin"),
        ParticipantData("Léo", "Martin", is_child=True),
    ]
    booking = book(session, payment_method="card", participants=party, adults=2, children=1)
    guests = set(booking.participants.values_list("guest_id", flat=True))
    assert len(guests) == 3 and booking.booker_id in guests
    assert bookings_holds_expire(now=timezone.now() + timedelta(minutes=16)) == 1
    entries = TimelineEvent.objects.filter(title__contains="expired", object_id=booking.pk)
    assert {e.guest_id for e in entries} == guests
    for entry in entries:
        assert entry.partner_id == booking.partner_id
        assert entry.visibility == "shared"
        assert entry.source_object == booking
        role = "booker" if entry.guest_id == booking.booker_id else "participant"
        assert entry.data == {
            "booking": booking.pk, "reference": booking.reference, "status": "expired",
            "role": role,
        }  # fmt: skip


def test_hold_expiry_task_runs(session, fake_stripe):
    assert booking_holds_expire_task.delay().get() == 0


def test_confirmation_email_never_twice(session, on_site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(session)
    assert len(mail.outbox) == 1
    assert booking_confirmation_send(booking.pk) is False
    assert len(mail.outbox) == 1


def _emails_on_timeline(guest_id: int) -> list[str]:
    entries = TimelineEvent.objects.filter(guest_id=guest_id, kind=TimelineEvent.Kind.MESSAGE)
    return [e.data["email"] for e in entries.order_by("pk")]


def test_confirmation_email_is_on_the_bookers_timeline_once(
    ski_school, on_site, django_capture_on_commit_callbacks
):
    offer = offer_make(ski_school, needs_participant_names=True)
    party = [ParticipantData("Camille1", "Martin"), ParticipantData("Jules", "Martin")]
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(session_make(offer), participants=party)
    entry = TimelineEvent.objects.get(kind=TimelineEvent.Kind.MESSAGE)
    assert entry.guest_id == booking.booker_id  # the email went to the booker only
    assert entry.partner_id == booking.partner_id and entry.visibility == "shared"
    assert entry.title.startswith("Confirmation email sent for " + booking.reference)
    assert entry.data == {"booking": booking.pk, "reference": booking.reference,
                          "email": "confirmation"}  # fmt: skip
    assert entry.source_object == booking
    assert booking_confirmation_send(booking.pk) is False  # a retry sends nothing
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.MESSAGE).count() == 1


def test_a_confirmation_that_fails_to_send_leaves_no_entry(session, on_site, monkeypatch):
    booking = book(session)

    def down(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("bookings.emails.EmailMultiAlternatives.send", down)
    with pytest.raises(OSError):
        booking_confirmation_send(booking.pk)
    assert _emails_on_timeline(booking.booker_id) == []
    monkeypatch.undo()
    assert booking_confirmation_send(booking.pk) is True  # the task's retry
    assert _emails_on_timeline(booking.booker_id) == ["confirmation"]


def test_confirmation_in_english(session, on_site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        book(session, language="en", booker=person(language="en"))
    assert "is confirmed" in mail.outbox[0].subject
    assert "Group ski lesson" in mail.outbox[0].subject


def _stay_booking(ski_school, *, days: int):
    offer = offer_make(
        ski_school, kind="stay", pricing="per_unit", price_cents=10000, deposit_percent=30,
        balance_due_days=30, title_en="Studio for two", title_fr="Studio pour deux",
    )  # fmt: skip
    session = session_make(offer, days=days, hours=24 * 7)
    booking = book(session, payment_method="card", units=1)
    booking_checkout_url(booking=booking, success_url="https://x/ok", cancel_url="https://x/ko")
    payment = Payment.objects.get(booking=booking)
    stripe_checkout_completed(
        {"id": payment.stripe_checkout_session_id, "payment_status": "paid",
         "amount_total": payment.amount_cents, "payment_intent": f"pi_{booking.pk}"}
    )  # fmt: skip
    booking.refresh_from_db()
    return booking


def test_balance_requested_reminded_once_then_flagged(
    ski_school, fake_stripe, django_capture_on_commit_callbacks
):
    booking = _stay_booking(ski_school, days=50)  # balance due in 20 days
    mail.outbox.clear()
    assert booking.balance_due_on == timezone.localdate() + timedelta(days=20)
    assert bookings_balances_process() == {"requested": 0, "reminded": 0, "overdue": 0}
    day = timezone.now() + timedelta(days=7)  # 13 days before the due date
    assert bookings_balances_process(now=day)["requested"] == 1
    assert bookings_balances_process(now=day)["requested"] == 0
    assert len(mail.outbox) == 1
    assert "https://buy.stripe.com/" in mail.outbox[0].body
    assert "Solde" in mail.outbox[0].subject or "Balance" in mail.outbox[0].subject
    near = timezone.now() + timedelta(days=18)
    assert bookings_balances_process(now=near)["reminded"] == 1
    assert bookings_balances_process(now=near)["reminded"] == 0
    assert len(mail.outbox) == 2
    assert len(fake_stripe.calls("/v1/payment_links")) == 1  # the same link in both mails
    assert _emails_on_timeline(booking.booker_id) == ["balance_request", "balance_reminder"]  # fmt: skip
    past = timezone.now() + timedelta(days=21)
    counts = bookings_balances_process(now=past)
    assert counts == {"requested": 0, "reminded": 0, "overdue": 1}
    assert bookings_balances_process(now=past)["overdue"] == 0
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED  # flagged, not cancelled
    assert booking.balance_overdue_at is not None
    assert list(booking_list_balance_overdue()) == [booking]
    assert list(booking_list_balance_overdue(booking.partner)) == [booking]
    assert TimelineEvent.objects.filter(guest=booking.booker, title__contains="overdue").exists()
    kinds = list(booking.events.values_list("kind", flat=True))
    assert kinds[-3:] == ["balance_requested", "balance_reminded", "balance_overdue"]
    # Paying the balance through the link clears the flag.
    link = Payment.objects.get(booking=booking, kind="balance")
    stripe_checkout_completed(
        {"id": "cs_balance", "payment_link": link.stripe_payment_link_id, "payment_status": "paid",
         "amount_total": booking.balance_cents, "payment_intent": "pi_balance"}
    )  # fmt: skip
    booking.refresh_from_db()
    assert booking.balance_cents == 0 and booking.balance_overdue_at is None
    assert list(booking_list_balance_overdue()) == []


def test_a_balance_request_without_email_leaves_no_entry(ski_school, fake_stripe):
    booking = _stay_booking(ski_school, days=50)
    Booking.objects.filter(pk=booking.pk).update(contact_email="")
    assert bookings_balances_process(now=timezone.now() + timedelta(days=7))["requested"] == 1
    assert "balance_request" not in _emails_on_timeline(booking.booker_id)


def test_balances_task_runs(db, on_site):
    assert booking_balances_task.delay().get() == {
        "requested": 0, "reminded": 0, "overdue": 0, "completed": 0,
    }  # fmt: skip
