"""Merging two guest profiles of one person, and undoing it.

Every row pointing at the merged guest moves to the survivor. The rows are found by
introspection (every foreign key to ``Guest`` of every installed model, M2M tables included), so
the rows of apps added later move without a change here. A model whose rows may collide with
the survivor's under a unique constraint gets a handler in ``destination.registry``; models with
plain unique constraints on the guest are handled generically (the duplicate is dropped and
recorded). What a merge did is stored on ``GuestMerge`` so ``guest_merge_undo`` can put it back:

- ``moved``: ``{model label: {fk field: [ids]}}``; ``dropped``: ``{model label: [rows]}``;
- ``survivor_before`` / ``merged_before``: ``{"fields": {...}, "consent_states": [...],
  "changed_rows": {model label: [{"id", "before", "after"}]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from destination.models import (
    AuditEntry,
    ConsentProof,
    ConsentState,
    Guest,
    GuestEmail,
    GuestMerge,
    GuestPhone,
    PossibleDuplicate,
    TimelineEvent,
    User,
)
from destination.normalize import fold_name
from destination.registry import (
    MergeContext,
    field_values,
    field_values_parse,
    merge_handler_for,
    model_label,
    register_merge_handler,
    rows_deserialize_save,
)
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.resolution import match_keys_refresh
from destination.services.timeline import timeline_add

if TYPE_CHECKING:
    from partners.models import Partner  # types only

FieldChoice = Literal["survivor", "merged"]

# Profile fields a human picks between when the two guests disagree.
MERGE_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "language",
    "country",
    "birth_date",
    "household",
)
_GUEST_SNAPSHOT = (
    "first_name",
    "last_name",
    "name_folded",
    "language",
    "country",
    "birth_date",
    "household_id",
    "last_contact_at",
)
# Relations that stay on the merged guest by design: the record's own history, the merges
# themselves and the chain of earlier merges (followed by guest_resolve_id).
MERGE_EXCLUDED: frozenset[tuple[str, str]] = frozenset(
    {
        ("destination.AuditEntry", "guest"),
        ("destination.GuestMerge", "survivor"),
        ("destination.GuestMerge", "merged"),
        ("destination.Guest", "merged_into"),
    }
)
# Only OPEN pairs of possible duplicates move; decided pairs stay as history.
_MAY_STAY_ON_MERGED = frozenset({"destination.PossibleDuplicate"})
# A grant made by the person themselves can override an older withdrawal in a merge.
PERSONAL_PROOF_METHODS = frozenset(
    {
        ConsentProof.Method.FORM,
        ConsentProof.Method.DESK,
        ConsentProof.Method.API,
        ConsentProof.Method.EMAIL_LINK,
    }
)


# --- Reads ----------------------------------------------------------------------------------


def guest_resolve_id(guest_id: int) -> Guest:
    """The guest an id stands for today: follows ``merged_into`` to the final survivor, so links
    to a merged guest keep working. Raises ``Guest.DoesNotExist`` for an unknown id."""
    guest = Guest.objects.get(pk=guest_id)
    seen = {guest.pk}
    while guest.merged_into_id is not None:
        if guest.merged_into_id in seen:
            raise GuestError(_("Guest #%(id)s is part of a merge loop.") % {"id": guest_id})
        seen.add(guest.merged_into_id)
        guest = Guest.objects.get(pk=guest.merged_into_id)
    return guest


def guest_relations() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every foreign key to ``Guest`` in every installed model, auto-created M2M tables (tags)
    and hidden relations (``related_name="+"``) included: a superset of
    ``Guest._meta.related_objects``."""
    found: list[tuple[type[models.Model], models.ForeignKey]] = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy:
            continue
        for fk in model._meta.local_concrete_fields:
            if isinstance(fk, models.ForeignKey) and fk.related_model is Guest:
                found.append((model, fk))
    return found


def guest_relations_to_move() -> list[tuple[type[models.Model], models.ForeignKey]]:
    return [
        (model, fk)
        for model, fk in guest_relations()
        if (model_label(model), fk.name) not in MERGE_EXCLUDED
    ]


