"""What Stripe's webhook events do to bookings (``bookings/webhooks.py`` is the HTTP view that
verifies them): each event id is processed once (``stripe_event_process``), in the
transaction that records it. Payments confirm held bookings, late payments re-take their seats
or go back, expired Checkout Sessions release holds, refunds made anywhere are recorded."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from bookings import payments
from bookings.models import Booking, BookingEvent, Payment, StripeEvent
from bookings.services import (
    booking_confirmation_enqueue,
    booking_event_data,
    booking_event_write,
    booking_refund_record,
    booking_seats_release,
    booking_timeline_add,
    session_seats_take,
)

logger = logging.getLogger(__name__)


def _booking_for_stripe_object(obj: Mapping[str, Any]) -> Booking | None:
    reference = (obj.get("metadata") or {}).get("booking") or obj.get("client_reference_id")
    if not reference:
        return None
    return Booking.objects.filter(reference=reference).first()


def stripe_checkout_completed(obj: Mapping[str, Any]) -> None:
    """``checkout.session.completed``: the money is in. Confirms a held booking; a payment that
    arrives after its hold expired re-takes the seats when they are still free, and is refunded
    when they are not (or when the booking was cancelled or refunded meanwhile)."""
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        return  # Delayed methods confirm later; only cards are offered.
    session_id = obj.get("id") or ""
    payment = Payment.objects.filter(stripe_checkout_session_id=session_id).first()
    if payment is None and obj.get("payment_link"):
        payment = Payment.objects.filter(stripe_payment_link_id=obj["payment_link"]).first()
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        logger.warning("Stripe Checkout Session %s matches no booking", session_id)
        return
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    amount = int(obj.get("amount_total") or 0)
    intent = obj.get("payment_intent") or ""
    if payment is None:
        kind = (obj.get("metadata") or {}).get("payment") or Payment.Kind.FULL
        payment = Payment(
            booking=booking,
            kind=kind if kind in Payment.Kind.values else Payment.Kind.FULL,
            provider=payments.STRIPE,
            amount_cents=amount,
            stripe_checkout_session_id=session_id,
        )
    else:
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == Payment.Status.SUCCEEDED:
        return
    payment.status = Payment.Status.SUCCEEDED
    payment.amount_cents = amount or payment.amount_cents
    payment.stripe_payment_intent_id = intent
    if payment.stripe_payment_link_id and not payment.stripe_checkout_session_id:
        payment.stripe_checkout_session_id = session_id
    payment.save()
    booking.paid_cents += payment.amount_cents
    booking.save(update_fields=["paid_cents", "updated_at"])
    # Outbox rows are written last (after any seat or timeline write): the outbox lock is the
    # last lock a transaction takes.
    received = (
        BookingEvent.Kind.PAYMENT_RECEIVED,
        booking_event_data(booking, amount_cents=payment.amount_cents, kind=payment.kind),
    )
    if payment.kind == Payment.Kind.BALANCE:
        if booking.balance_cents == 0 and booking.balance_overdue_at:
            booking.balance_overdue_at = None
            booking.save(update_fields=["balance_overdue_at", "updated_at"])
        booking_timeline_add(booking, gettext_lazy("Balance paid"))
        booking_event_write(booking, *received)
        return
    refund = False
    if booking.status == Booking.Status.HELD:
        _confirm(booking, before=[received])
        return
    if booking.status == Booking.Status.EXPIRED:
        if session_seats_take(booking.session_id, booking.seats):
            _confirm(booking, late=True, before=[received])
            return
        refund = True
    elif booking.status in (Booking.Status.CANCELLED, Booking.Status.REFUNDED):
        # Cancelled while paying, or refunded first (events out of order): the booking stays
        # as it is and whatever was paid and not refunded yet goes back.
        refund = booking.refunded_cents < booking.paid_cents
    else:
        logger.warning(
            "Booking %s (%s) received a second first payment %s: the desk refunds it",
            booking.reference,
            booking.status,
            session_id,
        )
    booking_event_write(booking, *received)
    if refund:
        from bookings.tasks import booking_refund_task  # noqa: PLC0415  bookings.tasks imports this module

        booking_refund_task.delay_on_commit(booking.pk)


def _confirm(
    booking: Booking,
    *,
    late: bool = False,
    before: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    now = timezone.now()
    booking.status = Booking.Status.CONFIRMED
    booking.confirmed_at = now
    booking.hold_expires_at = None
    booking.save(update_fields=["status", "confirmed_at", "hold_expires_at", "updated_at"])
    booking_timeline_add(booking, gettext_lazy("Booking confirmed"), at=now)
    for kind, data in before or []:
        booking_event_write(booking, kind, data)
    booking_event_write(
        booking, BookingEvent.Kind.CONFIRMED, booking_event_data(booking, late=late)
    )
    booking_confirmation_enqueue(booking)


def stripe_checkout_expired(obj: Mapping[str, Any]) -> None:
    """``checkout.session.expired``: the visitor never paid. Releases a still-held booking; a
    booking already confirmed (the completed event came first) is left alone."""
    session_id = obj.get("id") or ""
    payment = Payment.objects.filter(stripe_checkout_session_id=session_id).first()
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        return
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    if payment is not None:
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == Payment.Status.PENDING:
            payment.status = Payment.Status.EXPIRED
            payment.save(update_fields=["status", "updated_at"])
        if payment.kind == Payment.Kind.BALANCE:
            return
    if booking.status != Booking.Status.HELD:
        return
    booking_seats_release(booking)
    booking.status = Booking.Status.EXPIRED
    booking.save(update_fields=["status", "updated_at"])
    booking_timeline_add(booking, gettext_lazy("Booking expired unpaid"))
    booking_event_write(
        booking, BookingEvent.Kind.EXPIRED, booking_event_data(booking, by="stripe")
    )


def stripe_charge_refunded(obj: Mapping[str, Any]) -> None:
    """``charge.refunded``: money went back (from us or from Stripe's dashboard)."""
    intent = obj.get("payment_intent") or ""
    payment = (
        Payment.objects.filter(stripe_payment_intent_id=intent)
        .exclude(kind=Payment.Kind.REFUND)
        .first()
        if intent
        else None
    )
    booking = payment.booking if payment else _booking_for_stripe_object(obj)
    if booking is None:
        logger.warning("Stripe refund for %s matches no booking", intent or obj.get("id"))
        return
    refunds = ((obj.get("refunds") or {}).get("data") or [{}])[0] or {}
    booking_refund_record(
        booking_id=booking.pk,
        payment_intent_id=intent,
        refund_id=refunds.get("id") or "",
        amount_refunded=int(obj.get("amount_refunded") or 0),
        charge_amount=int(obj.get("amount") or 0),
    )


STRIPE_HANDLERS = {
    "checkout.session.completed": stripe_checkout_completed,
    "checkout.session.async_payment_succeeded": stripe_checkout_completed,
    "checkout.session.expired": stripe_checkout_expired,
    # Only cards are offered, so a delayed payment never fails later; if one ever does (a
    # method enabled by hand), it releases the hold like an expired session.
    "checkout.session.async_payment_failed": stripe_checkout_expired,
    "charge.refunded": stripe_charge_refunded,
}


def stripe_event_process(*, event_id: str, event_type: str, obj: Mapping[str, Any]) -> bool:
    """Process one verified Stripe event exactly once. The event id is inserted first, in the
    transaction of the processing: a duplicate delivery (even a concurrent one, which waits on
    the unique index) finds it and does nothing; a failure rolls both back so Stripe's retry
    processes it. Returns False for a duplicate."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    event_id=event_id, type=event_type[:100], object_id=str(obj.get("id", ""))[:255]
                )
        except IntegrityError:
            return False
        handler = STRIPE_HANDLERS.get(event_type)
        if handler is not None:
            handler(obj)
    return True
