"""The Stripe webhook: verified with the endpoint's signing secret, each event processed once."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bookings.stripe_events import stripe_event_process
from destination.http import client_ip

logger = logging.getLogger(__name__)

# Fields the handlers read from ``data.object``, by the type each must have when present (None is
# always allowed: Stripe sends null for unset fields). Ids and references: short clean strings.
_STRING_FIELDS = ("id", "payment_status", "payment_link", "payment_intent", "client_reference_id")
_AMOUNT_FIELDS = ("amount_total", "amount_refunded", "amount")
_CLEAN_ID = re.compile(r"^[\w.:\-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def stripe_event_shape_error(payload: Any) -> str | None:
    """Why a verified event cannot be processed, or None. Stripe signs what it sends, so a bad
    shape is a Stripe-side change or a test sent by hand, never worth a retry."""
    if not isinstance(payload, dict):
        return "event is not an object"
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not _CLEAN_ID.match(event_id):
        return "event id missing or malformed"
    if not isinstance(event_type, str) or not _CLEAN_ID.match(event_type):
        return "event type missing or malformed"
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    obj = data["object"]
    for name in _STRING_FIELDS:
        value = obj.get(name)
        if value is not None and (not isinstance(value, str) or _CONTROL.search(value)):
            return f"data.object.{name} is not a string"
    for name in _AMOUNT_FIELDS:
        value = obj.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"data.object.{name} is not an integer"
    metadata = obj.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            return "data.object.metadata is not an object"
        for key in ("booking", "payment"):
            value = metadata.get(key)
            if value is not None and (not isinstance(value, str) or _CONTROL.search(value)):
                return f"data.object.metadata.{key} is not a string"
    refunds = obj.get("refunds")
    if refunds is not None:
        items = refunds.get("data") if isinstance(refunds, dict) else "not an object"
        if not isinstance(items, list | None) or not all(
            isinstance(item, dict) and isinstance(item.get("id") or "", str) for item in items or []
        ):
            return "data.object.refunds is malformed"
    return None


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe calls this with an event. Bad or missing signatures get 400 (and a log line);
    duplicates get 200 without being processed again; an error in processing gets 500, so
    Stripe retries it later (nothing of it was kept).

    A signed event whose shape the handlers cannot read (``{}``, ``data`` a string, an amount
    that is not an integer) gets 200 "ignored" and an error log line: a retry would send the
    same bytes for days, and nothing is recorded, so the event can be replayed from Stripe's
    dashboard once the cause is understood."""
    signature = request.headers.get("Stripe-Signature", "")
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        logger.warning("Stripe webhook called but STRIPE_WEBHOOK_SECRET is not set")
        return HttpResponseBadRequest("webhook not configured")
    try:
        stripe.WebhookSignature.verify_header(
            request.body, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
        # The verified payload as plain JSON, not StripeObjects: the handlers read dicts.
        payload = json.loads(request.body)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.warning("Stripe webhook refused (%s) from %s", exc, client_ip(request) or "?")
        return HttpResponseBadRequest("invalid signature")
    shape_error = stripe_event_shape_error(payload)
    if shape_error is not None:
        logger.error(
            "Stripe webhook event %.80r ignored: %s",
            payload.get("id") if isinstance(payload, dict) else None,
            shape_error,
        )
        return HttpResponse("ignored", content_type="text/plain")
    obj = payload["data"]["object"]
    processed = stripe_event_process(event_id=payload["id"], event_type=payload["type"], obj=obj)
    return HttpResponse("ok" if processed else "duplicate", content_type="text/plain")
