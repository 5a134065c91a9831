"""Train a model on the guest base and choose its thresholds on the labelled set."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from destination.linkage.dedupe import plan_build, plan_from_pairs
from destination.linkage.evaluation import Figures, figures_compute
from destination.linkage.features import features_for
from destination.linkage.model import (
    Thresholds,
    TrainedModel,
    model_train,
    predict,
)
from destination.linkage.store import _default, model_as_json

LABELLED_MODULE = "tests.destination.data.linkage_people"
# Thresholds at precision 0.999 need thousands of automatic pairs to be stable: the tuning set
# is twice the size of the measured one.
TUNING_ENTITIES = 6000


def labelled_rows(seed: int, entities: int = 3000) -> tuple[Any, list[dict[str, Any]]]:
    """The generated labelled set (kept with the tests, see ``LABELLED_MODULE``)."""

    module = importlib.import_module(LABELLED_MODULE)
    data = module.build(seed=seed, entities=entities)
    return data, [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]


# Thresholds are chosen on several tuning sets, never on the measured one (TEST_SEED): the
# large one for stable rare levels, two of the measured set's size (another seed each) so the
# density of namesakes is the one the figures are reported on.
def tuning_sets() -> list[tuple[int, int]]:
    module = importlib.import_module(LABELLED_MODULE)
    seed = module.TUNING_SEED
    return [(seed, TUNING_ENTITIES), (seed + 1, 3000), (seed + 2, 3000)]


MIN_AUTO_PRECISION = 0.999
MIN_REVIEW_PRECISION = 0.7
# Bits added to the lowest automatic threshold meeting the precision on every tuning set.
AUTO_MARGIN = 1.0
_AUTO_GRID = [x / 2 for x in range(8, 41)]  # 4 to 20 bits
_REVIEW_GRID = [x / 2 for x in range(-10, 41)]  # -5 to 20 bits


def _log2_odds(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def thresholds_on_labelled(trained: TrainedModel, *, seed: int | None = None) -> Thresholds:
    """The automatic threshold: the lowest (plus ``AUTO_MARGIN``) at which the clusters of the
    whole plan (merges chain: A-B and B-C put A and C together) are right at least
    ``MIN_AUTO_PRECISION`` of the time on every tuning set; the review threshold: the lowest
    keeping the queue's precision at ``MIN_REVIEW_PRECISION`` on every tuning set."""
    sets = tuning_sets() if seed is None else [(seed, TUNING_ENTITIES)]
    base_prior = _log2_odds(trained.settings["probability_two_random_records_match"])
    scored = []
    for set_seed, entities in sets:
        data, rows = labelled_rows(set_seed, entities)
        # The trained model's weights carry its own base's prior (the chance that two random
        # records are one person, about 1 in the base's size): a tuning set of a few thousand
        # people scored with the prior of a million guests looks seven bits less sure than it
        # is, and thresholds chosen on it would be seven bits too low for that base. Each
        # tuning set's pairs are weighed with its own prior, known from its labels, so a
        # threshold is a match probability. (Rescaling by the sizes alone, as a base without
        # labels is scored, supposes the tuning set as rich in duplicates as the base: the
        # labelled file has twice the duplicates of the 1,000,000-guest benchmark, whose
        # thresholds came out a bit low: 53 wrong automatic pairs there instead of 41.)
        shift = _log2_odds(len(data.true_pairs()) / math.comb(len(rows), 2)) - base_prior
        pairs = [
            replace(p, match_weight=p.match_weight + shift)
            for p in predict(
                rows,
                settings=trained.settings,
                first_name_counts=trained.first_name_counts,
                tf_tables=trained.tf_tables,
                min_match_weight=min(_REVIEW_GRID) - max(shift, 0.0),
            )
        ]
        scored.append((data, {r["unique_id"]: r for r in rows}, pairs))

    def figures_at(auto: float, review: float) -> list[Figures]:
        out = []
        for data, rows_by_id, pairs in scored:
            # As dedupe_guests plans: every cluster checked as a whole against the family rules.
            plan = plan_from_pairs(
                list(rows_by_id),
                pairs,
                thresholds=Thresholds(auto, review),
                rows=rows_by_id,
                first_name_counts=trained.first_name_counts,
            )
            out.append(
                figures_compute(
                    entity_of=data.entity_of(),
                    cluster_of=plan.cluster_of,
                    review_edges=plan.review_edges(),
                    hard_kind_of=data.hard_kind_of(),
                )
            )
        return out

    auto = max(_AUTO_GRID)
    for candidate in sorted(_AUTO_GRID, reverse=True):
        figures = figures_at(candidate, candidate)
        if any(
            f.auto_precision < MIN_AUTO_PRECISION or sum(f.hard_merged.values()) for f in figures
        ):
            break
        auto = candidate
    auto += AUTO_MARGIN
    review = auto
    for candidate in sorted((r for r in _REVIEW_GRID if r < auto), reverse=True):
        if any(f.review_precision < MIN_REVIEW_PRECISION for f in figures_at(auto, candidate)):
            break
        review = candidate
    return Thresholds(auto_match_weight=auto, review_match_weight=review)


