"""The tracking pipeline's writes: the recorder behind the open pixel and the click redirector
(``MessageHitRecorder``, the ``tracking_views.HitRecorder`` of the project), and the settle pass.

- **Recording** (inside the request, so few queries): the message is read once by its uuid (the
  token's reference), the classifier gets the message's recent click hits, then
  ``tracking.hit_use`` decides: a click is stored per message (``TrackingHit``); an open is stored
  per message only when the guest currently grants ``Purpose.PROFILING`` (one
  ``consent_is_granted`` query), otherwise one ``TrackingCount`` row of its campaign or journey
  step is incremented, with nothing that leads back to the guest. The address is truncated (/24
  IPv4, /48 IPv6) and the agent trimmed before anything is stored. Nothing here touches the
  guest's contact: the live verdict of a click is provisional.
- **Settling** (``tracking_hits_settle``, the beat tick ``newsletters-tracking-settle``): once
  a click is older than ``NEWSLETTER_TRACKING_SETTLE_SECONDS`` (longer than the burst window),
  every click hit of its message is reclassified against all the others
  (``tracking.hits_reclassify``: the first links of a gateway's burst and a real link fetched
  before the trap looked human when they came). The unsettled ones get their final verdict and
  ``settled``; for those still human the guest's contact is touched (``guest_contact_touch``, the
  retention clock) and one timeline entry is written per message and pass, in the same
  transaction. The rows are locked with SKIP LOCKED and only unsettled rows are read, so a second
  run, a redelivered task or two ticks touch nothing twice.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.consent_selectors import consent_is_granted
from destination.models import TimelineEvent
from destination.services.timeline import TimelineItem, guest_contact_touch, timeline_add_many
from newsletters.models import Campaign, JourneyStep, Message, TrackingCount, TrackingHit
from newsletters.tracking import (
    PROFILING_PURPOSE,
    Classification,
    HitKind,
    RawHit,
    Storage,
    Verdict,
    hit_use,
    hit_with_send_time,
    hits_reclassify,
)

logger = logging.getLogger(__name__)

USER_AGENT_STORED = 256
CAMPAIGN_KEY = re.compile(r"^campaign:(\d+):guest:")
JOURNEY_KEY = re.compile(r"^journey:(\d+):\d+$")
SETTLE_LIMIT = 500


def ip_truncate(ip: str | None) -> str | None:
    """The network of an address, not the address: /24 for IPv4, /48 for IPv6 (an IPv4-mapped
    IPv6 address is unwrapped first). Anything that is not an address is dropped."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class MessageScope:
    """What a hit is recorded against: the message and its campaign or journey step."""

    message_id: int
    guest_id: int | None
    sent_at: datetime | None
    campaign_id: int | None
    journey_step_id: int | None

    @property
    def count_scope(self) -> str:
        if self.campaign_id is not None:
            return f"campaign:{self.campaign_id}"
        if self.journey_step_id is not None:
            return f"step:{self.journey_step_id}"
        return "other"


def _scope_ids(dedupe_key: str) -> tuple[int | None, int | None]:
    campaign = CAMPAIGN_KEY.match(dedupe_key)
    if campaign:
        return int(campaign.group(1)), None
    step = JOURNEY_KEY.match(dedupe_key)
    if step:
        return None, int(step.group(1))
    return None, None


# Campaigns and steps seen to exist (a hit's foreign keys). Positive answers only: a campaign
# deleted later makes its hits' insert fall back to no campaign, see _existing().
_known: set[tuple[str, int]] = set()


def _existing(model: type[Campaign] | type[JourneyStep], pk: int | None) -> int | None:
    if pk is None:
        return None
    key = (model.__name__, pk)
    if key in _known:
        return pk
    if model.objects.filter(pk=pk).exists():
        _known.add(key)
        return pk
    return None


def message_scope(message_ref: str) -> MessageScope | None:
    """The message a token names (its uuid in hex), or None: one query."""
    try:
        ref = uuid.UUID(hex=message_ref)
    except (TypeError, ValueError):
        return None
    row = (
        Message.objects.filter(uuid=ref)
        .values("pk", "guest_id", "sent_at", "dedupe_key", "source")
        .first()
    )
    if row is None:
        return None
    campaign_id, step_id = _scope_ids(row["dedupe_key"])
    return MessageScope(
        message_id=row["pk"],
        guest_id=row["guest_id"],
        sent_at=row["sent_at"],
        campaign_id=campaign_id if row["source"] == Message.Source.CAMPAIGN else None,
        journey_step_id=step_id if row["source"] == Message.Source.JOURNEY else None,
    )


