"""The preference centre in a real browser: a recipient opens it from the link of an email
they received (taken from the rendered message in the outbox), turns off one partner's offers
and keeps the rest. Screenshots: docs/screenshots/preference-centre.png (desktop, after
saving) and preference-centre-phone.png; axe finds no serious or critical violation."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page as Browser
from playwright.sync_api import expect

from destination.consent_selectors import consent_is_granted
from destination.models import ConsentEvent
from newsletters.models import Message
from newsletters.services import message_enqueue, message_send
from partners.models import Partner
from tests.e2e.helpers import PHONE, axe_violations, seed_site_for_browser
from tests.factories import ConsentWordingFactory, PartnerFactory
from tests.newsletters.helpers import grant, guest_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_recipient_turns_off_one_partners_offers_from_the_email_link(
    live_server, page: Browser, settings, screenshot
):
    seed_site_for_browser(live_server, stories=1)
    settings.NEWSLETTER_SITE_URL = live_server.url
    settings.NEWSLETTER_RATE_PER_SECOND = 0
    settings.NEWSLETTER_QUIET_HOURS = ""
    ski = PartnerFactory(name="École de ski des Aiguilles", kind=Partner.Kind.SKI_SCHOOL)
    lodging = PartnerFactory(name="Résidence Les Mélèzes", kind=Partner.Kind.LODGING)
    guest = guest_make(language="fr", email="camille@mail.example", first_name="Camille")
    grant(guest)
    grant(guest, purpose="partner_offers", partner=ski)
    grant(guest, purpose="partner_offers", partner=lodging)
    ConsentWordingFactory(purpose="partner_offers", language="fr")
    message, _created = message_enqueue(
        source="campaign",
        kind="marketing",
        dedupe_key="campaign:1:guest:1",
        address="camille@mail.example",
        language="fr",
        template="announcement",
        context={
            "first_name": "Camille",
            "title": "Nos cours de ski",
            "body": "Les cours reprennent samedi.",
            "url": f"{live_server.url}/fr/",
        },
        guest=guest,
        purpose="partner_offers",
        partner=ski,
    )
    assert message_send(message_id=message.pk) == Message.Status.SENT

    # The link as the recipient gets it: in the HTML part of the email in the outbox.
    (email,) = mail.outbox
    html = email.alternatives[0][0]
    link = re.search(r'<a href="([^"]+/newsletters/preferences/[^"]+/)"[^>]*>Gérer mes', html)[1]
    assert link.startswith(live_server.url)
    assert link in email.body  # and in the text part

    page.goto(link)
    expect(page.locator("h1")).to_have_text("Vos préférences d\u2019e-mails")
    newsletter = page.get_by_label(re.compile("La lettre d"))
    ski_box = page.get_by_label(f"Offres de {ski.name}")
    lodging_box = page.get_by_label(f"Offres de {lodging.name}")
    for box in (newsletter, ski_box, lodging_box):
        expect(box).to_be_checked()
    assert axe_violations(page) == []

    ski_box.uncheck()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    expect(page.get_by_role("status")).to_have_text("Vos choix sont enregistrés.")
    expect(page.get_by_label(f"Offres de {ski.name}")).not_to_be_checked()
    expect(page.get_by_label(f"Offres de {lodging.name}")).to_be_checked()
    assert axe_violations(page) == []
    screenshot(page, "preference-centre")

    assert not consent_is_granted(
        guest=guest, purpose="partner_offers", partner=ski, channel="email"
    )
    assert consent_is_granted(
        guest=guest, purpose="partner_offers", partner=lodging, channel="email"
    )
    assert consent_is_granted(guest=guest, purpose="newsletter", channel="email")
    (event,) = ConsentEvent.objects.filter(guest=guest, granted=False)
    assert event.partner == ski
    assert event.proof.evidence["via"] == "preference_centre"
    assert event.proof.evidence["ip"] == "127.0.0.1"
    assert "Chrome" in event.proof.evidence["user_agent"]

    page.set_viewport_size(PHONE)
    page.goto(link)
    expect(page.get_by_role("button", name="Tout quitter")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "preference-centre-phone")
