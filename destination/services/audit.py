from __future__ import annotations

from typing import TYPE_CHECKING, Any

from destination.models import AuditEntry, Guest, User

if TYPE_CHECKING:
    from partners.models import Partner  # types only


def audit_log(
    *,
    guest: Guest,
    action: AuditEntry.Action | str,
    actor: User | None = None,
    partner: Partner | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record who did what to a guest. Call it inside the transaction of the action itself, so
    an action and its audit row commit or roll back together."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEntry.objects.create(
        guest=guest, action=action, actor=actor, acting_partner=partner, details=details or {}
    )
