"""Segment count at destination scale, on PostgreSQL (issue 15, figure (a)).

    .venv/bin/python benchmarks/newsletters_segments.py --guests 1000000 --bookings 3000000
    .venv/bin/python benchmarks/newsletters_segments.py --guests 100000 --bookings 300000  # smaller

Creates a dedicated database (``--db``, default ``crm_bench_segments``), migrates it and loads,
with SQL ``generate_series`` (no Python per row): 10 partners (2 ski schools, 3 lodgings...),
40 offers, daily sessions over three winters (2023-24 to 2025-26), ``--guests`` guests in six
languages, ``--bookings`` bookings spread over them (about 82 % real, the rest cancelled or
expired; a third of the guests have none) and their consents through the ledger's tables
(a proof, one ``ConsentEvent`` per ``ConsentState``): the destination newsletter by email for
about 60 % of the guests (a seventh of them withdrawn), the first ski school's offers by email
for about 25 % and profile sharing with that school for half of those.

Then it counts, through ``newsletters.segments.segment_count`` (the code the editor calls), the
3-rule segment of the issue::

    language in (fr, en) AND newsletter consent by email AND
    NOT booked with a ski school in 2025-26

``--runs`` times (target p95 < 1 s); then the first ski school's own segment (``partner=``:
only its marketing consent, and other partners' bookings read only where the sharing rules open
BOOKINGS, i.e. the profile was shared with it): language, booked a stay in 2025-26, NOT booked a
ski school in 2025-26; and two baselines measured in the same run:

1. the same count without the indexes the segment needs (``SEGMENT_INDEXES``: declared in the
   models' Meta, made by migrations destination 0009 and bookings 0004; the script drops them
   for the baseline and builds them again);
2. a naive per-guest Python loop (one query per rule per guest) on ``--loop-sample`` guests,
   extrapolated to every guest.

PostgreSQL runs with the server's settings except for this database's ``work_mem`` (64 MB),
``random_page_cost`` (1.1, SSD) and ``effective_cache_size`` (4 GB), what a production server
would have; ``shared_buffers`` stays the server's (128 MB here). The database is dropped at the
end unless ``--keep``; ``--reuse`` measures an existing one again. Building the 1,000,000-guest
database is the heavy part (207 s here): build it once, then iterate on it::

    .venv/bin/python benchmarks/newsletters_segments.py --keep --db seg_bench
    .venv/bin/python benchmarks/newsletters_segments.py --reuse --keep --db seg_bench \
        --skip-baselines --explain    # the segments only, with their plans

``--skip-baselines`` leaves out the index drop and rebuild and the per-guest loop.

Figures (docs/newsletters.md, "Segment size at scale"): on 3 December 2026, 1,000,000 guests,
the 3-rule count took 458-515 ms p50 and 541-734 ms p95 at load 2.3-4.8 on the 2-core machine
shared with another engineer's tests (624-639 ms p50 and 662-963 ms p95 before ``partner_kind``
went through the season's sessions, at the same loads); on 2 December, at load 11-19, 3.0-5.0 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Timings,
    consent_proof_create,
    consents_insert,
    database_create,
    database_drop,
    database_url,
    django_setup,
    guests_insert,
    load_line,
    timed,
)

TARGET_P95_MS = 1000.0

# The indexes the segment's query needs, declared in the models' Meta (migrations
# destination 0009 and bookings 0004; why each one is there is written beside it). The baseline
# drops them and builds them again from those declarations.
SEGMENT_INDEXES = {
    "destination.Guest": ["guest_active_language_idx"],
    "destination.ConsentState": ["consent_state_granted_idx"],
    "bookings.Booking": ["booking_partner_session_idx", "booking_session_booker_idx"],
}


def segment_indexes() -> list[tuple[Any, Any]]:
    """(model, index) of each of SEGMENT_INDEXES, from the models' Meta."""
    from django.apps import apps

    found = []
    for label, names in SEGMENT_INDEXES.items():
        model = apps.get_model(label)
        by_name = {index.name: index for index in model._meta.indexes}
        found += [(model, by_name[name]) for name in names]
    return found


