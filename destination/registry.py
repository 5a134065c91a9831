"""Extension points of the shared guest core, for apps added later (bookings, newsletters...).

- Merge: every row pointing at a guest moves to the survivor without any code here; a model
  whose rows could collide with the survivor's under a unique constraint registers a handler
  with ``register_merge_handler`` that moves, drops (recorded, so undo recreates them) or
  adjusts its rows through a ``MergeContext``.
- Export: ``register_guest_exporter(name, fn)`` adds a section to the full GDPR export.
- Erasure: ``register_guest_eraser(fn)`` anonymises an app's rows for a list of guest ids,
  set-based, keeping the non-personal part it needs (accounting).

Register from ``AppConfig.ready()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Any, Literal

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

if TYPE_CHECKING:
    from destination.models import Guest, User
    from partners.models import Partner

Side = Literal["survivor", "merged"]


def model_label(model: type[models.Model]) -> str:
    return model._meta.label


class _ExactJSONEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, keeping microseconds: an undo restores times exactly."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=_ExactJSONEncoder))


def row_serialize(obj: models.Model) -> dict[str, Any]:
    """A JSON-able copy of a row that ``rows_deserialize_save`` saves back, primary key
    included."""
    return _jsonable(serializers.serialize("python", [obj])[0])


def rows_deserialize_save(rows: Sequence[dict[str, Any]]) -> int:
    """Recreate rows serialised by ``row_serialize`` with their original primary keys."""
    count = 0
    for deserialized in serializers.deserialize("python", list(rows)):
        deserialized.save()
        count += 1
    return count


def field_values(obj: models.Model, names: Iterable[str]) -> dict[str, Any]:
    """JSON-able values of some concrete fields (by attname), to record and restore them."""
    by_attname = {f.attname: f for f in obj._meta.concrete_fields}
    result: dict[str, Any] = {}
    for name in names:
        result[name] = _jsonable(by_attname[name].get_prep_value(getattr(obj, name)))
    return result


def field_values_parse(model: type[models.Model], values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of ``field_values``: Python values ready for ``QuerySet.update``."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return {name: by_attname[name].to_python(value) for name, value in values.items()}


@dataclass
class MergeContext:
    """What a merge handler works with, and where it records what it did for the undo.

    - ``moved``: ``{model label: {fk field name: [row ids]}}``, rows now on the survivor.
    - ``dropped``: ``{model label: [serialised rows]}``, duplicates deleted, recreated by undo.
    - ``changed``: ``{side: {model label: [{"id", "before", "after"}]}}``, rows whose fields a
      handler adjusted, on the side that owned them before the merge; undo puts ``before``
      back where the value is still ``after``.
    """

    survivor: Guest
    merged: Guest
    actor: User | None
    partner: Partner | None
    now: datetime
    moved: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    dropped: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: dict[str, dict[str, list[dict[str, Any]]]] = field(
        default_factory=lambda: {"survivor": {}, "merged": {}}
    )

    def move(self, model: type[models.Model], fk_name: str, pks: Iterable[int]) -> int:
        """Point these rows of the merged guest at the survivor (one UPDATE)."""
        ids = sorted(pks)
        if not ids:
            return 0
        count = model._default_manager.filter(pk__in=ids, **{fk_name: self.merged.pk}).update(
            **{fk_name: self.survivor.pk}
        )
        self.moved.setdefault(model_label(model), {}).setdefault(fk_name, []).extend(ids)
        return count

    def drop(self, objs: Iterable[models.Model]) -> int:
        """Delete duplicate rows, keeping a full copy so the undo can recreate them."""
        rows = list(objs)
        if not rows:
            return 0
        model = type(rows[0])
        self.dropped.setdefault(model_label(model), []).extend(row_serialize(o) for o in rows)
        model._default_manager.filter(pk__in=[o.pk for o in rows]).delete()
        return len(rows)

    def change(self, obj: models.Model, *, side: Side, **values: Any) -> None:
        """Update fields of one row (given by attname), recording before/after for the undo."""
        model = type(obj)
        before = field_values(obj, values)
        for name, value in values.items():
            setattr(obj, name, value)
        after = field_values(obj, values)
        if before == after:
            return
        model._default_manager.filter(pk=obj.pk).update(**values)
        self.changed[side].setdefault(model_label(model), []).append(
            {"id": obj.pk, "before": before, "after": after}
        )


# A handler moves (or drops, or adjusts) every row of ``model`` whose ``fk_name`` points at
# ``ctx.merged``. Rows left behind fail the merge's own check.
MergeHandler = Callable[[MergeContext, type[models.Model], str], None]

_merge_handlers: dict[str, MergeHandler] = {}
_guest_exporters: dict[str, Callable[[Guest], list[Any] | dict[str, Any]]] = {}
_guest_erasers: list[Callable[[list[int]], Mapping[str, int] | None]] = []


def register_merge_handler(model: type[models.Model], fn: MergeHandler) -> None:
    """Use ``fn`` instead of the generic move for ``model``'s rows. The undo is generic: it moves
    back ``ctx.moved``, recreates ``ctx.dropped`` and restores ``ctx.changed``."""
    _merge_handlers[model_label(model)] = fn


def merge_handler_for(model: type[models.Model]) -> MergeHandler | None:
    return _merge_handlers.get(model_label(model))


def register_guest_exporter(name: str, fn: Callable[[Guest], list[Any] | dict[str, Any]]) -> None:
    """Add a section ``name`` to the full export; ``fn(guest)`` returns JSON-able data."""
    _guest_exporters[name] = fn


def guest_exporters() -> dict[str, Callable[[Guest], list[Any] | dict[str, Any]]]:
    return dict(_guest_exporters)


def register_guest_eraser(fn: Callable[[list[int]], Mapping[str, int] | None]) -> None:
    """``fn(guest_ids)`` anonymises an app's rows of these guests with set-based statements
    (it runs inside the erasure's transaction) and may return counts for the audit log."""
    if fn not in _guest_erasers:
        _guest_erasers.append(fn)


def guest_erasers() -> list[Callable[[list[int]], Mapping[str, int] | None]]:
    return list(_guest_erasers)
