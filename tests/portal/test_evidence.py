"""Access comes from evidence, not from a click (issue 16): a partner that never served a guest
cannot make itself related by logging an interaction or recording a desk consent; it proves it
knows the guest (a contact point that matches), within daily limits flagged to the tourist
office; a desk records consents only within its scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from destination.models import AuditEntry, ConsentProof, ConsentState, Purpose
from partners.api_keys import partner_api_key_create
from partners.models import AccessFlag, Interaction, Partner, PartnerGuestLink
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    GuestPhoneFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
)
from tests.portal.world import sharing_rules_ensure

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
NOTE = {"kind": "note", "channel": "in_person", "summary": "Came by", "visibility": "shared"}


@pytest.fixture(autouse=True)
def _rules():
    sharing_rules_ensure()


@pytest.fixture
def served(guest, school):
    """The guest, served by the school (a booking), with contacts and a birth date."""
    guest.birth_date = dt.date(1984, 3, 12)
    guest.save(update_fields=["birth_date"])
    GuestEmailFactory(guest=guest, email="jeanne.martin@mail.example", is_primary=True)
    GuestPhoneFactory(guest=guest, phone="+33612345678", is_primary=True)
    PartnerGuestLinkFactory(partner=school, guest=guest)
    return guest


def _page(client, guest) -> str:
    return client.get(reverse("portal:guest", args=[guest.pk])).content.decode()


def test_one_interaction_and_a_desk_consent_no_longer_open_a_guest(
    client, rental, rental_agent, served
):
    # Reproduction: as the rental shop's agent, POST an interaction on a guest it never served,
    # then record "profile sharing" for itself: it used to see everything, and the API too.
    client.force_login(rental_agent)
    response = client.post(reverse("portal:interaction_create", args=[served.pk]), NOTE)
    assert response.status_code == 422
    assert not Interaction.objects.exists()
    assert not PartnerGuestLink.objects.filter(partner=rental).exists()

    wording = ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING)
    client.post(
        reverse("portal:consent", args=[served.pk]),
        {
            "purpose": "profile_sharing",
            "partner": rental.pk,
            "granted": "on",
            "wording": wording.pk,
        },
        **HTMX,
    )
    assert not ConsentProof.objects.exists()

    page = _page(client, served)
    assert "Not yet known to your partner" in page
    for secret in ("jeanne.martin@mail.example", "+33 6 12 34 56 78", "1984", "12 March"):
        assert secret not in page
    assert 'id="proof-form"' in page and 'id="log-form"' not in page
    key = partner_api_key_create(partner=rental, name="probe")[1]
    api = client.get(f"/api/v1/guests/{served.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 404
    # Nor may it touch the contact points.
    client.post(
        reverse("portal:contact", args=[served.pk]),
        {"action": "remove_email", "email": "jeanne.martin@mail.example"},
    )
    assert served.emails.exists()


def test_a_contact_that_matches_proves_the_relationship(client, rental, rental_agent, served):
    client.force_login(rental_agent)
    prove = reverse("portal:relationship_prove", args=[served.pk])
    wrong = client.post(prove, {"contact": "someone.else@mail.example"})
    assert wrong.status_code == 422
    assert "not one of this guest" in wrong.content.decode()
    assert not PartnerGuestLink.objects.filter(partner=rental).exists()
    assert AuditEntry.objects.filter(
        actor=rental_agent, details__via="relationship_proof", details__matched=False
    ).exists()

    right = client.post(prove, {"contact": "06 12 34 56 78"})
    assert right.status_code == 302
    link = PartnerGuestLink.objects.get(partner=rental, guest=served)
    assert link.reason == PartnerGuestLink.Reason.CONTACT_PROOF
    assert link.evidence["matched"] == "phone"
    assert link.evidence["staff_id"] == rental_agent.pk
    assert "06 12 34 56 78" not in str(link.evidence)  # how, not the value

    response = client.post(reverse("portal:interaction_create", args=[served.pk]), NOTE)
    assert response.status_code == 302
    assert Interaction.objects.filter(partner=rental, guest=served).exists()
    assert "Known to your partner" in _page(client, served)


def test_many_new_relationships_in_a_day_are_refused_and_flagged(
    client, settings, rental, rental_agent, steward
):
    settings.PARTNER_PROOFS_PER_STAFF_DAY = 2
    guests = [GuestFactory() for _n in range(3)]
    for n, g in enumerate(guests):
        GuestEmailFactory(guest=g, email=f"g{n}@mail.example")
    client.force_login(rental_agent)
    codes = [
        client.post(
            reverse("portal:relationship_prove", args=[g.pk]), {"contact": f"g{n}@mail.example"}
        ).status_code
        for n, g in enumerate(guests)
    ]
    assert codes == [302, 302, 422]
    assert PartnerGuestLink.objects.filter(partner=rental).count() == 2
    flag = AccessFlag.objects.get()
    assert (flag.kind, flag.staff, flag.partner) == (
        AccessFlag.Kind.MANY_RELATIONSHIPS,
        rental_agent,
        rental,
    )
    # The tourist office's managers see it on their portal home; other partners do not.
    client.force_login(steward)
    home = client.get(reverse("portal:home")).content.decode()
    assert "Unusual access to review" in home and rental_agent.email in home
    client.force_login(rental_agent)
    assert "Unusual access to review" not in client.get(reverse("portal:home")).content.decode()


def test_many_wrong_contacts_in_a_day_are_refused_and_flagged(
    client, settings, rental, rental_agent, served
):
    settings.PARTNER_PROOF_FAILURES_PER_STAFF_DAY = 2
    client.force_login(rental_agent)
    prove = reverse("portal:relationship_prove", args=[served.pk])
    for n in range(2):
        client.post(prove, {"contact": f"guess{n}@mail.example"})
    # Even the right contact is refused once the day's failures are spent.
    assert client.post(prove, {"contact": "jeanne.martin@mail.example"}).status_code == 422
    assert not PartnerGuestLink.objects.filter(partner=rental).exists()
    assert AccessFlag.objects.get().kind == AccessFlag.Kind.MANY_PROOF_FAILURES


# --- Desk consents: the recording partner's own, or the tourist office's ------------------


def test_the_desk_consent_form_offers_only_the_desks_own_scope(client, agent, school, served):
    PartnerFactory(name="Hotel Gamma", kind=Partner.Kind.LODGING)
    client.force_login(agent)
    form = client.get(reverse("portal:consent", args=[served.pk]), **HTMX).content.decode()
    assert "Hotel Gamma" not in form
    assert 'value="newsletter"' not in form and 'value="profiling"' not in form
    assert school.name in form


def test_a_partner_cannot_record_consents_for_others_or_the_destination(
    client, agent, school, served
):
    # Reproduction: a rental shop withdrew a guest's destination newsletter and granted a
    # lodging the profile, from its own desk.
    lodge = PartnerFactory(name="Hotel Gamma", kind=Partner.Kind.LODGING)
    sharing = ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING)
    client.force_login(agent)
    url = reverse("portal:consent", args=[served.pk])
    client.post(url, {"purpose": "newsletter", "channel": "email"}, **HTMX)
    client.post(
        url,
        {"purpose": "profile_sharing", "partner": lodge.pk, "granted": "on", "wording": sharing.pk},
        **HTMX,
    )
    assert not ConsentProof.objects.exists()
    assert not ConsentState.objects.exists()


def test_the_desk_service_refuses_out_of_scope_consents(agent, school, served):
    from destination.errors import PermissionRefused
    from portal.services import desk_consent_record

    lodge = PartnerFactory(kind=Partner.Kind.LODGING)
    with pytest.raises(PermissionRefused):
        desk_consent_record(
            guest=served, user=agent, partner=school, purpose="newsletter", granted=False,
            channel="email",
        )  # fmt: skip
    with pytest.raises(PermissionRefused):
        desk_consent_record(
            guest=served, user=agent, partner=school, purpose="profile_sharing", granted=True,
            consent_partner=lodge,
            wording=ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING),
        )  # fmt: skip
    assert not ConsentProof.objects.exists()


def test_the_tourist_office_records_consents_for_the_partners_the_guest_names(
    client, steward, office, served
):
    lodge = PartnerFactory(name="Hotel Gamma", kind=Partner.Kind.LODGING)
    rental = PartnerFactory(name="Rental Delta", kind=Partner.Kind.EQUIPMENT_RENTAL)
    sharing = ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING)
    client.force_login(steward)
    response = client.post(
        reverse("portal:consent", args=[served.pk]),
        {
            "purpose": "profile_sharing",
            "partners": [lodge.pk, rental.pk],
            "granted": "on",
            "wording": sharing.pk,
        },
        **HTMX,
    )
    assert response.status_code == 200
    proof = ConsentProof.objects.get()
    assert set(proof.named_partners.all()) == {lodge, rental}
    assert (proof.recorded_by, proof.recorded_by_partner) == (steward, office)
    assert proof.evidence["witness"] == "staff" and proof.evidence["staff_id"] == steward.pk
    assert {p["id"] for p in proof.evidence["named_partners"]} == {lodge.pk, rental.pk}
    # The guest's consent with proof is evidence: both partners are now related, by consent.
    links = PartnerGuestLink.objects.filter(guest=served, partner__in=[lodge, rental])
    assert {link.reason for link in links} == {PartnerGuestLink.Reason.CONSENT}
    assert all(link.evidence["consent_proof"] == proof.pk for link in links)


def test_creating_a_guest_who_exists_is_a_proof_within_the_limit(
    client, settings, rental, rental_agent, served
):
    settings.PARTNER_PROOFS_PER_STAFF_DAY = 1
    client.force_login(rental_agent)
    data = {
        "first_name": "Jeanne",
        "last_name": "Martin",
        "email": "jeanne.martin@mail.example",
        "confirmed": "1",
    }
    response = client.post(reverse("portal:guest_create"), data)
    assert response.status_code == 302
    link = PartnerGuestLink.objects.get(partner=rental, guest=served)
    assert link.reason == PartnerGuestLink.Reason.CONTACT_PROOF
    assert link.evidence["method"] == "desk_match"
    assert link.evidence["staff_id"] == rental_agent.pk
    # The day's limit is reached: the next creation is refused and flagged.
    other = {**data, "first_name": "Paul", "email": "paul@mail.example"}
    assert client.post(reverse("portal:guest_create"), other).status_code == 200
    assert AccessFlag.objects.get().kind == AccessFlag.Kind.MANY_RELATIONSHIPS
