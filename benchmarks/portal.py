"""The partner portal at destination scale, on PostgreSQL: server time of the guest page and
of the search endpoint.

    .venv/bin/python benchmarks/portal.py                      # 1,000,000 guests (a few minutes)
    .venv/bin/python benchmarks/portal.py --guests 20000 --requests 50   # smoke run
    .venv/bin/python benchmarks/portal.py --keep     # then, to measure again without reloading:
    .venv/bin/python benchmarks/portal.py --reuse

Creates a dedicated database (``--db``, default ``crm_bench_portal``), migrates it, loads
``--guests`` guests with the fast COPY loader of ``benchmarks/resolution.py``, gives one guest a
history of ``--entries`` timeline entries from several partners (interactions, private ones
included, bookings, emails, consent changes), then measures through Django's test ``Client``
(every middleware, the session, the template; no network):

1. the guest's 360° page (``/en/portal/guests/<id>/``) for a ski school's agent and for the
   tourist office's manager (target p95 < 150 ms);
2. the search endpoint (``/en/portal/search/?q=...``) with names typed with typos, phone
   numbers typed the national way and emails in capitals (target p95 < 100 ms).

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    PeopleFactory,
    Timings,
    database_create,
    database_drop,
    database_url,
    django_setup,
    timed,
)
from benchmarks.resolution import build, existing_people, national, table_counts

TARGET_PAGE_P95_MS = 150.0
TARGET_SEARCH_P95_MS = 100.0


def history_build(guest_id: int, entries: int) -> dict[str, Any]:
    """Partners, their staff and ``entries`` timeline entries on one guest, in bulk."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.utils import timezone

    from destination.models import Guest, TimelineEvent, User, Visibility
    from partners.models import Interaction, Membership, Partner, PartnerGuestLink

    school = Partner.objects.create(name="ESF", slug="esf", kind=Partner.Kind.SKI_SCHOOL)
    office = Partner.objects.create(
        name="Office de Tourisme", slug="office", kind=Partner.Kind.TOURIST_OFFICE
    )
    lodge = Partner.objects.create(name="Hôtel", slug="hotel", kind=Partner.Kind.LODGING)
    agent = User.objects.create_user(email="agent@esf.example", password="x", first_name="A")
    manager = User.objects.create_user(email="boss@office.example", password="x")
    Membership.objects.create(user=agent, partner=school)
    Membership.objects.create(user=manager, partner=office, role=Membership.Role.MANAGER)
    guest = Guest.objects.get(pk=guest_id)
    now = timezone.now()
    for partner in (school, lodge, office):
        PartnerGuestLink.objects.create(
            partner=partner, guest=guest, reason="booking", first_seen_at=now, last_seen_at=now
        )
    partners = [school, lodge, office, None]
    rng = random.Random(5)
    interaction_ct = ContentType.objects.get_for_model(Interaction)
    events = []
    for i in range(entries):
        at = now - dt.timedelta(hours=i * 7 + rng.randint(0, 5))
        partner = partners[i % 4]
        kind = ("interaction", "booking", "message", "consent")[i % 4]
        if partner is None:
            kind = "message"
        visibility = Visibility.PRIVATE if i % 10 == 3 else Visibility.SHARED
        data: dict[str, Any] = {}
        source_id = None
        if kind == "interaction":
            interaction = Interaction.objects.create(
                guest=guest, partner=partner, staff=agent, kind="desk_visit", channel="in_person",
                summary=f"Visit {i}", occurred_at=at, visibility=visibility,
            )  # fmt: skip
            data = {"kind": "desk_visit", "channel": "in_person"}
            source_id = interaction.pk
        events.append(
            TimelineEvent(
                guest=guest, occurred_at=at, kind=kind, partner=partner, visibility=visibility,
                title=f"{kind} {i}", body="Lorem ipsum dolor sit amet " * 3, data=data,
                content_type=interaction_ct if source_id else None, object_id=source_id,
            )
        )  # fmt: skip
    TimelineEvent.objects.bulk_create(events, batch_size=1000)
    with connection.cursor() as cursor:
        for table in (
            "destination_timelineevent",
            "partners_interaction",
            "partners_partnerguestlink",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"guest": guest, "agent": agent, "manager": manager}


def cpu_timed(samples: list[float], func: Any, *args: Any) -> Any:
    """Call ``func`` and record the CPU time this process spent on it (ms): unlike wall time it
    does not grow while other processes hold the CPU, but it leaves out the database's work."""
    start = time.process_time()
    try:
        return func(*args)
    finally:
        samples.append((time.process_time() - start) * 1000)


def spaced(e164: str) -> str:
    import phonenumbers

    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def search_queries(first_id: int, n_guests: int, k: int) -> list[str]:
    """A third names with a typo, a third phones typed the national way, a third emails."""
    rng = random.Random(31)
    rows = existing_people(first_id, n_guests, k * 2, seed=37)
    queries: list[str] = []
    for i, r in enumerate(rows):
        if len(queries) >= k:
            break
        if i % 3 == 0:
            queries.append(f"{PeopleFactory.typo(rng, r['first_name'])} {r['last_name']}")
        elif i % 3 == 1 and r["phone"]:
            # A French number as the desk types it; a foreign one needs its country code, written
            # the way people do ("+49 30 1234567").
            queries.append(
                national(r["phone"]) if r["phone"].startswith("+33") else spaced(r["phone"])
            )
        elif r["email"]:
            queries.append(r["email"].upper())
    return queries


