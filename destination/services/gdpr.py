"""GDPR: the subject-access export, erasure (anonymisation) and the retention sweep.

Erasure is set-based: ``guests_erase`` anonymises any number of guests with one UPDATE or
DELETE per table, so the retention sweep costs the same few statements for one guest or ten
thousand. Apps added later plug their own anonymiser and export section in through
``destination.registry``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import batched
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestMerge,
    GuestPhone,
    Household,
    MatchKey,
    PossibleDuplicate,
    ResolutionKey,
    TimelineEvent,
    User,
)
from destination.registry import (
    guest_erasers,
    guest_erasure_counters,
    guest_export_sections_place,
    guest_exporters,
    partner_export,
)
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.merge import guest_resolve_id

if TYPE_CHECKING:
    from partners.models import Partner  # types only: see destination/__init__.py

# What replaces free text written about an erased guest; kind, date and partner stay.
ERASED_TEXT = "[erased]"
RETENTION_REASON = "retention"
EXPORT_FORMAT_VERSION = 1
# Audit rows whose details never hold personal data (ids, counts, choices, scopes).
NON_PERSONAL_AUDIT_ACTIONS = (
    AuditEntry.Action.MERGE,
    AuditEntry.Action.UNMERGE,
    AuditEntry.Action.EXPORT,
    AuditEntry.Action.ERASE,
    AuditEntry.Action.CONSENT,
)
# Guests per transaction in the retention sweep: bounded lock time and statement size.
ERASE_BATCH_SIZE = 500


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- Reads ----------------------------------------------------------------------------------


def _merged_descendant_ids(guest_ids: Sequence[int]) -> list[int]:
    """Ids of guests merged into these ones, directly or down a chain (one query per level)."""
    found: list[int] = []
    frontier = list(guest_ids)
    while frontier:
        frontier = list(
            Guest.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)
        )
        found.extend(frontier)
    return found


def audit_entries_for(guest: Guest) -> QuerySet[AuditEntry]:
    """Who viewed, changed, exported, merged or erased this guest, newest first, including the
    entries of profiles merged into it."""
    ids = [guest.pk, *_merged_descendant_ids([guest.pk])]
    return (
        AuditEntry.objects.filter(guest_id__in=ids)
        .select_related("actor", "acting_partner")
        .order_by("-created_at", "-id")
    )


# --- Export ---------------------------------------------------------------------------------


def _export_identity(guest: Guest) -> dict[str, Any]:
    return {
        "id": guest.pk,
        "uuid": str(guest.uuid),
        "status": guest.status,
        "first_name": guest.first_name,
        "last_name": guest.last_name,
        "language": guest.language,
        "country": str(guest.country),  # a Country: its str is the code, "" when blank
        "birth_date": _iso(guest.birth_date),
        "source": guest.source,
        "source_detail": guest.source_detail,
        "created_by_partner": guest.created_by_partner.name if guest.created_by_partner else None,
        "created_at": _iso(guest.created_at),
        "updated_at": _iso(guest.updated_at),
        "last_contact_at": _iso(guest.last_contact_at),
        "merged_into_id": guest.merged_into_id,
        "merged_at": _iso(guest.merged_at),
        "erased_at": _iso(guest.erased_at),
    }


def _export_consent_ledger(guest: Guest) -> list[dict[str, Any]]:
    events = (
        ConsentEvent.objects.filter(guest=guest)
        .select_related("partner", "proof__wording", "proof__recorded_by_partner")
        .prefetch_related("proof__named_partners")
        .order_by("proof__occurred_at", "id")
    )
    ledger = []
    for event in events:
        proof = event.proof
        wording = proof.wording
        ledger.append(
            {
                "id": event.pk,
                "purpose": event.purpose,
                "partner": event.partner.name if event.partner else None,
                "partner_id": event.partner_id,
                "channel": event.channel,
                "granted": event.granted,
                "recorded_at": _iso(event.created_at),
                "proof": {
                    "id": proof.pk,
                    "method": proof.method,
                    "occurred_at": _iso(proof.occurred_at),
                    "is_objection": proof.is_objection,
                    "evidence": proof.evidence,
                    "recorded_by_partner": (
                        proof.recorded_by_partner.name if proof.recorded_by_partner else None
                    ),
                    "named_partners": sorted(p.name for p in proof.named_partners.all()),
                    "wording": (
                        {
                            "purpose": wording.purpose,
                            "version": wording.version,
                            "language": wording.language,
                            "text": wording.text,
                        }
                        if wording
                        else None
                    ),
                },
            }
        )
    return ledger


def _export_full(guest: Guest) -> dict[str, Any]:
    merged_ids = _merged_descendant_ids([guest.pk])
    data: dict[str, Any] = {
        "identity": _export_identity(guest),
        "merged_profiles": [
            _export_identity(g)
            for g in Guest.objects.filter(pk__in=merged_ids)
            .select_related("created_by_partner")
            .order_by("pk")
        ],
        "emails": [
            {
                "email": e.email,
                "is_primary": e.is_primary,
                "verified_at": _iso(e.verified_at),
                "created_at": _iso(e.created_at),
            }
            for e in GuestEmail.objects.filter(guest=guest).order_by("-is_primary", "id")
        ],
        "phones": [
            {"phone": str(p.phone), "is_primary": p.is_primary, "created_at": _iso(p.created_at)}
            for p in GuestPhone.objects.filter(guest=guest).order_by("-is_primary", "id")
        ],
        "external_refs": [
            {"source": r.source, "external_id": r.external_id, "created_at": _iso(r.created_at)}
            for r in GuestExternalRef.objects.filter(guest=guest).order_by("id")
        ],
        "household": (
            {"id": guest.household.pk, "name": guest.household.name} if guest.household else None
        ),
        "tags": [
            {"slug": t.slug, "name": t.name, "category": t.category}
            for t in guest.tags.order_by("name")
        ],
        "consent_ledger": _export_consent_ledger(guest),
        "consent_states": [
            {
                "purpose": s.purpose,
                "partner": s.partner.name if s.partner else None,
                "partner_id": s.partner_id,
                "channel": s.channel,
                "granted": s.granted,
                "event_id": s.event_id,
                "updated_at": _iso(s.updated_at),
            }
            for s in ConsentState.objects.filter(guest=guest)
            .select_related("partner")
            .order_by("purpose", "partner_id", "channel")
        ],
        "timeline": [
            {
                "id": e.pk,
                "kind": e.kind,
                "partner": e.partner.name if e.partner else None,
                "partner_id": e.partner_id,
                "visibility": e.visibility,
                "title": e.title,
                "body": e.body,
                "data": e.data,
                "occurred_at": _iso(e.occurred_at),
            }
            for e in TimelineEvent.objects.filter(guest=guest)
            .select_related("partner")
            .order_by("-occurred_at", "-id")
        ],
        "match_keys": sorted(MatchKey.objects.filter(guest=guest).values_list("key", flat=True)),
        "merges": [
            {
                "id": m.pk,
                "role": "survivor" if m.survivor_id == guest.pk else "merged",
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "field_choices": m.field_choices,
                "acting_partner": m.acting_partner.name if m.acting_partner else None,
                "created_at": _iso(m.created_at),
                "undone_at": _iso(m.undone_at),
            }
            for m in GuestMerge.objects.filter(
                Q(survivor_id__in=[guest.pk, *merged_ids])
                | Q(merged_id__in=[guest.pk, *merged_ids])
            )
            .select_related("acting_partner")
            .order_by("created_at", "id")
        ],
        "audit": [
            {
                "action": a.action,
                "guest_id": a.guest_id,
                "actor_id": a.actor_id,
                "acting_partner": a.acting_partner.name if a.acting_partner else None,
                "details": a.details,
                "created_at": _iso(a.created_at),
            }
            for a in audit_entries_for(guest)
        ],
    }
    for name, exporter in guest_exporters().items():
        data[name] = exporter(guest)
    return guest_export_sections_place(data)


def _export_for_partner(guest: Guest, partner: Partner) -> dict[str, Any]:
    """Only what this partner may see: the registered partner export (``partners.gdpr``)."""
    build = partner_export()
    if build is None:
        raise GuestError(_("No partner-scoped export is available."))
    return build(guest, partner)


@transaction.atomic
@transaction.atomic
def guest_export(
    *, guest: Guest, actor: User | None, partner: Partner | None = None, reason: str = ""
) -> dict[str, Any]:
    """Everything held about a guest as a JSON-able dict. Without ``partner``: the complete
    subject-access export (the destination's data-protection officer). With one: what that
    partner may see, built by the registered partner export. Either way an EXPORT audit row
    (who, when, which guest, scope and ``reason``, e.g. the request's reference), written in
    the transaction that reads the data."""
    scope = "full" if partner is None else "partner"
    header: dict[str, Any] = {
        "version": EXPORT_FORMAT_VERSION,
        "scope": scope,
        "guest_id": guest.pk,
        "generated_at": _iso(timezone.now()),
        "partner": {"id": partner.pk, "name": partner.name} if partner is not None else None,
    }
    body = _export_full(guest) if partner is None else _export_for_partner(guest, partner)
    audit_log(
        guest=guest,
        action=AuditEntry.Action.EXPORT,
        actor=actor,
        partner=partner,
        details={"scope": scope, "sections": sorted(body), "reason": reason.strip()},
    )
    return {"export": header, **body}


# --- Erasure --------------------------------------------------------------------------------


def _counts_by_guest(qs: QuerySet[Any], guest_field: str = "guest_id") -> dict[int, int]:
    return {
        row[guest_field]: row["n"]
        for row in qs.values(guest_field).annotate(n=Count("pk")).order_by()
    }


def _key_rows(qs: QuerySet[Any], *parts: Any) -> QuerySet[Any]:
    keys: QuerySet[Any] = qs.annotate(
        resolution_key=Concat(*parts, output_field=CharField())
    ).values("resolution_key")
    return keys


def _resolution_keys_delete(guest_ids: list[int]) -> None:
    """Delete the ``ResolutionKey`` rows of these guests' emails, phones and external ids
    ("email:…", "phone:+33…", "ref:source:id"): they hold the values in clear. One DELETE with
    subqueries (keys are built as resolution builds them). A key shared with another guest (a
    family's address) goes too: it is only a lock row, inserted again by the next resolution."""
    ResolutionKey.objects.filter(
        Q(
            key__in=_key_rows(
                GuestEmail.objects.filter(guest_id__in=guest_ids),
                Value("email:"),
                "email_normalized",
            )
        )
        | Q(
            key__in=_key_rows(
                GuestPhone.objects.filter(guest_id__in=guest_ids),
                Value("phone:"),
                Cast("phone", CharField()),
            )
        )
        | Q(
            key__in=_key_rows(
                GuestExternalRef.objects.filter(guest_id__in=guest_ids),
                Value("ref:"),
                "source",
                Value(":"),
                "external_id",
            )
        )
    ).delete()


def _admin_log_scrub(guest_ids: list[int]) -> None:
    """Blank what the Django admin's history wrote about these guests and their contacts: its
    ``object_repr`` is the guest's name or the email/phone itself, and ``change_message`` names
    the inline rows changed. Who changed what and when stays. One UPDATE per model."""
    rows: list[tuple[type[Any], QuerySet[Any]]] = [
        (Guest, Guest.objects.filter(pk__in=guest_ids)),
        (GuestEmail, GuestEmail.objects.filter(guest_id__in=guest_ids)),
        (GuestPhone, GuestPhone.objects.filter(guest_id__in=guest_ids)),
        (GuestExternalRef, GuestExternalRef.objects.filter(guest_id__in=guest_ids)),
    ]
    condition = Q()
    for model, qs in rows:
        # By app label and model name (a join), not through the content-type cache: the same
        # statements whether the cache is warm or not.
        condition |= Q(
            content_type__app_label=model._meta.app_label,
            content_type__model=model._meta.model_name,
            object_id__in=qs.annotate(text_pk=Cast("pk", CharField())).values("text_pk"),
        )
    LogEntry.objects.filter(condition).update(object_repr=ERASED_TEXT, change_message="")


@transaction.atomic
def guests_erase(
    *,
    guest_ids: Iterable[int],
    actor: User | None = None,
    reason: str,
    partner: Partner | None = None,
) -> int:
    """Anonymise these guests everywhere, irreversibly, with set-based statements. Guests that
    are not ACTIVE (already erased, merged) are skipped; profiles merged into an erased guest
    are anonymised too but stay MERGED, so their ids still resolve. Returns how many guests
    were erased. One ERASE audit row per guest, with counts and no personal data."""
    requested = sorted({int(pk) for pk in guest_ids})
    targets = list(
        Guest.objects.select_for_update()
        .filter(pk__in=requested, status=Guest.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not targets:
        return 0
    merged_ids = _merged_descendant_ids(targets)
    all_ids = targets + merged_ids
    if merged_ids:
        list(
            Guest.objects.select_for_update()
            .filter(pk__in=merged_ids)
            .order_by("pk")
            .values_list("pk")
        )

    tags_through = Guest.tags.through
    counted: dict[str, tuple[QuerySet[Any], str]] = {
        "emails": (GuestEmail.objects.filter(guest_id__in=targets), "guest_id"),
        "phones": (GuestPhone.objects.filter(guest_id__in=targets), "guest_id"),
        "external_refs": (GuestExternalRef.objects.filter(guest_id__in=targets), "guest_id"),
        "match_keys": (MatchKey.objects.filter(guest_id__in=targets), "guest_id"),
        "tags": (tags_through.objects.filter(guest_id__in=targets), "guest_id"),
        "timeline_events": (TimelineEvent.objects.filter(guest_id__in=targets), "guest_id"),
        "consent_events": (ConsentEvent.objects.filter(guest_id__in=targets), "guest_id"),
    }
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for name, (qs, field) in counted.items():
        for guest_id, n in _counts_by_guest(qs, field).items():
            counts[guest_id][name] = n
    for name, counter in guest_erasure_counters().items():
        for guest_id, n in counter(targets).items():
            counts[guest_id][name] = n

    now = timezone.now()
    # Before the contacts go: their resolution keys and admin history name them.
    _resolution_keys_delete(all_ids)
    _admin_log_scrub(all_ids)
    GuestEmail.objects.filter(guest_id__in=all_ids).delete()
    GuestPhone.objects.filter(guest_id__in=all_ids).delete()
    GuestExternalRef.objects.filter(guest_id__in=all_ids).delete()
    MatchKey.objects.filter(guest_id__in=all_ids).delete()
    tags_through.objects.filter(guest_id__in=all_ids).delete()
    TimelineEvent.objects.filter(guest_id__in=all_ids).update(title=ERASED_TEXT, body="", data={})
    # The ledger keeps purpose, grant and dates (proof of lawful processing); the evidence
    # (IP address, user agent, page, import line) is personal.
    ConsentProof.objects.filter(
        pk__in=ConsentEvent.objects.filter(guest_id__in=all_ids).values("proof_id")
    ).update(evidence={})
    # Merge snapshots and dropped rows hold names, emails and phones.
    GuestMerge.objects.filter(Q(survivor_id__in=all_ids) | Q(merged_id__in=all_ids)).update(
        survivor_before={}, merged_before={}, dropped={}
    )
    # Change records carry old and new values (names, masked emails); the fact that someone
    # changed the profile, who and when, stays.
    AuditEntry.objects.filter(guest_id__in=all_ids).exclude(
        action__in=NON_PERSONAL_AUDIT_ACTIONS
    ).update(details={"erased": True})
    # Open duplicate pairs of an erased guest cannot be merged any more.
    PossibleDuplicate.objects.filter(
        Q(guest_a_id__in=all_ids) | Q(guest_b_id__in=all_ids),
        status=PossibleDuplicate.Status.OPEN,
    ).update(
        status=PossibleDuplicate.Status.DISMISSED,
        reasons=[],
        resolved_by=actor if actor is not None and actor.is_authenticated else None,
        resolved_at=now,
        updated_at=now,
    )
    PossibleDuplicate.objects.filter(Q(guest_a_id__in=all_ids) | Q(guest_b_id__in=all_ids)).update(
        reasons=[]
    )
    household_ids = list(
        Guest.objects.filter(pk__in=all_ids, household__isnull=False).values_list(
            "household_id", flat=True
        )
    )
    Guest.objects.filter(pk__in=all_ids).update(
        first_name="",
        last_name="",
        name_folded="",
        language="",
        country="",
        birth_date=None,
        household=None,
        source_detail="",
        erased_at=now,
        updated_at=now,
    )
    Guest.objects.filter(pk__in=targets).update(status=Guest.Status.ERASED)
    # A household nobody belongs to any more keeps no family name.
    Household.objects.filter(pk__in=household_ids).exclude(
        Exists(Guest.objects.filter(household_id=OuterRef("pk")))
    ).update(name="", updated_at=now)

    extensions: dict[str, int] = {}
    for eraser in guest_erasers():
        for name, n in (eraser(all_ids) or {}).items():
            extensions[name] = extensions.get(name, 0) + n

    if actor is not None and not actor.is_authenticated:
        actor = None
    AuditEntry.objects.bulk_create(
        AuditEntry(
            guest_id=guest_id,
            action=AuditEntry.Action.ERASE,
            actor=actor,
            acting_partner=partner,
            details={
                "reason": reason,
                "removed": counts.get(guest_id, {}),
                "batch_size": len(targets),
                "merged_profiles": len(merged_ids),
                "extensions": extensions,
            },
        )
        for guest_id in targets
    )
    return len(targets)


@transaction.atomic
def guest_erase(
    *, guest: Guest, actor: User | None, partner: Partner | None = None, reason: str
) -> None:
    """Erase one guest (a GDPR request): see ``guests_erase``. Refused for a guest already
    erased or merged into another one (erase the survivor)."""
    locked = Guest.objects.select_for_update().get(pk=guest.pk)
    if locked.status == Guest.Status.ERASED:
        raise GuestError(_("Guest #%(id)s has already been erased.") % {"id": guest.pk})
    if locked.status == Guest.Status.MERGED:
        raise GuestError(
            _("Guest #%(id)s was merged into guest #%(survivor)s: erase that guest.")
            % {"id": guest.pk, "survivor": guest_resolve_id(guest.pk).pk}
        )
    if not reason.strip():
        raise GuestError(_("Give a reason for the erasure."))
    guests_erase(guest_ids=[guest.pk], actor=actor, partner=partner, reason=reason.strip())
    guest.refresh_from_db()


# --- Retention ------------------------------------------------------------------------------


def guests_inactive(*, now: datetime | None = None, days: int | None = None) -> QuerySet[Guest]:
    """ACTIVE guests whose last real contact (or creation, when they never had one) is older
    than the retention period and who have no granted consent. ``last_contact_at`` is only set
    by real contacts (bookings, clicks, desk interactions), never by an email being opened."""
    now = now or timezone.now()
    days = settings.GUEST_RETENTION_DAYS if days is None else days
    cutoff = now - timedelta(days=days)
    return (
        Guest.objects.filter(status=Guest.Status.ACTIVE)
        .alias(last_seen=Coalesce("last_contact_at", "created_at"))
        .filter(last_seen__lt=cutoff)
        .exclude(Exists(ConsentState.objects.filter(guest_id=OuterRef("pk"), granted=True)))
    )


def guests_erase_inactive(*, now: datetime | None = None, days: int | None = None) -> int:
    """Anonymise the guests past the retention period (see ``guests_inactive``), with reason
    "retention". Idempotent: erased guests are no longer ACTIVE. Each batch re-selects its
    guests under lock, so a guest who came back meanwhile is kept."""
    selection = guests_inactive(now=now, days=days)
    ids = list(selection.order_by("pk").values_list("pk", flat=True))
    erased = 0
    for batch in batched(ids, ERASE_BATCH_SIZE):
        with transaction.atomic():
            still = list(
                selection.filter(pk__in=batch)
                .select_for_update(of=("self",))
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            erased += guests_erase(guest_ids=still, reason=RETENTION_REASON)
    return erased
