"""The preference centre: reached from the signed link of an email, without logging in.

Each change is a ledger entry with the request as proof; one partner's offers off leaves the
others; leave everything is an objection that reaches every partner; a bad or expired link is a
400 page; GET changes nothing; the form POST needs its CSRF token."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from destination.consent_selectors import consent_is_granted
from destination.models import AuditEntry, ConsentEvent, ConsentProof, Guest, Purpose
from newsletters import preference_views, preferences
from newsletters.models import Message
from newsletters.services import preferences_url
from newsletters.tokens import unsubscribe_token
from partners.models import Partner, PartnerGuestLink
from tests.factories import ConsentWordingFactory, PartnerFactory
from tests.newsletters.helpers import grant, guest_make
from tests.newsletters.test_services import marketing, transactional
from tests.queries import assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (preference test)"


def _path(message: Message) -> str:
    return "/" + preferences_url(message).split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    """A French guest who gets the newsletter and the offers of a ski school and a lodging
    (which both received the data), and a sent newsletter from the ski school."""
    ski = PartnerFactory(name="École de ski Alpha", kind=Partner.Kind.SKI_SCHOOL)
    lodging = PartnerFactory(name="Résidence Les Pins", kind=Partner.Kind.LODGING)
    PartnerFactory(name="Office de tourisme", kind=Partner.Kind.TOURIST_OFFICE)
    guest = guest_make(language="fr", email="anne@mail.example")
    grant(guest)
    grant(guest, purpose="partner_offers", partner=ski)
    grant(guest, purpose="partner_offers", partner=lodging)
    ConsentWordingFactory(purpose="partner_offers", language="fr")
    with django_capture_on_commit_callbacks(execute=True):
        message = marketing(guest, partner=ski)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    return guest, message, ski, lodging


def _granted(guest: Guest, purpose: str, partner: Partner | None = None) -> bool:
    return consent_is_granted(guest=guest, purpose=purpose, partner=partner, channel="email")


def _form(client: Client, path: str, **overrides: object) -> dict[str, object]:
    """The form as the page shows it (its checked boxes and chosen language), then changed."""
    page = client.get(path).content.decode()
    data: dict[str, object] = {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    }
    for name in re.findall(r'<input type="checkbox" name="(\w+)"[^>]*checked', page):
        data[name] = "on"
    data["language"] = re.search(r'<option value="(\w+)" selected>', page)[1]
    data["save"] = "1"
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_every_marketing_email_carries_the_link_in_html_and_text(world):
    _guest, message, _ski, _lodging = world
    email = mail.outbox[-1]
    url = preferences_url(message)
    assert url.startswith("http://") and "/newsletters/preferences/" in url
    assert url in email.body
    assert f'href="{url}"' in email.alternatives[0][0]
    assert "Gérer mes préférences" in email.alternatives[0][0]  # the guest's language


def test_transactional_emails_carry_no_preference_link(django_capture_on_commit_callbacks):
    guest = guest_make(language="en")
    with django_capture_on_commit_callbacks(execute=True):
        transactional(guest)
    assert "/newsletters/preferences/" not in mail.outbox[-1].body


def test_get_shows_the_state_in_the_guests_language_and_changes_nothing(world):
    guest, message, _ski, _lodging = world
    events = ConsentEvent.objects.count()
    response = Client().get(_path(message), HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert "Vos préférences" in page
    assert "anne@mail.example" in page
    assert "Offres de École de ski Alpha" in page and "Offres de Résidence Les Pins" in page
    assert len(re.findall(r'type="checkbox"[^>]*checked', page)) == 3
    assert '<meta name="robots" content="noindex">' in page
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"].startswith("max-age=0")
    # Labels and fieldsets: every input has its label, the groups their legend.
    for input_id in re.findall(r'<input type="checkbox" name="\w+" id="([\w-]+)"', page):
        assert f'<label for="{input_id}">' in page
    form = page.split('class="preferences__form"', 1)[1].split("</form>", 1)[0]
    assert form.count("<fieldset") == form.count("<legend>") == 2
    assert ConsentEvent.objects.count() == events
    assert guest.language == "fr"


def test_turning_off_one_partner_withdraws_only_that_partner_with_the_proof(world):
    guest, message, ski, lodging = world
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=UA)
    path = _path(message)
    response = client.post(
        path, _form(client, path, **{f"partner_{ski.pk}": None}), REMOTE_ADDR="203.0.113.5"
    )
    assert response.status_code == 302
    assert response["Location"] == f"{path}?saved=1"

    assert not _granted(guest, "partner_offers", ski)
    assert _granted(guest, "partner_offers", lodging)
    assert _granted(guest, "newsletter")
    (event,) = ConsentEvent.objects.filter(guest=guest, granted=False)
    assert (event.purpose, event.partner, event.channel) == ("partner_offers", ski, "email")
    proof = event.proof
    assert proof.method == ConsentProof.Method.EMAIL_LINK
    assert not proof.is_objection
    assert proof.evidence["ip"] == "203.0.113.5"
    assert proof.evidence["user_agent"] == UA
    assert proof.evidence["via"] == "preference_centre"
    assert proof.evidence["message"] == message.pk
    assert proof.evidence["message_id"] == message.message_id
    assert timezone.now() - datetime.fromisoformat(proof.evidence["at"]) < timedelta(minutes=1)
    saved = client.get(response["Location"]).content.decode()
    assert "Vos choix sont enregistrés." in saved

    # The same form again changes nothing more.
    client.post(path, _form(client, path))
    assert ConsentEvent.objects.filter(guest=guest, granted=False).count() == 1


def test_each_change_is_its_own_ledger_entry_and_a_grant_keeps_its_wording(world):
    guest, message, _ski, lodging = world
    client = Client(HTTP_USER_AGENT=UA)
    path = _path(message)
    client.post(path, _form(client, path, newsletter=None, **{f"partner_{lodging.pk}": None}))
    withdrawn = ConsentEvent.objects.filter(guest=guest, granted=False).order_by("pk")
    assert [(e.purpose, e.partner_id) for e in withdrawn] == [
        ("newsletter", None),
        ("partner_offers", lodging.pk),
    ]
    assert len({e.proof_id for e in withdrawn}) == 2  # one proof per change
    assert {e.proof.evidence["change"] for e in withdrawn} == {
        "newsletter",
        f"partner:{lodging.pk}",
    }

    # Back on: a grant, proved by the wording the page showed.
    page = client.get(path).content.decode()
    client.post(path, _form(client, path, newsletter="on"))
    assert _granted(guest, "newsletter")
    grant_event = ConsentEvent.objects.filter(guest=guest, purpose="newsletter").latest("pk")
    assert grant_event.granted
    assert grant_event.proof.wording is not None
    assert grant_event.proof.wording.text in page
    assert grant_event.proof.wording.language == "fr"


def test_the_language_changes_with_an_audit_entry_and_the_page_follows(world):
    guest, message, _ski, _lodging = world
    client = Client()
    path = _path(message)
    response = client.post(path, _form(client, path, language="en"), follow=True)
    guest.refresh_from_db()
    assert guest.language == "en"
    assert AuditEntry.objects.filter(guest=guest, action=AuditEntry.Action.CHANGE).exists()
    assert "Your choices are saved." in response.content.decode()
    assert '<html lang="en">' in response.content.decode()


def test_leave_everything_is_an_objection_reaching_every_partner(world):
    guest, message, ski, lodging = world
    other = PartnerFactory(name="Bike rental", kind=Partner.Kind.ACTIVITY)
    # Received the data (a booking, say), never asked for its offers.
    now = timezone.now()
    PartnerGuestLink.objects.create(
        partner=other, guest=guest, reason="booking", first_seen_at=now, last_seen_at=now
    )
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=UA)
    path = _path(message)
    token = _form(client, path)["csrfmiddlewaretoken"]
    response = client.post(
        path, {"csrfmiddlewaretoken": token, "leave": "1"}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 200
    assert "Vous avez tout quitté" in response.content.decode()

    assert not _granted(guest, "newsletter")
    for partner in (ski, lodging):
        assert not _granted(guest, "partner_offers", partner)
    objection = ConsentProof.objects.get(is_objection=True)
    assert objection.method == ConsentProof.Method.EMAIL_LINK
    assert objection.recorded_by_partner == ski  # received through the email's sender
    assert set(objection.evidence["reached_partners"]) >= {ski.pk, lodging.pk, other.pk}
    assert objection.evidence["ip"] == "198.51.100.4"
    assert objection.evidence["via"] == "preference_centre"
    reached = ConsentEvent.objects.filter(proof=objection)
    assert {e.partner_id for e in reached} >= {ski.pk, lodging.pk, other.pk}
    assert {e.purpose for e in reached} == {Purpose.PARTNER_OFFERS, Purpose.PROFILE_SHARING}
    assert ConsentEvent.objects.filter(
        guest=guest, purpose="newsletter", granted=False, proof__evidence__change="leave_all"
    ).exists()


def test_a_destination_email_files_the_objection_with_the_tourist_office(world):
    guest, _message, _ski, _lodging = world
    news = marketing(guest, key="campaign:2:guest:1")  # the destination's newsletter
    client = Client()
    path = _path(news)
    token = _form(client, path)["csrfmiddlewaretoken"]
    client.post(path, {"csrfmiddlewaretoken": token, "leave": "1"})
    objection = ConsentProof.objects.get(is_objection=True)
    assert objection.recorded_by_partner.kind == Partner.Kind.TOURIST_OFFICE


def test_the_form_post_needs_its_csrf_token(world):
    guest, message, ski, _lodging = world
    client = Client(enforce_csrf_checks=True)
    path = _path(message)
    form = _form(client, path, **{f"partner_{ski.pk}": None})
    form.pop("csrfmiddlewaretoken")
    assert client.post(path, form).status_code == 403
    assert client.post(path, {"leave": "1"}).status_code == 403
    assert _granted(guest, "partner_offers", ski)
    assert _granted(guest, "newsletter")


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "0123456789abcdef0123456789abcdef:forged",
        unsubscribe_token(message_uuid=uuid.uuid4()),  # well signed, no such message
    ],
)
def test_a_bad_token_is_a_400_page_never_a_500(world, token):
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/newsletters/preferences/{token}/")
        assert response.status_code == 400
        assert "Ce lien ne fonctionne pas" in response.content.decode() or (
            "This link does not work" in response.content.decode()
        )


def test_an_expired_link_is_a_400_page(world, settings):
    guest, message, ski, _lodging = world
    settings.NEWSLETTER_PREFERENCES_DAYS = 365
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=366))
    response = Client().get(_path(message), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert Client().post(_path(message), {"leave": "1"}).status_code == 400
    assert _granted(guest, "partner_offers", ski)


def test_a_message_without_guest_or_an_erased_guest_is_a_400(world):
    guest, message, _ski, _lodging = world
    orphan = transactional(None, key="test:orphan")
    assert Client().get(_path(orphan)).status_code == 400
    Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
    assert Client().get(_path(message)).status_code == 400


def test_the_page_costs_no_query_per_partner(world):
    """The partners' choices come from one query of the consent states, partners joined."""
    guest, message, _ski, _lodging = world
    client = Client()
    path = _path(message)
    client.get(path)  # warm: the wordings, the site's caches
    with capture_queries() as few:
        client.get(path)
    for _n in range(3):
        grant(guest, purpose="partner_offers", partner=PartnerFactory())
    with capture_queries() as many:
        page = client.get(path).content.decode()
    assert page.count('name="partner_') == 5
    assert_same_num_queries(few, many)


def test_a_guest_erased_between_the_page_and_the_click_gets_a_400_not_a_500(world, monkeypatch):
    guest, message, ski, _lodging = world
    client = Client()
    path = _path(message)
    form = _form(client, path, **{f"partner_{ski.pk}": None})
    found = preferences.preferences_message_get

    def then_erased(*, token):
        read = found(token=token)
        Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
        return read

    monkeypatch.setattr(preference_views, "preferences_message_get", then_erased)
    assert client.post(path, form).status_code == 400
    assert (
        client.post(
            path, {"leave": "1", "csrfmiddlewaretoken": form["csrfmiddlewaretoken"]}
        ).status_code
        == 400
    )
    assert not ConsentEvent.objects.filter(guest=guest, granted=False).exists()
