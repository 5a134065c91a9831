"""Train a model on the guest base and choose its thresholds on the labelled set."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from destination.linkage.dedupe import plan_build
from destination.linkage.evaluation import Figures, figures_compute
from destination.linkage.features import features_for
from destination.linkage.model import (
    Thresholds,
    TrainedModel,
    model_train,
    predict,
    thresholds_choose,
)
from destination.linkage.store import model_as_json

LABELLED_MODULE = "tests.destination.data.linkage_people"
# Thresholds at precision 0.999 need thousands of automatic pairs to be stable: the tuning set
# is twice the size of the measured one.
TUNING_ENTITIES = 6000


def labelled_rows(seed: int, entities: int = 3000) -> tuple[Any, list[dict[str, Any]]]:
    """The generated labelled set (kept with the tests, see ``LABELLED_MODULE``)."""

    module = importlib.import_module(LABELLED_MODULE)
    data = module.build(seed=seed, entities=entities)
    return data, [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]


def thresholds_on_labelled(trained: TrainedModel, *, seed: int | None = None) -> Thresholds:

    module = importlib.import_module(LABELLED_MODULE)
    data, rows = labelled_rows(module.TUNING_SEED if seed is None else seed, TUNING_ENTITIES)
    pairs = predict(
        rows,
        settings=trained.settings,
        first_name_counts=trained.first_name_counts,
        tf_tables=trained.tf_tables,
        min_match_weight=-10,
    )
    return thresholds_choose(pairs, data.entity_of())


def figures_on_labelled(
    *,
    settings: dict,
    first_name_counts: dict,
    tf_tables: dict,
    thresholds: Thresholds,
    seed: int | None = None,
) -> Figures:

    module = importlib.import_module(LABELLED_MODULE)
    data, rows = labelled_rows(module.TEST_SEED if seed is None else seed)
    plan = plan_build(
        rows,
        settings=settings,
        first_name_counts=first_name_counts,
        tf_tables=tf_tables,
        thresholds=thresholds,
    )
    return figures_compute(
        entity_of=data.entity_of(),
        cluster_of=plan.cluster_of,
        review_edges=plan.review_edges(),
        hard_kind_of=data.hard_kind_of(),
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
    )
    return model_as_json(
        trained=trained,
        thresholds=thresholds,
        training_data={
            "source": f"{LABELLED_MODULE} seed {module.TUNING_SEED}",
            "records": trained.records,
            "labelled_figures": figures.as_dict(),
        },
    )