def _raw(hit: TrackingHit, *, message_ref: str, sent_at: datetime | None) -> RawHit:
    raw = RawHit(
        kind=HitKind(hit.kind),
        message_ref=message_ref,
        at=hit.at,
        method=hit.method,
        ip=hit.ip,
        user_agent=hit.user_agent,
        link_index=hit.link_index,
    )
    return hit_with_send_time(raw, sent_at)


def tracking_count_add(*, scope: MessageScope, kind: str, verdict: str, reason: str) -> None:
    """One more hit in the aggregate of a campaign or journey step (an UPDATE, or the row's
    INSERT the first time; a concurrent first INSERT is caught and counted by UPDATE)."""
    key = {"scope": scope.count_scope, "kind": kind, "verdict": verdict, "reason": reason}
    if TrackingCount.objects.filter(**key).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            TrackingCount.objects.create(
                **key,
                campaign_id=_existing(Campaign, scope.campaign_id),
                journey_step_id=_existing(JourneyStep, scope.journey_step_id),
                count=1,
            )
    except IntegrityError:
        TrackingCount.objects.filter(**key).update(count=F("count") + 1)


class MessageHitRecorder:
    """The ``tracking_views.HitRecorder`` of the pipeline. The views call ``message_sent_at``,
    ``recent_hits_for_message`` and ``record_hit`` in that order for one hit: the message read
    by the first is kept for the other two (per thread, for that reference only)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _scope(self, message_ref: str) -> MessageScope | None:
        cached: tuple[str, MessageScope | None] | None = getattr(self._local, "scope", None)
        if cached is not None and cached[0] == message_ref:
            return cached[1]
        scope = message_scope(message_ref)
        self._local.scope = (message_ref, scope)
        return scope

    def message_sent_at(self, message_ref: str) -> datetime | None:
        self._local.scope = None  # a new hit: read the message afresh
        scope = self._scope(message_ref)
        return scope.sent_at if scope is not None else None

    def recent_hits_for_message(self, message_ref: str, *, since: datetime) -> Sequence[RawHit]:
        scope = self._scope(message_ref)
        if scope is None:
            return []
        hits = TrackingHit.objects.filter(
            message_id=scope.message_id, kind=TrackingHit.Kind.CLICK, at__gte=since
        ).order_by("at", "pk")
        return [_raw(h, message_ref=message_ref, sent_at=scope.sent_at) for h in hits]

    def record_hit(self, hit: RawHit, classification: Classification) -> None:
        scope = self._scope(hit.message_ref)
        self._local.scope = None
        if scope is None:
            logger.info("A %s hit for an unknown message was not recorded.", hit.kind)
            return
        granted = False
        if hit.kind == HitKind.OPEN and scope.guest_id is not None:
            granted = consent_is_granted(guest=scope.guest_id, purpose=PROFILING_PURPOSE)
        use = hit_use(hit=hit, classification=classification, profiling_granted=granted)
        if use.storage == Storage.AGGREGATE:
            tracking_count_add(
                scope=scope,
                kind=hit.kind,
                verdict=classification.verdict,
                reason=classification.reason,
            )
            return
        url = hit.url if hit.kind == HitKind.CLICK else ""
        TrackingHit.objects.create(
            message_id=scope.message_id,
            campaign_id=_existing(Campaign, scope.campaign_id),
            journey_step_id=_existing(JourneyStep, scope.journey_step_id),
            kind=hit.kind,
            link_index=hit.link_index if hit.kind == HitKind.CLICK else None,
            url=url[:2048],
            method=(hit.method or "")[:8],
            verdict=classification.verdict,
            reason=classification.reason,
            at=hit.at,
            ip=ip_truncate(hit.ip),
            user_agent=(hit.user_agent or "")[:USER_AGENT_STORED],
            # Opens are never contact: nothing to settle.
            settled=hit.kind == HitKind.OPEN,
        )


# --- The settle pass -------------------------------------------------------------------------


def _settle_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.NEWSLETTER_TRACKING_SETTLE_SECONDS)


def tracking_hits_settle(
    *, now: datetime | None = None, limit: int = SETTLE_LIMIT
) -> dict[str, int]:
    """Settle the click hits older than the settle delay, message by message (see the module
    docstring). Returns counts: messages, hits settled, human clicks, guests touched."""
    now = now or timezone.now()
    cutoff = _settle_cutoff(now)
    message_ids = list(
        TrackingHit.objects.filter(settled=False, at__lte=cutoff)
        .order_by()
        .values_list("message_id", flat=True)
        .distinct()[:limit]
    )
    totals = {"messages": 0, "hits": 0, "human": 0, "touched": 0}
    for message_id in sorted(message_ids):
        result = message_hits_settle(message_id=message_id, cutoff=cutoff)
        for key, value in result.items():
            totals[key] += value
    return totals


@transaction.atomic
def message_hits_settle(*, message_id: int, cutoff: datetime) -> dict[str, int]:
    """Reclassify one message's clicks and settle those at or before ``cutoff``; touch contact
    and write the timeline entry for the human ones. Locks the unsettled rows (SKIP LOCKED: a
    concurrent pass leaves them to this one)."""
    pending = list(
        TrackingHit.objects.select_for_update(skip_locked=True)
        .filter(message_id=message_id, settled=False, at__lte=cutoff)
        .order_by("at", "pk")
    )
    if not pending:
        return {"messages": 0, "hits": 0, "human": 0, "touched": 0}
    message = Message.objects.only("pk", "guest_id", "partner_id", "sent_at", "uuid").get(
        pk=message_id
    )
    ref = message.uuid.hex
    clicks = list(
        TrackingHit.objects.filter(message_id=message_id, kind=TrackingHit.Kind.CLICK).order_by(
            "at", "pk"
        )
    )
    verdicts = dict(
        zip(
            (h.pk for h in clicks),
            hits_reclassify([_raw(h, message_ref=ref, sent_at=message.sent_at) for h in clicks]),
            strict=True,
        )
    )
    human: list[TrackingHit] = []
    for hit in pending:
        final = verdicts.get(hit.pk)
        # More context only adds machine signals; a live "machine" stays machine.
        if final is not None and hit.verdict != Verdict.MACHINE:
            hit.verdict, hit.reason = final.verdict, final.reason
        hit.settled = True
        if hit.kind == TrackingHit.Kind.CLICK and hit.verdict == Verdict.HUMAN and hit.link_index:
            human.append(hit)
    TrackingHit.objects.bulk_update(pending, ["verdict", "reason", "settled"])
    touched = 0
    if human and message.guest_id is not None:
        at = max(h.at for h in human)
        touched = guest_contact_touch(guest_ids=[message.guest_id], at=at)
        first = human[0]
        data: dict[str, Any] = {
            "click": "human",
            "message": message.pk,
            "links": sorted({h.link_index for h in human if h.link_index is not None}),
        }
        if first.campaign_id is not None:
            data["campaign"] = first.campaign_id
        if first.journey_step_id is not None:
            data["journey_step"] = first.journey_step_id
        with translation.override(settings.LANGUAGE_CODE):
            title = _("Clicked a link in an email: %(url)s") % {"url": first.url or "-"}
        timeline_add_many(
            items=[
                TimelineItem(
                    guest_id=message.guest_id,
                    kind=TimelineEvent.Kind.MESSAGE,
                    occurred_at=at,
                    title=title,
                    partner_id=message.partner_id,
                    data=data,
                    source=message,
                )
            ]
        )
    return {"messages": 1, "hits": len(pending), "human": len(human), "touched": touched}


# --- GDPR (registered in apps.py) -----------------------------------------------------------


def tracking_hits_erase(guest_ids: list[int]) -> dict[str, int]:
    """Erased guests' hits lose their address and agent; what happened when stays for the
    statistics, like their anonymised messages."""
    erased = TrackingHit.objects.filter(message__guest_id__in=guest_ids).update(
        ip=None, user_agent=""
    )
    return {"tracking_hits": erased}


def tracking_hits_export(guest: Any) -> list[dict[str, Any]]:
    """The opens and clicks section of a guest's full export."""
    return [
        {
            "kind": h.kind,
            "at": h.at.isoformat(),
            "link": h.link_index,
            "url": h.url,
            "verdict": h.verdict,
            "reason": h.reason,
            "address_network": h.ip,
            "user_agent": h.user_agent,
            "message": h.message_id,
        }
        for h in TrackingHit.objects.filter(message__guest=guest).order_by("at", "pk")
    ]
