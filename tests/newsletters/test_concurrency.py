"""Two workers claiming one message at the same time, on PostgreSQL with real threads: one
email. And many workers on many messages: each sent exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connection, connections

from newsletters.models import Message
from newsletters.services import message_send
from tests.newsletters.test_services import transactional

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8


def _race(message_ids: list[int], rounds: int) -> list[str]:
    barrier = threading.Barrier(WORKERS)

    def attempt(n: int) -> list[str]:
        try:
            barrier.wait(timeout=60)
            return [message_send(message_id=mid) for mid in message_ids]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = [o for batch in pool.map(attempt, range(rounds)) for o in batch]
    connections.close_all()
    return outcomes


def test_eight_simultaneous_claims_of_one_message_send_it_once():
    message = transactional(key="booking:RACE:confirmation")  # autocommit: sent already
    Message.objects.filter(pk=message.pk).update(status="queued", attempts=0, sent_at=None)
    mail.outbox.clear()
    outcomes = _race([message.pk], rounds=WORKERS)
    assert len(mail.outbox) == 1, outcomes
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 1


def test_workers_racing_over_many_messages_send_each_once():
    ids = []
    for n in range(40):
        message = transactional(key=f"campaign:9:guest:{n}", address=f"g{n}@mail.example")
        ids.append(message.pk)
    Message.objects.filter(pk__in=ids).update(status="queued", attempts=0, sent_at=None)
    mail.outbox.clear()
    _race(ids, rounds=WORKERS)
    addresses = [email.to[0] for email in mail.outbox]
    assert sorted(addresses) == sorted(f"g{n}@mail.example" for n in range(40))
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    assert set(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
