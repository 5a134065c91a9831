"""Edits of a guest profile by staff: names and demographics, email addresses, phone numbers,
tags and households.

Every function locks the guest row, refuses erased and merged guests, writes an audit row with what changed and refreshes the
fuzzy-match keys when a name, birth date or contact point changed. Invalid input raises a
field-level ``ValidationError`` ({"email": [...]}), so a form can show it on its field.

Authorisation is the caller's: these functions do not know who may edit whom. The portal's views
and services check ``partners.access.can_edit_guest`` before calling them; the Django admin is
for operators. ``partner`` only says for whom the change is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django_countries import countries

from destination.models import AuditEntry, Guest, GuestEmail, GuestPhone, Household, Tag
from destination.normalize import (
    fold_name,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone_for_country,
    validate_birth_date,
    validate_language,
)
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.resolution import match_keys_refresh

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from destination.models import User
    from partners.models import Partner  # types only

    Actor = User | AnonymousUser | None

# Tolerated difference between a desk terminal's clock and the server's.
CLOCK_SKEW = dt.timedelta(minutes=5)

EDITABLE_FIELDS = ("first_name", "last_name", "country", "language", "birth_date")


def guest_lock_active(guest: Guest) -> Guest:
    """Lock the guest row for the rest of the transaction; refuse erased and merged guests."""
    locked = Guest.objects.select_for_update().get(pk=guest.pk)
    if locked.status == Guest.Status.ERASED:
        raise GuestError(_("This guest has been erased."))
    if locked.status == Guest.Status.MERGED:
        raise GuestError(_("This guest was merged into another profile; use that one."))
    return locked


def _refresh_match_keys(guest_ids: Sequence[int]) -> None:
    match_keys_refresh(list(guest_ids))


def _actor_or_none(actor: Actor) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None  # type: ignore[return-value]


# --- Names and demographics -----------------------------------------------------------------


def guest_clean_data(data: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise editable guest fields; raise a field-level ValidationError."""
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise GuestError(_("These fields cannot be edited here: %(fields)s.") % {"fields": unknown})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in ("first_name", "last_name"):
        if field in data:
            value = " ".join(str(data[field] or "").split())
            if len(value) > 150:
                errors[field] = [_("At most 150 characters.")]
            cleaned[field] = value
    if "country" in data:
        code = str(getattr(data["country"], "code", data["country"]) or "").strip().upper()
        if code and code not in dict(countries):
            errors["country"] = [_("Unknown country “%(code)s”.") % {"code": code}]
        cleaned["country"] = code
    if "language" in data:
        try:
            cleaned["language"] = validate_language(str(data["language"] or ""))
        except ValidationError as exc:
            errors["language"] = list(exc.messages)
    if "birth_date" in data:
        try:
            cleaned["birth_date"] = validate_birth_date(data["birth_date"])
        except ValidationError as exc:
            errors["birth_date"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _display(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(getattr(value, "code", value) or "")


@transaction.atomic
def guest_update(
    *, guest: Guest, data: dict[str, Any], actor: Actor, partner: Partner | None
) -> Guest:
    """Change a guest's names, country, language or birth date. Audits each changed field with
    its old and new value; nothing is written when nothing changed."""
    cleaned = guest_clean_data(data)
    locked = guest_lock_active(guest)
    changes: dict[str, dict[str, Any]] = {}
    for field, new in cleaned.items():
        old = getattr(locked, field)
        if _display(old) != _display(new):
            changes[field] = {"old": _display(old), "new": _display(new)}
            setattr(locked, field, new)
    if not changes:
        return locked
    fields = list(changes)
    if {"first_name", "last_name"} & set(changes):
        locked.name_folded = fold_name(locked.first_name, locked.last_name)
        fields.append("name_folded")
    locked.save(update_fields=[*fields, "updated_at"])
    audit_log(
        guest=locked,
        action=AuditEntry.Action.CHANGE,
        actor=_actor_or_none(actor),
        partner=partner,
        details={"changes": changes},
    )
    if {"first_name", "last_name", "birth_date", "country"} & set(changes):
        _refresh_match_keys([locked.pk])
    return locked


# --- Email addresses ------------------------------------------------------------------------


def _email_or_error(raw: str) -> str:
    try:
        value = normalize_email(raw)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    if not value:
        raise ValidationError({"email": [_("Enter an email address.")]})
    return value


@transaction.atomic
def guest_email_add(
    *, guest: Guest, email: str, make_primary: bool = False, actor: Actor, partner: Partner | None
) -> GuestEmail:
    """Add an email address (idempotent: an address the guest has already is returned, made
    primary if asked). The first address of a guest is its primary one."""
    value = _email_or_error(email)
    locked = guest_lock_active(guest)
    existing = {e.email_normalized: e for e in GuestEmail.objects.filter(guest=locked)}
    row = existing.get(value)
    make_primary = make_primary or not any(e.is_primary for e in existing.values())
    if row is not None and (row.is_primary or not make_primary):
        return row
    if make_primary:
        GuestEmail.objects.filter(guest=locked, is_primary=True).update(is_primary=False)
    if row is None:
        row = GuestEmail(guest=locked, email=value, email_normalized=value, is_primary=make_primary)
        row.full_clean(exclude=["guest"])
        row.save()
        details: dict[str, Any] = {"email_added": mask_email(value), "primary": make_primary}
    else:
        row.is_primary = True
        row.save(update_fields=["is_primary"])
        details = {"email_primary": mask_email(value)}
    audit_log(
        guest=locked,
        action=AuditEntry.Action.CHANGE,
        actor=_actor_or_none(actor),
        partner=partner,
        details=details,
    )
    _refresh_match_keys([locked.pk])
    return row


def _contact_row_remove(
    *,
    guest: Guest,
    row: GuestEmail | GuestPhone,
    actor: Actor,
    partner: Partner | None,
    details: dict,
) -> None:
    """Delete an email or phone row of a locked guest; when it was the primary one, the oldest
    remaining row of the same kind becomes primary, so a guest keeps one primary per kind."""
    row.delete()
    if row.is_primary:
        successor = type(row).objects.filter(guest=guest).order_by("created_at", "id").first()
        if successor is not None:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
    audit_log(
        guest=guest,
        action=AuditEntry.Action.CHANGE,
        actor=_actor_or_none(actor),
        partner=partner,
        details=details,
    )
    _refresh_match_keys([guest.pk])


@transaction.atomic
def guest_email_remove(*, guest: Guest, email: str, actor: Actor, partner: Partner | None) -> None:
    """Remove an email address; when it was the primary one, the oldest other becomes primary."""
    value = _email_or_error(email)
    locked = guest_lock_active(guest)
    row = GuestEmail.objects.filter(guest=locked, email_normalized=value).first()
    if row is None:
        raise ValidationError({"email": [_("This guest has no such email address.")]})
    _contact_row_remove(
        guest=locked,
        row=row,
        actor=actor,
        partner=partner,
        details={"email_removed": mask_email(value)},
    )


def guest_email_set_primary(
    *, guest: Guest, email: str, actor: Actor, partner: Partner | None
) -> GuestEmail:
    """Make one of the guest's addresses the primary one."""
    value = _email_or_error(email)
    if not GuestEmail.objects.filter(guest=guest, email_normalized=value).exists():
        raise ValidationError({"email": [_("This guest has no such email address.")]})
    return guest_email_add(
        guest=guest, email=value, make_primary=True, actor=actor, partner=partner
    )


# --- Phone numbers --------------------------------------------------------------------------


def _phone_or_error(raw: str, guest: Guest) -> str:
    try:
        value = normalize_phone_for_country(raw, guest.country)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    if not value:
        raise ValidationError({"phone": [_("Enter a phone number.")]})
    return value


@transaction.atomic
def guest_phone_add(
    *, guest: Guest, phone: str, make_primary: bool = False, actor: Actor, partner: Partner | None
) -> GuestPhone:
    """Add a phone number, stored E.164 (national numbers read with the guest's country).
    Idempotent like ``guest_email_add``; the first number of a guest is its primary one."""
    locked = guest_lock_active(guest)
    value = _phone_or_error(phone, locked)
    existing = {str(p.phone): p for p in GuestPhone.objects.filter(guest=locked)}
    row = existing.get(value)
    make_primary = make_primary or not any(p.is_primary for p in existing.values())
    if row is not None and (row.is_primary or not make_primary):
        return row
    if make_primary:
        GuestPhone.objects.filter(guest=locked, is_primary=True).update(is_primary=False)
    if row is None:
        row = GuestPhone.objects.create(guest=locked, phone=value, is_primary=make_primary)
        details: dict[str, Any] = {"phone_added": mask_phone(value), "primary": make_primary}
    else:
        row.is_primary = True
        row.save(update_fields=["is_primary"])
        details = {"phone_primary": mask_phone(value)}
    audit_log(
        guest=locked,
        action=AuditEntry.Action.CHANGE,
        actor=_actor_or_none(actor),
        partner=partner,
        details=details,
    )
    _refresh_match_keys([locked.pk])
    return row


@transaction.atomic
def guest_phone_remove(*, guest: Guest, phone: str, actor: Actor, partner: Partner | None) -> None:
    """Remove a phone number; when it was the primary one, the oldest other becomes primary."""
    locked = guest_lock_active(guest)
    value = _phone_or_error(phone, locked)
    row = GuestPhone.objects.filter(guest=locked, phone=value).first()
    if row is None:
        raise ValidationError({"phone": [_("This guest has no such phone number.")]})
    _contact_row_remove(
        guest=locked,
        row=row,
        actor=actor,
        partner=partner,
        details={"phone_removed": mask_phone(value)},
    )


def guest_phone_set_primary(
    *, guest: Guest, phone: str, actor: Actor, partner: Partner | None
) -> GuestPhone:
    """Make one of the guest's numbers the primary one."""
    value = _phone_or_error(phone, guest)
    if not GuestPhone.objects.filter(guest=guest, phone=value).exists():
        raise ValidationError({"phone": [_("This guest has no such phone number.")]})
    return guest_phone_add(
        guest=guest, phone=value, make_primary=True, actor=actor, partner=partner
    )


# --- Tags and households --------------------------------------------------------------------


@transaction.atomic
def guest_tags_set(
    *,
    guest: Guest,
    tags: Iterable[Tag | str],
    actor: Actor,
    partner: Partner | None,
    category: Tag.Category | str | None = None,
) -> list[Tag]:
    """Set the guest's tags to exactly ``tags`` (Tag rows or slugs of existing tags). With
    ``category``, only tags of that category are replaced (interests vs. staff labels)."""
    wanted = list(tags)
    slugs = {t.slug if isinstance(t, Tag) else str(t).strip() for t in wanted}
    found = {t.slug: t for t in Tag.objects.filter(slug__in=slugs)}
    missing = sorted(slugs - set(found))
    if missing:
        raise ValidationError(
            {"tags": [_("Unknown tags: %(tags)s.") % {"tags": ", ".join(missing)}]}
        )
    if category is not None:
        wrong = sorted(s for s, t in found.items() if t.category != category)
        if wrong:
            raise ValidationError(
                {"tags": [_("Not of this kind: %(tags)s.") % {"tags": ", ".join(wrong)}]}
            )
    locked = guest_lock_active(guest)
    current = locked.tags.all()
    if category is not None:
        current = current.filter(category=category)
    before = {t.slug: t for t in current}
    to_remove = [t for s, t in before.items() if s not in found]
    to_add = [t for s, t in found.items() if s not in before]
    if to_remove:
        locked.tags.remove(*to_remove)
    if to_add:
        locked.tags.add(*to_add)
    if to_add or to_remove:
        audit_log(
            guest=locked,
            action=AuditEntry.Action.CHANGE,
            actor=_actor_or_none(actor),
            partner=partner,
            details={
                "tags": {"old": sorted(before), "new": sorted(found)},
                "category": str(category) if category else None,
            },
        )
    return sorted(found.values(), key=lambda t: t.name)


@transaction.atomic
def household_link(
    *,
    guests: Sequence[Guest],
    name: str = "",
    actor: Actor = None,
    partner: Partner | None = None,
) -> Household:
    """Put guests in one household. When some already belong to one, the oldest of those
    households is kept and the others' members join it; households left empty are deleted."""
    ids = sorted({g.pk for g in guests})
    if len(ids) < 2:
        raise GuestError(_("A household links at least two guests."))
    locked = list(Guest.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(locked) != len(ids):
        raise GuestError(_("Some of these guests do not exist."))
    for guest in locked:
        if guest.status != Guest.Status.ACTIVE:
            raise GuestError(
                _("%(guest)s is erased or merged and cannot join a household.") % {"guest": guest}
            )
    existing_ids = sorted({g.household_id for g in locked if g.household_id})
    name = " ".join((name or "").split())[:150]
    if existing_ids:
        household = Household.objects.select_for_update().get(pk=existing_ids[0])
        if name and name != household.name:
            household.name = name
            household.save(update_fields=["name", "updated_at"])
    else:
        household = Household.objects.create(name=name)
    others = existing_ids[1:]
    # Everyone of an absorbed household joins, not only the guests named here.
    movers = (
        Guest.objects.select_for_update()
        .filter(Q(pk__in=ids) | Q(household_id__in=others))
        .exclude(household_id=household.pk)
        .order_by("pk")
    )
    for guest in movers:
        previous = guest.household_id
        guest.household = household
        guest.save(update_fields=["household", "updated_at"])
        audit_log(
            guest=guest,
            action=AuditEntry.Action.CHANGE,
            actor=_actor_or_none(actor),
            partner=partner,
            details={"household": {"old": previous, "new": household.pk}},
        )
    if others:
        Household.objects.filter(pk__in=others, members__isnull=True).delete()
    return household
