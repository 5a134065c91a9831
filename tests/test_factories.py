"""The shared test data: rows made directly, and bookings made through the service."""

import pytest

from bookings.models import Booking, BookingEvent
from destination.models import TimelineEvent
from tests.factories import (
    BookingFactory,
    PartnerFactory,
    SessionFactory,
    book,
    offer_make,
    session_make,
)

pytestmark = pytest.mark.django_db


def test_a_direct_booking_row_skips_the_service():
    booking = BookingFactory(adults=3)
    booking.session.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert (booking.seats, booking.total_cents) == (3, 3 * booking.session.offer.price_cents)
    assert booking.partner == booking.session.offer.partner
    assert booking.session.seats_taken == 0
    assert not BookingEvent.objects.filter(booking=booking).exists()


def test_book_goes_through_booking_create():
    session = session_make(offer_make(PartnerFactory()), capacity=4, days=5)
    booking = book(session, adults=3)
    session.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.reference.startswith("VN-")
    assert session.seats_taken == 3
    assert BookingEvent.objects.filter(booking=booking, kind=BookingEvent.Kind.CREATED).exists()
    assert TimelineEvent.objects.filter(
        guest=booking.booker, kind=TimelineEvent.Kind.BOOKING
    ).exists()


def test_a_session_starts_the_given_days_ahead_for_the_given_hours():
    session = SessionFactory(days=2, hours=5)
    assert (session.ends_at - session.starts_at).total_seconds() == 5 * 3600
    assert session.starts_at.microsecond == 0
