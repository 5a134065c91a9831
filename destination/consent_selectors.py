"""Reads of the consent ledger. ``ConsentState`` answers "may we?" in one indexed query; the
events and their proofs tell the story. Writes are in ``destination.services.consent``."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from destination.models import (
    CHANNEL_PURPOSES,
    PARTNER_PURPOSES,
    ConsentEvent,
    ConsentState,
    Guest,
    Purpose,
)
from partners.models import Partner  # layering exception: destination/__init__.py


def _scope_filter(*, purpose: Purpose | str, partner: Partner | None, channel: str) -> dict:
    if purpose not in Purpose.values:
        raise ValueError(f"Unknown consent purpose {purpose!r}.")
    if (purpose in PARTNER_PURPOSES) != (partner is not None):
        raise ValueError(f"{purpose!r} needs a partner iff it is given per partner.")
    if (purpose in CHANNEL_PURPOSES) != bool(channel):
        raise ValueError(f"{purpose!r} needs a channel iff it is given per channel.")
    scope = {"purpose": purpose, "channel": channel or ""}
    if partner is None:
        scope["partner__isnull"] = True
    else:
        scope["partner"] = partner
    return scope


def consent_is_granted(
    *,
    guest: Guest | int,
    purpose: Purpose | str,
    partner: Partner | None = None,
    channel: str = "",
) -> bool:
    """Whether the active guest currently consents to this scope: one query. A scope that does
    not fit the purpose (a partner for the newsletter, no channel for offers) is a bug: ValueError.
    """
    guest_id = guest.pk if isinstance(guest, Guest) else guest
    return ConsentState.objects.filter(
        guest_id=guest_id,
        guest__status=Guest.Status.ACTIVE,
        granted=True,
        **_scope_filter(purpose=purpose, partner=partner, channel=channel),
    ).exists()


def consent_states_for(guest: Guest) -> QuerySet[ConsentState]:
    """The guest's current consents, with the event, proof, wording and partner joined in."""
    return (
        ConsentState.objects.filter(guest=guest)
        .select_related(
            "partner",
            "event__proof__wording",
            "event__proof__recorded_by",
            "event__proof__recorded_by_partner",
        )
        .order_by("purpose", "partner__name", "partner_id", "channel")
    )


def guests_with_consent(
    *, purpose: Purpose | str, channel: str = "", partner: Partner | None = None
) -> QuerySet[Guest]:
    """Active guests who currently consent to the scope (a newsletter segment): one SQL query
    when evaluated, and a queryset to narrow further."""
    granted = ConsentState.objects.filter(
        guest=OuterRef("pk"),
        granted=True,
        **_scope_filter(purpose=purpose, partner=partner, channel=channel),
    )
    return Guest.objects.active().filter(Exists(granted))


def consent_history_for(guest: Guest) -> QuerySet[ConsentEvent]:
    """Every ledger entry of the guest, newest first, with its proof, wording, recorder and the
    partners named to the person prefetched (a constant number of queries)."""
    return (
        ConsentEvent.objects.filter(guest=guest)
        .select_related(
            "partner",
            "proof__wording",
            "proof__recorded_by",
            "proof__recorded_by_partner",
        )
        .prefetch_related(
            Prefetch("proof__named_partners", queryset=Partner.objects.order_by("name"))
        )
        .order_by("-proof__occurred_at", "-id")
    )
