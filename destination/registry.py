"""Extension points of the shared guest core, for apps added later (bookings, newsletters...).

- Merge: every row pointing at a guest moves to the survivor without any code here; a model
  whose rows could collide with the survivor's under a unique constraint registers a handler
  with ``register_merge_handler`` that moves, drops (recorded, so undo recreates them) or
  adjusts its rows through a ``MergeContext``.
- Export: ``register_guest_exporter(name, fn)`` adds a section to the full GDPR export
  (``after=`` places it after a core section); ``register_partner_export(fn)`` builds the
  partner-scoped export (what one partner may see), which the core cannot know.
- Erasure: ``register_guest_eraser(fn)`` anonymises an app's rows for a list of guest ids,
  set-based, keeping the non-personal part it needs (accounting);
  ``register_guest_erasure_counter(name, fn)`` adds per-guest counts to each ERASE audit row.
- Demo: ``register_demo_seeder(name, fn, order=...)`` adds a step to ``manage.py seed_demo``
  (an app's part of the demo: partners and staff, interactions, bookings), with the lines it
  adds to the summary.
- Site: ``register_signup_form(fn)`` renders the newsletter signup form for the content pages
  (footer, signup block), which cannot import the app that owns the signup.
- Staff: ``register_export_partner(fn)`` says for which partner a staff member acts in the GDPR
  export pages (the core alone only lets superusers in); ``register_staff_home(fn)`` says where a
  staff member lands after signing in.

Register from ``AppConfig.ready()``. Where no app registered a hook, the core behaves as if it
were alone: no extra section, no partner-scoped export, superusers only.
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
    from django.http import HttpRequest

    from destination.models import Guest, User
    from partners.models import Partner  # types only: see destination/__init__.py

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
    row: dict[str, Any] = _jsonable(serializers.serialize("python", [obj])[0])
    return row


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
GuestExporter = Callable[["Guest"], list[Any] | dict[str, Any]]
GuestEraser = Callable[[list[int]], Mapping[str, int] | None]
# ``fn(guest_ids)`` -> {guest id: number of rows}, counted before the erasure.
ErasureCounter = Callable[[list[int]], Mapping[int, int]]
# ``fn(guest, partner)`` -> the sections of a partner-scoped export.
PartnerExport = Callable[["Guest", "Partner"], dict[str, Any]]
# ``fn(request)`` -> the partner a non-superuser acts for; raises PermissionDenied otherwise.
ExportPartner = Callable[["HttpRequest"], "Partner"]
# ``fn(user)`` -> the URL a staff member lands on after signing in, or None.
StaffHome = Callable[["User"], str | None]
# ``fn(request=..., variant=..., auto_id=..., page_id=...)`` -> the signup form's HTML (safe).
SignupForm = Callable[..., str]

# ``fn(seeder)`` seeds an app's part of the demo; ``seeder`` is the command's DemoSeeder (rng,
# partners, managers, agents, guest_of_record...). ``summary(seeder)`` -> summary lines.
DemoSeed = Callable[[Any], None]
DemoSummary = Callable[[Any], Mapping[str, Any]]


@dataclass(frozen=True)
class DemoStep:
    name: str
    seed: DemoSeed
    order: int
    summary: DemoSummary | None = None


_guest_exporters: dict[str, GuestExporter] = {}
_guest_exporters_after: dict[str, str] = {}
_guest_erasers: list[GuestEraser] = []
_guest_erasure_counters: dict[str, ErasureCounter] = {}
_hooks: dict[str, Callable[..., Any]] = {}
_demo_steps: dict[str, DemoStep] = {}


def register_merge_handler(model: type[models.Model], fn: MergeHandler) -> None:
    """Use ``fn`` instead of the generic move for ``model``'s rows. The undo is generic: it moves
    back ``ctx.moved``, recreates ``ctx.dropped`` and restores ``ctx.changed``."""
    _merge_handlers[model_label(model)] = fn


def merge_handler_for(model: type[models.Model]) -> MergeHandler | None:
    return _merge_handlers.get(model_label(model))


def register_guest_exporter(name: str, fn: GuestExporter, *, after: str | None = None) -> None:
    """Add a section ``name`` to the full export; ``fn(guest)`` returns JSON-able data. The
    section comes after the core section ``after`` (and the sections registered there before
    it), or at the end."""
    _guest_exporters[name] = fn
    if after is not None:
        _guest_exporters_after[name] = after


def guest_exporters() -> dict[str, GuestExporter]:
    return dict(_guest_exporters)


def guest_export_sections_place(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (core sections, then registered ones) reordered so that each registered section
    placed with ``after=`` follows its core section."""
    following: dict[str, list[str]] = {}
    for name, after in _guest_exporters_after.items():
        if name in data and after in data:
            following.setdefault(after, []).append(name)
    placed = {n for names in following.values() for n in names}
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in placed:
            continue
        result[key] = value
        for name in following.get(key, []):
            result[name] = data[name]
    return result


def register_guest_eraser(fn: GuestEraser) -> None:
    """``fn(guest_ids)`` anonymises an app's rows of these guests with set-based statements
    (it runs inside the erasure's transaction) and may return counts for the audit log."""
    if fn not in _guest_erasers:
        _guest_erasers.append(fn)


def guest_erasers() -> list[GuestEraser]:
    return list(_guest_erasers)


def register_guest_erasure_counter(name: str, fn: ErasureCounter) -> None:
    """``fn(guest_ids)`` counts an app's rows per guest before they are erased: each guest's
    ERASE audit row lists it under ``removed[name]``."""
    _guest_erasure_counters[name] = fn


def guest_erasure_counters() -> dict[str, ErasureCounter]:
    return dict(_guest_erasure_counters)


def register_partner_export(fn: PartnerExport) -> None:
    """``fn(guest, partner)``: the sections of the export scoped to what ``partner`` may see."""
    _hooks["partner_export"] = fn


def partner_export() -> PartnerExport | None:
    return _hooks.get("partner_export")


def register_export_partner(fn: ExportPartner) -> None:
    """``fn(request)``: the partner a signed-in staff member (not a superuser) exports for in
    the GDPR pages; it raises PermissionDenied when there is none or it may not export."""
    _hooks["export_partner"] = fn


def export_partner() -> ExportPartner | None:
    return _hooks.get("export_partner")


def register_staff_home(fn: StaffHome) -> None:
    """``fn(user)``: where a staff member lands after signing in, or None for the default."""
    _hooks["staff_home"] = fn


def staff_home() -> StaffHome | None:
    return _hooks.get("staff_home")


def register_signup_form(fn: SignupForm) -> None:
    """``fn(request=, variant=, auto_id=, page_id=)``: the HTML of an empty newsletter signup
    form ("footer" or "block" variant, field ids from ``auto_id``, the page it sits on)."""
    _hooks["signup_form"] = fn


def signup_form() -> SignupForm | None:
    return _hooks.get("signup_form")


def register_demo_seeder(
    name: str, fn: DemoSeed, *, order: int, summary: DemoSummary | None = None
) -> None:
    """``fn(seeder)`` runs as step ``name`` of ``seed_demo``, the steps sorted by ``order``
    (the core's: destination 10, wordings 30, guests 40, households 50, interests 60,
    consents 70, reviews 90); ``summary(seeder)`` adds lines to the summary, in step order,
    the core's lines standing at 40."""
    _demo_steps[name] = DemoStep(name=name, seed=fn, order=order, summary=summary)


def demo_seeders() -> list[DemoStep]:
    return sorted(_demo_steps.values(), key=lambda step: step.order)