def segment_indexes_drop() -> None:
    from django.db import connection

    with connection.schema_editor() as editor:
        for model, index in segment_indexes():
            editor.remove_index(model, index)


def segment_indexes_create(*, missing_only: bool = False) -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        present = {row[0] for row in c.fetchall()} if missing_only else set()
    with connection.schema_editor() as editor:
        for model, index in segment_indexes():
            if index.name not in present:
                editor.add_index(model, index)


PARTNERS = [
    ("Office de Tourisme", "tourist_office"),
    ("Ecole de Ski Les Sommets", "ski_school"),
    ("Glisse Academie", "ski_school"),
    ("Hotel Les Cimes", "lodging"),
    ("Residence Le Chamois", "lodging"),
    ("Chalet des Marmottes", "lodging"),
    ("Neige Sport Location", "equipment_rental"),
    ("Alti Glisse Shop", "equipment_rental"),
    ("La Bergerie", "restaurant"),
    ("Val Neige Aventures", "activity"),
]
OFFER_KIND = {
    "ski_school": "group_lesson",
    "lodging": "stay",
    "equipment_rental": "rental",
    "tourist_office": "pass",
    "restaurant": "group_lesson",
    "activity": "group_lesson",
}

Log = Any


def segment_rules(school_id: int) -> dict[str, Any]:
    return {
        "all": [
            {"rule": "language", "in": ["fr", "en"]},
            {"rule": "consent", "purpose": "newsletter", "channel": "email"},
            {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}},
        ]
    }


def school_rules() -> dict[str, Any]:
    return {
        "all": [
            {"rule": "language", "in": ["fr", "en"]},
            {"rule": "booked", "offer_kind": "stay", "season": "2025-26"},
            {"not": {"rule": "booked", "partner_kind": "ski_school", "season": "2025-26"}},
        ]
    }


# --- Building the data --------------------------------------------------------------------


