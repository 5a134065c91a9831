"""The consumer of the bookings outbox (``bookings.models.BookingEvent``).

Bookings never import newsletters: they append ``BookingEvent`` rows in the transaction of each
change (``bookings.services.booking_event_write``), whose ids become visible in commit order on
PostgreSQL (an advisory lock serialises the insert-to-commit window). Newsletters reads them
here, after a stored cursor (``OutboxCursor``: one row per consumer name):

- ``booking_event_handler_register(kinds, fn, consumer=...)`` registers a handler for some
  event kinds, from an AppConfig.ready(). A handler receives the event (with its booking) and
  writes through services; it must be idempotent (it enqueues messages by ``dedupe_key``,
  enrols under a unique constraint...), because a batch is replayed after a crash.
- ``booking_events_consume(consumer=..., limit=...)`` locks the consumer's cursor row
  (``SELECT ... FOR UPDATE``: a second worker waits, then reads after the first), reads the
  events after it in id order, runs each event's handlers in a savepoint and moves the cursor,
  all in one transaction: the handlers' writes and the cursor commit together or not at all.
- A handler that raises stops the consumer at that event: the writes of the previous events
  and the cursor up to them commit; the failing event's writes roll back, its id and error are
  kept on the cursor row (shown in the admin) and it is retried on every tick. Events are
  handled strictly in order (a cancellation after its confirmation), so a poison event blocks
  its consumer rather than being skipped silently.

Latency: a ``post_save`` receiver on ``BookingEvent`` enqueues ``booking_events_consume_task``
on commit of the booking's transaction, so a handler runs within a worker round trip of the
commit; the beat tick (``newsletters-outbox``, every few seconds) is the safety net for events
written with ``bulk_create`` (expiries, completions: no signal) and for lost tasks. Figures in
docs/newsletters.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from bookings.models import BookingEvent
from newsletters.models import OutboxCursor
from newsletters.tasks import booking_events_consume_task

logger = logging.getLogger(__name__)

DEFAULT_CONSUMER = "journeys"
Handler = Callable[[BookingEvent], None]

# consumer -> kind -> handlers, in registration order.
_handlers: dict[str, dict[str, list[Handler]]] = {}


def booking_event_handler_register(
    kinds: Iterable[str], fn: Handler, *, consumer: str = DEFAULT_CONSUMER
) -> None:
    """Run ``fn(event)`` for each outbox event of one of ``kinds`` read by ``consumer``.
    Registering the same function twice for a kind is a no-op (ready() may run twice)."""
    by_kind = _handlers.setdefault(consumer, {})
    for kind in kinds:
        if kind not in BookingEvent.Kind.values:
            raise ValueError(f"Unknown booking event kind: {kind!r}")
        fns = by_kind.setdefault(str(kind), [])
        if fn not in fns:
            fns.append(fn)


def booking_event_handlers(*, consumer: str = DEFAULT_CONSUMER) -> dict[str, list[Handler]]:
    return _handlers.get(consumer, {})


def booking_event_consumers() -> list[str]:
    """The consumers that have at least one handler (the tick consumes each)."""
    return sorted(name for name, by_kind in _handlers.items() if any(by_kind.values()))


def _cursor_lock(consumer: str) -> OutboxCursor:
    OutboxCursor.objects.get_or_create(consumer=consumer)
    return OutboxCursor.objects.select_for_update().get(consumer=consumer)


def booking_events_cursor_set(*, consumer: str, last_event_id: int) -> OutboxCursor:
    """Place a consumer's cursor (e.g. a new consumer that must not replay history: pass the
    current last event id)."""
    with transaction.atomic():
        cursor = _cursor_lock(consumer)
        cursor.last_event_id = last_event_id
        cursor.failing_event_id = None
        cursor.last_error = ""
        cursor.save(update_fields=["last_event_id", "failing_event_id", "last_error", "updated_at"])
    return cursor


def booking_events_consume(*, consumer: str = DEFAULT_CONSUMER, limit: int = 500) -> int:
    """Handle up to ``limit`` events after the consumer's cursor; returns how many were handled
    (the cursor moved by that many events). Safe to run concurrently and to replay."""
    by_kind = booking_event_handlers(consumer=consumer)
    with transaction.atomic():
        cursor = _cursor_lock(consumer)
        events = list(
            BookingEvent.objects.filter(pk__gt=cursor.last_event_id)
            .select_related("booking", "booking__session", "booking__session__offer")
            .order_by("id")[:limit]
        )
        handled = 0
        error = ""
        failing: int | None = None
        for event in events:
            try:
                with transaction.atomic():  # a savepoint: a failure undoes this event only
                    for fn in by_kind.get(event.kind, ()):
                        fn(event)
            except Exception as exc:
                logger.exception("Outbox consumer %s failed on event %s", consumer, event.pk)
                failing, error = event.pk, f"{type(exc).__name__}: {exc}"[:2000]
                break
            cursor.last_event_id = event.pk
            handled += 1
        if handled or failing != cursor.failing_event_id or error != cursor.last_error:
            cursor.failing_event_id = failing
            cursor.last_error = error
            cursor.save(
                update_fields=["last_event_id", "failing_event_id", "last_error", "updated_at"]
            )
    return handled


def booking_events_consume_all(*, limit: int = 500) -> dict[str, int]:
    """Every registered consumer, one batch each (the beat tick and the on-commit task)."""
    return {
        name: booking_events_consume(consumer=name, limit=limit)
        for name in booking_event_consumers()
    }


def booking_event_saved(sender: type, instance: BookingEvent, created: bool, **kwargs: Any) -> None:
    """post_save receiver on BookingEvent: consume soon after the booking's commit."""
    if not created:
        return
    queue = settings.NEWSLETTER_CELERY_QUEUE
    transaction.on_commit(
        lambda: booking_events_consume_task.apply_async(**({"queue": queue} if queue else {}))
    )
