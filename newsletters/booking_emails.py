"""The booking emails, sent by the one pipeline from the bookings outbox.

Bookings send no email: each change that owes the guest an email writes its outbox event in
the transaction of the change (``bookings.services.booking_event_write``). The consumer
``booking_emails`` (``newsletters.outbox``, stored cursor) reads them in commit order and the
handlers here enqueue one TRANSACTIONAL message per email:

| event | email | dedupe_key |
|---|---|---|
| ``confirmed`` | ``booking_confirmation`` | ``booking:<reference>:confirmation`` |
| ``balance_requested`` | ``booking_balance_request[_offline]`` | ``booking:<ref>:balance_request`` |
| ``balance_reminded`` | ``booking_balance_reminder[_offline]`` | ``booking:<ref>:balance_reminder`` |
| ``payment_link_issued`` | ``booking_payment_link`` | ``booking:<ref>:payment_link:<event id>`` |

A replayed batch finds the messages by their ``dedupe_key`` and sends nothing more. The message
goes out by a task after the consumer's commit, in no transaction (``message_send``); when it is
SENT, ``booking_message_sent`` writes the booker's timeline entry ("Confirmation email sent for
VN-...") with the booking's reference, the partner and SHARED visibility, as bookings did.

Everything the email says about the booking is computed here, in the booking's language, as
JSON scalars (the templates are compiled per language and brand only, never per recipient).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookings.links import booking_manage_url
from bookings.models import Booking, BookingEvent
from bookings.services import booking_email_timeline_write
from bookings.templatetags.booking_tags import euros
from newsletters.models import Message
from newsletters.outbox import booking_event_handler_register
from newsletters.services import message_enqueue, message_sent_hook_register

CONSUMER = "booking_emails"
# "Tue 8 Dec 2026"; French abbreviates months with a capital ("Déc"): it writes them out.
DAY_FORMATS = {"fr": "D j F Y"}  # "mar 8 décembre 2026"
DAY_FORMAT = "D j M Y"
TIME_FORMAT = "G:i"  # "9:00"
LIVE = (Booking.Status.CONFIRMED, Booking.Status.CHECKED_IN)


def _day(value: date | datetime) -> str:
    language = (translation.get_language() or "")[:2]
    return date_format(value, DAY_FORMATS.get(language, DAY_FORMAT))


def booking_when(starts_at: datetime, ends_at: datetime, *, language: str) -> str:
    """A session's dates written once, in the destination's time zone and ``language``:
    "Tue 8 Dec 2026, 9:00-11:30" on one day, "Sat 12 Dec 2026, 17:00 - Sat 19 Dec 2026, 10:00"
    across days (times left out when both are midnight)."""
    starts, ends = timezone.localtime(starts_at), timezone.localtime(ends_at)
    with translation.override(language):
        if starts.date() == ends.date():
            return (
                f"{_day(starts)}, {date_format(starts, TIME_FORMAT)}"
                f"-{date_format(ends, TIME_FORMAT)}"
            )
        if starts.time() == ends.time() == time(0, 0):
            return f"{_day(starts)} - {_day(ends)}"
        return (
            f"{_day(starts)}, {date_format(starts, TIME_FORMAT)} - "
            f"{_day(ends)}, {date_format(ends, TIME_FORMAT)}"
        )


def _amount(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _party(booking: Booking) -> str:
    seats = ngettext("%(counter)s place", "%(counter)s places", booking.seats) % {
        "counter": booking.seats
    }
    names = [
        f"{p.first_name} {p.last_name}".strip() + (f" ({_('child')})" if p.is_child else "")
        for p in booking.participants.order_by("pk")
        if p.first_name or p.last_name
    ]
    return f"{seats}: {', '.join(names)}" if names else seats


def _payment_note(booking: Booking) -> str:
    balance = _amount(booking.balance_cents)
    if booking.payment_method == Booking.PaymentMethod.ON_SITE and booking.balance_cents:
        return _("You pay %(balance)s EUR on site, at %(partner_name)s.") % {
            "balance": balance,
            "partner_name": booking.partner.name,
        }
    if booking.balance_due_on and booking.balance_cents:
        return _(
            "The balance of %(balance)s EUR is due on %(due)s; we will send you a payment link "
            "beforehand."
        ) % {"balance": balance, "due": _day(booking.balance_due_on)}
    return ""


def booking_email_context(booking: Booking, *, email: str, **extra: Any) -> dict[str, Any]:
    """The JSON scalars of a booking email, written in the booking's language."""
    session = booking.session
    offer = session.offer
    with translation.override(booking.language):
        context = {
            "name": booking.contact_name,
            "reference": booking.reference,
            "offer": offer.title,
            "partner": booking.partner.name,
            "when": booking_when(session.starts_at, session.ends_at, language=booking.language),
            "party": _party(booking),
            "total": _amount(booking.total_cents),
            "paid": _amount(booking.paid_cents),
            "balance": _amount(booking.balance_cents),
            "due": _day(booking.balance_due_on) if booking.balance_due_on else "",
            "manage_url": booking_manage_url(booking),
            "payment_note": _payment_note(booking),
            "cancellation_note": ngettext(
                "Free cancellation until %(days)s day before the start.",
                "Free cancellation until %(days)s days before the start.",
                offer.free_cancellation_days,
            )
            % {"days": offer.free_cancellation_days},
            # Read back when the message is SENT (booking_message_sent), not shown.
            "booking_id": booking.pk,
            "booking_email": email,
        }
        context.update(extra)
    return context


