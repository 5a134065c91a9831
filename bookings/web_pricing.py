"""What the booking pages show before the service decides: the price of a party, the payment
schedule, the cancellation deadline and the payment method the site uses.

The booking service is the authority: it recomputes the price and refuses a booking whose
``expected_total_cents`` (what the visitor was shown) differs. When the core exposes its own
quote function, ``booking_form_quote`` uses it (see /work/wt/bookweb-NEEDS.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

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
    core_quote = getattr(services, "booking_quote", None)
    if core_quote is not None and session is not None:
        got = core_quote(
            offer=offer,
            session=session,
            adults=adults,
            children=children,
            units=units,
            payment_method=payment_method,
        )
        return Quote(
            total_cents=got.total_cents,
            deposit_cents=got.deposit_cents,
            balance_due_on=got.balance_due_on,
            nights=session.nights if offer.kind == Offer.Kind.STAY else 0,
        )
    if offer.pricing == Offer.Pricing.PER_UNIT:
        total = max(units or 1, 0) * offer.price_cents
    else:
        child_price = (
            offer.child_price_cents if offer.child_price_cents is not None else offer.price_cents
        )
        total = max(adults, 0) * offer.price_cents + max(children, 0) * child_price
    nights = 0
    if offer.kind == Offer.Kind.STAY and session is not None:
        nights = session.nights
        total *= nights
    deposit, due_on = 0, None
    if (
        offer.deposit_percent
        and payment_method == Booking.PaymentMethod.CARD
        and session is not None
    ):
        due_on = timezone.localdate(session.starts_at) - dt.timedelta(days=offer.balance_due_days)
        if due_on > timezone.localdate():
            deposit = round(total * offer.deposit_percent / 100)
        else:
            due_on = None
    return Quote(total_cents=total, deposit_cents=deposit, balance_due_on=due_on, nights=nights)


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
    core = getattr(services, "booking_cancel_deadline", None)
    if core is not None:
        return core(booking)
    days = booking.session.offer.free_cancellation_days
    return booking.session.starts_at - dt.timedelta(days=days)
