"""Train a new version of the identity-resolution model on the guest base.

    manage.py linkage_train [--dry-run] [--labelled-seed N]

m and u are estimated from the active guests (Splink on DuckDB); the thresholds are chosen on
the generated labelled set (automatic merge at precision >= 0.999) and its figures printed. The
new version applies to new decisions only; past merges and suggestions keep theirs.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from destination.linkage.guests import guest_feature_rows
from destination.linkage.model import model_train
from destination.linkage.store import linkage_model_save
from destination.linkage.training import figures_on_labelled, thresholds_on_labelled

# Below this many guests EM has too few duplicates to learn from: keep the shipped model.
MIN_GUESTS = 1000


class Command(BaseCommand):
    help = "Train a new version of the identity-resolution model on the guest base."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Train and report, store nothing."
        )
        parser.add_argument("--labelled-seed", type=int, default=None)
        parser.add_argument("--min-guests", type=int, default=MIN_GUESTS)

    def handle(self, *args: Any, **options: Any) -> None:
        rows = list(guest_feature_rows())
        if len(rows) < options["min_guests"]:
            raise CommandError(
                f"Only {len(rows)} active guests: at least {options['min_guests']} are needed to "
                "estimate the model; the shipped model stays in use."
            )
        self.stdout.write(f"Training on {len(rows)} guests...")
        trained = model_train(rows)
        thresholds = thresholds_on_labelled(trained, seed=options["labelled_seed"])
        figures = figures_on_labelled(
            settings=trained.settings,
            first_name_counts=trained.first_name_counts,
            tf_tables=trained.tf_tables,
            thresholds=thresholds,
            trained_records=trained.records,
        )
        self.stdout.write(f"Thresholds: {json.dumps(thresholds.as_dict())}")
        self.stdout.write(figures.report())
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing stored.")
            return
        model = linkage_model_save(
            trained=trained,
            thresholds=thresholds,
            training_data={
                "source": "guests",
                "active_guests": len(rows),
                "read_at": timezone.now().isoformat(),
                "labelled_figures": figures.as_dict(),
            },
        )
        self.stdout.write(self.style.SUCCESS(f"Stored linkage model v{model.version}."))
