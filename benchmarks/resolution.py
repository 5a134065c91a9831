"""Identity resolution at destination scale, on PostgreSQL.

    .venv/bin/python benchmarks/resolution.py --guests 1000000 --import-size 100000
    .venv/bin/python benchmarks/resolution.py --guests 5000 --import-size 2000   # smoke run

Creates a dedicated database (``--db``, default ``crm_bench``), migrates it, loads ``--guests``
varied multilingual guests with their emails, phones, blocking keys (computed by the same
``match_keys_for`` as the service) and resolution keys through COPY, runs ANALYZE, then measures:

1. exact resolution of existing people through ``guest_resolve`` by email and by phone
   (p50/p95, target p95 < 5 ms);
2. fuzzy name search with typos through ``guest_search_by_name`` (p50/p95, target p95 < 100 ms),
   against a baseline without the trigram index (sequential scan) on a sample;
3. bulk resolution of an import of mixed new and existing people through ``guest_resolve_many``
   (people/s, target >= 2,000/s), against one-by-one ``guest_resolve`` on a sample.

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
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
    load_line,
    timed,
)

TARGET_EXACT_P95_MS = 5.0
TARGET_SEARCH_P95_MS = 100.0
TARGET_BULK_PER_S = 2000.0
TRGM_INDEX = "guest_name_folded_trgm"
TRGM_DDL = f"CREATE INDEX {TRGM_INDEX} ON destination_guest USING gin (name_folded gin_trgm_ops)"

Log = Callable[[str], None]


# --- Building the data --------------------------------------------------------------------


def build(n_guests: int, *, factory: PeopleFactory, chunk: int = 50_000, log: Log = print) -> int:
    """Load ``n_guests`` guests (people 0..n-1 of the factory) with COPY; returns the id of
    person 0 (guest id = first id + person number)."""
    from django.db import connection

    from destination.normalize import fold
    from destination.services.resolution import match_keys_for

    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM destination_guest")
        first_id = cursor.fetchone()[0]
        big = n_guests >= 100_000
        if big:  # a GIN index is much faster to build once than to grow row by row
            cursor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
            cursor.execute("SET synchronous_commit = off")
        start = time.perf_counter()
        for offset in range(0, n_guests, chunk):
            count = min(chunk, n_guests - offset)
            guests, emails, phones, keys, rkeys = [], [], [], [], []
            for i, p in factory.people(offset, count):
                gid = first_id + i
                ff, lf = fold(p.first_name), fold(p.last_name)
                guests.append(
                    (gid, uuid.UUID(int=gid), p.first_name, p.last_name, f"{ff} {lf}",
                     p.language, p.country, p.birth_date, "import", "benchmark", "active",
                     now, now)
                )  # fmt: skip
                if p.email:
                    emails.append((gid, p.email, p.email, True, now))
                    rkeys.append((f"email:{p.email}", now))
                if p.phone:
                    phones.append((gid, p.phone, True, now))
                    rkeys.append((f"phone:{p.phone}", now))
                for key in match_keys_for(
                    first_folded=ff,
                    last_folded=lf,
                    birth_date=p.birth_date,
                    emails=[p.email] if p.email else [],
                    phones=[p.phone] if p.phone else [],
                ):
                    keys.append((gid, key[:128]))
            _copy(cursor, "destination_guest",
                  "id, uuid, first_name, last_name, name_folded, language, country, birth_date, "
                  "source, source_detail, status, created_at, updated_at", guests)  # fmt: skip
            _copy(cursor, "destination_guestemail",
                  "guest_id, email, email_normalized, is_primary, created_at", emails)  # fmt: skip
            _copy(
                cursor, "destination_guestphone", "guest_id, phone, is_primary, created_at", phones
            )
            _copy(cursor, "destination_matchkey", "guest_id, key", keys)
            _copy(cursor, "destination_resolutionkey", "key, created_at", rkeys)
            done = offset + count
            if big and (done // chunk) % 4 == 0:
                log(f"  loaded {done:,} guests ({time.perf_counter() - start:.0f} s)")
        for table in ("guest", "guestemail", "guestphone", "matchkey", "resolutionkey"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('destination_{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM destination_{table}))"
            )
        if big:
            cursor.execute(TRGM_DDL)
        for table in ("guest", "guestemail", "guestphone", "matchkey", "resolutionkey"):
            # VACUUM too: index-only scans need the visibility map of freshly loaded tables.
            cursor.execute(f"VACUUM ANALYZE destination_{table}")
        # Write the loaded pages out now, so the timings measure lookups, not the checkpoint
        # of gigabytes just loaded.
        cursor.execute("CHECKPOINT")
    return first_id


def _copy(cursor: Any, table: str, columns: str, rows: list[tuple]) -> None:
    if not rows:
        return
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def table_counts() -> dict[str, int]:
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for table in ("guest", "guestemail", "guestphone", "matchkey", "resolutionkey"):
            cursor.execute(f"SELECT count(*) FROM destination_{table}")
            counts[table] = cursor.fetchone()[0]
    return counts


# --- Samples of existing guests -----------------------------------------------------------


def existing_people(first_id: int, n_guests: int, k: int, seed: int) -> list[dict[str, Any]]:
    """``k`` random existing guests with their primary email and phone."""
    from django.db import connection

    rng = random.Random(seed)
    ids = [first_id + i for i in rng.sample(range(n_guests), min(k, n_guests))]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT g.id, g.first_name, g.last_name, g.country, g.birth_date, e.email, p.phone
            FROM destination_guest g
            LEFT JOIN destination_guestemail e ON e.guest_id = g.id AND e.is_primary
            LEFT JOIN destination_guestphone p ON p.guest_id = g.id AND p.is_primary
            WHERE g.id = ANY(%s)
            """,
            [ids],
        )
        columns = [c.name for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    rows.sort(key=lambda r: ids.index(r["id"]) if len(ids) < 5000 else r["id"])
    return rows


def national(e164: str) -> str:
    import phonenumbers

    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# --- Measurements -------------------------------------------------------------------------


def measure_exact(first_id: int, n_guests: int, lookups: int, log: Log = print) -> dict[str, Any]:
    from destination.models import Guest
    from destination.services.resolution import Decision, PersonData, guest_resolve

    sample = existing_people(first_id, n_guests, lookups * 3, seed=11)
    by_email = [r for r in sample if r["email"]][:lookups]
    by_phone = [r for r in sample if r["phone"]][:lookups]
    figures: dict[str, Any] = {}
    for label, rows, make in (
        ("email", by_email, lambda r: PersonData(
            first_name=r["first_name"], last_name=r["last_name"],
            email=f" {r['email'].upper()} ", country=r["country"])),
        ("phone", by_phone, lambda r: PersonData(
            first_name=r["first_name"], last_name=r["last_name"],
            phone=national(r["phone"]), country=r["country"])),
    ):  # fmt: skip
        people = [make(r) for r in rows]
        calls = [
            (lambda p=p: guest_resolve(p, source=Guest.Source.API, source_detail="bench"))
            for p in people
        ]
        timings, results = timed(f"exact resolution by {label} (guest_resolve)", calls)
        right = sum(
            1
            for r, res in zip(rows, results, strict=True)
            if res.decision == Decision.MATCHED and res.guest.pk == r["id"]
        )
        log(
            timings.line(TARGET_EXACT_P95_MS) + f"; matched to the right guest: {right}/{len(rows)}"
        )
        figures[label] = {"p50": timings.p50, "p95": timings.p95, "right": right, "n": len(rows)}
    return figures


def measure_search(
    first_id: int, n_guests: int, searches: int, baseline: int, log: Log = print
) -> dict[str, Any]:
    from django.db import connection

    from destination.normalize import fold
    from destination.selectors import guest_search_by_name

    rng = random.Random(13)
    rows = existing_people(first_id, n_guests, searches, seed=17)
    queries = []
    for r in rows:
        first, last = r["first_name"], r["last_name"]
        if rng.random() < 0.5:
            last = PeopleFactory.typo(rng, last)
        else:
            first = PeopleFactory.typo(rng, first)
        if rng.random() < 0.2:
            first, last = last, first
        queries.append((r["id"], f"{first} {last}", fold(f"{r['first_name']} {r['last_name']}")))
    timings, results = timed(
        "name search with typos (guest_search_by_name, trigram index)",
        [(lambda q=q: guest_search_by_name(q)) for _gid, q, _name in queries],
    )
    found = named = 0
    for (gid, _q, name), res in zip(queries, results, strict=True):
        found += gid in {g.pk for g in res}
        # With more namesakes than a page holds, the target ties with them: count the name too.
        named += name in {g.name_folded for g in res}
    log(
        timings.line(TARGET_SEARCH_P95_MS)
        + f"; target guest in the results: {found}/{len(queries)}, its name (the guest or a "
        f"namesake): {named}/{len(queries)}"
    )
    figures: dict[str, Any] = {"p50": timings.p50, "p95": timings.p95, "found": found}
    figures["named"] = named

    if baseline:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_bitmapscan = off")
            cursor.execute("SET enable_indexscan = off")
        try:
            base, _results = timed(
                "  baseline: same search without the index (sequential scan)",
                [(lambda q=q: guest_search_by_name(q)) for _gid, q, _n in queries[:baseline]],
            )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET enable_bitmapscan")
                cursor.execute("RESET enable_indexscan")
        indexed = Timings("indexed", timings.samples_ms[:baseline])
        ratio = base.p50 / indexed.p50 if indexed.p50 else float("nan")
        log(base.line() + f"; index speed-up (p50 ratio on the same queries): {ratio:.1f}x")
        figures["baseline_p50"] = base.p50
        figures["speedup"] = ratio
    return figures


def import_people(
    first_id: int, n_guests: int, size: int, *, new_start: int, factory: PeopleFactory, seed: int
) -> list[Any]:
    """Half existing guests written differently (email case, national phone, typo + new
    address), half new people, shuffled."""
    from destination.services.resolution import PersonData

    rng = random.Random(seed)
    existing = existing_people(first_id, n_guests, size // 2, seed=seed)
    people: list[Any] = []
    for r in existing:
        roll = rng.random()
        if roll < 0.4 and r["email"]:
            people.append(PersonData(first_name=r["first_name"], last_name=r["last_name"],
                                     email=r["email"].upper(), country=r["country"]))  # fmt: skip
        elif roll < 0.7 and r["phone"]:
            people.append(PersonData(first_name=r["first_name"], last_name=r["last_name"],
                                     phone=national(r["phone"]), country=r["country"]))  # fmt: skip
        else:
            people.append(
                PersonData(
                    first_name=PeopleFactory.typo(rng, r["first_name"]),
                    last_name=r["last_name"],
                    email=f"new.{r['id']}@mail.example",
                    country=r["country"],
                    birth_date=r["birth_date"],
                )
            )
    for _i, p in factory.people(new_start, size - len(people)):
        people.append(
            PersonData(first_name=p.first_name, last_name=p.last_name, email=p.email,
                       phone=p.phone, country=p.country, birth_date=p.birth_date,
                       language=p.language)
        )  # fmt: skip
    rng.shuffle(people)
    return people


def _import_once(
    people: list[Any], *, batch_size: int, validation_processes: int, workers: int
) -> tuple[float, Counter[str]]:
    """Resolve ``people`` as an import does; returns (seconds, decisions)."""
    from destination.models import Guest
    from destination.services.resolution_workers import guest_resolve_parallel

    start = time.perf_counter()
    results = guest_resolve_parallel(
        people,
        workers=workers,
        source=Guest.Source.IMPORT,
        source_detail="bench-import",
        batch_size=batch_size,
        validation_processes=validation_processes,
    )
    return time.perf_counter() - start, Counter(str(r.decision) for r in results)


def measure_bulk(
    first_id: int,
    n_guests: int,
    size: int,
    baseline: int,
    *,
    factory: PeopleFactory,
    batch_size: int = 1000,
    new_start: int = 0,
    validation_processes: int = 0,
    workers: int = 1,
    log: Log = print,
) -> dict[str, Any]:
    """``new_start``: the factory's number of the first new person (default: right after the
    built guests); a reused database needs people no earlier run imported.

    With ``workers`` > 1 the import runs on that many worker processes
    (``guest_resolve_parallel``), and a second import of the same size and mix (other people)
    runs on one worker right after it: the ratio between the two is measured in the same run."""
    from destination.models import Guest
    from destination.services.resolution import guest_resolve

    new_start = new_start or n_guests
    people = import_people(first_id, n_guests, size, new_start=new_start, factory=factory, seed=23)
    elapsed, decisions = _import_once(
        people, batch_size=batch_size, validation_processes=validation_processes, workers=workers
    )
    rate = len(people) / elapsed
    verdict = "OK" if rate >= TARGET_BULK_PER_S else "MISSED"
    how = (
        f"{workers} worker processes"
        if workers > 1
        else "validation "
        + (
            f"in {validation_processes} forked process(es)"
            if validation_processes
            else "in a thread"
        )
    )
    log(
        f"bulk import (batches of {batch_size}, {how}): {len(people):,} people in "
        f"{elapsed:.1f} s = {rate:,.0f} people/s (target >= {TARGET_BULK_PER_S:,.0f}/s: "
        f"{verdict}); decisions {dict(sorted(decisions.items()))}; {load_line()}"
    )
    figures: dict[str, Any] = {"rate": rate, "decisions": dict(decisions), "n": len(people)}
    next_start = new_start + size
    if workers > 1:
        # Existing people of another seed, new people after the first import's.
        one = import_people(first_id, n_guests, size, new_start=next_start, factory=factory,
                            seed=31)  # fmt: skip
        next_start += size
        one_elapsed, one_decisions = _import_once(
            one, batch_size=batch_size, validation_processes=validation_processes, workers=1
        )
        one_rate = len(one) / one_elapsed
        log(
            f"  baseline: the same import on one worker = {one_rate:,.0f} people/s; "
            f"{workers} workers are {rate / one_rate:.2f}x; decisions "
            f"{dict(sorted(one_decisions.items()))}; {load_line()}"
        )
        figures["one_worker_rate"] = one_rate
    if baseline:
        sample = import_people(
            first_id, n_guests, baseline, new_start=next_start, factory=factory, seed=29
        )
        start = time.perf_counter()
        for person in sample:
            guest_resolve(person, source=Guest.Source.IMPORT, source_detail="bench-one-by-one")
        one_rate = len(sample) / (time.perf_counter() - start)
        log(
            f"  baseline: one-by-one guest_resolve on {len(sample):,} similar people = "
            f"{one_rate:,.0f} people/s; bulk speed-up {rate / one_rate:.1f}x"
        )
        figures["one_by_one_rate"] = one_rate
    return figures


def benchmark(
    *,
    guests: int,
    import_size: int,
    lookups: int = 1000,
    searches: int = 200,
    search_baseline: int = 10,
    bulk_baseline: int = 1000,
    batch_size: int = 1000,
    validation_processes: int = 0,
    workers: int = 1,
    reuse: bool = False,
    log: Log = print,
) -> dict[str, Any]:
    """Build the data in the current database (or reuse it) and measure; returns the figures."""
    factory = PeopleFactory()
    start = time.perf_counter()
    if reuse:
        # A database kept by an earlier --keep run: the first ``guests`` rows are the built ones
        # (imports of earlier runs come after them, with higher ids).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id) FROM destination_guest")
            first_id = cursor.fetchone()[0]
        counts = table_counts()
        log(f"reusing the kept database: {counts}")
        new_start = 3_000_000 + counts["guest"]  # past every person an earlier run imported
    else:
        new_start = 0
        first_id = build(guests, factory=factory, log=log)
        log(f"built {guests:,} guests in {time.perf_counter() - start:.0f} s: {table_counts()}")
    figures: dict[str, Any] = {"guests": guests}
    figures["exact"] = measure_exact(first_id, guests, lookups, log=log)
    figures["search"] = measure_search(first_id, guests, searches, search_baseline, log=log)
    figures["bulk"] = measure_bulk(
        first_id, guests, import_size, bulk_baseline, factory=factory, batch_size=batch_size,
        new_start=new_start, validation_processes=validation_processes, workers=workers, log=log,
    )  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=1_000_000)
    parser.add_argument("--import-size", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--search-baseline", type=int, default=10)
    parser.add_argument("--bulk-baseline", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--validation-processes",
        type=int,
        default=0,
        help="validate the import in this many forked processes (0: a thread, as before)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="import on this many worker processes (guest_resolve_parallel); > 1 also measures "
        "one worker on a second import of the same mix, for the ratio",
    )
    parser.add_argument("--db", default="crm_bench_resolution")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again on the database an earlier --keep run left (no load); implies --keep",
    )
    args = parser.parse_args(argv)
    args.keep = args.keep or args.reuse

    if args.reuse:
        url = database_url(args.db)
        print(f"reusing database {args.db}; measuring...", flush=True)
    else:
        url = database_create(args.db)
        print(f"database {args.db} created; migrating...", flush=True)
    try:
        django_setup(url)

        def log(line: str) -> None:
            print(line, flush=True)

        benchmark(
            guests=args.guests,
            import_size=args.import_size,
            lookups=args.lookups,
            searches=args.searches,
            search_baseline=args.search_baseline,
            bulk_baseline=args.bulk_baseline,
            batch_size=args.batch_size,
            validation_processes=args.validation_processes,
            workers=args.workers,
            reuse=args.reuse,
            log=log,
        )
    finally:
        if not args.keep:
            database_drop(args.db)
            print(f"database {args.db} dropped")


if __name__ == "__main__":
    main()
