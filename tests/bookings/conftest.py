"""Fixtures of the bookings tests: offers and sessions, and a fake Stripe HTTP client (no network,
ever). The builders tests import live in tests/factories.py (offers, sessions, bookings) and
tests/bookings/helpers.py (signed webhook payloads)."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from bookings import payments
from bookings.models import Offer, Session
from partners.models import Partner
from tests.bookings.helpers import WEBHOOK_SECRET
from tests.factories import PartnerFactory, offer_make, session_make


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers the Stripe API calls the providers make, like Stripe does: the same idempotency
    key returns the first response again, and is refused (HTTP 400, ``idempotency_error``) when
    the method, path or parameters differ from its first use. Every request is recorded."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        # key -> (method, path, params of the first use, first response)
        self._by_key: dict[str, tuple[str, str, dict[str, str], tuple[str, int, dict]]] = {}
        self._ids = itertools.count(1)
        self.refund_status = "succeeded"
        self.fail_next: int | None = None  # an HTTP status to answer once
        self.fail_always: int | None = None  # an HTTP status to answer until reset
        self.inactive_links: set[str] = set()  # payment links deactivated (active=false)

    def request(self, method, url, headers, post_data=None, *, _usage=None):  # type: ignore[no-untyped-def]
        path = url.split("api.stripe.com", 1)[-1]
        params = {k: v[0] for k, v in parse_qs(post_data or "").items()}
        key = (headers or {}).get("Idempotency-Key")
        self.requests.append(
            {"method": method, "path": path, "params": params, "idempotency_key": key}
        )
        if self.fail_next or self.fail_always:
            status, self.fail_next = self.fail_next or self.fail_always, None
            body = {"error": {"type": "api_error", "message": "Stripe is down"}}
            return json.dumps(body), status, {}
        if key and key in self._by_key:
            first_method, first_path, first_params, first_response = self._by_key[key]
            if (first_method, first_path, first_params) != (method, path, params):
                body = {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same "
                        f"parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    }
                }
                return json.dumps(body), 400, {}
            return first_response
        n = next(self._ids)
        if path == "/v1/checkout/sessions":
            body = {
                "id": f"cs_test_{n}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                "amount_total": int(params.get("line_items[0][price_data][unit_amount]", 0)),
                "metadata": {"booking": params.get("metadata[booking]", "")},
            }
        elif path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
            body = {"id": path.split("/")[4], "object": "checkout.session", "status": "expired"}
        elif path == "/v1/prices":
            body = {"id": f"price_{n}", "object": "price"}
        elif path == "/v1/payment_links":
            body = {
                "id": f"plink_{n}",
                "object": "payment_link",
                "url": f"https://buy.stripe.com/t_{n}",
            }
        elif path.startswith("/v1/payment_links/"):
            link_id = path.split("/")[3]
            active = params.get("active", "true") == "true"
            if active:
                self.inactive_links.discard(link_id)
            else:
                self.inactive_links.add(link_id)
            body = {"id": link_id, "object": "payment_link", "active": active}
        elif path == "/v1/refunds":
            body = {"id": f"re_{n}", "object": "refund", "status": self.refund_status}
        else:
            return json.dumps({"error": {"message": f"unknown {path}"}}), 404, {}
        response = (json.dumps(body), 200, {"Request-Id": f"req_{n}"})
        if key:
            self._by_key[key] = (method, path, params, response)
        return response

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        return None


@pytest.fixture
def fake_stripe(settings, monkeypatch) -> FakeStripeHTTP:
    """Card payments on, through the fake HTTP client."""
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    fake = FakeStripeHTTP()
    monkeypatch.setattr(payments, "http_client_factory", lambda: fake)
    return fake


@pytest.fixture
def on_site(settings) -> None:
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def ski_school(db) -> Partner:
    return PartnerFactory(name="École de Ski Test", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def offer(ski_school) -> Offer:
    return offer_make(ski_school)


@pytest.fixture
def session(offer) -> Session:
    return session_make(offer)


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English whatever an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def school(db) -> Partner:
    return PartnerFactory(name="Ski School Alpha", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def lodge(db) -> Partner:
    return PartnerFactory(name="Lodge Beta", kind=Partner.Kind.LODGING)
