"""Writes from the portal: interactions, contact points, consents, creating a guest, GDPR
actions and the duplicates queue, with their permissions and field errors."""

import json

import pytest
from django.urls import reverse

from destination.models import (
    AuditEntry,
    ConsentProof,
    Guest,
    GuestMerge,
    PossibleDuplicate,
    Purpose,
)
from destination.services.merge import guest_merge
from partners.models import Interaction
from portal.services import duplicate_merge, staff_language_set
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    MembershipFactory,
    PartnerGuestLinkFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- Interactions ---------------------------------------------------------------------------


def test_log_interaction_with_htmx_returns_the_new_entry(client, agent, known, school):
    client.force_login(agent)
    response = client.post(
        reverse("portal:interaction_create", args=[known.pk]),
        {
            "kind": "call",
            "channel": "phone",
            "summary": "Wants a private lesson",
            "visibility": "private",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Wants a private lesson" in html and "Private" in html and 'class="tl ' in html
    interaction = Interaction.objects.get()
    assert (interaction.partner, interaction.staff, interaction.visibility) == (
        school,
        agent,
        "private",
    )


def test_a_stale_page_of_a_merged_profile_logs_on_the_survivor(client, agent, guest, school):
    # The staff member opened the guest's page, then someone merged it into another profile.
    survivor = GuestFactory()
    PartnerGuestLinkFactory(partner=school, guest=survivor)  # the school knows the survivor
    guest_merge(survivor=survivor, merged=guest, actor=None)
    client.force_login(agent)
    body = {"kind": "call", "channel": "phone", "summary": "Stale page", "visibility": "shared"}
    url = reverse("portal:interaction_create", args=[guest.pk])

    response = client.post(url, body)
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:guest", args=[survivor.pk]
    )
    assert Interaction.objects.get().guest_id == survivor.pk
    page = client.get(response["Location"]).content.decode()
    assert f"Guest #{guest.pk} was merged into guest #{survivor.pk}" in page

    with_htmx = client.post(url, {**body, "summary": "Stale htmx"}, **HTMX)
    assert with_htmx.status_code == 200 and "Stale htmx" in with_htmx.content.decode()
    assert Interaction.objects.filter(guest=survivor).count() == 2


def test_an_htmx_fragment_of_a_merged_profile_reloads_the_survivors_page(client, agent, guest):
    survivor = GuestFactory()
    guest_merge(survivor=survivor, merged=guest, actor=None)
    client.force_login(agent)
    response = client.get(reverse("portal:timeline", args=[guest.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("portal:guest", args=[survivor.pk])


def test_visibility_defaults_to_shared(client, agent, known):
    client.force_login(agent)
    page = client.get(reverse("portal:guest", args=[known.pk])).content.decode()
    assert (
        'value="shared" required id="id_visibility_0" checked' in page or 'value="shared"' in page
    )
    from portal.forms import InteractionForm

    assert InteractionForm().fields["visibility"].initial == "shared"


def test_log_interaction_field_errors(client, agent, guest):
    client.force_login(agent)
    url = reverse("portal:interaction_create", args=[guest.pk])
    response = client.post(
        url, {"kind": "nope", "channel": "phone", "summary": "   ", "visibility": "shared"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#log-form"
    form = response.context["form"]
    assert "summary" in form.errors and "kind" in form.errors
    assert not Interaction.objects.exists()
    plain = client.post(
        url, {"kind": "call", "channel": "phone", "summary": "", "visibility": "shared"}
    )
    assert plain.status_code == 422
    assert "summary" in plain.context["form"].errors


def test_log_interaction_without_htmx_redirects(client, agent, known):
    client.force_login(agent)
    response = client.post(
        reverse("portal:interaction_create", args=[known.pk]),
        {"kind": "call", "channel": "phone", "summary": "Hello", "visibility": "shared"},
    )
    assert response.status_code == 302 and Interaction.objects.count() == 1


def test_log_interaction_needs_post(client, agent, guest):
    client.force_login(agent)
    assert client.get(reverse("portal:interaction_create", args=[guest.pk])).status_code == 405


# --- Contact points and consents ------------------------------------------------------------


@pytest.fixture
def known(guest, school):
    PartnerGuestLinkFactory(partner=school, guest=guest)
    return guest


def test_add_and_remove_contact_points(client, agent, known):
    client.force_login(agent)
    url = reverse("portal:contact", args=[known.pk])
    response = client.post(
        url, {"action": "add", "email": "New@Mail.example", "phone": "06 11 22 33 44"}, **HTMX
    )
    assert response.status_code == 200
    assert "new@mail.example" in response.content.decode()
    assert known.emails.get().email_normalized == "new@mail.example"
    assert str(known.phones.get().phone) == "+33611223344"
    client.post(url, {"action": "remove_email", "email": "new@mail.example"}, **HTMX)
    assert not known.emails.exists()
    assert AuditEntry.objects.filter(guest=known, action="change").count() >= 3


def test_identity_and_interests_are_corrected_with_an_audit_trail(client, agent, known):
    skiing = TagFactory(slug="skiing", name="Skiing", category="interest")
    TagFactory(slug="vip", name="VIP", category="label")
    known.tags.add(TagFactory(slug="spa", name="Spa", category="interest"))
    client.force_login(agent)
    url = reverse("portal:identity", args=[known.pk])
    form = client.get(url, **HTMX).content.decode()
    assert 'value="Jeanne"' in form and 'value="skiing"' in form
    assert 'value="vip"' not in form  # staff labels are not interests

    response = client.post(
        url,
        {"first_name": " Jeanne-Marie ", "last_name": "Martin", "country": "CH",
         "language": "en", "interests": ["skiing"]},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    known.refresh_from_db()
    assert (known.first_name, known.country.code, known.language) == ("Jeanne-Marie", "CH", "en")
    assert list(known.tags.values_list("slug", flat=True)) == [skiing.slug]
    changes = AuditEntry.objects.filter(guest=known, action="change", actor=agent)
    assert changes.count() == 2  # the fields, then the tags
    page = client.get(reverse("portal:guest", args=[known.pk])).content.decode()
    assert "Jeanne-Marie Martin" in page and "Identity saved." in page


def test_identity_field_errors_change_nothing(client, agent, known):
    client.force_login(agent)
    url = reverse("portal:identity", args=[known.pk])
    response = client.post(
        url,
        {"first_name": "J" * 151, "last_name": "Martin", "language": "klingon",
         "country": "FR", "interests": ["no-such-tag"]},
        **HTMX,
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Refresh" not in response
    assert "at most 150 characters" in body and "Select a valid choice" in body
    known.refresh_from_db()
    assert (known.first_name, known.language) == ("Jeanne", "fr")


def test_identity_cannot_be_edited_without_a_relationship(client, rental_agent, guest):
    client.force_login(rental_agent)
    url = reverse("portal:identity", args=[guest.pk])
    assert client.get(url, **HTMX).status_code == 403
    assert client.post(url, {"first_name": "Hacked"}, **HTMX).status_code == 403
    guest.refresh_from_db()
    assert guest.first_name == "Jeanne"


def test_the_identity_form_offers_only_what_the_partner_may_see():
    from portal.forms import IdentityForm

    form = IdentityForm({"first_name": "A", "country": "DE"}, sections={"identity"})
    assert set(form.fields) == {"first_name", "last_name"}
    assert form.is_valid() and "country" not in form.cleaned_data


def test_contact_field_errors(client, agent, known):
    client.force_login(agent)
    url = reverse("portal:contact", args=[known.pk])
    empty = client.post(url, {"action": "add"}, **HTMX)
    assert "email" in empty.context["contact_form"].errors
    bad = client.post(url, {"action": "add", "phone": "12"}, **HTMX)
    assert "phone" in bad.context["contact_form"].errors
    assert not known.phones.exists()


def test_desk_consent_records_its_proof(client, agent, known, school):
    # A partner's desk records its own partner-scoped consents (issue 16: only those).
    wording = ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS, language="fr")
    client.force_login(agent)
    response = client.post(
        reverse("portal:consent", args=[known.pk]),
        {
            "purpose": "partner_offers",
            "partner": school.pk,
            "channel": "email",
            "granted": "on",
            "wording": wording.pk,
        },
        **HTMX,
    )
    assert response.status_code == 200
    proof = ConsentProof.objects.get()
    assert (
        proof.method == "desk"
        and proof.recorded_by == agent
        and proof.recorded_by_partner == school
    )
    assert proof.evidence["source"] == "desk" and proof.evidence["staff_email"] == agent.email
    assert proof.evidence["named_partners"] == [{"id": school.pk, "name": school.name}]
    assert list(proof.named_partners.all()) == [school]


def test_the_tourist_office_records_the_destinations_consents(client, steward, known, office):
    wording = ConsentWordingFactory(purpose=Purpose.NEWSLETTER, language="fr")
    client.force_login(steward)
    response = client.post(
        reverse("portal:consent", args=[known.pk]),
        {"purpose": "newsletter", "channel": "email", "granted": "on", "wording": wording.pk},
        **HTMX,
    )
    assert response.status_code == 200
    proof = ConsentProof.objects.get()
    assert (proof.recorded_by, proof.recorded_by_partner) == (steward, office)
    assert "Destination newsletter" in response.content.decode()


def test_consent_form_errors_on_their_field(client, steward, known):
    client.force_login(steward)
    form_alone = client.get(reverse("portal:consent", args=[known.pk]), **HTMX)
    assert form_alone.status_code == 200 and 'name="wording"' in form_alone.content.decode()
    response = client.post(
        reverse("portal:consent", args=[known.pk]),
        {"purpose": "newsletter", "granted": "on"},
        **HTMX,
    )
    errors = response.context["consent_form"].errors
    assert "channel" in errors and "wording" in errors
    assert not ConsentProof.objects.exists()


def test_consent_refused_to_a_partner_that_may_not_edit(client, rental_agent, guest):
    wording = ConsentWordingFactory(purpose=Purpose.NEWSLETTER, language="fr")
    client.force_login(rental_agent)
    assert client.get(reverse("portal:consent", args=[guest.pk])).status_code == 403
    client.post(
        reverse("portal:consent", args=[guest.pk]),
        {"purpose": "newsletter", "channel": "email", "granted": "on", "wording": wording.pk},
        **HTMX,
    )
    assert not ConsentProof.objects.exists()


# --- Creating a guest -----------------------------------------------------------------------


def test_create_shows_likely_duplicates_first(client, agent, guest):
    GuestEmailFactory(guest=guest, email="jeanne@mail.example")
    client.force_login(agent)
    url = reverse("portal:guest_create")
    data = {"first_name": "Jeanne", "last_name": "Martin", "email": "jeanne@mail.example"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert [c.guest_id for c in response.context["candidates"]] == [guest.pk]
    assert f"/en/portal/guests/{guest.pk}/" in response.content.decode()
    assert Guest.objects.count() == 1


def test_create_new_guest_when_nothing_matches(client, agent, school):
    client.force_login(agent)
    response = client.post(
        reverse("portal:guest_create"),
        {"first_name": "Ada", "last_name": "Lovelace", "phone": "06 99 88 77 66", "country": "FR"},
    )
    created = Guest.objects.get(last_name="Lovelace")
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:guest", args=[created.pk]
    )
    assert created.source == "desk" and created.partner_links.filter(partner=school).exists()


def test_create_anyway_after_seeing_candidates(client, agent, guest):
    client.force_login(agent)
    data = {
        "first_name": "Jeanne",
        "last_name": "Martin",
        "birth_date": "1984-03-12",
        "confirmed": "1",
    }
    response = client.post(reverse("portal:guest_create"), data)
    assert response.status_code == 302
    assert Guest.objects.filter(first_name="Jeanne").count() == 2


def test_create_form_errors(client, agent):
    client.force_login(agent)
    response = client.post(reverse("portal:guest_create"), {"email": "not-an-email", "phone": "1"})
    form = response.context["form"]
    assert {"email", "phone", "last_name"} <= set(form.errors)
    assert not Guest.objects.exists()


def test_create_prefills_from_the_search(client, agent):
    client.force_login(agent)
    form = client.get(reverse("portal:guest_create"), {"q": "ada lovelace"}).context["form"]
    assert form.initial == {"first_name": "Ada", "last_name": "Lovelace"}


# --- GDPR -----------------------------------------------------------------------------------


def test_export_for_the_tourist_office_manager_only(client, agent, steward, guest):
    url = reverse("portal:guest_export", args=[guest.pk])
    client.force_login(agent)
    assert client.post(url).status_code == 403
    assert b"Export data" not in client.get(reverse("portal:guest", args=[guest.pk])).content
    client.force_login(steward)
    response = client.post(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="guest-{guest.pk}.json"'
    data = json.loads(response.content)
    # The tourist office's own view: the complete export is the data-protection officer's.
    assert data["export"]["scope"] == "partner"
    assert data["export"]["partner"]["id"] == steward.memberships.get().partner_id
    assert AuditEntry.objects.filter(guest=guest, action="export", actor=steward).exists()


def test_erase_confirmation_names_what_will_happen(client, steward, guest):
    GuestEmailFactory(guest=guest)
    client.force_login(steward)
    url = reverse("portal:guest_erase", args=[guest.pk])
    page = client.get(url).content.decode()
    assert "1 email address is deleted" in page and "cannot be undone" in page
    missing = client.post(url, {"reason": ""})
    assert {"reason", "confirm"} <= set(missing.context["form"].errors)
    guest.refresh_from_db()
    assert guest.status == "active"
    done = client.post(url, {"reason": "Asked by email", "confirm": "on"})
    assert done.status_code == 302
    guest.refresh_from_db()
    assert guest.status == "erased" and guest.first_name == ""


def test_erase_refused_to_agents(client, agent, guest):
    client.force_login(agent)
    assert client.get(reverse("portal:guest_erase", args=[guest.pk])).status_code == 403


# --- The duplicates queue -------------------------------------------------------------------


@pytest.fixture
def pair(db):
    a = GuestFactory(first_name="Thomas", last_name="Lefevre", language="fr")
    b = GuestFactory(first_name="Tomas", last_name="Lefevre", language="en")
    GuestEmailFactory(guest=b, email="tomas@mail.example")
    return PossibleDuplicate.objects.create(guest_a=a, guest_b=b, score=0.8, reasons=["name"])


def test_queue_is_the_tourist_offices(client, agent, steward, pair):
    client.force_login(agent)
    assert client.get(reverse("portal:duplicates")).status_code == 403
    assert client.get(reverse("portal:duplicate", args=[pair.pk])).status_code == 403
    client.force_login(steward)
    page = client.get(reverse("portal:duplicates")).content.decode()
    assert "Thomas Lefevre" in page and "Tomas Lefevre" in page
    compare = client.get(reverse("portal:duplicate", args=[pair.pk])).content.decode()
    assert "tomas@mail.example" in compare and 'name="pick_first_name"' in compare


def test_office_agent_sees_but_cannot_merge(client, office, pair):
    clerk = MembershipFactory(partner=office).user
    client.force_login(clerk)
    page = client.get(reverse("portal:duplicate", args=[pair.pk])).content.decode()
    assert "Only the tourist office" in page
    response = client.post(
        reverse("portal:duplicate", args=[pair.pk]), {"keep": "a", "action": "merge"}
    )
    assert response.status_code == 403
    assert not GuestMerge.objects.exists()


def test_merge_with_chosen_fields_and_the_old_url_follows(client, steward, pair):
    client.force_login(steward)
    response = client.post(
        reverse("portal:duplicate", args=[pair.pk]),
        {"keep": "b", "pick_first_name": "a", "pick_language": "b", "action": "merge"},
    )
    a, b = pair.guest_a, pair.guest_b
    # The only pair is decided: back to the (empty) queue, where the confirmation names it.
    assert response.status_code == 302 and response["Location"] == reverse("portal:duplicates")
    b.refresh_from_db()
    assert (b.first_name, b.language) == ("Thomas", "en")
    pair.refresh_from_db()
    assert pair.status == "merged"
    old = client.get(reverse("portal:guest", args=[a.pk]))
    assert old["Location"] == reverse("portal:guest", args=[b.pk])
    # A decided pair cannot be merged twice.
    again = client.post(
        reverse("portal:duplicate", args=[pair.pk]), {"keep": "a", "action": "merge"}
    )
    assert again.status_code == 400


def test_dismiss_a_pair(client, steward, pair):
    client.force_login(steward)
    client.post(reverse("portal:duplicate", args=[pair.pk]), {"action": "dismiss"})
    pair.refresh_from_db()
    assert pair.status == "dismissed" and pair.resolved_by == steward


def test_duplicate_merge_service_checks_permission(agent, school, pair):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        duplicate_merge(pair=pair, keep="a", picks={}, user=agent, partner=school)


def test_a_merge_is_undone_from_the_survivors_page(client, steward, office, pair):
    a, b = pair.guest_a, pair.guest_b
    GuestEmailFactory(guest=a, email="thomas@mail.example")
    client.force_login(steward)
    client.post(reverse("portal:duplicate", args=[pair.pk]), {"keep": "b", "action": "merge"})
    merge = GuestMerge.objects.get()
    assert b.emails.filter(email="thomas@mail.example").exists()  # moved by the merge
    page = client.get(reverse("portal:guest", args=[b.pk])).content.decode()
    undo = reverse("portal:merge_undo", args=[merge.pk])
    assert "Merged into this profile" in page and f'action="{undo}"' in page

    response = client.post(undo, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:guest", args=[b.pk])
    assert "Merge undone" in response.content.decode()
    a.refresh_from_db()
    assert a.status == Guest.Status.ACTIVE and a.emails.filter(email="thomas@mail.example")
    merge.refresh_from_db()
    assert merge.undone_by == steward
    pair.refresh_from_db()
    assert pair.status == PossibleDuplicate.Status.OPEN  # back in the queue, to decide again
    # The old address opens its own profile again, and nothing is left to undo.
    assert client.get(reverse("portal:guest", args=[a.pk])).status_code == 200
    assert undo not in client.get(reverse("portal:guest", args=[b.pk])).content.decode()
    again = client.post(undo, follow=True).content.decode()
    assert "already been undone" in again


def test_only_the_tourist_offices_managers_undo_a_merge(client, agent, office, steward, pair):
    client.force_login(steward)
    client.post(reverse("portal:duplicate", args=[pair.pk]), {"keep": "a", "action": "merge"})
    merge = GuestMerge.objects.get()
    undo = reverse("portal:merge_undo", args=[merge.pk])
    clerk = MembershipFactory(partner=office).user
    for user in (agent, clerk):
        client.force_login(user)
        page = client.get(reverse("portal:guest", args=[pair.guest_a_id])).content.decode()
        assert undo not in page
        assert client.post(undo).status_code == 403
    merge.refresh_from_db()
    assert merge.undone_at is None


def test_staff_language_set(agent):
    assert staff_language_set(user=agent, language="fr") == "fr"
    agent.refresh_from_db()
    assert agent.language == "fr"
    assert staff_language_set(user=agent, language="de") == "fr"


def test_a_logged_interaction_brings_a_fresh_form_and_hides_the_empty_note(client, agent, known):
    """After an empty submit the form showed its error; the saved one replaces it with a fresh
    form (out of band), and the empty-timeline note, always on the page, is hidden."""
    guest = known  # a guest the partner knows: logging needs no contact proof first
    client.force_login(agent)
    page = client.get(reverse("portal:guest", args=[guest.pk])).content.decode()
    assert 'id="timeline-empty"' in page and 'id="log-form"' in page
    response = client.post(
        reverse("portal:interaction_create", args=[guest.pk]),
        {"kind": "call", "channel": "phone", "summary": "Called back", "visibility": "shared"},
        **HTMX,
    )
    html = response.content.decode()
    assert '<form id="log-form" hx-swap-oob="innerHTML">' in html
    assert 'class="errorlist"' not in html and "field--error" not in html
    assert '<p class="empty" id="timeline-empty" hidden hx-swap-oob="true">' in html
    assert 'hx-swap-oob="delete"' not in html
