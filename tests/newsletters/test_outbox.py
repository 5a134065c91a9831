"""The bookings outbox consumer: cursor, order, replay after a crash, failure, concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save

from bookings.models import BookingEvent
from bookings.services import booking_event_write
from newsletters import outbox
from newsletters.models import OutboxCursor
from newsletters.outbox import (
    booking_event_handler_register,
    booking_event_saved,
    booking_events_consume,
    booking_events_cursor_set,
)
from tests.factories import BookingFactory

CONSUMER = "test-consumer"


@pytest.fixture
def seen():
    """A handler registered for CONFIRMED and CANCELLED on a test consumer; it records the
    events it saw in a list and in the database (OutboxCursor rows stand in for its writes)."""
    calls: list[int] = []

    def handler(event: BookingEvent) -> None:
        calls.append(event.pk)
        OutboxCursor.objects.get_or_create(consumer=f"write-{event.pk}")

    booking_event_handler_register(
        [BookingEvent.Kind.CONFIRMED, BookingEvent.Kind.CANCELLED], handler, consumer=CONSUMER
    )
    yield calls
    outbox._handlers.pop(CONSUMER, None)


def _events(n: int, kind: str = BookingEvent.Kind.CONFIRMED) -> list[BookingEvent]:
    booking = BookingFactory()
    with transaction.atomic():
        return [booking_event_write(booking, kind) for _ in range(n)]


def _writes() -> set[str]:
    return set(
        OutboxCursor.objects.filter(consumer__startswith="write-").values_list(
            "consumer", flat=True
        )
    )


@pytest.mark.django_db
def test_events_are_handled_once_in_order_and_the_cursor_moves(seen):
    events = _events(3)
    other = _events(1, BookingEvent.Kind.PAYMENT_RECEIVED)  # no handler: read and passed

    assert booking_events_consume(consumer=CONSUMER) == 4
    assert seen == [e.pk for e in events]
    assert OutboxCursor.objects.get(consumer=CONSUMER).last_event_id == other[0].pk

    assert booking_events_consume(consumer=CONSUMER) == 0
    assert seen == [e.pk for e in events]


@pytest.mark.django_db
def test_limit_reads_a_batch_at_a_time(seen):
    events = _events(5)
    assert booking_events_consume(consumer=CONSUMER, limit=2) == 2
    assert seen == [e.pk for e in events[:2]]
    assert booking_events_consume(consumer=CONSUMER, limit=10) == 3
    assert seen == [e.pk for e in events]


@pytest.mark.django_db
def test_a_crash_after_the_handlers_replays_the_batch(seen, monkeypatch):
    """The cursor moves in the handlers' transaction: a crash before the commit undoes both,
    and the next run handles the same events again (handlers are idempotent)."""
    events = _events(2)
    OutboxCursor.objects.create(consumer=CONSUMER)
    real_save = OutboxCursor.save

    def crash(self, *args, **kwargs):
        if self.consumer == CONSUMER and self.last_event_id:
            raise RuntimeError("worker killed before commit")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(OutboxCursor, "save", crash)
    with pytest.raises(RuntimeError):
        booking_events_consume(consumer=CONSUMER)
    assert _writes() == set()  # rolled back with the cursor
    assert OutboxCursor.objects.get(consumer=CONSUMER).last_event_id == 0

    monkeypatch.setattr(OutboxCursor, "save", real_save)
    assert booking_events_consume(consumer=CONSUMER) == 2
    assert seen == [e.pk for e in events] * 2  # replayed
    assert _writes() == {f"write-{e.pk}" for e in events}  # written once


@pytest.mark.django_db
def test_a_failing_handler_stops_at_its_event_and_keeps_what_came_before():
    events = _events(3)
    calls: list[int] = []

    def handler(event: BookingEvent) -> None:
        calls.append(event.pk)
        OutboxCursor.objects.get_or_create(consumer=f"write-{event.pk}")
        if event.pk == events[1].pk and len(calls) < 4:
            raise ValueError("poison")

    booking_event_handler_register([BookingEvent.Kind.CONFIRMED], handler, consumer=CONSUMER)
    try:
        assert booking_events_consume(consumer=CONSUMER) == 1
        cursor = OutboxCursor.objects.get(consumer=CONSUMER)
        assert cursor.last_event_id == events[0].pk
        assert cursor.failing_event_id == events[1].pk
        assert "poison" in cursor.last_error
        assert _writes() == {f"write-{events[0].pk}"}  # the failed event's write rolled back

        assert booking_events_consume(consumer=CONSUMER) == 0  # retried, fails again
        assert booking_events_consume(consumer=CONSUMER) == 2  # the fourth call succeeds
        cursor.refresh_from_db()
        assert cursor.last_event_id == events[2].pk
        assert cursor.failing_event_id is None and cursor.last_error == ""
    finally:
        outbox._handlers.pop(CONSUMER, None)


@pytest.mark.django_db
def test_consumers_have_their_own_cursor(seen):
    events = _events(2)
    booking_events_cursor_set(consumer=CONSUMER, last_event_id=events[0].pk)
    assert booking_events_consume(consumer=CONSUMER) == 1
    assert seen == [events[1].pk]
    assert booking_events_consume(consumer="nobody-listens") == 2
    assert OutboxCursor.objects.get(consumer="nobody-listens").last_event_id == events[1].pk


def test_registering_an_unknown_kind_fails():
    with pytest.raises(ValueError):
        booking_event_handler_register(["dates_moved_typo"], print, consumer=CONSUMER)


@pytest.mark.django_db
def test_an_event_commit_enqueues_the_consumer(django_capture_on_commit_callbacks, seen):
    booking = BookingFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event = booking_event_write(booking, BookingEvent.Kind.CONFIRMED)
    assert callbacks  # the task is enqueued after commit (eager in tests: it ran)
    assert seen == [event.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_consumers_at_once_handle_each_event_once(seen):
    """Two workers consume at the same moment: the cursor row lock makes the second wait for
    the first and read after it; no event is handled twice, none is missed."""
    post_save.disconnect(sender=BookingEvent, dispatch_uid="newsletters-outbox")
    try:
        events = _events(40)  # committed, without the on-commit consumer (eager in tests)
    finally:
        post_save.connect(
            booking_event_saved, sender=BookingEvent, dispatch_uid="newsletters-outbox"
        )
    assert seen == []
    barrier = threading.Barrier(2)
    real_lock = outbox._cursor_lock

    def slow_lock(consumer: str) -> OutboxCursor:
        cursor = real_lock(consumer)
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SELECT pg_sleep(0.2)")  # hold the lock while the other one asks
        return cursor

    def run() -> int:
        try:
            barrier.wait(timeout=30)
            total = 0
            while n := booking_events_consume(consumer=CONSUMER, limit=7):
                total += n
            return total
        finally:
            connection.close()

    outbox._cursor_lock = slow_lock
    try:
        OutboxCursor.objects.create(consumer=CONSUMER)
        with ThreadPoolExecutor(2) as pool:
            totals = list(pool.map(lambda _i: run(), range(2)))
    finally:
        outbox._cursor_lock = real_lock
    assert sum(totals) == 40
    assert sorted(seen) == [e.pk for e in events]
    assert len(seen) == len(set(seen))
    assert _writes() == {f"write-{e.pk}" for e in events}