def build(n_guests: int, n_bookings: int, log: Log = print) -> dict[str, int]:
    from django.db import connection

    from partners.models import Partner

    partner_ids = []
    for i, (name, kind) in enumerate(PARTNERS):
        partner_ids.append(Partner.objects.create(name=name, slug=f"p{i}", kind=kind).pk)
    school_id = partner_ids[1]
    segment_indexes_drop()
    with connection.cursor() as c:
        c.execute("SET synchronous_commit = off")
        start = time.perf_counter()
        # 4 offers per partner.
        values = []
        for pid, (_name, kind) in zip(partner_ids, PARTNERS, strict=True):
            for k in range(4):
                values.append(f"({pid}, '{OFFER_KIND[kind]}', 'o{pid}-{k}')")
        c.execute(
            "INSERT INTO bookings_offer (partner_id, kind, slug, title_en, title_fr, "
            "description_en, description_fr, price_cents, pricing, balance_due_days, "
            "free_cancellation_days, is_published, needs_participant_names, created_at, "
            "updated_at) SELECT v.p, v.k, v.s, v.s, '', '', '', 5000, 'per_person', 30, 2, true, "
            f"false, now(), now() FROM (VALUES {', '.join(values)}) AS v(p, k, s)"
        )
        # A session per offer per day of three winters (1 Dec .. 15 Apr).
        c.execute(
            """
            INSERT INTO bookings_session (offer_id, starts_at, ends_at, capacity, seats_taken,
                                          created_at)
            SELECT o.id, d + interval '9 hours', d + interval '11 hours', 1000000, 0, now()
            FROM bookings_offer o,
                 (SELECT generate_series(make_date(y, 12, 1), make_date(y + 1, 4, 15),
                                         interval '1 day')::timestamptz AS d
                  FROM generate_series(2023, 2025) AS y) AS days
            """
        )
        guests_insert(
            c,
            n_guests,
            languages=("fr", "fr", "fr", "en", "en", "de", "it", "es", "nl", "fr"),
            countries=("FR", "FR", "CH", "GB", "GB", "DE", "IT", "ES", "NL", "BE"),
            surnames=5000,
            erased_every=200,
            last_contact_days=900,
        )
        log(f"  guests: {time.perf_counter() - start:.0f} s")
        # Bookings: two thirds of the guests book, some several times.
        c.execute("SELECT min(id), max(id) FROM bookings_session")
        s_min, s_max = c.fetchone()
        c.execute(
            """
            INSERT INTO bookings_booking (reference, session_id, partner_id, booker_id, status,
                seats, adults, children, total_cents, deposit_cents, paid_cents, refunded_cents,
                payment_method, channel, language, contact_name, contact_email, contact_phone,
                source_url, cancel_reason, created_at, updated_at)
            SELECT 'B' || b.i, s.id, o.partner_id,
                   1 + ((b.i * 7919) %% (%s * 2 / 3)) * 3 / 2,
                   (ARRAY['confirmed','confirmed','completed','completed','completed',
                          'completed','confirmed','completed','confirmed','completed',
                          'cancelled','expired'])[1 + b.i %% 12],
                   2, 2, b.i %% 3, 10000, 0, 0, 0, 'on_site', 'web', 'fr', '', '', '', '', '',
                   now(), now()
            FROM generate_series(1::bigint, %s) AS b(i)
            JOIN bookings_session s ON s.id = %s + (b.i * 104729) %% (%s - %s + 1)
            JOIN bookings_offer o ON o.id = s.offer_id
            """,
            [n_guests, n_bookings, s_min, s_max, s_min],
        )
        log(f"  + bookings: {time.perf_counter() - start:.0f} s")
        proof_id = consent_proof_create(c)
        # Newsletter by email for 60 %, a seventh of them withdrawn; the school's offers for
        # 25 %, and profile sharing with it for half of those.
        for purpose, partner, channel, keep in (
            ("newsletter", None, "email", "i %% 10 < 6"),
            ("partner_offers", school_id, "email", "i %% 4 = 1"),
            ("profile_sharing", school_id, "", "i %% 8 = 1"),
        ):
            consents_insert(
                c,
                n_guests=n_guests,
                proof_id=proof_id,
                purpose=purpose,
                channel=channel,
                partner_id=partner,
                where=keep,
                withdrawn_every=7,
            )
        log(f"  + consents: {time.perf_counter() - start:.0f} s")
        # Built after the load, as one would for a bulk import (the migrations made them).
        segment_indexes_create()
        for table in (
            "destination_guest",
            "bookings_booking",
            "bookings_session",
            "bookings_offer",
            "destination_consentstate",
            "destination_consentevent",
        ):
            c.execute(f"VACUUM ANALYZE {table}")
        c.execute("CHECKPOINT")
        log(f"  + indexes, VACUUM ANALYZE: {time.perf_counter() - start:.0f} s")
    return {"school_id": school_id}


def table_counts() -> dict[str, int]:
    from django.db import connection

    out = {}
    with connection.cursor() as c:
        for table in (
            "destination_guest",
            "bookings_booking",
            "bookings_session",
            "destination_consentstate",
        ):
            c.execute(f"SELECT count(*) FROM {table}")
            out[table] = c.fetchone()[0]
    return out


# --- Measurements -------------------------------------------------------------------------


def measure(label: str, rules: dict, runs: int, partner: Any = None) -> tuple[Timings, int]:
    from newsletters.segments import segment_count

    timings, results = timed(
        label,
        [(lambda: segment_count(rules, partner=partner, timeout_ms=60_000)) for _ in range(runs)],
    )
    assert len(set(results)) == 1, results
    assert results[0] is not None
    return timings, results[0]


def explain(rules: dict, partner: Any = None) -> str:
    from django.db import connection

    from newsletters.segments import segment_queryset

    sql, params = segment_queryset(rules, partner=partner).query.sql_with_params()
    with connection.cursor() as c:
        c.execute("SET jit = off")  # as segment_count does
        c.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) s", params)
        return "\n".join(r[0] for r in c.fetchall())


