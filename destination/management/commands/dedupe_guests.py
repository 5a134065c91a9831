"""Clean the whole guest base with the current linkage model.

    manage.py dedupe_guests [--dry-run] [--backend duckdb|spark] [--show N]

Reads every active guest, blocks and scores the pairs (Splink), clusters the automatic matches
(connected components), merges each cluster into its oldest guest through the merge service
and fills the review queue with the rest, ordered by match probability. ``--dry-run`` prints
what it would do and writes nothing. See the README ("Identity resolution quality") for the
Spark backend.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from destination.linkage.dedupe import plan_apply, plan_build
from destination.linkage.guests import guest_feature_rows
from destination.linkage.store import linkage_model_current
from destination.linkage.training import iter_progress


class Command(BaseCommand):
    help = "Find and merge duplicate guests in the whole base with the linkage model."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print, write nothing.")
        parser.add_argument("--backend", default="duckdb", choices=["duckdb", "spark"])
        parser.add_argument("--show", type=int, default=10, help="Examples to print.")

    def _write(self, text: str) -> None:
        self.stdout.write(text, ending="")
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        model = linkage_model_current()
        self.stdout.write(
            f"Model {model.label}: automatic merge at match weight >= "
            f"{model.thresholds.auto_match_weight}, review >= "
            f"{model.thresholds.review_match_weight}"
        )
        rows = []
        for row in guest_feature_rows():
            rows.append(row)
            if len(rows) % 10000 == 0:
                self._write(f"\rReading guests... {len(rows)}")
        self.stdout.write(f"\rRead {len(rows)} active guests.")
        options_backend: dict[str, Any] = {}
        if options["backend"] == "spark":  # pragma: no cover - needs pyspark and a cluster
            from pyspark.sql import SparkSession  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

            options_backend["spark_session"] = SparkSession.builder.getOrCreate()
        plan = plan_build(
            rows,
            settings=model.settings,
            first_name_counts=model.first_name_counts,
            tf_tables=model.tf_tables,
            thresholds=model.thresholds,
            trained_records=model.trained_records,
            backend=options["backend"],
            **options_backend,
        )
        merges = plan.merges()
        merged_guests = sum(len(v) for v in merges.values())
        self.stdout.write(
            f"Scored {plan.scored_pairs} pairs: {len(merges)} clusters to merge "
            f"({merged_guests} guests into {len(merges)}), {len(plan.review)} suggestions "
            f"for review ({time.monotonic() - started:.1f} s)."
        )
        by_id = {r["unique_id"]: r for r in rows}

        def show(pair: Any) -> str:
            a, b = by_id[pair.left], by_id[pair.right]
            return (
                f"  {pair.left} {a['first_exact']} {a['last_canon']} <-> {pair.right} "
                f"{b['first_exact']} {b['last_canon']}  p={pair.match_probability:.4f}"
                f"{'  [' + pair.constraint + ']' if pair.constraint else ''}"
            )

        for title, pairs in (("Automatic", plan.auto_pairs), ("Review", plan.review)):
            if pairs and options["show"]:
                self.stdout.write(f"{title} (first {options['show']}):")
                for pair in pairs[: options["show"]]:
                    self.stdout.write(show(pair))
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing merged, nothing queued.")
            return

        def progress(items: list) -> Any:
            return iter_progress(items, label="Merging", write=self._write)

        report = plan_apply(plan, detected_by=model.label, progress=progress)
        for survivor, merged, reason in report.skipped[:20]:
            self.stdout.write(f"  skipped {merged} -> {survivor}: {reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Merged {report.merged} guests ({len(report.skipped)} skipped); "
                f"{report.suggested} new suggestions in the review queue "
                f"({report.already_known} already known) in {time.monotonic() - started:.1f} s."
            )
        )
