"""Writes of the partner portal: the rules of its screens on top of the shared core's services
(the staff member's language, desk consents, desk creation, the duplicates queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.errors import PermissionRefused
from destination.models import (
    AuditEntry,
    ConsentProof,
    ConsentWording,
    Guest,
    GuestMerge,
    PossibleDuplicate,
    Tag,
)
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.consent import consent_desk_scope_errors, consent_record
from destination.services.guests import guest_tags_set, guest_update
from destination.services.merge import MERGE_FIELDS, FieldChoice, guest_merge, guest_merge_undo
from destination.services.resolution import Decision, PersonData, ResolutionResult, guest_resolve
from partners.access import can_edit_guest, can_merge
from partners.models import AccessFlag, PartnerGuestLink
from partners.services import access_flag_raise, daily_limit, relationships_proved_today
from portal.selectors import household_pairs_open

if TYPE_CHECKING:
    from destination.models import User
    from partners.models import Partner


def staff_language_set(*, user: User, language: str) -> str:
    """Remember the staff member's portal language; an unknown code keeps the current one.
    Returns the language now in effect."""
    codes = {code for code, _name in settings.LANGUAGES}
    if language not in codes:
        return user.language or settings.LANGUAGE_CODE
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return language


# --- Consents recorded at a desk ------------------------------------------------------------


def desk_consent_record(
    *,
    guest: Guest,
    user: User,
    partner: Partner,
    purpose: str,
    granted: bool,
    consent_partner: Partner | None = None,
    consent_partners: Sequence[Partner] = (),
    channel: str = "",
    wording: ConsentWording | None = None,
) -> ConsentProof:
    """A consent given or withdrawn at a partner's desk: the proof says "desk", the staff
    member who witnessed it, the partner it was recorded at and the partners the guest named.

    Only staff who may edit the guest record one, and only within the desk's scope
    (``consent_desk_scope_errors``): a partner for itself; the tourist office for the
    destination's purposes and for the partners the guest names."""
    if not can_edit_guest(user, partner, guest):
        raise PermissionDenied(_("You may not edit this guest."))
    partners = list(consent_partners) or ([consent_partner] if consent_partner else [])
    errors = consent_desk_scope_errors(
        recording_partner=partner, purpose=purpose, partners=partners
    )
    if errors:
        raise PermissionRefused(errors)
    return consent_record(
        guest=guest,
        purpose=purpose,
        granted=granted,
        method=ConsentProof.Method.DESK,
        partners=partners,
        channels=[channel] if channel else [],
        wording=wording,
        named_partners=partners,
        recorded_by=user,
        recorded_by_partner=partner,
        evidence={
            "source": "desk",
            "witness": "staff",
            "staff_id": user.pk,
            "staff_email": user.email,
            "partner_id": partner.pk,
            "partner": partner.name,
            "named_partners": [{"id": p.pk, "name": p.name} for p in partners],
        },
    )


# --- Creating a guest at the desk -----------------------------------------------------------


def desk_guest_create(*, data: dict[str, Any], partner: Partner, user: User) -> ResolutionResult:
    """Create (or find, when the email or phone is already known) a guest typed in at a desk,
    through identity resolution like every other entry point.

    Finding an existing guest this way is a contact proof like the guest page's (the staff
    member typed an email or phone that matched): the new relationship records it, and counts
    towards the staff member's daily limit of new relationships (``guest_relationship_prove``)."""
    limit = daily_limit("PARTNER_PROOFS_PER_STAFF_DAY")
    if relationships_proved_today(staff=user) >= limit:
        access_flag_raise(
            kind=AccessFlag.Kind.MANY_RELATIONSHIPS, partner=partner, staff=user, limit=limit
        )
        raise PermissionRefused(
            _("You have reached today's limit of new guests; the tourist office has been told."),
            code="rate_limited",
        )
    started = timezone.now()
    person = PersonData(
        first_name=data.get("first_name") or "",
        last_name=data.get("last_name") or "",
        email=data.get("email") or "",
        phone=data.get("phone") or "",
        country=data.get("country") or "",
        language=data.get("language") or "",
        birth_date=data.get("birth_date"),
    )
    with transaction.atomic():
        result = guest_resolve(
            person,
            source=Guest.Source.DESK,
            source_detail=partner.name,
            partner=partner,
            actor=user,
        )
        if result.decision == Decision.MATCHED and result.guest is not None:
            PartnerGuestLink.objects.filter(
                partner=partner,
                guest=result.guest,
                first_seen_at__gte=started,
                reason=PartnerGuestLink.Reason.CREATED,
            ).update(
                reason=PartnerGuestLink.Reason.CONTACT_PROOF,
                evidence={
                    "method": "desk_match",
                    "matched": list(result.reasons),
                    "staff_id": user.pk,
                    "staff_email": user.email,
                    "at": started.isoformat(),
                },
            )
    return result


# --- The possible-duplicates queue ----------------------------------------------------------


def _check_can_merge(user: User, partner: Partner) -> None:
    if not can_merge(user, partner):
        raise PermissionDenied(_("Only the tourist office's managers merge guests."))


