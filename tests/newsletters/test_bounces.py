"""Bounces and complaints from a provider's tracking webhook (Mailgun, signed like Mailgun signs:
HMAC-SHA256 of timestamp + token with the webhook signing key, checked by anymail offline)
suppress the address once per event; later emails to it are skipped."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.core import mail
from django.test import override_settings

from newsletters.models import Message, Suppression
from newsletters.services import message_enqueue
from tests.newsletters.helpers import guest_make

pytestmark = pytest.mark.django_db
SIGNING_KEY = "key-test-webhook-signing"
URL = "/newsletters/anymail/mailgun/tracking/"


@pytest.fixture(autouse=True)
def _mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def _payload(event: str, *, recipient: str, token: str, key: str = SIGNING_KEY, **data) -> str:
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    event_data = {
        "event": event,
        "id": f"id-{token}",
        "timestamp": float(timestamp),
        "recipient": recipient,
        "message": {"headers": {"message-id": "abc@lists.destination.example"}},
        **data,
    }
    return json.dumps(
        {
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": event_data,
        }
    )


def _post(client, body: str):
    return client.post(URL, data=body, content_type="application/json")


def test_a_hard_bounce_suppresses_the_address_once(client):
    body = _payload(
        "failed",
        recipient="Anne@Example.org",
        token="tok-bounce-1",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "5.1.1 no such user"}},
    )
    assert _post(client, body).status_code == 200
    assert _post(client, body).status_code == 200  # the provider repeats it
    [suppression] = Suppression.objects.all()
    assert suppression.address == "anne@example.org"
    assert suppression.reason == Suppression.Reason.BOUNCE
    assert suppression.provider_event_id == "mailgun:tok-bounce-1"


def test_a_complaint_suppresses_and_later_emails_are_skipped(
    client, django_capture_on_commit_callbacks
):
    guest = guest_make(email="paul@example.org")
    assert (
        _post(client, _payload("complained", recipient="paul@example.org", token="t2")).status_code
        == 200
    )
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    with django_capture_on_commit_callbacks(execute=True):
        message, _created = message_enqueue(
            source="test", kind="transactional", dedupe_key="test:after-complaint",
            guest=guest, address="paul@example.org", language="en", template="test",
            context={"first_name": "Paul"},
        )  # fmt: skip
    message.refresh_from_db()
    assert message.status == Message.Status.SKIPPED
    assert message.skip_reason == Message.SkipReason.SUPPRESSED
    assert mail.outbox == []


def test_a_soft_bounce_or_a_delivery_changes_nothing(client):
    soft = _payload("failed", recipient="a@example.org", token="t3", severity="temporary")
    delivered = _payload("delivered", recipient="a@example.org", token="t4")
    assert _post(client, soft).status_code == 200
    assert _post(client, delivered).status_code == 200
    assert not Suppression.objects.exists()


def test_a_bad_signature_is_refused(client):
    forged = _payload("complained", recipient="a@example.org", token="t5", key="not-the-key")
    assert _post(client, forged).status_code == 400
    assert not Suppression.objects.exists()


@override_settings(ANYMAIL={})
def test_without_a_signing_key_the_webhook_is_not_configured(client):
    from django.core.exceptions import ImproperlyConfigured

    body = _payload("complained", recipient="a@example.org", token="t6")
    with pytest.raises(ImproperlyConfigured):
        _post(client, body)
    assert not Suppression.objects.exists()
