"""The Stripe webhook: verified with the endpoint's signing secret, each event processed once."""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bookings.stripe_events import stripe_event_process
from destination.http import client_ip

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe calls this with an event. Bad or missing signatures get 400 (and a log line);
    duplicates get 200 without being processed again; an error in processing gets 500, so
    Stripe retries it later (nothing of it was kept)."""
    signature = request.headers.get("Stripe-Signature", "")
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        logger.warning("Stripe webhook called but STRIPE_WEBHOOK_SECRET is not set")
        return HttpResponseBadRequest("webhook not configured")
    try:
        event = stripe.Webhook.construct_event(request.body, signature, secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.warning("Stripe webhook refused (%s) from %s", exc, client_ip(request) or "?")
        return HttpResponseBadRequest("invalid signature")
    # The verified payload as plain JSON, not StripeObjects: the handlers read dicts.
    payload = json.loads(request.body)
    obj = (payload.get("data") or {}).get("object") or {}
    processed = stripe_event_process(event_id=event.id, event_type=event.type, obj=obj)
    return HttpResponse("ok" if processed else "duplicate", content_type="text/plain")
