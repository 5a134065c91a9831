"""The signed "manage my booking" link of the booking emails and pages: no account needed, the
token names the booking and its reference, signed with the project's secret key."""

from __future__ import annotations

from django.core import signing

from bookings.models import Booking

MANAGE_LINK_SALT = "bookings.manage"


def booking_signed_token(booking: Booking) -> str:
    """A token for the "manage my booking" link of the emails (no account needed)."""
    return signing.dumps(
        {"b": booking.pk, "r": booking.reference}, salt=MANAGE_LINK_SALT, compress=True
    )


def booking_from_signed_token(token: str) -> Booking | None:
    """The booking a token names, or None for a forged, altered or stale token."""
    try:
        data = signing.loads(token, salt=MANAGE_LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return (
        Booking.objects.select_related("session__offer__partner", "booker")
        .filter(pk=data.get("b"), reference=data.get("r"))
        .first()
    )
