"""The whole-base clean-up's model run at destination scale: blocking, scoring, family rules,
clustering and the review queue of ``dedupe_guests``, on generated guests with known truth.

    .venv/bin/python benchmarks/dedupe.py --entities 870000      # ~1,000,000 guests, 15 % dups
    .venv/bin/python benchmarks/dedupe.py --entities 43500       # ~50,000 guests (smoke run)

Generates the labelled file of ``tests/destination/data/linkage_people.py`` (its duplicates
set to 15 % of the records), computes the feature rows, runs ``plan_build`` with the shipped
model on DuckDB (``--backend``) and prints wall time per phase, peak memory (max RSS of the
process) and the quality figures against the generated truth. The PostgreSQL read and the
merges are not in it: reading is a streamed SELECT (seconds per 100,000 guests), and each merge
is one ``guest_merge`` transaction, measured by the merge tests.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=43_500)
    parser.add_argument("--duplicates", type=float, default=0.151)
    parser.add_argument("--seed", type=int, default=20_261_202)
    parser.add_argument("--backend", default="duckdb")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument(
        "--shipped-model",
        action="store_true",
        help="Score with the shipped model instead of training on the generated base first.",
    )
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "destination.settings.test")
    django.setup()
    logging.getLogger("splink").setLevel(logging.ERROR)
    import duckdb

    from destination.linkage.dedupe import plan_build
    from destination.linkage.evaluation import figures_compute
    from destination.linkage.features import features_for
    from destination.linkage.store import _default
    from tests.destination.data.linkage_people import build

    t0 = time.monotonic()
    data = build(seed=args.seed, entities=args.entities, duplicates=args.duplicates)
    t1 = time.monotonic()
    rows = [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]
    t2 = time.monotonic()
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(args.threads)}")
    if args.shipped_model:
        model = _default()
        settings, counts, tf_tables = model.settings, model.first_name_counts, model.tf_tables
        thresholds = model.thresholds
    else:  # as linkage_train would: m and u from this base, thresholds on the labelled set
        from destination.linkage.model import model_train
        from destination.linkage.training import thresholds_on_labelled

        trained = model_train(rows, backend=args.backend)
        thresholds = thresholds_on_labelled(trained)
        settings, counts, tf_tables = (
            trained.settings,
            trained.first_name_counts,
            trained.tf_tables,
        )
    t_train = time.monotonic()
    print(f"thresholds {thresholds.as_dict()}")
    plan = plan_build(
        rows,
        settings=settings,
        first_name_counts=counts,
        tf_tables=tf_tables,
        thresholds=thresholds,
        backend=args.backend,
        connection=con,
    )
    t3 = time.monotonic()
    figures = figures_compute(
        entity_of=data.entity_of(),
        cluster_of=plan.cluster_of,
        review_edges=plan.review_edges(),
        hard_kind_of=data.hard_kind_of(),
    )
    duplicates = len(data.records) - len({r.entity for r in data.records})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"guests={len(data.records)} people={args.entities} duplicate records={duplicates} "
        f"({duplicates / len(data.records):.1%})"
    )
    print(
        f"generate {t1 - t0:.1f} s (not part of the job) | features {t2 - t1:.1f} s | "
        f"train {t_train - t2:.1f} s | block+score+cluster {t3 - t_train:.1f} s | "
        f"job total {t3 - t1:.1f} s | "
        f"scored pairs {plan.scored_pairs} | peak RSS {peak_mb:.0f} MB"
    )
    merges = plan.merges()
    print(
        f"clusters to merge {len(merges)} ({sum(len(v) for v in merges.values())} guests), "
        f"review suggestions {len(plan.review)}"
    )
    print(figures.report())


if __name__ == "__main__":
    main()
