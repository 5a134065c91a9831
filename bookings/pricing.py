"""What a booking costs and on which terms: the server's price of a party (``booking_price``,
the authority ``booking_create`` recomputes), the quote the booking pages show before the
visitor books (that same function's answer), the payment schedule, and the one cancellation
rule (``booking_cancellation_policy``) that the service, the pages and the templates read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from bookings.models import Booking, Offer, Session

if TYPE_CHECKING:
    from bookings.forms import BookingForm

# The statuses a booking can be cancelled from (by a visitor within the deadline, by staff).
CANCELLABLE = (Booking.Status.HELD, Booking.Status.CONFIRMED)


@dataclass(frozen=True)
class Price:
    seats: int
    total_cents: int
    deposit_cents: int
    balance_due_on: dt.date | None


def booking_price(
    *, session: Session, adults: int, children: int, units: int | None = None, card: bool = True
) -> Price:
    """The server's price. Per person: adults and children (children at the child price when
    the offer has one). Per unit: units x price, per night for stays. A card-paid stay with a
    deposit pays ``deposit_percent`` now and the balance ``balance_due_days`` before arrival
    (all at once when that date is already past)."""
    offer = session.offer
    if offer.pricing == Offer.Pricing.PER_UNIT:
        seats = units or 1
        nights = session.nights if offer.kind == Offer.Kind.STAY else 1
        total = offer.price_cents * seats * nights
    else:
        seats = adults + children
        child = offer.child_price_cents if offer.child_price_cents is not None else None
        total = (
            offer.price_cents * adults
            + (child if child is not None else offer.price_cents) * children
        )
    deposit = 0
    due_on = None
    if card and offer.deposit_percent:
        due_on = timezone.localdate(session.starts_at) - dt.timedelta(days=offer.balance_due_days)
        if due_on > timezone.localdate():
            deposit = int(
                (Decimal(total) * offer.deposit_percent / 100).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
        else:
            due_on = None
    return Price(seats=seats, total_cents=total, deposit_cents=deposit, balance_due_on=due_on)


# --- The quote the booking pages show ----------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    total_cents: int
    deposit_cents: int = 0
    balance_due_on: dt.date | None = None
    nights: int = 0

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.deposit_cents if self.deposit_cents else 0


def quote_for(
    *,
    offer: Offer,
    session: Session | None,
    adults: int,
    children: int,
    units: int | None = None,
    payment_method: str,
) -> Quote:
    """The core's price for the party (``booking_price``, the one ``booking_create`` compares
    ``expected_total_cents`` with), or the offer's unit price before a date is chosen."""
    if session is None:
        return Quote(total_cents=offer.price_cents)
    price = booking_price(
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


def booking_form_quote(offer: Offer, form: BookingForm, *, payment_method: str) -> Quote:
    """The price of the party the form currently shows (bound or not), paid by
    ``payment_method`` (``services.payment_method_for_web()`` on the public site)."""
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
        payment_method=payment_method,
    )


# --- Cancellation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancellationPolicy:
    """May this booking be cancelled now, and until when. ``reason`` says why not (for people,
    empty when allowed); ``code`` is "" when allowed, "status" (not held or confirmed) or
    "too_late" (the visitor's free cancellation ended)."""

    allowed: bool
    deadline: dt.datetime
    reason: str = ""
    code: str = ""


def booking_cancellation_policy(
    *, booking: Booking, now: dt.datetime | None = None, staff: bool = False
) -> CancellationPolicy:
    """The one cancellation rule. A held or confirmed booking can be cancelled; a visitor may
    do it until ``free_cancellation_days`` before the session starts (the deadline itself
    included), staff of the partner, the booking desk or the tourist office at any time."""
    now = now or timezone.now()
    session = booking.session
    deadline = session.starts_at - dt.timedelta(days=session.offer.free_cancellation_days)
    if booking.status not in CANCELLABLE:
        return CancellationPolicy(
            allowed=False,
            deadline=deadline,
            reason=_("A booking that is %(status)s cannot be cancelled.")
            % {"status": booking.get_status_display().lower()},
            code="status",
        )
    if not staff and now > deadline:
        return CancellationPolicy(
            allowed=False,
            deadline=deadline,
            reason=_("Free cancellation ended on %(date)s. Please contact the booking desk.")
            % {"date": date_format(timezone.localtime(deadline), "DATETIME_FORMAT")},
            code="too_late",
        )
    return CancellationPolicy(allowed=True, deadline=deadline)
