"""A signed event the handlers cannot read is answered 200 "ignored" with an error log line,
not a 500 that Stripe would retry for days (issue 16); nothing of it is recorded."""

import json
import logging

import pytest

from bookings.models import StripeEvent
from tests.bookings.helpers import event_payload, sign

pytestmark = pytest.mark.django_db


def _post_raw(client, payload: str):
    return client.post(
        "/stripe/webhook/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload)},
    )


def _event(**changes) -> str:
    event = json.loads(event_payload("checkout.session.completed", {"id": "cs_1"}))
    event.update(changes)
    return json.dumps(event)


@pytest.mark.parametrize(
    "payload",
    [
        "{}",
        "[]",
        '"event"',
        _event(data="a string"),
        _event(data={"object": "a string"}),
        _event(data={"object": {"id": "cs_1", "payment_status": "paid", "amount_total": "ten"}}),
        _event(data={"object": {"id": "cs_1", "payment_status": "paid", "amount_total": 1.5}}),
        _event(data={"object": {"id": ["cs_1"], "payment_status": "paid"}}),
        _event(data={"object": {"id": "cs_1", "metadata": "booking"}}),
        _event(data={"object": {"id": "cs_1", "metadata": {"booking": 12}}}),
        _event(type="charge.refunded", data={"object": {"id": "ch_1", "refunds": []}}),
        _event(type="charge.refunded", data={"object": {"id": "ch_1", "amount": "1"}}),
        _event(type=None),
        _event(id="evt_\x00"),
    ],
)
def test_signed_malformed_event_is_ignored_and_logged(client, fake_stripe, caplog, payload):
    with caplog.at_level(logging.ERROR, logger="bookings.webhooks"):
        response = _post_raw(client, payload)
    assert response.status_code == 200
    assert response.content == b"ignored"
    assert "ignored" in caplog.text
    assert not StripeEvent.objects.exists()


def test_signed_invalid_json_is_a_400(client, fake_stripe):
    assert _post_raw(client, "{not json").status_code == 400


def test_a_well_formed_unknown_event_is_still_recorded(client, fake_stripe):
    response = _post_raw(client, event_payload("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert StripeEvent.objects.count() == 1
