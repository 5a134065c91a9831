"""The one cancellation rule (``booking_cancellation_policy``) that the service, the visitor's
pages, the booking desk and the templates all read."""

import datetime as dt

import pytest
from django.utils import timezone

from bookings.models import Booking
from bookings.pricing import CancellationPolicy, booking_cancellation_policy
from bookings.services import BookingError, booking_cancel
from tests.factories import book, offer_make, session_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def week_policy_session(ski_school):
    # Free cancellation until 7 days before a session that starts in 10 days.
    return session_make(offer_make(ski_school, free_cancellation_days=7), days=10)


def _booking(session, status=Booking.Status.CONFIRMED) -> Booking:
    return Booking(session=session, status=status)


def test_a_visitor_may_cancel_until_the_deadline_included(week_policy_session):
    booking = _booking(week_policy_session)
    deadline = week_policy_session.starts_at - dt.timedelta(days=7)
    before = booking_cancellation_policy(booking=booking, now=deadline - dt.timedelta(hours=1))
    at = booking_cancellation_policy(booking=booking, now=deadline)
    assert before == CancellationPolicy(allowed=True, deadline=deadline)
    assert at.allowed and at.reason == "" and at.code == ""


def test_after_the_deadline_a_visitor_is_refused_with_the_date(week_policy_session):
    booking = _booking(week_policy_session)
    deadline = week_policy_session.starts_at - dt.timedelta(days=7)
    late = booking_cancellation_policy(booking=booking, now=deadline + dt.timedelta(seconds=1))
    assert not late.allowed
    assert late.code == "too_late"
    assert late.deadline == deadline
    assert late.reason.startswith("Free cancellation ended on ")
    assert str(timezone.localtime(deadline).year) in late.reason


def test_staff_may_cancel_after_the_deadline(week_policy_session):
    booking = _booking(week_policy_session)
    late = week_policy_session.starts_at - dt.timedelta(days=1)
    assert booking_cancellation_policy(booking=booking, now=late, staff=True).allowed
    assert not booking_cancellation_policy(booking=booking, now=late).allowed


@pytest.mark.parametrize(
    "status",
    [
        Booking.Status.CANCELLED,
        Booking.Status.REFUNDED,
        Booking.Status.CHECKED_IN,
        Booking.Status.COMPLETED,
        Booking.Status.EXPIRED,
    ],
)
def test_only_held_or_confirmed_bookings_can_be_cancelled_even_by_staff(
    week_policy_session, status
):
    booking = _booking(week_policy_session, status)
    for staff in (False, True):
        policy = booking_cancellation_policy(booking=booking, staff=staff)
        assert not policy.allowed
        assert policy.code == "status"
        assert "cannot be cancelled" in policy.reason


def test_a_held_booking_follows_the_same_deadline(week_policy_session):
    booking = _booking(week_policy_session, Booking.Status.HELD)
    assert booking_cancellation_policy(booking=booking).allowed
    late = week_policy_session.starts_at - dt.timedelta(days=2)
    assert booking_cancellation_policy(booking=booking, now=late).code == "too_late"


def test_the_service_refuses_with_the_policy_code(week_policy_session, on_site):
    late_session = session_make(week_policy_session.offer, days=3)
    booking = book(late_session)
    with pytest.raises(BookingError) as exc:
        booking_cancel(booking=booking)
    assert exc.value.code == "too_late"
    assert exc.value.messages == [booking_cancellation_policy(booking=booking).reason]
