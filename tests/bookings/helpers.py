"""Stripe webhook payloads for the bookings tests, signed with Stripe's real scheme."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

WEBHOOK_SECRET = "whsec_test_secret"


def sign(payload: str, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


_event_ids = itertools.count(1)


def event_payload(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id or f"evt_test_{next(_event_ids)}_{time.monotonic_ns()}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    )


def post_event(client, event_type: str, obj: dict[str, Any], event_id: str | None = None, *,
               secret: str = WEBHOOK_SECRET):  # fmt: skip
    payload = event_payload(event_type, obj, event_id)
    return client.post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, secret)},
    )
