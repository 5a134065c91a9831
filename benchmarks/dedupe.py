"""The whole-base clean-up's model run at destination scale: blocking, scoring, family rules,
clustering and the review queue of ``dedupe_guests``, on generated guests with known truth.

    .venv/bin/python benchmarks/dedupe.py --entities 870000      # ~1,000,000 guests, 15 % dups
    .venv/bin/python benchmarks/dedupe.py --entities 43500       # ~50,000 guests (smoke run)

Generates the labelled file of ``tests/destination/data/linkage_people.py`` (its duplicates
set to 15 % of the records), computes the feature rows, trains on them as ``linkage_train``
would (``--shipped-model`` skips it), chooses the thresholds on the labelled tuning sets, runs
``plan_build`` (the function ``dedupe_guests`` runs) on DuckDB connections from
``model.duckdb_connect`` (the same limits as the command) and prints: wall time per phase, peak
memory (max RSS of the process), the peak size of DuckDB's temporary files (sampled), the pairs
each blocking rule adds (Splink's exact count), the blocking recall (true pairs that some rule
finds), the quality figures against the generated truth, and for each look-alike pair merged
the two records and the chain of automatic pairs that joined them. The load average is
printed at the start and the end: the machine is shared.

The PostgreSQL read and the merges are not in it: reading is a streamed SELECT (seconds per
100,000 guests), and each merge is one ``guest_merge`` transaction, measured by the merge tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import resource
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

from benchmarks._common import load_line


class SpillSampler:
    """The largest total size of this process's DuckDB temporary folders, sampled."""

    def __init__(self, root: Path, interval: float = 0.5) -> None:
        self.root, self.interval = root, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def size(self) -> int:
        total = 0
        for folder in self.root.glob(f"{os.getpid()}-*"):
            for path in folder.rglob("*"):
                with contextlib.suppress(OSError):  # removed while walking
                    total += path.stat().st_size
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.size())
            self._stop.wait(self.interval)

    def __enter__(self) -> SpillSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def blocking_counts(sdf: Any, rules: tuple[str, ...]) -> list[Any]:
    """Pairs each rule adds to those of the rules before it (Splink's exact count)."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    return count_comparisons_from_blocking_rules(
        sdf,
        blocking_rules=list(rules),
        link_type="dedupe_only",
        record_sample_proportion=1.0,
    )


def blocking_recall(
    con: Any, table: str, true_pairs: set[tuple[int, int]], rules: tuple[str, ...]
) -> tuple[int, list[int]]:
    """True pairs found by some rule, and how many each rule finds first. The pair is read
    with the smaller id as ``l``, as Splink's dedupe blocking does."""
    import pyarrow as pa

    pairs = sorted(true_pairs)
    con.register("_truth", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    first = " ".join(f"WHEN ({rule}) THEN {i}" for i, rule in enumerate(rules))
    sql = (
        f"SELECT CASE {first} ELSE -1 END AS rule, count(*) FROM _truth t "
        f'JOIN {table} l ON l."unique_id" = t.a JOIN {table} r ON r."unique_id" = t.b '
        "GROUP BY 1"
    )
    by_rule = dict(con.sql(sql).fetchall())
    con.unregister("_truth")
    return sum(n for i, n in by_rule.items() if i >= 0), [
        by_rule.get(i, 0) for i in range(len(rules))
    ]


def lookalikes_explain(
    plan: Any, data: Any, rows_by_id: dict[int, dict[str, Any]], *, others: int = 0
) -> list[str]:
    """For each look-alike pair (household, twin, homonym) put in one cluster, and the first
    ``others`` pairs of other different people: the two records and the chain of automatic
    pairs that joined them."""
    hard = data.hard_kind_of()
    entity_of = data.entity_of()
    edges: dict[int, list[Any]] = {}
    for p in plan.auto_pairs:
        edges.setdefault(p.left, []).append(p)
        edges.setdefault(p.right, []).append(p)
    members: dict[int, list[int]] = {}
    for node, cluster in plan.cluster_of.items():
        members.setdefault(cluster, []).append(node)

    records = {r.record_id: r for r in data.records}

    def show(uid: int) -> str:
        r, f = records[uid], rows_by_id[uid]
        return (
            f"{uid} [person {r.entity}, {r.kind}] {r.first_name!r} {r.last_name!r} | "
            f"{r.birth_date} | {r.email} | {r.phone} ({f['phone']}) | {r.country} | "
            f"perturbations {r.perturbations}"
        )

    out: list[str] = []
    for ids in members.values():
        if len(ids) < 2:
            continue
        for i, x in enumerate(ids):
            for y in ids[i + 1 :]:
                ex, ey = entity_of[x], entity_of[y]
                if ex == ey:
                    continue
                kind = hard.get((min(ex, ey), max(ex, ey)))
                if not kind:
                    if others <= 0:
                        continue
                    others -= 1
                    kind = "different people"
                # Breadth-first: the chain of automatic pairs from x to y.
                back: dict[int, Any] = {x: None}
                queue = deque([x])
                while queue and y not in back:
                    node = queue.popleft()
                    for p in edges.get(node, []):
                        other = p.right if p.left == node else p.left
                        if other not in back:
                            back[other] = (node, p)
                            queue.append(other)
                chain = []
                node = y
                while back.get(node):
                    prev, p = back[node]
                    chain.append(p)
                    node = prev
                out.append(f"{kind} merged ({len(ids)} records in the cluster):")
                out.append(f"  {show(x)}")
                out.append(f"  {show(y)}")
                for p in reversed(chain):
                    out.append(
                        f"    via {p.left} - {p.right}: weight {p.match_weight:.2f} "
                        f"constraint {p.constraint} levels {p.levels}"
                    )
                for uid in ids:
                    out.append(f"    member {show(uid)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=43_500)
    parser.add_argument("--duplicates", type=float, default=0.151)
    parser.add_argument("--seed", type=int, default=20_261_202)
    parser.add_argument("--backend", default="duckdb")
    parser.add_argument(
        "--shipped-model",
        action="store_true",
        help="Score with the shipped model instead of training on the generated base first.",
    )
    parser.add_argument(
        "--show-wrong",
        type=int,
        default=0,
        help="Also show this many merged pairs of different people that are not look-alikes.",
    )
    parser.add_argument(
        "--no-blocking-analysis",
        action="store_true",
        help="Skip the pairs per blocking rule and the blocking recall (after the job).",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "destination.settings.test")
    django.setup()
    logging.getLogger("splink").setLevel(logging.ERROR)

    from destination.linkage.dedupe import plan_build
    from destination.linkage.evaluation import figures_compute
    from destination.linkage.features import features_for
    from destination.linkage.model import (
        DUCKDB_TEMP_ROOT,
        db_api_for,
        duckdb_connect,
        register,
    )
    from destination.linkage.store import _default
    from tests.destination.data.linkage_people import build

    print(f"start: {load_line()}", flush=True)
    con = duckdb_connect()
    settings_sql = (
        "SELECT current_setting('threads'), current_setting('memory_limit'), "
        "current_setting('temp_directory'), current_setting('max_temp_directory_size')"
    )
    threads, memory, temp_dir, max_temp = con.execute(settings_sql).fetchall()[0]
    print(f"DuckDB: threads {threads}, memory_limit {memory}, temp {temp_dir} (max {max_temp})")
    root = Path(os.environ.get("LINKAGE_DUCKDB_TEMP_DIR") or DUCKDB_TEMP_ROOT)
    phases: dict[str, float] = {}
    with SpillSampler(root) as spill:
        t0 = time.monotonic()
        data = build(seed=args.seed, entities=args.entities, duplicates=args.duplicates)
        phases["generate"] = time.monotonic() - t0
        print(f"generated {len(data.records)} records ({phases['generate']:.1f} s)", flush=True)
        t = time.monotonic()
        rows = [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]
        phases["features"] = time.monotonic() - t
        print(f"features ({phases['features']:.1f} s)", flush=True)
        if args.shipped_model:
            model = _default()
            settings, counts, tf_tables = model.settings, model.first_name_counts, model.tf_tables
            thresholds = model.thresholds
            trained_records = model.trained_records
        else:  # as linkage_train would: m and u from this base, thresholds on the labelled set
            from destination.linkage.model import model_train
            from destination.linkage.training import thresholds_on_labelled

            t = time.monotonic()
            trained = model_train(rows, backend=args.backend)
            phases["train"] = time.monotonic() - t
            trained_records = trained.records
            print(f"trained ({phases['train']:.1f} s)", flush=True)
            t = time.monotonic()
            thresholds = thresholds_on_labelled(trained)
            phases["threshold choice"] = time.monotonic() - t
            settings, counts, tf_tables = (
                trained.settings,
                trained.first_name_counts,
                trained.tf_tables,
            )
        print(f"thresholds {thresholds.as_dict()}", flush=True)
        plan = plan_build(
            rows,
            settings=settings,
            first_name_counts=counts,
            tf_tables=tf_tables,
            thresholds=thresholds,
            trained_records=trained_records,
            backend=args.backend,
            timings=phases,
            connection=con,
        )
        print(f"planned: {load_line()}", flush=True)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job = sum(v for k, v in phases.items() if k != "generate")
    duplicates = len(data.records) - len({r.entity for r in data.records})
    print(
        f"guests={len(data.records)} people={args.entities} duplicate records={duplicates} "
        f"({duplicates / len(data.records):.1%})"
    )
    print(" | ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + " (generate not in the job)")
    print(
        f"job total {job:.1f} s ({job / 60:.1f} min) | peak RSS {peak_rss_mb:.0f} MB | "
        f"peak DuckDB spill {spill.peak / 2**20:.0f} MB | "
        f"pairs scored above the review threshold {plan.scored_pairs}"
    )
    merges = plan.merges()
    print(
        f"clusters to merge {len(merges)} ({sum(len(v) for v in merges.values())} guests), "
        f"review suggestions {len(plan.review)}, clusters left unmerged by the family rules "
        f"{plan.broken}"
    )
    figures = figures_compute(
        entity_of=data.entity_of(),
        cluster_of=plan.cluster_of,
        review_edges=plan.review_edges(),
        hard_kind_of=data.hard_kind_of(),
    )
    print(figures.report())
    rows_by_id = {r["unique_id"]: r for r in rows}
    for line in lookalikes_explain(plan, data, rows_by_id, others=args.show_wrong):
        print(line)
    print(f"end of the job: {load_line()}", flush=True)

    if not args.no_blocking_analysis:
        t = time.monotonic()
        db_api = db_api_for(args.backend, connection=con)
        sdf = register(db_api, rows, name="guests_blocking")
        total = 0
        # The rules of the model that scored (a stored model keeps those it was trained with).
        rules = tuple(
            r["blocking_rule"] if isinstance(r, dict) else str(r)
            for r in settings["blocking_rules_to_generate_predictions"]
        )
        for i, rec in enumerate(blocking_counts(sdf, rules)):
            total += rec["marginal_comparison_count"]
            print(
                f"rule {i:2d}: {rec['marginal_comparison_count']:>11,} pairs  {rec['blocking_rule']}"
            )
        print(f"blocked pairs in all: {total:,} ({time.monotonic() - t:.1f} s)")
        true_pairs = data.true_pairs()
        found, first = blocking_recall(con, sdf.physical_name, true_pairs, rules)
        print(
            f"blocking recall {found / len(true_pairs):.4f} ({found}/{len(true_pairs)} true pairs "
            "in some block); true pairs each rule finds first: "
            + ", ".join(f"{i}:{n}" for i, n in enumerate(first))
        )
        print(f"end: {load_line()}", flush=True)


if __name__ == "__main__":
    main()