def prefix_queries(first_id: int, n_guests: int, k: int) -> list[str]:
    """Searches as they are being typed: half the start of an address (the part before the @
    and two letters after), half the first eight digits of a French number the national way."""
    rows = existing_people(first_id, n_guests, k * 3, seed=41)
    queries: list[str] = []
    for i, r in enumerate(rows):
        if len(queries) >= k:
            break
        if i % 2 == 0 and r["email"]:
            at = r["email"].index("@")
            queries.append(r["email"][: at + 3])
        elif r["phone"] and r["phone"].startswith("+33"):
            digits = 0
            typed = ""
            for ch in national(r["phone"]):
                typed += ch
                digits += ch.isdigit()
                if digits == 8:
                    break
            queries.append(typed)
    return queries


def existing_world(entries: int) -> tuple[int, int, dict[str, Any]]:
    """A database kept by an earlier ``--keep`` run: its first guest id, size and world."""
    from django.db.models import Count, Max, Min

    from destination.models import Guest, TimelineEvent, User

    agg = Guest.objects.filter(source_detail="benchmark").aggregate(
        first=Min("id"), last=Max("id"), n=Count("id")
    )
    busiest = (
        TimelineEvent.objects.values("guest_id").annotate(n=Count("id")).order_by("-n").first()
    )
    if not agg["n"] or not busiest:
        raise SystemExit("--reuse: this database holds no earlier benchmark data")
    world = {
        "guest": Guest.objects.get(pk=busiest["guest_id"]),
        "agent": User.objects.get(email="agent@esf.example"),
        "manager": User.objects.get(email="boss@office.example"),
    }
    return agg["first"], agg["n"], world


def benchmark(
    *, guests: int, entries: int, requests: int, reuse: bool = False, log: Any = print
) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    if reuse:
        first_id, guests, world = existing_world(entries)
        log(f"reusing the kept database: {table_counts()}")
    else:
        factory = PeopleFactory()
        first_id = build(guests, factory=factory, log=log)
        log(f"built {guests:,} guests: {table_counts()}")
        world = history_build(first_id + guests // 2, entries)
    log("load average before measuring: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    guest = world["guest"]
    figures: dict[str, Any] = {"guests": guests, "entries": entries}
    static = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, **static}
    ):
        for who in ("agent", "manager"):
            client = Client()
            client.force_login(world[who])
            path = f"/en/portal/guests/{guest.pk}/"
            for _ in range(5):  # warm up: connection, templates, settings
                assert client.get(path).status_code == 200
            executed: list[tuple[str, float]] = []

            def count(
                execute: Any, sql: str, params: Any, many: bool, context: Any, executed=executed
            ) -> Any:
                start = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    executed.append((sql, (time.perf_counter() - start) * 1000))

            with connection.execute_wrapper(count):
                client.get(path)
            cpu: list[float] = []
            timings, _r = timed(
                f"guest page, {entries} timeline entries, as the {who}",
                [
                    (lambda c=client, p=path, cpu=cpu: cpu_timed(cpu, c.get, p))
                    for _ in range(requests)
                ],
            )
            sql_ms = sum(ms for _sql, ms in executed)
            log(
                timings.line(TARGET_PAGE_P95_MS)
                + f"; {len(executed)} SQL queries taking {sql_ms:.1f} ms in all"
            )
            log("  " + Timings("CPU time of the Django process (load-independent)", cpu).line())
            figures[f"page_{who}"] = {
                "p50": timings.p50, "p95": timings.p95, "queries": len(executed)
            }  # fmt: skip
            for sql, ms in sorted(executed, key=lambda q: -q[1])[:3]:
                log(f"    slowest: {ms:.1f} ms  {sql[:140]}")

        client = Client()
        client.force_login(world["agent"])
        queries = search_queries(first_id, guests, requests)
        for q in queries[:5]:
            client.get("/en/portal/search/", {"q": q})
        found: list[int] = []

        def search(q: str) -> None:
            response = client.get("/en/portal/search/", {"q": q}, HTTP_HX_REQUEST="true")
            found.append(response.content.count(b'class="result"'))

        cpu = []
        timings, _r = timed(
            "search endpoint (names with a typo, phones as typed, emails in capitals)",
            [(lambda q=q, cpu=cpu: cpu_timed(cpu, search, q)) for q in queries],
        )
        hits = sum(1 for n in found if n)
        log(timings.line(TARGET_SEARCH_P95_MS) + f"; queries with results: {hits}/{len(queries)}")
        log("  " + Timings("CPU time of the Django process (load-independent)", cpu).line())
        figures["search"] = {"p50": timings.p50, "p95": timings.p95, "hits": hits}

        starts = prefix_queries(first_id, guests, requests)
        found.clear()
        timings, _r = timed(
            "search as typed (start of an address, first 8 digits of a number)",
            [(lambda q=q: search(q)) for q in starts],
        )
        hits = sum(1 for n in found if n)
        log(timings.line(TARGET_SEARCH_P95_MS) + f"; queries with results: {hits}/{len(starts)}")
        figures["search_prefix"] = {"p50": timings.p50, "p95": timings.p95, "hits": hits}
    log("load average after measuring: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", default="crm_bench_portal")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on a database kept with --keep"
    )
    args = parser.parse_args(argv)

    if args.reuse:
        url = database_url(args.db)
        args.keep = True
    else:
        url = database_create(args.db)
        print(f"database {args.db} created; migrating...", flush=True)
    try:
        django_setup(url)

        def log(line: str) -> None:
            print(line, flush=True)

        benchmark(
            guests=args.guests,
            entries=args.entries,
            requests=args.requests,
            reuse=args.reuse,
            log=log,
        )
    finally:
        if not args.keep:
            database_drop(args.db)
            print(f"database {args.db} dropped")


if __name__ == "__main__":
    main()
