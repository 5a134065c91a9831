"""The booking desk's one write that the core does not cover: emailing a guest the Stripe
payment link of what is left to pay (the link itself comes from the core's
``booking_balance_link``, which creates it once and reuses it while it is pending)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from bookings import services
from bookings.models import Booking

if TYPE_CHECKING:
    from destination.models import User

logger = logging.getLogger(__name__)


def desk_payment_link_send(*, booking: Booking, by: User | None) -> str:
    """Email the booker the payment link of the balance; returns the link. Raises BookingError
    when nothing is left to pay, Stripe is not configured or the booking has no email."""
    if not booking.contact_email:
        raise services.BookingError(_("This booking has no email address to send the link to."))
    url = services.booking_balance_link(booking=booking)
    with translation.override(booking.language or settings.LANGUAGE_CODE):
        context = {"booking": booking, "url": url}
        subject = _("Payment for your booking %(reference)s") % {"reference": booking.reference}
        body = render_to_string("bookings/desk/payment_link_email.txt", context)
    # The timeline entry and the email stand or fall together: a failed send writes nothing.
    with transaction.atomic():
        services.booking_email_timeline_write(booking, email="payment_link")
        send_mail(subject, body, None, [booking.contact_email])
    logger.info("Payment link for %s sent by user %s", booking.reference, getattr(by, "pk", None))
    return url