def _enqueue(booking: Booking, *, email: str, template: str, key: str, **extra: Any) -> None:
    if not booking.contact_email:
        return  # as before: no address, no email (the flag and the event stay)
    message_enqueue(
        source=Message.Source.BOOKING,
        kind=Message.Kind.TRANSACTIONAL,
        dedupe_key=f"booking:{booking.reference}:{key}"[:200],
        guest=booking.booker,
        address=booking.contact_email,
        language=booking.language,
        template=template,
        context=booking_email_context(booking, email=email, **extra),
        partner=booking.partner,
    )


def _booking(event: BookingEvent) -> Booking:
    return Booking.objects.select_related("session__offer__partner", "booker", "partner").get(
        pk=event.booking_id
    )


def booking_confirmed_handle(event: BookingEvent) -> None:
    booking = _booking(event)
    # Cancelled before the consumer ran, or confirmed by the code before this pipeline.
    if booking.status not in LIVE or booking.confirmation_sent_at is not None:
        return
    _enqueue(booking, email="confirmation", template="booking_confirmation", key="confirmation")


def booking_balance_handle(event: BookingEvent) -> None:
    booking = _booking(event)
    if booking.status != Booking.Status.CONFIRMED:
        return
    email = (
        "balance_reminder"
        if event.kind == BookingEvent.Kind.BALANCE_REMINDED
        else "balance_request"
    )
    url = str(event.data.get("url") or "")
    template = f"booking_{email}" if url else f"booking_{email}_offline"
    _enqueue(booking, email=email, template=template, key=email, pay_url=url)


def booking_payment_link_handle(event: BookingEvent) -> None:
    booking = _booking(event)
    url = str(event.data.get("url") or "")
    if not url:
        return
    with translation.override(booking.language):
        amount = euros(int(event.data.get("balance_cents") or booking.balance_cents))
    _enqueue(
        booking,
        email="payment_link",
        template="booking_payment_link",
        key=f"payment_link:{event.pk}",
        pay_url=url,
        amount=amount,
    )


def booking_message_sent(message: Message, at: datetime) -> bool:
    """The SENT hook of booking messages: the booker's timeline entry, as bookings wrote it
    ("Confirmation email sent for VN-...: offer, date"), and the confirmation's sent flag."""
    booking_id, email = message.context.get("booking_id"), message.context.get("booking_email")
    booking = (
        Booking.objects.select_related("session__offer").filter(pk=booking_id).first()
        if booking_id
        else None
    )
    if booking is None or not email:
        return False
    booking_email_timeline_write(booking, email=str(email))
    if email == "confirmation":
        Booking.objects.filter(pk=booking.pk, confirmation_sent_at=None).update(
            confirmation_sent_at=at
        )
    return True


def booking_emails_register() -> None:
    """From NewslettersConfig.ready()."""
    booking_event_handler_register(
        [BookingEvent.Kind.CONFIRMED], booking_confirmed_handle, consumer=CONSUMER
    )
    booking_event_handler_register(
        [BookingEvent.Kind.BALANCE_REQUESTED, BookingEvent.Kind.BALANCE_REMINDED],
        booking_balance_handle,
        consumer=CONSUMER,
    )
    booking_event_handler_register(
        [BookingEvent.Kind.PAYMENT_LINK_ISSUED], booking_payment_link_handle, consumer=CONSUMER
    )
    message_sent_hook_register(Message.Source.BOOKING, booking_message_sent)
