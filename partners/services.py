"""Writes of the partners app: interactions logged by partner staff and partner-guest links."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.models import AuditEntry, Guest, TimelineEvent, Visibility
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.guests import CLOCK_SKEW, guest_lock_active
from destination.services.partner_links import partner_guest_link_touch
from destination.services.timeline import guest_contact_touch, timeline_add
from partners.access import membership_for
from partners.models import Interaction, Partner, PartnerGuestLink

# Written by the core (consent grants link partners too); re-exported for this app's callers.
__all__ = ["interaction_log", "interaction_title", "partner_guest_link_touch"]

if TYPE_CHECKING:
    from destination.models import User


def interaction_title(*, kind: Interaction.Kind | str, partner: Partner) -> str:
    """ "Desk visit — Ski School X", in the destination's default language (stored text)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("%(kind)s — %(partner)s") % {
            "kind": Interaction.Kind(kind).label,
            "partner": partner.name,
        }


@transaction.atomic
def interaction_log(
    *,
    guest: Guest,
    partner: Partner,
    staff: User,
    kind: Interaction.Kind | str,
    channel: Interaction.Channel | str,
    summary: str,
    occurred_at: datetime | None = None,
    visibility: Visibility | str = Visibility.SHARED,
) -> Interaction:
    """A partner's staff member logs something done with or heard from a guest.

    Writes the interaction, its timeline entry (same partner and visibility, so a PRIVATE note
    stays the partner's own), the partner-guest link, the guest's last contact (a desk
    interaction is real contact for retention, through ``guest_contact_touch``: it no longer
    bumps the guest's ``updated_at``, a contact is not an edit of the profile) and an audit row,
    in one transaction.
    """
    if membership_for(staff, partner) is None:
        raise GuestError(
            _("%(user)s is not an active member of %(partner)s.")
            % {"user": staff, "partner": partner}
        )
    locked = guest_lock_active(guest)
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise GuestError(_("An interaction cannot be logged in the future."))
    interaction = Interaction(
        guest=locked,
        partner=partner,
        staff=staff,
        kind=kind,
        channel=channel,
        summary=(summary or "").strip(),
        occurred_at=occurred_at,
        visibility=visibility,
    )
    interaction.full_clean()
    interaction.save()

    timeline_add(
        guest=locked,
        kind=TimelineEvent.Kind.INTERACTION,
        occurred_at=occurred_at,
        title=interaction_title(kind=interaction.kind, partner=partner),
        partner=partner,
        visibility=interaction.visibility,
        body=interaction.summary,
        data={"kind": interaction.kind, "channel": interaction.channel},
        source=interaction,
    )
    partner_guest_link_touch(
        partner=partner, guest=locked, reason=PartnerGuestLink.Reason.INTERACTION, at=occurred_at
    )
    # A late entry for an old visit must not move the retention clock backwards (the core's
    # guest_contact_touch never does); asked only when it moves, so a late entry costs no query.
    if locked.last_contact_at is None or occurred_at > locked.last_contact_at:
        guest_contact_touch(guest_ids=[locked.pk], at=occurred_at)
        locked.last_contact_at = guest.last_contact_at = occurred_at
    audit_log(
        guest=locked,
        action=AuditEntry.Action.CHANGE,
        actor=staff,
        partner=partner,
        details={
            "interaction_logged": interaction.pk,
            "kind": interaction.kind,
            "visibility": interaction.visibility,
        },
    )
    return interaction
