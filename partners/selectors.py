"""Reads of the partners app. Everything about a guest goes through ``partners.access``, so a
partner never reads another partner's private rows whatever list it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from partners.access import GuestAccess, interactions_visible_to, timeline_visible_to
from partners.models import Interaction, Membership, Partner

if TYPE_CHECKING:
    from destination.models import Guest, TimelineEvent, User


def partner_list_for_user(user: User) -> QuerySet[Partner]:
    """The active partners the user may act for (active memberships only)."""
    active = Membership.objects.active().filter(user_id=user.pk)
    return Partner.objects.filter(pk__in=active.values("partner_id")).order_by("name")


def membership_list_for_partner(partner: Partner) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(partner=partner)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__email")
    )


def interaction_list_for_guest(
    *, partner: Partner, guest: Guest, access: GuestAccess | None = None
) -> QuerySet[Interaction]:
    """The guest's interactions this partner may read, newest first, staff and partner joined."""
    return (
        interactions_visible_to(partner=partner, guest=guest, access=access)
        .select_related("partner", "staff")
        .order_by("-occurred_at", "-id")
    )


def interaction_list_for_partner(*, partner: Partner) -> QuerySet[Interaction]:
    """The interactions this partner logged itself, across guests, newest first."""
    return (
        Interaction.objects.filter(partner=partner)
        .select_related("guest", "staff")
        .order_by("-occurred_at", "-id")
    )


def timeline_list_for_guest(
    *, partner: Partner, guest: Guest, access: GuestAccess | None = None
) -> QuerySet[TimelineEvent]:
    """The guest's 360° timeline as this partner may read it, newest first."""
    return (
        timeline_visible_to(partner=partner, guest=guest, access=access)
        .select_related("partner")
        .order_by("-occurred_at", "-id")
    )
