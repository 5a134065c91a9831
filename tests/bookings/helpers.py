"""A booking with sensible defaults, for the bookings tests."""

from __future__ import annotations

from typing import Any

from bookings.models import Booking, Session
from bookings.services import booking_create
from tests.bookings.conftest import person


def book(session: Session, **kwargs: Any) -> Booking:
    args: dict[str, Any] = {
        "session": session,
        "booker": person(),
        "participants": [],
        "adults": 2,
        "children": 0,
        "payment_method": Booking.PaymentMethod.ON_SITE,
        "consents": [],
        "channel": Booking.Channel.WEB,
        "language": "fr",
    }
    args.update(kwargs)
    return booking_create(**args)
