"""The core's guest services do not authorise (destination.services.guests): every portal path
that edits a guest checks ``can_edit_guest`` itself. One test per path that calls them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from destination.models import AuditEntry, GuestEmail, GuestPhone
from tests.factories import (
    GuestEmailFactory,
    GuestFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    return PartnerFactory()


@pytest.fixture
def agent(school):
    return MembershipFactory(partner=school).user


@pytest.mark.parametrize(
    "data",
    [
        {"action": "add", "email": "new@example.com", "phone": ""},
        {"action": "add", "email": "", "phone": "+33612345678"},
        {"action": "remove_email", "email": "kept@example.com"},
    ],
)
def test_the_portal_refuses_contact_edits_of_a_guest_the_partner_does_not_know(client, agent, data):
    stranger = GuestFactory()
    GuestEmailFactory(guest=stranger, email="kept@example.com", email_normalized="kept@example.com")
    client.force_login(agent)
    client.post(reverse("portal:contact", args=[stranger.pk]), data)
    assert list(GuestEmail.objects.filter(guest=stranger).values_list("email", flat=True)) == [
        "kept@example.com"
    ]
    assert not GuestPhone.objects.filter(guest=stranger).exists()
    assert not AuditEntry.objects.filter(guest=stranger, action=AuditEntry.Action.CHANGE).exists()


def test_the_portal_lets_a_partner_that_knows_the_guest_edit_contacts(client, school, agent):
    known = GuestFactory()
    PartnerGuestLinkFactory(partner=school, guest=known)
    client.force_login(agent)
    client.post(
        reverse("portal:contact", args=[known.pk]),
        {"action": "add", "email": "new@example.com", "phone": ""},
    )
    assert GuestEmail.objects.filter(guest=known, email="new@example.com").exists()


def test_the_portal_refuses_identity_edits_of_a_guest_the_partner_does_not_know(client, agent):
    stranger = GuestFactory(first_name="Jean")
    client.force_login(agent)
    response = client.post(
        reverse("portal:identity", args=[stranger.pk]), {"first_name": "X", "last_name": "Y"}
    )
    assert response.status_code == 403
    stranger.refresh_from_db()
    assert stranger.first_name == "Jean"
