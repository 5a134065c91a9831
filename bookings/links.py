"""The signed "manage my booking" link of the booking emails and pages: no account needed, the
token names the booking and its reference, signed with the project's secret key."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import NoReverseMatch, reverse
from django.utils import translation

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
        .filter(pk=data.get("b", 0), reference=data.get("r", ""))
        .first()
    )


def booking_manage_url(booking: Booking) -> str:
    """The absolute "manage my booking" link of the emails, in the booking's language."""
    token = booking_signed_token(booking)
    try:
        with translation.override(booking.language):
            path = reverse("bookings:manage", kwargs={"token": token})
    except NoReverseMatch:  # The public booking pages are not mounted.
        path = f"/{booking.language}/book/manage/{token}/"
    return settings.BOOKING_SITE_URL.rstrip("/") + path
