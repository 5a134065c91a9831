"""The tracking pipeline under concurrency, on PostgreSQL with real threads: settle passes
running at the same time touch each guest's contact once; opens counted at the same time (the
aggregate's first INSERT raced) lose none."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.utils import timezone

from destination.models import TimelineEvent
from newsletters.models import TrackingCount
from newsletters.tracking import Classification, HitKind, RawHit, Reason, Verdict
from newsletters.tracking_record import MessageHitRecorder, tracking_hits_settle
from tests.factories import GuestFactory
from tests.newsletters.tracking_helpers import campaign_make, hit_make, message_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6


def _together(fn, rounds: int = WORKERS) -> list:
    barrier = threading.Barrier(WORKERS)

    def run(n: int):
        try:
            barrier.wait(timeout=60)
            return fn(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(run, range(rounds)))
    connections.close_all()
    return results


def test_simultaneous_settle_passes_touch_each_guest_once():
    campaign = campaign_make()
    at = timezone.now() - dt.timedelta(minutes=5)
    guests = [GuestFactory() for _ in range(12)]
    for guest in guests:
        message = message_make(guest, campaign, sent_at=at - dt.timedelta(hours=1))
        hit_make(message, at=at, settled=False)
    results = _together(lambda n: tracking_hits_settle())
    assert sum(r["human"] for r in results) == 12
    entries = TimelineEvent.objects.filter(data__click="human")
    assert sorted(entries.values_list("guest_id", flat=True)) == sorted(g.pk for g in guests)


def test_simultaneous_opens_are_all_counted():
    campaign = campaign_make()
    message = message_make(GuestFactory(), campaign)
    recorder = MessageHitRecorder()
    opened = Classification(Verdict.HUMAN, Reason.NO_MACHINE_SIGNAL)

    def opens(n: int) -> None:
        for _ in range(5):
            hit = RawHit(
                kind=HitKind.OPEN, message_ref=message.uuid.hex, at=timezone.now(),
                method="GET", ip="198.51.100.1", user_agent="Mozilla/5.0 (X11; Linux)",
            )  # fmt: skip
            recorder.message_sent_at(hit.message_ref)
            recorder.record_hit(hit, opened)

    _together(opens)
    assert TrackingCount.objects.get().count == WORKERS * 5
