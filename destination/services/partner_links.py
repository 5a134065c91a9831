"""Partner-guest links written by the core: "this partner received the guest's data".

A consent granted to a partner links it (``consent_record``), as do resolution (a partner that
created or imported the guest) and the apps above (bookings, interactions). The row belongs to
``partners.models.PartnerGuestLink``: one of the core's two declared reads of the partners app
(see ``destination/__init__.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from destination.models import Guest
from partners.models import Partner, PartnerGuestLink  # layering exception: destination/__init__.py


@transaction.atomic
def partner_guest_link_touch(
    *,
    partner: Partner,
    guest: Guest,
    reason: PartnerGuestLink.Reason | str,
    at: datetime | None = None,
    booked: bool = False,
    evidence: dict[str, Any] | None = None,
) -> PartnerGuestLink:
    """Record that ``partner`` has a relationship with ``guest`` (it "received the data").

    Creates the link or moves ``last_seen_at`` forward; ``first_seen_at`` and the first reason
    only change when an older event is recorded late (an import of past bookings). ``has_booked``
    never goes back to False. ``evidence`` says how the relationship was proved (the booking,
    the consent proof, the staff member and the contact point that matched); it is kept with
    the first reason. A RESOLVED row (an API match, not a relationship) is upgraded to the
    first real evidence that comes. Safe under concurrency: the unique (partner, guest) constraint and
    the row lock serialise two simultaneous touches.
    """
    at = at or timezone.now()
    link, created = PartnerGuestLink.objects.select_for_update().get_or_create(
        partner=partner,
        guest=guest,
        defaults={
            "reason": reason,
            "evidence": evidence or {},
            "has_booked": booked,
            "first_seen_at": at,
            "last_seen_at": at,
        },
    )
    if created:
        return link
    fields: list[str] = []
    if at > link.last_seen_at:
        link.last_seen_at = at
        fields.append("last_seen_at")
    weak = PartnerGuestLink.Reason.RESOLVED
    if link.reason == weak and reason != weak:
        link.reason = reason
        link.evidence = evidence or {}
        fields += ["reason", "evidence"]
        if at < link.first_seen_at:
            link.first_seen_at = at
            fields.append("first_seen_at")
    elif at < link.first_seen_at and not (reason == weak and link.reason != weak):
        link.first_seen_at = at
        link.reason = reason
        link.evidence = evidence or {}
        fields += ["first_seen_at", "reason", "evidence"]
    if booked and not link.has_booked:
        link.has_booked = True
        fields.append("has_booked")
    if fields:
        link.save(update_fields=fields)
    return link