# --- Merge ----------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


def _field_choices_resolve(
    survivor: Guest, merged: Guest, field_choices: Mapping[str, str] | None
) -> dict[str, FieldChoice]:
    given = dict(field_choices or {})
    unknown = sorted(set(given) - set(MERGE_FIELDS))
    if unknown:
        raise GuestError(
            _("These fields cannot be chosen in a merge: %(fields)s.")
            % {"fields": ", ".join(unknown)}
        )
    choices: dict[str, FieldChoice] = {}
    for name in MERGE_FIELDS:
        attname = Guest._meta.get_field(name).attname
        choice = given.get(name)
        if choice is None:
            keep_survivor = not _is_empty(getattr(survivor, attname)) or _is_empty(
                getattr(merged, attname)
            )
            choice = "survivor" if keep_survivor else "merged"
        if choice not in ("survivor", "merged"):
            raise GuestError(_("Choose “survivor” or “merged” for %(field)s.") % {"field": name})
        choices[name] = choice  # type: ignore[assignment]
    return choices


def _consent_states_snapshot(guest: Guest) -> list[dict[str, Any]]:
    return [
        {
            "purpose": purpose,
            "partner_id": partner_id,
            "channel": channel,
            "granted": granted,
            "event_id": event_id,
        }
        for purpose, partner_id, channel, granted, event_id in ConsentState.objects.filter(
            guest=guest
        )
        .order_by("purpose", "partner_id", "channel")
        .values_list("purpose", "partner_id", "channel", "granted", "event_id")
    ]


def _locked_pair(first_id: int, second_id: int) -> dict[int, Guest]:
    """Both guests, locked in id order so two merges of overlapping pairs cannot deadlock."""
    return {
        guest.pk: guest
        for guest in Guest.objects.select_for_update()
        .filter(pk__in=[first_id, second_id])
        .order_by("pk")
    }


def _refuse_unmergeable(guest: Guest) -> None:
    if guest.status == Guest.Status.ERASED:
        raise GuestError(
            _("Guest #%(id)s has been erased and cannot be merged.") % {"id": guest.pk}
        )
    if guest.status == Guest.Status.MERGED:
        survivor = guest_resolve_id(guest.pk)
        raise GuestError(
            _(
                "Guest #%(id)s was already merged into guest #%(survivor)s: "
                "merge with that guest instead."
            )
            % {"id": guest.pk, "survivor": survivor.pk}
        )


