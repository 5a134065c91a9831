"""A booking confirmation reaches the SMTP server within seconds of the booking's commit: a real
Celery worker (Redis broker, PostgreSQL) runs the outbox consumer on the commit, then the send,
to an in-process SMTP sink (aiosmtpd)."""

from __future__ import annotations

import time

import pytest

from destination.models import TimelineEvent
from newsletters.models import Message
from newsletters.tasks import booking_events_consume_task
from tests.destination.test_celery_worker import broker  # noqa: F401
from tests.factories import PartnerFactory, book, offer_make, session_make
from tests.newsletters.test_worker import _subject, _wait, sink, workers  # noqa: F401

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("broker", ["redis"], indirect=True),
]


def test_a_confirmation_reaches_the_smtp_server_within_seconds(
    workers,  # noqa: F811
    sink,  # noqa: F811
    settings,
    monkeypatch,
):
    handler, _port = sink
    settings.STRIPE_SECRET_KEY = ""  # pay on site: confirmed at once
    # The consume task this process sends on commit goes to the test's own queue too (the
    # worker listens to that queue only; the default one may hold other runs' tasks).
    monkeypatch.setattr(
        booking_events_consume_task,
        "delay",
        lambda: booking_events_consume_task.apply_async(queue=workers.queue),
    )
    workers.start()
    session = session_make(offer_make(PartnerFactory(name="École de Ski Test")))
    started = time.monotonic()
    booking = book(session, language="en")  # commits: no test transaction here
    _wait(lambda: len(handler.received) >= 1, timeout=30, what="the confirmation at the sink")
    latency = time.monotonic() - started
    [received] = handler.received
    assert received["To"] == booking.contact_email
    assert _subject(received) == f"Your booking {booking.reference} is confirmed: Group ski lesson"
    assert latency < 10, f"{latency:.1f} s from commit to SMTP"
    _wait(
        lambda: Message.objects.filter(status=Message.Status.SENT).exists(),
        timeout=10,
        what="the message marked sent",
    )
    entry = TimelineEvent.objects.get(kind=TimelineEvent.Kind.MESSAGE)
    assert entry.title.startswith(f"Confirmation email sent for {booking.reference}")
    time.sleep(1)
    assert len(handler.received) == 1
