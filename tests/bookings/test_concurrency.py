"""200 simultaneous booking attempts on a session with 10 seats, on PostgreSQL with real threads.

How it is done: a bounded pool of 40 worker threads (PostgreSQL's default max_connections is
100, shared with the other developers' databases), each thread with its own database connection
(Django opens one per thread), all released at once by a barrier per batch of 40 so that the
attempts really collide on the session row. Each thread closes its connection when done.
Attempts are by 200 different people, so identity resolution writes too (new guests)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from bookings.models import Booking, BookingEvent, Offer, Session
from bookings.services import BookingError, booking_create, booking_event_write
from destination.models import Guest
from partners.models import Partner
from tests.factories import book, offer_make, person, session_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 200
WORKERS = 40
SEATS = 10


def test_200_concurrent_attempts_never_overbook(settings):
    settings.STRIPE_SECRET_KEY = ""
    partner = Partner.objects.create(name="École Concurrence", slug="ecole-conc", kind="ski_school")
    offer = Offer.objects.create(
        partner=partner, kind=Offer.Kind.GROUP_LESSON, slug="race", title_en="Race lesson",
        price_cents=4500, is_published=True,
    )  # fmt: skip
    start = timezone.now() + timedelta(days=5)
    session = Session.objects.create(
        offer=offer, starts_at=start, ends_at=start + timedelta(hours=2), capacity=SEATS
    )
    barrier = threading.Barrier(WORKERS)

    def attempt(n: int) -> str:
        try:
            barrier.wait(timeout=60)
            booking_create(
                session=session,
                booker=person(n, email=f"racer{n}@example.org"),
                participants=[],
                adults=1,
                children=0,
                payment_method=Booking.PaymentMethod.ON_SITE,
                consents=[],
                channel=Booking.Channel.WEB,
                language="en",
            )
            return "booked"
        except BookingError as exc:
            return "refused: " + " ".join(exc.messages)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(attempt, range(ATTEMPTS)))
    connections.close_all()

    booked = [o for o in outcomes if o == "booked"]
    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(booked) == SEATS, outcomes
    assert len(refused) == ATTEMPTS - SEATS
    assert all(o == "refused: Sorry, this session is fully booked." for o in refused), set(refused)
    session.refresh_from_db()
    assert session.seats_taken == SEATS
    assert Booking.objects.filter(session=session).count() == SEATS
    assert not Booking.objects.filter(status=Booking.Status.HELD).exists()  # nothing left held
    assert BookingEvent.objects.filter(kind="created").count() == SEATS
    # Refused attempts left nothing behind: only the ten bookers exist as guests.
    assert Guest.objects.count() == SEATS


def test_200_concurrent_card_holds_never_overbook(settings):
    """The same race with card payments: exactly 10 holds, and after the hold time every seat
    is free again."""
    from bookings.services import bookings_holds_expire

    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    partner = Partner.objects.create(name="École Holds", slug="ecole-holds", kind="ski_school")
    offer = Offer.objects.create(
        partner=partner, kind=Offer.Kind.GROUP_LESSON, slug="holds", title_en="Hold lesson",
        price_cents=4500, is_published=True,
    )  # fmt: skip
    start = timezone.now() + timedelta(days=5)
    session = Session.objects.create(
        offer=offer, starts_at=start, ends_at=start + timedelta(hours=2), capacity=SEATS
    )
    barrier = threading.Barrier(WORKERS)

    def attempt(n: int) -> bool:
        try:
            barrier.wait(timeout=60)
            booking_create(
                session=session, booker=person(n, email=f"holder{n}@example.org"),
                participants=[], adults=1, children=0, payment_method="card", consents=[],
                channel="web", language="en",
            )  # fmt: skip
            return True
        except BookingError:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(attempt, range(ATTEMPTS)))
    connections.close_all()
    assert outcomes.count(True) == SEATS
    session.refresh_from_db()
    assert session.seats_taken == SEATS
    assert bookings_holds_expire(now=timezone.now() + timedelta(minutes=20)) == SEATS
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert not Booking.objects.filter(status=Booking.Status.HELD).exists()


def test_outbox_rows_become_visible_in_id_order(settings):
    """A transaction that wrote outbox row N holds the outbox lock until it commits, so a
    concurrent writer gets row N+1 only afterwards: a reader never sees N+1 without N."""
    settings.STRIPE_SECRET_KEY = ""
    partner = Partner.objects.create(name="École Outbox", slug="ecole-outbox", kind="ski_school")
    session = session_make(offer_make(partner))
    booking = book(session, adults=1)
    wrote_first = threading.Event()
    log: list[tuple[str, float, int]] = []

    def first() -> None:
        try:
            with transaction.atomic():
                event = booking_event_write(booking, "created", {"n": 1})
                wrote_first.set()
                time.sleep(0.5)  # a slow commit
                log.append(("first committed", time.monotonic(), event.id))
        finally:
            connection.close()

    def second() -> None:
        try:
            wrote_first.wait(timeout=10)
            with transaction.atomic():
                event = booking_event_write(booking, "created", {"n": 2})
                log.append(("second wrote", time.monotonic(), event.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    connections.close_all()
    by_name = {name: (at, event_id) for name, at, event_id in log}
    first_at, first_id = by_name["first committed"]
    second_at, second_id = by_name["second wrote"]
    assert second_at >= first_at  # the second writer waited for the first commit
    assert second_id > first_id