def naive_loop(sample: int) -> tuple[float, int]:
    """The Python way: each guest, then one query per rule. Seconds per guest, matches."""
    from bookings.models import Booking
    from destination.models import ConsentState, Guest
    from newsletters.segments import REAL_BOOKING_STATUSES, season_bounds

    start_s, end_s = season_bounds("2025-26")
    guests = list(Guest.objects.filter(status="active").order_by("pk")[:sample])
    start = time.perf_counter()
    hits = 0
    for guest in guests:
        if guest.language not in ("fr", "en"):
            continue
        if not ConsentState.objects.filter(
            guest=guest, purpose="newsletter", channel="email", partner=None, granted=True
        ).exists():
            continue
        if Booking.objects.filter(
            booker=guest,
            status__in=REAL_BOOKING_STATUSES,
            partner__kind="ski_school",
            session__starts_at__gte=start_s,
            session__starts_at__lt=end_s,
        ).exists():
            continue
        hits += 1
    return (time.perf_counter() - start) / max(1, len(guests)), hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--guests", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--loop-sample", type=int, default=2000)
    parser.add_argument("--db", default="crm_bench_segments")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="measure the segments only: no index drop and rebuild, no per-guest loop",
    )
    args = parser.parse_args(argv)

    url = database_url(args.db) if args.reuse else database_create(args.db)
    if not args.reuse:
        import psycopg

        with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
            for setting, value in (
                ("work_mem", "64MB"),
                ("random_page_cost", "1.1"),
                ("effective_cache_size", "4GB"),
            ):
                admin.execute(f"ALTER DATABASE \"{args.db}\" SET {setting} = '{value}'")
    django_setup(url)
    from partners.models import Partner

    print(f"before: {load_line()}", flush=True)
    if not args.reuse:
        t0 = time.perf_counter()
        build(args.guests, args.bookings)
        print(f"build: {time.perf_counter() - t0:.0f} s, {table_counts()}")
    else:  # an earlier run may have stopped with its baseline's indexes dropped
        segment_indexes_create(missing_only=True)
        print(f"reused {args.db}: {table_counts()}")
    school = Partner.objects.get(slug="p1")
    rules = segment_rules(school.pk)

    measure("warm-up", rules, 1)
    timings, count = measure("3-rule segment count (segment_count)", rules, args.runs)
    print(timings.line(TARGET_P95_MS) + f"; count = {count:,}; {load_line()}", flush=True)
    p_timings, p_count = measure(
        "ski school's own segment (partner=, sharing rules)", school_rules(), args.runs, school
    )
    print(p_timings.line(TARGET_P95_MS) + f"; count = {p_count:,}; {load_line()}", flush=True)
    if args.explain:
        print(explain(rules))

    if args.skip_baselines:
        print(f"after: {load_line()}")
        if not args.keep:
            database_drop(args.db)
        return 0

    segment_indexes_drop()
    try:
        measure("warm-up", rules, 1)
        b_timings, b_count = measure(
            "same count without SEGMENT_INDEXES", rules, args.baseline_runs
        )
        assert b_count == count
        print(
            b_timings.line() + f"; the indexes make it {b_timings.p50 / timings.p50:.1f}x faster"
            f" (p50); {load_line()}",
            flush=True,
        )
        if args.explain:
            print(explain(rules))
    finally:
        segment_indexes_create()

    per_guest, _hits = naive_loop(args.loop_sample)
    active = table_counts()["destination_guest"]
    loop_total = per_guest * active
    print(
        f"naive per-guest loop on {args.loop_sample} guests: {per_guest * 1000:.3f} ms/guest, "
        f"{loop_total:.0f} s extrapolated to {active:,} guests: one query is "
        f"{loop_total * 1000 / timings.p50:.0f}x faster"
    )
    print(f"after: {load_line()}")
    if not args.keep:
        database_drop(args.db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
