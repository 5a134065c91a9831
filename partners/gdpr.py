"""What the partners app adds to the core's GDPR export, erasure and merge, and who acts in the
core's GDPR pages. Registered from ``PartnersConfig.ready()`` through ``destination.registry``:
the core never imports this module.

- Export: the guest's interactions and partner relationships (sections of the full export) and
  the partner-scoped export, built only from ``partners.access``.
- Erasure: interaction summaries blanked (kind, date and partner stay), counted per guest.
- Merge: one relationship per partner (``partner_links_merge``).
- Acting partner: which partner a staff member exports for (``export_partner_for``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.models import Guest
from destination.services.gdpr import ERASED_TEXT
from partners.access import can_export, guest_profile_for
from partners.models import Interaction, Membership, Partner, PartnerGuestLink

if TYPE_CHECKING:
    from django.db import models

    from destination.registry import MergeContext


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- Export ---------------------------------------------------------------------------------


def interactions_export(guest: Guest) -> list[dict[str, Any]]:
    return [
        {
            "id": i.pk,
            "partner": i.partner.name,
            "partner_id": i.partner_id,
            "kind": i.kind,
            "channel": i.channel,
            "summary": i.summary,
            "visibility": i.visibility,
            "occurred_at": _iso(i.occurred_at),
        }
        for i in Interaction.objects.filter(guest=guest)
        .select_related("partner")
        .order_by("-occurred_at", "-id")
    ]


def partner_links_export(guest: Guest) -> list[dict[str, Any]]:
    return [
        {
            "partner": link.partner.name,
            "partner_id": link.partner_id,
            "reason": link.reason,
            "has_booked": link.has_booked,
            "first_seen_at": _iso(link.first_seen_at),
            "last_seen_at": _iso(link.last_seen_at),
        }
        for link in PartnerGuestLink.objects.filter(guest=guest)
        .select_related("partner")
        .order_by("first_seen_at", "id")
    ]


def partner_scoped_export(guest: Guest, partner: Partner) -> dict[str, Any]:
    """Only what this partner may see, through the access layer (never the raw tables)."""
    return {"profile": guest_profile_for(partner=partner, guest=guest, include_activity=True)}


# --- Erasure --------------------------------------------------------------------------------


def interactions_count(guest_ids: list[int]) -> dict[int, int]:
    """Interactions per guest, for the ERASE audit rows."""
    return {
        row["guest_id"]: row["n"]
        for row in Interaction.objects.filter(guest_id__in=guest_ids)
        .values("guest_id")
        .annotate(n=Count("pk"))
        .order_by()
    }


def interactions_erase(guest_ids: list[int]) -> None:
    """Blank what staff wrote about these guests; kind, channel, date and partner stay. Returns
    no counts: ``interactions_count`` gives them per guest."""
    Interaction.objects.filter(guest_id__in=guest_ids).update(
        summary=ERASED_TEXT, updated_at=timezone.now()
    )


# --- Merge ----------------------------------------------------------------------------------


def partner_links_merge(ctx: MergeContext, model: type[models.Model], fk_name: str) -> None:
    """One relationship per partner: the earliest first contact (and its reason), the latest
    last contact, booked if either booked."""
    manager = PartnerGuestLink.objects
    kept_links = {link.partner_id: link for link in manager.filter(**{fk_name: ctx.survivor.pk})}
    to_move: list[int] = []
    to_drop: list[PartnerGuestLink] = []
    for link in manager.filter(**{fk_name: ctx.merged.pk}).order_by("pk"):
        kept = kept_links.get(link.partner_id)
        if kept is None:
            to_move.append(link.pk)
            continue
        earlier = link.first_seen_at < kept.first_seen_at
        ctx.change(
            kept,
            side="survivor",
            first_seen_at=link.first_seen_at if earlier else kept.first_seen_at,
            reason=link.reason if earlier else kept.reason,
            last_seen_at=max(kept.last_seen_at, link.last_seen_at),
            has_booked=kept.has_booked or link.has_booked,
        )
        to_drop.append(link)
    ctx.drop(to_drop)
    ctx.move(model, fk_name, to_move)


# --- Who acts in the GDPR pages -------------------------------------------------------------


def export_partner_for(request: HttpRequest) -> Partner:
    """The partner a staff member exports for: its only active membership, or the ``partner``
    query parameter (an id or slug among its memberships), which must be allowed to export.
    PermissionDenied otherwise."""
    user = request.user
    memberships = [
        m.partner
        for m in Membership.objects.active().filter(user_id=user.pk).select_related("partner")
    ]
    wanted = request.GET.get("partner", "").strip()
    if wanted:
        partner = next((p for p in memberships if wanted in (str(p.pk), p.slug)), None)
    else:
        partner = memberships[0] if len(memberships) == 1 else None
    if partner is None or not can_export(user, partner):
        raise PermissionDenied(_("You may not export this guest's data."))
    return partner
