"""Bounces and complaints from the email provider put the address on the suppression list.

django-anymail normalises each provider's tracking webhook (``/newsletters/anymail/<esp>/
tracking/``, signature or basic auth checked by anymail) into ``anymail.signals.tracking``
events. A hard bounce (``bounced``) or a spam complaint (``complained``) suppresses the
recipient for every later email, transactional or marketing (``message_send`` checks the list
at claim time). Providers repeat webhooks: each event is recorded once, by its ``event_id``
(``suppression_add`` is idempotent per provider event id, under a unique constraint). Soft
bounces (``deferred``) and the other events change nothing here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType

from newsletters.models import Suppression
from newsletters.services import suppression_add

SUPPRESSING = {
    EventType.BOUNCED: Suppression.Reason.BOUNCE,
    EventType.COMPLAINED: Suppression.Reason.COMPLAINT,
}


def _event_key(event: AnymailTrackingEvent, esp_name: str) -> str:
    """``<esp>:<event_id>``; a provider that sends no id gets a digest of what names the event
    (message, type, recipient, time), so a repeat still maps to one key."""
    if event.event_id:
        return f"{esp_name.lower()}:{event.event_id}"[:200]
    parts = [event.message_id, event.event_type, event.recipient, event.timestamp]
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{esp_name.lower()}:sha256:{digest}"


def tracking_event_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Receiver of ``anymail.signals.tracking`` (connected in NewslettersConfig.ready())."""
    reason = SUPPRESSING.get(event.event_type)
    if reason is None or not event.recipient:
        return
    detail = " ".join(
        part
        for part in (event.reject_reason or "", event.description or "", event.mta_response or "")
        if part
    )
    suppression_add(
        address=event.recipient,
        reason=reason,
        provider_event_id=_event_key(event, esp_name),
        detail=f"{esp_name}: {detail}"[:2000],
    )