def figures_on_labelled(
    *,
    settings: dict,
    first_name_counts: dict,
    tf_tables: dict,
    thresholds: Thresholds,
    trained_records: int | None,
    seed: int | None = None,
) -> Figures:
    """The figures of a model on the labelled test set, scored as ``dedupe_guests`` scores a
    base: with the model's prior rescaled to the set's size."""

    module = importlib.import_module(LABELLED_MODULE)
    data, rows = labelled_rows(module.TEST_SEED if seed is None else seed)
    plan = plan_build(
        rows,
        settings=settings,
        first_name_counts=first_name_counts,
        tf_tables=tf_tables,
        thresholds=thresholds,
        trained_records=trained_records,
    )
    return figures_compute(
        entity_of=data.entity_of(),
        cluster_of=plan.cluster_of,
        review_edges=plan.review_edges(),
        hard_kind_of=data.hard_kind_of(),
    )


def shipped_model_figures(*, seed: int | None = None) -> Figures:
    """The figures of the shipped default model (``store.DEFAULT_MODEL_PATH``) on the labelled
    test set (``TEST_SEED``) or another seed of it."""
    model = _default()
    return figures_on_labelled(
        settings=model.settings,
        first_name_counts=model.first_name_counts,
        tf_tables=model.tf_tables,
        thresholds=model.thresholds,
        trained_records=model.trained_records,
        seed=seed,
    )


def iter_progress(items: list, *, label: str, write: Callable[[str], None]) -> Iterator:
    """A plain progress bar for management commands (no extra dependency)."""
    total = len(items) or 1
    step = max(1, total // 20)
    for i, item in enumerate(items, 1):
        if i % step == 0 or i == total:
            done = i * 20 // total
            write(f"\r{label} [{'#' * done}{'.' * (20 - done)}] {i}/{total}")
        yield item
    write("\n")


def default_model_build() -> str:
    """The shipped ``default_model.json``: trained on the labelled tuning set as if it were a
    guest base (no labels used for m and u), thresholds chosen on the same set. Rebuild with
    ``python -c "...; print(default_model_build())" > destination/linkage/default_model.json``.
    """

    module = importlib.import_module(LABELLED_MODULE)
    _data, rows = labelled_rows(module.TUNING_SEED, TUNING_ENTITIES)
    trained = model_train(rows)
    thresholds = thresholds_on_labelled(trained)
    figures = figures_on_labelled(
        settings=trained.settings,
        first_name_counts=trained.first_name_counts,
        tf_tables=trained.tf_tables,
        thresholds=thresholds,
        trained_records=trained.records,
    )
    return model_as_json(
        trained=trained,
        thresholds=thresholds,
        training_data={
            "source": f"{LABELLED_MODULE} seed {module.TUNING_SEED}",
            "thresholds_chosen_on": [
                f"{LABELLED_MODULE} seed {seed}, {entities} people"
                for seed, entities in tuning_sets()
            ],
            "measured_on": f"{LABELLED_MODULE} seed {module.TEST_SEED} (TEST_SEED), 3000 people",
            "records": trained.records,
            "labelled_figures": figures.as_dict(),
        },
    )
