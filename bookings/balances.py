"""Money still owed after the first payment: a stay's balance requested, reminded and flagged
overdue (``bookings_balances_process``, daily), the Stripe payment links that collect it
(``booking_balance_link``, one per amount, the stale ones closed) and the booking desk's
"email the guest the link" (``desk_payment_link_send``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bookings import payments
from bookings.emails import balance_email_send
from bookings.models import Booking, BookingEvent, Payment
from bookings.services import (
    BookingError,
    booking_email_timeline_write,
    booking_event_data,
    booking_event_write,
    booking_events_write,
    booking_timeline_add,
    payment_provider,
)

if TYPE_CHECKING:
    from destination.models import User

logger = logging.getLogger(__name__)

# The balance is requested this many days before it is due, and reminded once this close.
BALANCE_REQUEST_DAYS = 14
BALANCE_REMINDER_DAYS = 3


def _balance_due(now: datetime) -> Q:
    return Q(
        status=Booking.Status.CONFIRMED,
        balance_due_on__isnull=False,
        paid_cents__lt=F("total_cents"),
    )


def _balance_links_close(
    booking: Booking, provider: payments.PaymentProvider, *, keep_amount: int | None = None
) -> int:
    """Deactivate at Stripe the booking's pending balance links (except one for
    ``keep_amount``) and mark them expired. Raises PaymentProviderError on the first link that
    cannot be closed. Returns how many were closed."""
    stale = (
        booking.payments.filter(kind=Payment.Kind.BALANCE, status=Payment.Status.PENDING)
        .exclude(stripe_payment_link_id="")
        .order_by("pk")
    )
    if keep_amount is not None:
        stale = stale.exclude(amount_cents=keep_amount)
    closed = 0
    for old in stale:
        try:
            provider.payment_link_deactivate(link_id=old.stripe_payment_link_id)
        except payments.PaymentProviderError as exc:
            logger.warning("Payment link %s not deactivated: %s", old.stripe_payment_link_id, exc)
            raise
        # Paid meanwhile: the webhook records it as succeeded whatever this row says.
        closed += Payment.objects.filter(pk=old.pk, status=Payment.Status.PENDING).update(
            status=Payment.Status.EXPIRED, updated_at=timezone.now()
        )
    return closed


def booking_balance_links_close(booking_id: int) -> int:
    """After money taken at the desk, close the balance links that no longer match what is left
    to pay, so the guest cannot pay the same balance twice. Idempotent (closed links are no
    longer pending); Stripe errors propagate so the task retries."""
    booking = Booking.objects.get(pk=booking_id)
    keep = booking.balance_cents if booking.balance_cents > 0 else None
    return _balance_links_close(booking, payments.provider_get(payments.STRIPE), keep_amount=keep)


def booking_balance_link(*, booking: Booking) -> str:
    """A Stripe payment link for what is left to pay (one payment only; reused while pending).
    Used for a stay's balance and by the booking desk to send a link. When the amount left
    changed, the earlier links are deactivated at Stripe before a new one is made, so the guest
    can never pay both; if one cannot be deactivated, no new link is made."""
    booking = Booking.objects.select_related("session__offer").get(pk=booking.pk)
    if booking.balance_cents <= 0:
        raise BookingError(_("Nothing is left to pay on this booking."))
    if payment_provider() != payments.STRIPE:
        raise BookingError(_("Card payment is not configured; take the payment on site."))
    pending = (
        booking.payments.filter(
            kind=Payment.Kind.BALANCE,
            status=Payment.Status.PENDING,
            amount_cents=booking.balance_cents,
        )
        .exclude(url="")
        .first()
    )
    if pending is not None:
        return pending.url
    provider = payments.provider_get()
    try:
        _balance_links_close(booking, provider)
    except payments.PaymentProviderError as exc:
        raise BookingError(
            _("The previous payment link could not be deactivated: %s") % exc
        ) from exc
    key = f"balance-{booking.reference}-{booking.balance_cents}"
    with translation.override(booking.language):
        description = _("Balance of booking %(reference)s: %(offer)s") % {
            "reference": booking.reference,
            "offer": booking.session.offer.title,
        }
    try:
        result = provider.payment_link_create(
            description=description,
            amount_cents=booking.balance_cents,
            metadata={"booking": booking.reference, "payment": Payment.Kind.BALANCE},
            redirect_url=settings.BOOKING_SITE_URL,
            idempotency_key=key,
        )
    except payments.PaymentProviderError as exc:
        raise BookingError(_("The payment link could not be created: %s") % exc) from exc
    with transaction.atomic():
        payment, _created = Payment.objects.get_or_create(
            stripe_payment_link_id=result.link_id,
            defaults={
                "booking": booking,
                "kind": Payment.Kind.BALANCE,
                "provider": payments.STRIPE,
                "amount_cents": booking.balance_cents,
                "idempotency_key": key,
                "url": result.url,
            },
        )
    return payment.url


def _balance_mail(booking_id: int, *, reminder: bool, now: datetime) -> bool:
    """Send the balance request (or its single reminder) under the booking's lock; the flag is
    set in the same transaction, so it is sent once."""
    booking = Booking.objects.get(pk=booking_id)
    try:
        url = booking_balance_link(booking=booking)
    except BookingError:
        url = ""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("session__offer", "partner")
            .get(pk=booking_id)
        )
        flag = "balance_reminded_at" if reminder else "balance_requested_at"
        if getattr(booking, flag) is not None or booking.balance_cents <= 0:
            return False
        if booking.status != Booking.Status.CONFIRMED:
            return False
        setattr(booking, flag, now)
        booking.save(update_fields=[flag, "updated_at"])
        kind = (
            BookingEvent.Kind.BALANCE_REMINDED if reminder else BookingEvent.Kind.BALANCE_REQUESTED
        )
        booking_event_write(
            booking, kind, booking_event_data(booking, balance_cents=booking.balance_cents, url=url)
        )
        if balance_email_send(booking, url=url, reminder=reminder):
            booking_email_timeline_write(
                booking, email="balance_reminder" if reminder else "balance_request"
            )
    return True


def bookings_balances_process(*, now: datetime | None = None) -> dict[str, int]:
    """Daily work on stay balances: request each balance BALANCE_REQUEST_DAYS before it is due
    (email with a Stripe payment link), remind once BALANCE_REMINDER_DAYS before, and flag to
    the booking desk what is still unpaid after its date (never cancelled automatically).
    Idempotent: each step sets its own flag under lock."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = _balance_due(now)
    counts = {"requested": 0, "reminded": 0, "overdue": 0}
    to_request = Booking.objects.filter(
        due,
        balance_requested_at__isnull=True,
        balance_due_on__lte=today + timedelta(days=BALANCE_REQUEST_DAYS),
    ).values_list("pk", flat=True)
    for pk in list(to_request):
        counts["requested"] += _balance_mail(pk, reminder=False, now=now)
    to_remind = Booking.objects.filter(
        due,
        balance_requested_at__isnull=False,
        balance_requested_at__lt=now - timedelta(days=1),
        balance_reminded_at__isnull=True,
        balance_due_on__lte=today + timedelta(days=BALANCE_REMINDER_DAYS),
    ).values_list("pk", flat=True)
    for pk in list(to_remind):
        counts["reminded"] += _balance_mail(pk, reminder=True, now=now)
    with transaction.atomic():
        overdue = list(
            Booking.objects.select_for_update(skip_locked=True)
            .filter(due, balance_overdue_at__isnull=True, balance_due_on__lt=today)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if overdue:
            Booking.objects.filter(pk__in=overdue).update(balance_overdue_at=now, updated_at=now)
            flagged = list(Booking.objects.filter(pk__in=overdue).select_related("session__offer"))
            for booking in flagged:
                booking_timeline_add(booking, gettext_lazy("Balance overdue"), at=now)
            booking_events_write(flagged, BookingEvent.Kind.BALANCE_OVERDUE, {})
        counts["overdue"] = len(overdue)
    return counts


def desk_payment_link_send(*, booking: Booking, by: User | None) -> str:
    """The booking desk emails the booker the payment link of the balance; returns the link.
    Raises BookingError when nothing is left to pay, Stripe is not configured or the booking
    has no email."""
    if not booking.contact_email:
        raise BookingError(_("This booking has no email address to send the link to."))
    url = booking_balance_link(booking=booking)
    with translation.override(booking.language or settings.LANGUAGE_CODE):
        context = {"booking": booking, "url": url}
        subject = _("Payment for your booking %(reference)s") % {"reference": booking.reference}
        body = render_to_string("bookings/desk/payment_link_email.txt", context)
    # The timeline entry and the email stand or fall together: a failed send writes nothing.
    with transaction.atomic():
        booking_email_timeline_write(booking, email="payment_link")
        send_mail(subject, body, None, [booking.contact_email])
    logger.info("Payment link for %s sent by user %s", booking.reference, getattr(by, "pk", None))
    return url
