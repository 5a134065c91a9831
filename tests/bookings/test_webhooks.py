"""The Stripe webhook, with payloads signed by Stripe's real scheme."""

import logging

import pytest
from django.core import mail

from bookings import stripe_events
from bookings.models import Booking, BookingEvent, Payment, StripeEvent
from bookings.services import booking_checkout_url, bookings_holds_expire
from tests.bookings.helpers import event_payload, post_event, sign
from tests.factories import book

pytestmark = pytest.mark.django_db

URLS = {"success_url": "https://example.org/ok", "cancel_url": "https://example.org/ko"}


@pytest.fixture
def held(session, fake_stripe):
    booking = book(session, payment_method=Booking.PaymentMethod.CARD)
    booking_checkout_url(booking=booking, **URLS)
    return booking


def _completed(booking, **extra):
    payment = Payment.objects.get(booking=booking, kind__in=["full", "deposit"])
    return {
        "id": payment.stripe_checkout_session_id,
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": payment.amount_cents,
        "payment_intent": f"pi_{booking.pk}",
        "client_reference_id": booking.reference,
        "metadata": {"booking": booking.reference, "payment": payment.kind},
        **extra,
    }


def _expired(booking):
    payment = Payment.objects.get(booking=booking, kind__in=["full", "deposit"])
    return {"id": payment.stripe_checkout_session_id, "object": "checkout.session",
            "status": "expired", "metadata": {"booking": booking.reference}}  # fmt: skip


def _refunded(booking, amount):
    charge = Payment.objects.get(booking=booking, kind__in=["full", "deposit"]).amount_cents
    return {"id": f"ch_{booking.pk}", "object": "charge", "payment_intent": f"pi_{booking.pk}",
            "amount": charge, "amount_refunded": amount, "refunded": amount >= charge,
            "metadata": {"booking": booking.reference},
            "refunds": {"data": [{"id": f"re_{booking.pk}"}]}}  # fmt: skip


def test_valid_completed_confirms(client, held, session, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, "checkout.session.completed", _completed(held))
    assert response.status_code == 200
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.CONFIRMED
    assert held.paid_cents == held.total_cents
    assert session.seats_taken == 2
    assert len(mail.outbox) == 1  # the confirmation, sent on confirm


def test_invalid_signature_is_refused_and_logged(client, held, caplog):
    payload = event_payload("checkout.session.completed", _completed(held))
    with caplog.at_level(logging.WARNING, logger="bookings.webhooks"):
        response = client.post(
            "/stripe/webhook/",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": sign(payload, secret="whsec_wrong")},
        )
    assert response.status_code == 400
    assert "refused" in caplog.text
    missing = client.post("/stripe/webhook/", data=payload, content_type="application/json")
    assert missing.status_code == 400
    tampered = client.post(
        "/stripe/webhook/",
        data=payload.replace('"paid"', '"unpaid"'),
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload)},
    )
    assert tampered.status_code == 400
    held.refresh_from_db()
    assert held.status == Booking.Status.HELD
    assert not StripeEvent.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get("/stripe/webhook/").status_code == 405


def test_duplicate_delivery_processed_once(client, held, django_capture_on_commit_callbacks):
    obj = _completed(held)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_event(client, "checkout.session.completed", obj, event_id="evt_dup")
        second = post_event(client, "checkout.session.completed", obj, event_id="evt_dup")
    assert first.status_code == second.status_code == 200
    assert second.content == b"duplicate"
    held.refresh_from_db()
    assert held.paid_cents == held.total_cents  # not twice
    assert StripeEvent.objects.filter(event_id="evt_dup").count() == 1
    assert held.events.filter(kind="confirmed").count() == 1
    assert len(mail.outbox) == 1
    # The same session under another event id (Stripe re-sending) changes nothing either.
    post_event(client, "checkout.session.completed", obj)
    held.refresh_from_db()
    assert held.paid_cents == held.total_cents


def test_expired_releases_the_hold(client, held, session):
    response = post_event(client, "checkout.session.expired", _expired(held))
    assert response.status_code == 200
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.EXPIRED
    assert session.seats_taken == 0
    assert Payment.objects.get(booking=held).status == Payment.Status.EXPIRED
    assert held.events.last().kind == "expired"


