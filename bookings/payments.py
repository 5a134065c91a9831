"""Payment providers behind one interface.

- ``OnSiteProvider`` (the default when no Stripe key is configured): the guest pays at the
  partner's desk; nothing is charged online and refunds are handled at the desk.
- ``StripeProvider``: Stripe Checkout Sessions for the booking payment, Payment Links for a
  stay's balance, refunds. Every call carries an idempotency key derived from the booking and the
  payment, so a retried request (a double click, a task retried after a timeout) never charges
  or refunds twice. The HTTP client is injectable: tests pass a fake one and never touch the
  network (``http_client_factory``).

Providers never write to the database: the services do, around these calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

import stripe
from django.conf import settings

if TYPE_CHECKING:
    from stripe import RequestOptions
    from stripe.params import PaymentLinkUpdateParams

ON_SITE = "on_site"
STRIPE = "stripe"
CURRENCY = "eur"


class PaymentProviderError(Exception):
    """The provider refused or could not be reached; the caller decides what the user sees."""


@dataclass(frozen=True)
class CheckoutResult:
    session_id: str
    url: str


@dataclass(frozen=True)
class PaymentLinkResult:
    link_id: str
    url: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # "succeeded", "pending", "failed", or "manual" (refund at the desk)


class PaymentProvider(Protocol):
    name: str

    def checkout_create(
        self,
        *,
        reference: str,
        description: str,
        amount_cents: int,
        customer_email: str,
        language: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> CheckoutResult: ...

    def checkout_expire(self, *, session_id: str) -> None: ...

    def payment_link_create(
        self,
        *,
        description: str,
        amount_cents: int,
        metadata: dict[str, str],
        redirect_url: str,
        idempotency_key: str,
    ) -> PaymentLinkResult: ...

    def payment_link_deactivate(self, *, link_id: str) -> None: ...

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult: ...


class OnSiteProvider:
    """Pay at the desk: no online payment exists, so no checkout or link can be made."""

    name = ON_SITE

    def _refuse(self) -> PaymentProviderError:
        return PaymentProviderError("Online card payment is not configured (no Stripe key).")

    def checkout_create(self, **kwargs: Any) -> CheckoutResult:
        raise self._refuse()

    def checkout_expire(self, *, session_id: str) -> None:
        return None

    def payment_link_create(self, **kwargs: Any) -> PaymentLinkResult:
        raise self._refuse()

    def payment_link_deactivate(self, *, link_id: str) -> None:
        return None  # no link was ever made

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        return RefundResult(refund_id="", status="manual")


# Tests replace this with a factory returning a fake ``stripe.HTTPClient``.
http_client_factory: Callable[[], stripe.HTTPClient | None] = lambda: None  # noqa: E731


class StripeProvider:
    name = STRIPE

    def __init__(self, api_key: str, http_client: stripe.HTTPClient | None = None) -> None:
        kwargs: dict[str, Any] = {"max_network_retries": 2}
        if http_client is not None:
            kwargs["http_client"] = http_client
        self.client = stripe.StripeClient(api_key, **kwargs)

    def _call(self, fn: Callable[..., Any], params: dict[str, Any], key: str | None) -> Any:
        options: dict[str, Any] = {"idempotency_key": key} if key else {}
        try:
            return fn(params=params, options=options)
        except stripe.StripeError as exc:
            raise PaymentProviderError(str(exc.user_message or exc)) from exc

    def checkout_create(
        self,
        *,
        reference: str,
        description: str,
        amount_cents: int,
        customer_email: str,
        language: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> CheckoutResult:
        params: dict[str, Any] = {
            "mode": "payment",
            # Cards only: a delayed method (SEPA debit...) would leave the seats held for days
            # before async_payment_succeeded/failed. Not left to the dashboard's settings.
            "payment_method_types": ["card"],
            "client_reference_id": reference,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": CURRENCY,
                        "unit_amount": amount_cents,
                        "product_data": {"name": description[:250]},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "locale": language if language in ("en", "fr") else "auto",
        }
        if customer_email:
            params["customer_email"] = customer_email
        session = self._call(self.client.v1.checkout.sessions.create, params, idempotency_key)
        return CheckoutResult(session_id=session.id, url=session.url or "")

    def checkout_expire(self, *, session_id: str) -> None:
        try:
            self.client.v1.checkout.sessions.expire(session_id)
        except stripe.StripeError:
            # Already completed or expired: the webhook tells which.
            return

    def payment_link_create(
        self,
        *,
        description: str,
        amount_cents: int,
        metadata: dict[str, str],
        redirect_url: str,
        idempotency_key: str,
    ) -> PaymentLinkResult:
        price = self._call(
            self.client.v1.prices.create,
            {
                "currency": CURRENCY,
                "unit_amount": amount_cents,
                "product_data": {"name": description[:250]},
            },
            f"{idempotency_key}-price",
        )
        params: dict[str, Any] = {
            "line_items": [{"price": price.id, "quantity": 1}],
            "payment_method_types": ["card"],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            # One payment only: the link is for this balance, not a reusable shop page.
            "restrictions": {"completed_sessions": {"limit": 1}},
        }
        if redirect_url:
            params["after_completion"] = {"type": "redirect", "redirect": {"url": redirect_url}}
        link = self._call(self.client.v1.payment_links.create, params, idempotency_key)
        return PaymentLinkResult(link_id=link.id, url=link.url)

    def payment_link_deactivate(self, *, link_id: str) -> None:
        """Close a link so it takes no more payments (``active=false``; repeating it is
        harmless). Raises PaymentProviderError when Stripe refuses or cannot be reached."""

        def update(*, params: dict[str, Any], options: dict[str, Any]) -> Any:
            return self.client.v1.payment_links.update(
                link_id,
                params=cast("PaymentLinkUpdateParams", params),
                options=cast("RequestOptions", options),
            )

        self._call(update, {"active": False}, f"deactivate-{link_id}")

    def refund(
        self, *, payment_intent_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult:
        refund = self._call(
            self.client.v1.refunds.create,
            {"payment_intent": payment_intent_id, "amount": amount_cents},
            idempotency_key,
        )
        return RefundResult(refund_id=refund.id, status=refund.status or "pending")


def provider_name() -> str:
    """ "stripe" when a Stripe secret key is configured, else "on_site"."""
    return STRIPE if settings.STRIPE_SECRET_KEY else ON_SITE


def provider_get(name: str | None = None) -> PaymentProvider:
    name = name or provider_name()
    if name == STRIPE:
        if not settings.STRIPE_SECRET_KEY:
            raise PaymentProviderError("STRIPE_SECRET_KEY is not set.")
        return StripeProvider(settings.STRIPE_SECRET_KEY, http_client=http_client_factory())
    return OnSiteProvider()
