"""Bulk resolution on several cores: ``guest_resolve_many`` run by worker processes, each with
its own database connection, on the batches of one import.

One process resolves a batch in Python (validation, scoring, building rows) and then waits
while PostgreSQL writes it: on a 2-core machine one core is busy at a time. Two workers
overlap the two halves: while one worker's batch is being written, the other's is being
scored. What two workers may create twice (a guest for one new email or phone, a contact added
to one guest) is serialised by ``guest_resolve_many`` itself: its ``ResolutionKey`` rows are
locked in sorted order and a batch that still meets a deadlock is retried, so an import run by
two workers creates no duplicate that one worker would not.

One difference with a single worker, and why it is accepted: two people of one file who share
no email, phone or external id (a typo in the name, a new address) and whose batches run at the
same moment do not see each other, so no review suggestion joins them. A single worker sees
the earlier batch's guests. The whole-base clean-up (``manage.py dedupe_guests``) finds such
pairs; a file that must be resolved strictly in order runs with one worker (the default).

Workers are forked, never spawned: a child needs neither Django set up again nor the people
pickled to it; only the results come back. The parent's connection is closed before forking so
that no two processes ever share one socket; each child opens its own and closes it on exit.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from multiprocessing import util as multiprocessing_util
from typing import Any

from django.db import connection, connections
from django.utils import translation

from destination.services.resolution import PersonData, ResolutionResult, guest_resolve_many

# The people and options a forked worker resolves: set in the child by ``_worker_init`` from
# its inherited memory (a fork hands them over; nothing is pickled on the way in).
_WORK: dict[str, Any] = {}


def _worker_init(people: Sequence[PersonData], options: dict[str, Any], language: str) -> None:
    _WORK.update(people=people, options=options, language=language)
    # Close this child's own connection when it exits normally (Pool.close + join).
    multiprocessing_util.Finalize(None, connections.close_all, exitpriority=10)


def _worker_resolve(start: int) -> tuple[int, list[ResolutionResult]]:
    people: Sequence[PersonData] = _WORK["people"]
    options: dict[str, Any] = _WORK["options"]
    stop = min(start + options["batch_size"], len(people))
    with translation.override(_WORK["language"]):  # messages in the caller's language
        return start, guest_resolve_many(people[start:stop], **options)


def guest_resolve_parallel(
    people: Sequence[PersonData],
    *,
    workers: int,
    source: str,
    source_detail: str = "",
    partner: Any = None,
    batch_size: int = 1000,
    keep_partial: bool = False,
    validation_processes: int = 0,
) -> list[ResolutionResult]:
    """``guest_resolve_many`` over ``people`` with ``workers`` processes taking the batches in
    turn; results in the input order, as ``guest_resolve_many`` returns them. With one worker,
    one batch, inside a transaction (the workers' commits would escape it), on SQLite (one
    writer at a time: a second worker would only wait) or in a daemonic process (a Celery
    prefork worker may not have children), it is ``guest_resolve_many`` in this process, with
    ``validation_processes`` (see there). Callers call this one whatever ``workers`` is."""
    batch_size = max(1, batch_size)
    if (
        workers <= 1
        or len(people) <= batch_size
        or connection.in_atomic_block
        or connection.vendor != "postgresql"
        or multiprocessing.current_process().daemon
    ):
        return guest_resolve_many(
            people,
            source=source,
            source_detail=source_detail,
            partner=partner,
            batch_size=batch_size,
            keep_partial=keep_partial,
            validation_processes=validation_processes,
        )
    options = {
        "source": source,
        "source_detail": source_detail,
        "partner": partner,
        "batch_size": batch_size,
        "keep_partial": keep_partial,
    }
    connections.close_all()  # no socket shared with the children; reopened on next use
    context = multiprocessing.get_context("fork")
    pool = context.Pool(
        processes=workers,
        initializer=_worker_init,
        initargs=(people, options, translation.get_language()),
    )
    try:
        by_start = dict(pool.imap_unordered(_worker_resolve, range(0, len(people), batch_size)))
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return [result for start in sorted(by_start) for result in by_start[start]]
