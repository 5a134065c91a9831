"""Template helpers of the booking pages: money, status badges and signed links."""

from __future__ import annotations

from django import template
from django.utils import translation
from django.utils.formats import number_format

from bookings.links import booking_signed_token
from bookings.models import Booking

register = template.Library()

# A badge colour per status: the text says the status, the colour only helps scanning.
_STATUS_TONES = {
    Booking.Status.HELD: "wait",
    Booking.Status.CONFIRMED: "ok",
    Booking.Status.CHECKED_IN: "ok",
    Booking.Status.COMPLETED: "done",
    Booking.Status.CANCELLED: "off",
    Booking.Status.REFUNDED: "off",
    Booking.Status.EXPIRED: "off",
}


@register.filter
def euros(cents: int | None) -> str:
    """Euro cents as the reader's language writes money: "€1,250" / "1 250 €"."""
    if cents is None:
        return ""
    decimals = 0 if cents % 100 == 0 else 2
    amount = number_format(cents / 100, decimal_pos=decimals, use_l10n=True, force_grouping=True)
    if (translation.get_language() or "").startswith("fr"):
        return f"{amount}\N{NO-BREAK SPACE}€"
    return f"€{amount}"


@register.filter
def status_tone(status: str) -> str:
    return _STATUS_TONES.get(status, "off")


@register.filter
def signed_token(booking: Booking) -> str:
    return booking_signed_token(booking)


@register.filter
def minus(value: int, other: int) -> int:
    return (value or 0) - (other or 0)