@transaction.atomic
def guest_merge(
    *,
    survivor: Guest,
    merged: Guest,
    field_choices: Mapping[str, FieldChoice] | None = None,
    actor: User | None,
    partner: Partner | None = None,
) -> GuestMerge:
    """Merge ``merged`` into ``survivor``: every related row moves to the survivor, the merged
    guest stays as a MERGED row pointing to it (its id keeps resolving) and the merge is recorded
    with what ``guest_merge_undo`` needs."""
    if survivor.pk == merged.pk:
        raise GuestError(_("A guest cannot be merged with itself."))
    locked = _locked_pair(survivor.pk, merged.pk)
    if len(locked) != 2:
        raise GuestError(_("One of the guests to merge does not exist."))
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    _refuse_unmergeable(merged)
    _refuse_unmergeable(survivor)
    choices = _field_choices_resolve(survivor, merged, field_choices)
    if actor is not None and not actor.is_authenticated:
        actor = None

    survivor_before: dict[str, Any] = {
        "fields": field_values(survivor, _GUEST_SNAPSHOT),
        "consent_states": _consent_states_snapshot(survivor),
    }
    merged_before: dict[str, Any] = {
        "fields": field_values(merged, _GUEST_SNAPSHOT),
        "consent_states": _consent_states_snapshot(merged),
    }
    now = timezone.now()
    ctx = MergeContext(survivor=survivor, merged=merged, actor=actor, partner=partner, now=now)
    for model, fk in guest_relations_to_move():
        handler = merge_handler_for(model) or merge_rows_generic
        handler(ctx, model, fk.name)
    for model, fk in guest_relations_to_move():
        if model_label(model) in _MAY_STAY_ON_MERGED:
            continue
        if model._default_manager.filter(**{fk.name: merged.pk}).exists():
            raise ImproperlyConfigured(
                f"The merge left {model_label(model)} rows on guest {merged.pk}: "
                "its merge handler must move or drop them."
            )
    survivor_before["changed_rows"] = ctx.changed["survivor"]
    merged_before["changed_rows"] = ctx.changed["merged"]

    for name, choice in choices.items():
        if choice == "merged":
            attname = Guest._meta.get_field(name).attname
            setattr(survivor, attname, getattr(merged, attname))
    survivor.name_folded = fold_name(survivor.first_name, survivor.last_name)
    contacts = [d for d in (survivor.last_contact_at, merged.last_contact_at) if d is not None]
    survivor.last_contact_at = max(contacts) if contacts else None
    survivor.save()
    merged.status = Guest.Status.MERGED
    merged.merged_into = survivor
    merged.merged_at = now
    merged.save(update_fields=["status", "merged_into", "merged_at", "updated_at"])

    merge = GuestMerge.objects.create(
        survivor=survivor,
        merged=merged,
        merged_by=actor,
        acting_partner=partner,
        field_choices=choices,
        survivor_before=survivor_before,
        merged_before=merged_before,
        moved=ctx.moved,
        dropped=ctx.dropped,
    )
    counts = {label: sum(len(ids) for ids in by_fk.values()) for label, by_fk in ctx.moved.items()}
    dropped_counts = {label: len(rows) for label, rows in ctx.dropped.items()}
    for guest, role, other in ((survivor, "survivor", merged), (merged, "merged", survivor)):
        audit_log(
            guest=guest,
            action=AuditEntry.Action.MERGE,
            actor=actor,
            partner=partner,
            details={
                "merge_id": merge.pk,
                "role": role,
                "other_guest_id": other.pk,
                "field_choices": choices,
                "moved": counts,
                "dropped": dropped_counts,
            },
        )
    timeline_add(
        guest=survivor,
        kind=TimelineEvent.Kind.MERGE,
        occurred_at=now,
        title=_stored_text(gettext_lazy("Guest #%(id)s merged into this profile"), id=merged.pk),
        partner=partner,
        data={"merge_id": merge.pk, "merged_id": merged.pk},
        source=merge,
    )
    _match_keys_refresh([survivor.pk, merged.pk])
    return merge


def _stored_text(message: str, **params: Any) -> str:
    """Text stored on the timeline, in the destination's default language."""
    with override(settings.LANGUAGE_CODE):
        return str(message) % params


def _match_keys_refresh(guest_ids: list[int]) -> None:
    match_keys_refresh(guest_ids)


# --- Handlers -------------------------------------------------------------------------------


def _unique_sets(model: type[models.Model], fk_name: str) -> list[tuple[str, ...]]:
    """For each unconditional unique constraint including the guest FK: the other columns."""
    opts = model._meta
    fk = opts.get_field(fk_name)
    sets: list[tuple[str, ...]] = []
    if fk.unique:
        sets.append(())
    groups: list[tuple[str, ...]] = [tuple(group) for group in opts.unique_together]
    for constraint in opts.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or not constraint.fields:
            continue
        if fk_name not in constraint.fields and fk.attname not in constraint.fields:
            continue
        if constraint.condition is not None:
            raise ImproperlyConfigured(
                f"{model_label(model)} has a conditional unique constraint on the guest "
                f"({constraint.name}): register a merge handler for it in destination.registry."
            )
        groups.append(tuple(constraint.fields))
    for group in groups:
        if fk_name in group or fk.attname in group:
            sets.append(
                tuple(
                    opts.get_field(name).attname
                    for name in group
                    if name not in (fk_name, fk.attname)
                )
            )
    return sets