def test_a_delayed_payment_that_fails_releases_the_hold(client, held, session):
    unpaid = _completed(held, payment_status="unpaid")
    post_event(client, "checkout.session.completed", unpaid)  # waits: nothing is paid yet
    held.refresh_from_db()
    assert held.status == Booking.Status.HELD and held.paid_cents == 0
    post_event(client, "checkout.session.async_payment_failed", unpaid)
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.EXPIRED and session.seats_taken == 0


def test_expired_after_completed_keeps_the_booking(client, held, session):
    post_event(client, "checkout.session.completed", _completed(held))
    post_event(client, "checkout.session.expired", _expired(held))
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.CONFIRMED
    assert session.seats_taken == 2


def test_completed_after_hold_expired_retakes_free_seats(client, held, session):
    post_event(client, "checkout.session.expired", _expired(held))
    post_event(client, "checkout.session.completed", _completed(held))
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.CONFIRMED
    assert session.seats_taken == 2
    assert held.events.filter(kind="confirmed").get().data["late"] is True


def test_completed_after_seats_gone_is_refunded(
    client, held, session, fake_stripe, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    bookings_holds_expire(now=timezone.now() + timezone.timedelta(hours=1))
    book(session, adults=10)  # someone else takes every seat meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, "checkout.session.completed", _completed(held))
    held.refresh_from_db()
    session.refresh_from_db()
    assert session.seats_taken == 10
    assert held.status == Booking.Status.REFUNDED
    assert len(fake_stripe.calls("/v1/refunds")) == 1


def test_refund_before_completed(client, held, session):
    """charge.refunded overtakes checkout.session.completed: the booking ends refunded, seats
    free, and the late completion does not confirm it."""
    post_event(client, "charge.refunded", _refunded(held, held.total_cents))
    held.refresh_from_db()
    assert held.status == Booking.Status.REFUNDED
    post_event(client, "checkout.session.completed", _completed(held))
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.REFUNDED
    assert held.paid_cents == held.refunded_cents == held.total_cents
    assert session.seats_taken == 0


def test_partial_refund_before_completed(
    client, held, session, fake_stripe, django_capture_on_commit_callbacks
):
    """A partial refund overtaking the payment's event is not "everything paid is refunded":
    the booking is confirmed by the payment, keeps its seats, and nothing more is refunded."""
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, "charge.refunded", _refunded(held, 1000))
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.HELD
    assert held.refunded_cents == 1000
    assert session.seats_taken == 2
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, "checkout.session.completed", _completed(held))
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.CONFIRMED
    assert held.paid_cents == held.total_cents and held.refunded_cents == 1000
    assert session.seats_taken == 2
    assert fake_stripe.calls("/v1/refunds") == []


def test_refund_after_completed(client, held, session):
    post_event(client, "checkout.session.completed", _completed(held))
    post_event(client, "charge.refunded", _refunded(held, held.total_cents))
    post_event(client, "charge.refunded", _refunded(held, held.total_cents))  # re-sent
    held.refresh_from_db()
    session.refresh_from_db()
    assert held.status == Booking.Status.REFUNDED
    assert held.refunded_cents == held.total_cents
    assert session.seats_taken == 0
    assert held.events.filter(kind="refunded").count() == 1


def test_unknown_event_type_is_acknowledged(client, fake_stripe):
    response = post_event(client, "customer.created", {"id": "cus_1"})
    assert response.status_code == 200
    assert StripeEvent.objects.get().type == "customer.created"
    assert not BookingEvent.objects.exists()


def test_processing_error_rolls_back_the_event_row(client, held, monkeypatch):
    def boom(obj):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(stripe_events.STRIPE_HANDLERS, "checkout.session.completed", boom)
    client.raise_request_exception = False
    response = post_event(client, "checkout.session.completed", _completed(held), "evt_retry")
    assert response.status_code == 500
    assert not StripeEvent.objects.filter(event_id="evt_retry").exists()  # Stripe will retry
