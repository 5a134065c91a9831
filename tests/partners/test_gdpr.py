"""What partners plugs into the core's GDPR export through destination.registry."""

from __future__ import annotations

import pytest

from destination.services.gdpr import guest_export
from tests.factories import GuestFactory, InteractionFactory, PartnerGuestLinkFactory

pytestmark = pytest.mark.django_db


def test_the_full_export_keeps_partner_sections_in_their_place():
    guest = GuestFactory()
    InteractionFactory(guest=guest)
    PartnerGuestLinkFactory(guest=guest)
    data = guest_export(guest=guest, actor=None)
    keys = list(data)
    assert keys[keys.index("consent_states") + 1] == "interactions"
    assert keys[keys.index("timeline") + 1] == "partner_relationships"
    assert len(data["interactions"]) == 1
    assert len(data["partner_relationships"]) >= 1
