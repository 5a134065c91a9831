"""The stored, versioned model and the scorer built from it.

``linkage_model_current()`` is the latest version in the table, or, on a base that was never
trained, the model shipped in ``default_model.json`` (trained on the generated labelled set of
``tests/destination/data/linkage_people.py``), so resolution works from the first guest.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.db.models.signals import post_save
from django.utils import timezone

from destination.linkage.model import Thresholds, TrainedModel
from destination.linkage.scorer import Scorer
from destination.models import LinkageModel, User

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.json")


@dataclass(frozen=True)
class CurrentModel:
    version: int  # 0: the shipped default
    settings: dict[str, Any]
    tf_tables: dict[str, dict[str, float]]
    first_name_counts: dict[str, int]
    thresholds: Thresholds

    @property
    def label(self) -> str:
        return f"linkage:v{self.version}"

    def scorer(self) -> Scorer:
        return _scorer_for(self)


def model_as_json(*, trained: TrainedModel, thresholds: Thresholds, training_data: dict) -> str:
    return json.dumps(
        {
            "settings": trained.settings,
            "tf_tables": trained.tf_tables,
            "first_name_counts": trained.first_name_counts,
            "thresholds": thresholds.as_dict(),
            "training_data": training_data,
        },
        indent=1,
        sort_keys=True,
    )


def _default() -> CurrentModel:
    data = json.loads(DEFAULT_MODEL_PATH.read_text())
    return CurrentModel(
        version=0,
        settings=data["settings"],
        tf_tables=data["tf_tables"],
        first_name_counts=data["first_name_counts"],
        thresholds=Thresholds(
            data["thresholds"]["auto_match_weight"], data["thresholds"]["review_match_weight"]
        ),
    )


def linkage_model_current() -> CurrentModel:
    row = LinkageModel.objects.order_by("-version").first()
    if row is None:
        return _default()
    return CurrentModel(
        version=row.version,
        settings=row.model_settings,
        tf_tables=row.tf_tables,
        first_name_counts=row.first_name_counts,
        thresholds=Thresholds(row.auto_match_weight, row.review_match_weight),
    )


@transaction.atomic
def linkage_model_save(
    *,
    trained: TrainedModel,
    thresholds: Thresholds,
    training_data: dict[str, Any],
    actor: User | None = None,
) -> LinkageModel:
    """Store a new version. Earlier versions stay: the merges and suggestions they made keep
    naming them (``detected_by``), and they are never re-decided."""
    # Serialise concurrent retrains on the version number.
    LinkageModel.objects.select_for_update().order_by("-version").first()
    last = LinkageModel.objects.aggregate(v=Max("version"))["v"] or 0
    return LinkageModel.objects.create(
        version=last + 1,
        model_settings=trained.settings,
        tf_tables=trained.tf_tables,
        first_name_counts=trained.first_name_counts,
        auto_match_weight=thresholds.auto_match_weight,
        review_match_weight=thresholds.review_match_weight,
        training_data=training_data,
        trained_at=timezone.now(),
        trained_by=actor,
    )


_cache: dict[int, Scorer] = {}
_lock = threading.Lock()


def _scorer_for(model: CurrentModel) -> Scorer:
    with _lock:
        scorer = _cache.get(model.version)
        if scorer is None or model.version == 0:
            scorer = Scorer(model.settings, model.tf_tables, model.first_name_counts)
            if model.version:
                _cache[model.version] = scorer
        return scorer


# The real-time resolver reads the current model at most once per process and interval: a
# lookup per request would add a query to every resolution. A new version reaches the
# process that stored it at once (post_save) and the others within the interval.
CURRENT_MODEL_TTL = 300.0
_current: tuple[float, CurrentModel] | None = None


def linkage_model_cached() -> CurrentModel:
    global _current

    now = time.monotonic()
    if _current is None or now - _current[0] > CURRENT_MODEL_TTL:
        _current = (now, linkage_model_current())
    return _current[1]


def _forget_current(**_kwargs: Any) -> None:
    global _current
    _current = None


post_save.connect(_forget_current, sender=LinkageModel, dispatch_uid="linkage_model_forget")
