"""The stored, versioned model and the scorer built from it.

``linkage_model_current()`` is the latest version in the table, or, on a base that was never
trained, the model shipped in ``default_model.json`` (trained on the generated labelled set of
``tests/destination/data/linkage_people.py``), so resolution works from the first guest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.db.models.signals import post_save
from django.utils import timezone

from destination.linkage.model import Thresholds, TrainedModel, prior_for_base
from destination.linkage.scorer import Scorer, settings_match_comparisons
from destination.models import Guest, LinkageModel, User

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.json")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurrentModel:
    version: int  # 0: the shipped default
    settings: dict[str, Any]
    tf_tables: dict[str, dict[str, float]]
    first_name_counts: dict[str, int]
    thresholds: Thresholds
    # The size of the base the model was trained on: a whole-base run rescales the prior to
    # the base it cleans (``model.prior_for_base``). None for a version stored without it.
    trained_records: int | None = None
    # The base the real-time resolver scores against (active guests, read with the model by
    # ``linkage_model_cached``): its scorer has the prior of that base, as a whole-base run
    # has the prior of the rows it reads, so an import, a booking and dedupe_guests agree.
    base_records: int | None = None

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
        trained_records=data["training_data"].get("records"),
    )


def linkage_model_current() -> CurrentModel:
    """The latest stored version this code can score with, else the shipped default. A version
    trained before a comparison level was added (an upgrade) is set aside with a warning, never
    a failed resolution: run ``linkage_train`` to store one for the new comparisons."""
    row = LinkageModel.objects.order_by("-version").first()
    if row is not None and not settings_match_comparisons(row.model_settings):
        logger.warning(
            "linkage model v%s was trained with other comparisons than this code's: it is set "
            "aside (run manage.py linkage_train)",
            row.version,
        )
        row = next(
            (
                r
                for r in LinkageModel.objects.order_by("-version")[1:]
                if settings_match_comparisons(r.model_settings)
            ),
            None,
        )
    if row is None:
        return _default()
    return CurrentModel(
        version=row.version,
        settings=row.model_settings,
        tf_tables=row.tf_tables,
        first_name_counts=row.first_name_counts,
        thresholds=Thresholds(row.auto_match_weight, row.review_match_weight),
        # Versions stored before the size was recorded named their guests' count.
        trained_records=(row.training_data or {}).get("records")
        or (row.training_data or {}).get("active_guests"),
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
        # The training base's size goes with the model: a whole-base run rescales the prior.
        training_data={**training_data, "records": trained.records},
        trained_at=timezone.now(),
        trained_by=actor,
    )


# Version -> (the base size its prior was rescaled to, the scorer).
_cache: dict[int, tuple[int | None, Scorer]] = {}
_lock = threading.Lock()


def _scorer_for(model: CurrentModel) -> Scorer:
    with _lock:
        cached = _cache.get(model.version)
        if cached is not None and cached[0] == model.base_records:
            return cached[1]
        settings = model.settings
        if model.base_records is not None:
            settings = prior_for_base(
                settings, trained_records=model.trained_records, records=model.base_records
            )
        scorer = Scorer(settings, model.tf_tables, model.first_name_counts)
        # The shipped default (version 0) is rebuilt each time: it is cheap, and callers may
        # adjust its lookups (tests do) without touching another's.
        if model.version:
            _cache[model.version] = (model.base_records, scorer)
        return scorer


# The real-time resolver reads the current model, and the size of the base it scores against,
# at most once per process and interval: a lookup per request would add queries to every
# resolution. A new version reaches the process that stored it at once (post_save) and the
# others within the interval; the base's size is at most an interval old (a base that doubles
# in five minutes moves the prior by one bit).
CURRENT_MODEL_TTL = 300.0
_current: tuple[float, CurrentModel] | None = None


def linkage_model_cached() -> CurrentModel:
    global _current

    now = time.monotonic()
    if _current is None or now - _current[0] > CURRENT_MODEL_TTL:
        base = Guest.objects.filter(status=Guest.Status.ACTIVE).count()
        _current = (now, replace(linkage_model_current(), base_records=base))
    return _current[1]


def _forget_current(**_kwargs: Any) -> None:
    global _current
    _current = None


post_save.connect(_forget_current, sender=LinkageModel, dispatch_uid="linkage_model_forget")
