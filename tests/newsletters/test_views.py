"""The unsubscribe endpoint: GET asks, a cookie-less POST withdraws, a bad token is a 400."""

from __future__ import annotations

import pytest
from django.test import Client

from destination.consent_selectors import consent_is_granted
from destination.models import ConsentEvent, ConsentProof
from newsletters.services import unsubscribe_url
from tests.newsletters.helpers import grant, guest_make
from tests.newsletters.test_services import marketing, transactional

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    guest = guest_make(language="fr")
    grant(guest)
    with django_capture_on_commit_callbacks(execute=True):
        message = marketing(guest)
    message.refresh_from_db()
    path = unsubscribe_url(message).split("://", 1)[1].split("/", 1)[1]
    return guest, message, "/" + path


def test_get_shows_a_confirmation_and_unsubscribes_nobody(sent):
    guest, _message, path = sent
    response = Client().get(path)
    assert response.status_code == 200
    assert "Se désabonner" in response.content.decode()
    assert '<form method="post">' in response.content.decode()
    assert consent_is_granted(guest=guest, purpose="newsletter", channel="email")
    assert not ConsentEvent.objects.filter(guest=guest, granted=False).exists()


def test_a_cookieless_one_click_post_withdraws_at_once_with_its_proof(sent):
    guest, message, path = sent
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Gmail one-click")
    response = client.post(path, data={"List-Unsubscribe": "One-Click"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200  # no redirect
    assert not response.cookies
    assert not consent_is_granted(guest=guest, purpose="newsletter", channel="email")
    event = ConsentEvent.objects.get(guest=guest, granted=False)
    assert (event.purpose, event.channel, event.partner_id) == ("newsletter", "email", None)
    proof = event.proof
    assert proof.method == ConsentProof.Method.EMAIL_LINK
    assert proof.evidence["ip"] == "203.0.113.9"
    assert proof.evidence["user_agent"] == "Gmail one-click"
    assert proof.evidence["message"] == message.pk
    assert proof.evidence["message_id"] == message.message_id
    assert proof.evidence["via"] == "one_click_post"
    # A second POST (a retrying client) writes nothing more.
    assert client.post(path).status_code == 200
    assert ConsentEvent.objects.filter(guest=guest, granted=False).count() == 1


def test_the_page_button_withdraws_too(sent):
    guest, _message, path = sent
    response = Client().post(path, data={"List-Unsubscribe": "One-Click", "confirm": "1"})
    assert response.status_code == 200
    assert "Désabonné" in response.content.decode()
    assert ConsentEvent.objects.get(guest=guest, granted=False).proof.evidence["via"] == (
        "page_button"
    )


def test_a_partners_unsubscribe_leaves_the_destination_newsletter(
    django_capture_on_commit_callbacks,
):
    from tests.factories import PartnerFactory

    guest = guest_make(language="en")
    school = PartnerFactory()
    grant(guest)
    grant(guest, purpose="partner_offers", partner=school)
    with django_capture_on_commit_callbacks(execute=True):
        message = marketing(guest, partner=school)
    message.refresh_from_db()
    path = "/" + unsubscribe_url(message).split("://", 1)[1].split("/", 1)[1]
    assert Client().post(path).status_code == 200
    assert not consent_is_granted(
        guest=guest, purpose="partner_offers", partner=school, channel="email"
    )
    assert consent_is_granted(guest=guest, purpose="newsletter", channel="email")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_token_is_a_400_page_not_a_500(sent, method):
    guest, _message, path = sent
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    response = getattr(Client(), method)(tampered)
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert getattr(Client(), method)("/newsletters/unsubscribe/garbage/").status_code == 400
    assert consent_is_granted(guest=guest, purpose="newsletter", channel="email")


def test_a_transactional_message_has_nothing_to_unsubscribe(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = transactional(key="t")
    path = "/" + unsubscribe_url(message).split("://", 1)[1].split("/", 1)[1]
    assert Client().post(path).status_code == 200
    assert not ConsentEvent.objects.exists()
