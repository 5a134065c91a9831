"""What the booking pages show before the service decides: the price of a party, the payment
schedule, the cancellation deadline and the payment method the site uses.

The booking service is the authority: it recomputes the price and refuses a booking whose
``expected_total_cents`` (what the visitor was shown) differs; the quote here is that same
function's answer, shown before the visitor books."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bookings import services
from bookings.models import Booking, Offer, Session

if TYPE_CHECKING:
    from bookings.forms import BookingForm


@dataclass(frozen=True)
class Quote:
    total_cents: int
    deposit_cents: int = 0
    balance_due_on: dt.date | None = None
    nights: int = 0

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.deposit_cents if self.deposit_cents else 0


def payment_method_for_web() -> str:
    """Card through Stripe Checkout when Stripe is configured, else pay on site."""
    if services.payment_provider() == "stripe":
        return Booking.PaymentMethod.CARD
    return Booking.PaymentMethod.ON_SITE


def quote_for(
    *,
    offer: Offer,
    session: Session | None,
    adults: int,
    children: int,
    units: int | None = None,
    payment_method: str,
) -> Quote:
    """The core's price for the party (``services.booking_price``, the one ``booking_create``
    compares ``expected_total_cents`` with), or the offer's unit price before a date is
    chosen."""
    if session is None:
        return Quote(total_cents=offer.price_cents)
    price = services.booking_price(
        session=session,
        adults=adults,
        children=children,
        units=units,
        card=payment_method == Booking.PaymentMethod.CARD,
    )
    return Quote(
        total_cents=price.total_cents,
        deposit_cents=price.deposit_cents,
        balance_due_on=price.balance_due_on,
        nights=session.nights if offer.kind == Offer.Kind.STAY else 0,
    )


def _int(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def booking_form_quote(offer: Offer, form: BookingForm) -> Quote:
    """The price of the party the form currently shows (bound or not)."""
    source = form.data if form.is_bound else form.initial
    session = None
    session_id = source.get("session")
    if session_id:
        session = form.fields["session"].queryset.filter(pk=_int(session_id, 0)).first()
    if session is None:
        session = form.fields["session"].queryset.first()
    return quote_for(
        offer=offer,
        session=session,
        adults=_int(source.get("adults"), 1),
        children=_int(source.get("children"), 0),
        units=_int(source.get("units"), 1) if offer.pricing == Offer.Pricing.PER_UNIT else None,
        payment_method=payment_method_for_web(),
    )


def cancellation_deadline(booking: Booking) -> dt.datetime | None:
    """Until when the visitor may cancel the booking themselves."""
    # The rule of services.booking_cancel for visitors (staff may override it).
    days = booking.session.offer.free_cancellation_days
    return booking.session.starts_at - dt.timedelta(days=days)