@transaction.atomic
def duplicate_merge(
    *,
    pair: PossibleDuplicate,
    keep: str,
    picks: dict[str, str],
    user: User,
    partner: Partner,
) -> GuestMerge:
    """Merge a pair from the queue. ``keep`` is "a" or "b" (the profile that survives, whose id
    stays); ``picks`` maps each field of ``MERGE_FIELDS`` to "a" or "b" (whose value to keep).
    The pair is marked MERGED by the merge itself."""
    _check_can_merge(user, partner)
    pair = PossibleDuplicate.objects.select_for_update().get(pk=pair.pk)
    if pair.status != PossibleDuplicate.Status.OPEN:
        raise GuestError(_("This pair has already been decided."))
    if keep not in ("a", "b"):
        raise GuestError(_("Choose the profile to keep."))
    survivor, merged = (pair.guest_a, pair.guest_b) if keep == "a" else (pair.guest_b, pair.guest_a)
    choices: dict[str, FieldChoice] = {}
    for name in MERGE_FIELDS:
        side = picks.get(name)
        if side in ("a", "b"):
            choices[name] = "survivor" if side == keep else "merged"
    return guest_merge(
        survivor=survivor, merged=merged, field_choices=choices, actor=user, partner=partner
    )


@transaction.atomic
def duplicate_dismiss(
    *, pair: PossibleDuplicate, user: User, partner: Partner
) -> PossibleDuplicate:
    """Not the same person: the pair leaves the queue, with who decided and when."""
    _check_can_merge(user, partner)
    pair = PossibleDuplicate.objects.select_for_update().get(pk=pair.pk)
    if pair.status != PossibleDuplicate.Status.OPEN:
        raise GuestError(_("This pair has already been decided."))
    pair.status = PossibleDuplicate.Status.DISMISSED
    pair.resolved_by = user
    pair.resolved_at = timezone.now()
    pair.save(update_fields=["status", "resolved_by", "resolved_at", "updated_at"])
    return pair


@transaction.atomic
def duplicate_household_dismiss(
    *, pair: PossibleDuplicate, user: User, partner: Partner
) -> list[PossibleDuplicate]:
    """The pairs of one household (a shared address, one surname, flagged by the family
    rules) are people of one family, not duplicates: all leave the queue in one decision, with
    who decided and when, and one audit row per member in the same transaction."""
    _check_can_merge(user, partner)
    current = PossibleDuplicate.objects.select_for_update().get(pk=pair.pk)
    if current.status != PossibleDuplicate.Status.OPEN:
        raise GuestError(_("This pair has already been decided."))
    pairs = household_pairs_open(current)
    if not pairs:
        raise GuestError(_("This pair is not one household's."))
    locked = list(
        PossibleDuplicate.objects.select_for_update()
        .filter(pk__in=[p.pk for p in pairs], status=PossibleDuplicate.Status.OPEN)
        .order_by("pk")
    )
    now = timezone.now()
    for item in locked:
        item.status = PossibleDuplicate.Status.DISMISSED
        item.resolved_by = user
        item.resolved_at = now
        item.updated_at = now
    PossibleDuplicate.objects.bulk_update(
        locked, ["status", "resolved_by", "resolved_at", "updated_at"]
    )
    members = sorted({g for p in pairs for g in (p.guest_a, p.guest_b)}, key=lambda g: g.pk)
    details = {
        "event": "household_dismissed",
        "pairs": [p.pk for p in locked],
        "members": [g.pk for g in members],
    }
    for guest in members:
        audit_log(
            guest=guest,
            action=AuditEntry.Action.CHANGE,
            actor=user,
            partner=partner,
            details=details,
        )
    return locked


def merge_undo(*, merge: GuestMerge, user: User, partner: Partner) -> GuestMerge:
    """Undo a merge from the portal (the tourist office's managers, like merging): the merged
    profile comes back with exactly its rows, and its pair returns to the queue to be decided
    again. The core refuses it once undone, after a later merge of either guest, or when either
    was erased, with a message saying which."""
    _check_can_merge(user, partner)
    guest_merge_undo(merge=merge, actor=user)
    merge.refresh_from_db()
    return merge


def merges_undoable(guest: Guest, *, limit: int = 5) -> list[GuestMerge]:
    """The latest merges into ``guest`` that are not undone, with who merged: one query."""
    return list(
        GuestMerge.objects.filter(survivor=guest, undone_at__isnull=True)
        .select_related("merged", "merged_by")
        .order_by("-created_at", "-pk")[:limit]
    )


@transaction.atomic
def desk_identity_update(
    *,
    guest: Guest,
    data: dict[str, Any],
    interests: list[str] | None,
    user: User,
    partner: Partner,
) -> Guest:
    """Correct a guest's identity from the desk: the changed fields (audited one by one by the
    core, match keys refreshed) and, when given, exactly these interest tags. All or nothing."""
    if data:
        guest = guest_update(guest=guest, data=data, actor=user, partner=partner)
    if interests is not None:
        guest_tags_set(
            guest=guest,
            tags=interests,
            actor=user,
            partner=partner,
            category=Tag.Category.INTEREST,
        )
    return guest