def merge_rows_generic(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    """Move every row; a row that would duplicate one of the survivor's under a unique
    constraint is dropped (and recorded) instead."""
    manager = model._default_manager
    unique_sets = _unique_sets(model, fk_name)
    if not unique_sets:
        ctx.move(
            model, fk_name, manager.filter(**{fk_name: ctx.merged.pk}).values_list("pk", flat=True)
        )
        return
    taken: list[set[tuple[Any, ...]]] = []
    for others in unique_sets:
        survivor_rows = manager.filter(**{fk_name: ctx.survivor.pk})
        if others:
            taken.append(set(survivor_rows.values_list(*others)))
        else:
            taken.append({()} if survivor_rows.exists() else set())
    to_move: list[int] = []
    to_drop: list[models.Model] = []
    for row in manager.filter(**{fk_name: ctx.merged.pk}).order_by("pk"):
        keys = [tuple(getattr(row, name) for name in others) for others in unique_sets]
        if any(key in seen for key, seen in zip(keys, taken, strict=True)):
            to_drop.append(row)
            continue
        to_move.append(row.pk)
        for key, seen in zip(keys, taken, strict=True):
            seen.add(key)
    ctx.drop(to_drop)
    ctx.move(model, fk_name, to_move)


def _merge_contact_points(
    ctx: MergeContext, model: type[models.Model], fk_name: str, key: str
) -> None:
    """Emails and phones: one row per value and one primary per guest. A duplicate value is
    dropped (its verification carried over); the merged guest's primary stays primary only
    when the survivor has none."""
    manager = model._default_manager
    kept_rows = {
        str(getattr(row, key)): row for row in manager.filter(**{fk_name: ctx.survivor.pk})
    }
    has_primary = any(row.is_primary for row in kept_rows.values())  # type: ignore[attr-defined]
    to_move: list[int] = []
    to_drop: list[models.Model] = []
    for row in manager.filter(**{fk_name: ctx.merged.pk}).order_by("-is_primary", "pk"):
        kept = kept_rows.get(str(getattr(row, key)))
        if kept is not None:
            if getattr(row, "verified_at", None) and not getattr(kept, "verified_at", None):
                ctx.change(kept, side="survivor", verified_at=row.verified_at)  # type: ignore[attr-defined]
            if row.is_primary and not has_primary:  # type: ignore[attr-defined]
                ctx.change(kept, side="survivor", is_primary=True)
                has_primary = True
            to_drop.append(row)
            continue
        if row.is_primary:  # type: ignore[attr-defined]
            if has_primary:
                ctx.change(row, side="merged", is_primary=False)
            has_primary = True
        to_move.append(row.pk)
    ctx.drop(to_drop)
    ctx.move(model, fk_name, to_move)


def _merge_emails(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    _merge_contact_points(ctx, model, fk_name, "email_normalized")


def _merge_phones(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    _merge_contact_points(ctx, model, fk_name, "phone")


def consent_grant_overrides(*, grant: ConsentState, withdrawal: ConsentState) -> bool:
    """In a merge the stricter state wins, unless the person themselves granted it (a form, a
    desk, the API, a link in an email; not an import or the system) after the withdrawal."""
    proof = grant.event.proof
    return (
        proof.method in PERSONAL_PROOF_METHODS
        and proof.occurred_at > withdrawal.event.proof.occurred_at
    )


def _scope(state: ConsentState) -> tuple[str, int | None, str]:
    return (state.purpose, state.partner_id, state.channel)


def _merge_consent_states(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    """A merge never makes consent more permissive. Per scope (purpose, partner, channel): one
    side only carries over; the same answer keeps the survivor's; when they disagree the
    withdrawal wins unless ``consent_grant_overrides``. The ledger rows move with the generic
    handler, so every state still points at an event of the survivor."""
    states = ConsentState.objects.select_related("event__proof")
    kept_states = {_scope(s): s for s in states.filter(guest_id=ctx.survivor.pk)}
    to_move: list[int] = []
    to_drop: list[ConsentState] = []
    for state in states.filter(guest_id=ctx.merged.pk).order_by("pk"):
        kept = kept_states.get(_scope(state))
        if kept is None:
            to_move.append(state.pk)
        elif kept.granted == state.granted:
            to_drop.append(state)
        else:
            grant, withdrawal = (kept, state) if kept.granted else (state, kept)
            winner = (
                grant if consent_grant_overrides(grant=grant, withdrawal=withdrawal) else withdrawal
            )
            if winner is kept:
                to_drop.append(state)
            else:
                to_drop.append(kept)
                to_move.append(state.pk)
    # Drop first: a moved state takes the place of the survivor's it replaces.
    ctx.drop(to_drop)
    ctx.move(model, fk_name, to_move)


def _merge_possible_duplicates(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    """The pair of the two guests is decided (MERGED); the merged guest's other OPEN pairs are
    repointed to the survivor (ordered a < b), dropping those the survivor already has.
    Decided pairs stay on the merged guest as history."""
    other_fk = "guest_b" if fk_name == "guest_a" else "guest_a"
    for pair in PossibleDuplicate.objects.filter(**{fk_name: ctx.merged.pk}).order_by("pk"):
        other_id = getattr(pair, f"{other_fk}_id")
        if other_id == ctx.survivor.pk:
            ctx.change(
                pair,
                side="merged",
                status=PossibleDuplicate.Status.MERGED,
                resolved_by_id=ctx.actor.pk if ctx.actor else None,
                resolved_at=ctx.now,
            )
            continue
        if pair.status != PossibleDuplicate.Status.OPEN:
            continue
        low, high = sorted((ctx.survivor.pk, other_id))
        if PossibleDuplicate.objects.filter(guest_a_id=low, guest_b_id=high).exists():
            ctx.drop([pair])
        else:
            ctx.change(pair, side="merged", guest_a_id=low, guest_b_id=high)


register_merge_handler(GuestEmail, _merge_emails)
register_merge_handler(GuestPhone, _merge_phones)
register_merge_handler(ConsentState, _merge_consent_states)
register_merge_handler(PossibleDuplicate, _merge_possible_duplicates)


# --- Undo -----------------------------------------------------------------------------------


def _restore_changed_rows(changed_rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """Put back the values a handler changed, where nobody changed them again since."""
    for label, changes in changed_rows.items():
        model = apps.get_model(label)
        for change in changes:
            row = model._default_manager.filter(pk=change["id"]).first()
            if row is None:
                continue
            current = field_values(row, change["after"])
            restore = {
                name: value
                for name, value in change["before"].items()
                if current.get(name) == change["after"].get(name)
            }
            if restore:
                model._default_manager.filter(pk=row.pk).update(
                    **field_values_parse(model, restore)
                )


def _consent_states_restore(*, merge: GuestMerge, survivor: Guest, merged: Guest) -> None:
    """Recompute both guests' consent states: each gets back its states from before the merge,
    except scopes where the survivor's state changed since (a consent recorded after the merge
    on its own ledger), which it keeps."""
    since = ConsentState.objects.filter(
        guest=survivor, event__guest=survivor, event__created_at__gt=merge.created_at
    )
    recent = {(s.purpose, s.partner_id, s.channel): (s.granted, s.event_id) for s in since}
    ConsentState.objects.filter(guest__in=[survivor, merged]).delete()
    rows: list[ConsentState] = []
    for guest, before in ((survivor, merge.survivor_before), (merged, merge.merged_before)):
        states = {
            (s["purpose"], s["partner_id"], s["channel"]): (s["granted"], s["event_id"])
            for s in before.get("consent_states", [])
        }
        if guest is survivor:
            states.update(recent)
        rows.extend(
            ConsentState(
                guest=guest,
                purpose=purpose,
                partner_id=partner_id,
                channel=channel,
                granted=granted,
                event_id=event_id,
            )
            for (purpose, partner_id, channel), (granted, event_id) in states.items()
        )
    ConsentState.objects.bulk_create(rows)


def _survivor_fields_after(merge: GuestMerge) -> dict[str, Any]:
    """The survivor's fields as the merge left them (in their recorded JSON form)."""
    before, other = merge.survivor_before["fields"], merge.merged_before["fields"]
    after = dict(before)
    for name, choice in merge.field_choices.items():
        if choice == "merged":
            attname = Guest._meta.get_field(name).attname
            after[attname] = other[attname]
    contacts = [
        field_values_parse(Guest, {"last_contact_at": fields["last_contact_at"]})["last_contact_at"]
        for fields in (before, other)
    ]
    contacts = [d for d in contacts if d is not None]
    probe = Guest(last_contact_at=max(contacts) if contacts else None)
    after["last_contact_at"] = field_values(probe, ["last_contact_at"])["last_contact_at"]
    after["name_folded"] = fold_name(after["first_name"], after["last_name"])
    return after


def _guest_fields_restore(
    guest: Guest, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Restore the fields the merge set, unless they were edited since."""
    current = field_values(guest, before)
    restore = {
        name: value for name, value in before.items() if current.get(name) == after.get(name)
    }
    for name, value in field_values_parse(Guest, restore).items():
        setattr(guest, name, value)


@transaction.atomic
def guest_merge_undo(*, merge: GuestMerge, actor: User | None) -> None:
    """Undo a merge: the merged guest is ACTIVE again with its fields, exactly the rows that
    moved go back, the dropped duplicates are recreated, the survivor's fields are restored and
    both guests' consent states recomputed. Refused once undone, or when a later merge
    involves either guest."""
    merge = GuestMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise GuestError(_("This merge has already been undone."))
    locked = _locked_pair(merge.survivor_id, merge.merged_id)
    survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
    for guest in (survivor, merged):
        if guest.status == Guest.Status.ERASED or guest.erased_at is not None:
            raise GuestError(
                _("Guest #%(id)s has been erased: the merge cannot be undone.") % {"id": guest.pk}
            )
    ids = [survivor.pk, merged.pk]
    later = (
        GuestMerge.objects.filter(pk__gt=merge.pk, undone_at__isnull=True)
        .filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids))
        .order_by("pk")
        .first()
    )
    if later is not None:
        raise GuestError(
            _(
                "A later merge (guest #%(merged)s into guest #%(survivor)s) involves these guests: undo it first."
            )
            % {"merged": later.merged_id, "survivor": later.survivor_id}
        )
    if merged.status != Guest.Status.MERGED or merged.merged_into_id != survivor.pk:
        raise GuestError(_("This merge no longer matches the guests: it cannot be undone."))
    if actor is not None and not actor.is_authenticated:
        actor = None

    consent_label = model_label(ConsentState)
    for label, by_fk in merge.moved.items():
        if label == consent_label:
            continue
        model = apps.get_model(label)
        for fk_name, pks in by_fk.items():
            model._default_manager.filter(pk__in=pks, **{fk_name: survivor.pk}).update(
                **{fk_name: merged.pk}
            )
    _restore_changed_rows(merge.merged_before.get("changed_rows", {}))
    _restore_changed_rows(merge.survivor_before.get("changed_rows", {}))
    for label, rows in merge.dropped.items():
        if label != consent_label:
            rows_deserialize_save(rows)
    _consent_states_restore(merge=merge, survivor=survivor, merged=merged)

    survivor_after = _survivor_fields_after(merge)
    _guest_fields_restore(survivor, merge.survivor_before["fields"], survivor_after)
    survivor.name_folded = fold_name(survivor.first_name, survivor.last_name)
    survivor.save()
    for name, value in field_values_parse(Guest, merge.merged_before["fields"]).items():
        setattr(merged, name, value)
    merged.status = Guest.Status.ACTIVE
    merged.merged_into = None
    merged.merged_at = None
    merged.save()

    now = timezone.now()
    merge.undone_at = now
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    for guest, role, other in ((survivor, "survivor", merged), (merged, "merged", survivor)):
        audit_log(
            guest=guest,
            action=AuditEntry.Action.UNMERGE,
            actor=actor,
            details={"merge_id": merge.pk, "role": role, "other_guest_id": other.pk},
        )
    timeline_add(
        guest=survivor,
        kind=TimelineEvent.Kind.MERGE,
        occurred_at=now,
        title=_stored_text(gettext_lazy("Merge with guest #%(id)s undone"), id=merged.pk),
        data={"merge_id": merge.pk, "merged_id": merged.pk, "undone": True},
        source=merge,
    )
    _match_keys_refresh([survivor.pk, merged.pk])
