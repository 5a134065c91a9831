"""Booking throughput on PostgreSQL: contention on one session against bookings spread over many.

    .venv/bin/python benchmarks/bookings.py --threads 8 --bookings 400
    .venv/bin/python benchmarks/bookings.py --threads 4 --bookings 100   # smoke run

Creates a dedicated database (``--db``, default ``crm_bench_bookings``), migrates it, creates a
ski school with one offer, then runs ``booking_create`` (pay on site: the full path, identity
resolution of a new person, timeline, partner link, outbox, confirmation email queued after
commit) from ``--threads`` threads, each with its own connection:

1. ONE session with enough seats for every booking: every transaction updates the same session
   row, so they queue on its row lock (the worst case, a popular group lesson opening);
2. MANY sessions (one per thread): the same work without a shared hot row.

Prints bookings/s for both and their ratio, and checks that no seat was lost or oversold. The
database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import PeopleFactory, database_create, database_drop, django_setup


def run(label: str, sessions: list, n_bookings: int, threads: int, start: int) -> float:
    from django.db import connection

    from bookings.services import booking_create
    from destination.services.resolution import PersonData

    people = [p for _i, p in PeopleFactory(seed=11).people(start, n_bookings)]
    barrier = threading.Barrier(threads)
    errors: list[str] = []

    def worker(k: int) -> None:
        try:
            barrier.wait()
            for j in range(k, n_bookings, threads):
                p = people[j]
                booking_create(
                    session=sessions[j % len(sessions)],
                    booker=PersonData(first_name=p.first_name, last_name=p.last_name,
                                      email=p.email or f"bench{start + j}@example.org",
                                      country=p.country, language=p.language),
                    participants=[], adults=1, children=0, payment_method="on_site",
                    consents=[], channel="web", language="en",
                )  # fmt: skip
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{label}: {len(errors)} errors, first: {errors[0]}")
    rate = n_bookings / elapsed
    print(
        f"{label}: {n_bookings} bookings, {threads} threads, {elapsed:.2f} s -> {rate:.1f} bookings/s"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=400, help="per scenario")
    parser.add_argument("--db", default="crm_bench_bookings")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    url = database_create(args.db)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["STRIPE_SECRET_KEY"] = ""
    django_setup(url)
    try:
        from datetime import timedelta

        from django.db import connection, connections
        from django.utils import timezone

        from bookings.models import Booking, Offer, Session
        from partners.models import Partner

        partner = Partner.objects.create(name="Bench School", slug="bench", kind="ski_school")
        offer = Offer.objects.create(
            partner=partner, kind="group_lesson", slug="bench", title_en="Bench lesson",
            price_cents=5000, is_published=True,
        )  # fmt: skip
        start = timezone.now() + timedelta(days=3)

        def session(capacity: int) -> Session:
            return Session.objects.create(
                offer=offer, starts_at=start, ends_at=start + timedelta(hours=2), capacity=capacity
            )

        one = [session(args.bookings)]
        many = [session(args.bookings) for _t in range(args.threads)]
        connection.close()
        load = os.getloadavg()
        print(f"PostgreSQL, {os.cpu_count()} CPUs, load average {load[0]:.2f} before the runs")
        contended = run("ONE session (contention)", one, args.bookings, args.threads, 0)
        spread = run("MANY sessions (spread)", many, args.bookings, args.threads, 10**6)
        print(f"ratio spread / contended: {spread / contended:.2f}")
        taken = sum(Session.objects.values_list("seats_taken", flat=True))
        booked = Booking.objects.count()
        assert taken == booked == 2 * args.bookings, (taken, booked)
        print(f"check: {booked} bookings, {taken} seats taken, none lost or oversold")
        connections.close_all()
    finally:
        if not args.keep:
            database_drop(args.db)


if __name__ == "__main__":
    main()
