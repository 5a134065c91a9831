"""Plain booking emails (text + simple HTML), rendered in the booking's language. The journeys
issue replaces the HTML with MJML; the services decide when a mail is sent (once)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from bookings.links import booking_signed_token
from bookings.models import Booking


def _manage_url(booking: Booking) -> str:
    token = booking_signed_token(booking)
    try:
        with translation.override(booking.language):
            path = reverse("bookings:manage", kwargs={"token": token})
    except NoReverseMatch:  # The public pages (bookings-web) are not mounted yet.
        path = f"/{booking.language}/book/manage/{token}/"
    return settings.BOOKING_SITE_URL.rstrip("/") + path


def _context(booking: Booking, **extra: Any) -> dict[str, Any]:
    session = booking.session
    return {
        "booking": booking,
        "offer": session.offer,
        "partner": booking.partner,
        "starts_at": timezone.localtime(session.starts_at),
        "ends_at": timezone.localtime(session.ends_at),
        "total": f"{booking.total_cents / 100:.2f}",
        "paid": f"{booking.paid_cents / 100:.2f}",
        "balance": f"{booking.balance_cents / 100:.2f}",
        "deposit": f"{booking.deposit_cents / 100:.2f}",
        "manage_url": _manage_url(booking),
        "site_name": settings.WAGTAIL_SITE_NAME,
        **extra,
    }


def _send(booking: Booking, name: str, **extra: Any) -> None:
    with translation.override(booking.language):
        context = _context(booking, **extra)
        subject = " ".join(render_to_string(f"bookings/email/{name}_subject.txt", context).split())
        text = render_to_string(f"bookings/email/{name}.txt", context)
        html = render_to_string(f"bookings/email/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[booking.contact_email],
        headers={"X-Booking-Reference": booking.reference},
    )
    message.attach_alternative(html, "text/html")
    message.send()


def confirmation_email_send(booking: Booking) -> None:
    _send(booking, "confirmation")


def balance_email_send(booking: Booking, *, url: str, reminder: bool) -> bool:
    """Send the balance request or reminder; False when the booking has no email address."""
    if not booking.contact_email:
        return False
    _send(booking, "balance_reminder" if reminder else "balance_request", pay_url=url)
    return True
