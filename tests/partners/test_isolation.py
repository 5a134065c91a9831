"""Partner-private data of another partner is never visible, by any path, to anyone.

Each entry of PATHS is a way to read a guest's data as a partner; it returns everything that
path shows, flattened to text. A new view, API endpoint or export adds itself to PATHS and gets
every check below for free.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from destination.models import ConsentProof, Guest, Purpose, TimelineEvent, Visibility
from destination.services.consent import consent_record
from destination.services.timeline import timeline_add
from partners.access import (
    can_export,
    guest_access_bulk,
    guest_profile_for,
    interactions_visible_to,
    timeline_visible_to,
)
from partners.api_keys import partner_api_key_create
from partners.models import Interaction, Membership, Partner
from partners.selectors import interaction_list_for_guest, timeline_list_for_guest
from partners.services import interaction_log
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
)

pytestmark = pytest.mark.django_db

PRIVATE = "PRIVATE-NOTE-OF-B"
SHARED = "SHARED-NOTE-OF-B"


def _flatten(rows) -> str:
    parts = []
    for row in rows:
        if isinstance(row, Interaction):
            parts.append(f"interaction {row.pk} {row.summary}")
        elif isinstance(row, TimelineEvent):
            parts.append(f"timeline {row.pk} {row.title} {row.body} {json.dumps(row.data)}")
        else:
            parts.append(json.dumps(row, default=str))
    return "\n".join(parts)


def _via_bulk(partner: Partner, guest: Guest) -> str:
    # A search result list: access computed in bulk, then each row's activity read with it.
    accesses = guest_access_bulk(partner=partner, guest_ids=[guest.pk])
    access = accesses[guest.pk]
    return _flatten(
        [
            *interactions_visible_to(partner=partner, guest=guest, access=access),
            *timeline_visible_to(partner=partner, guest=guest, access=access),
        ]
    )


def _via_api(partner: Partner, guest: Guest) -> str:
    key = partner_api_key_create(partner=partner, name="isolation test")[1]
    response = Client().get(f"/api/v1/guests/{guest.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    return response.content.decode() if response.status_code == 200 else ""


def _manager_client(partner: Partner) -> Client:
    client = Client()
    client.force_login(MembershipFactory(partner=partner, role=Membership.Role.MANAGER).user)
    return client


def _via_portal_export(partner: Partner, guest: Guest) -> str:
    # The portal's GDPR download, by a manager of the partner (only the tourist office's may).
    response = _manager_client(partner).post(reverse("portal:guest_export", args=[guest.pk]))
    return response.content.decode() if response.status_code == 200 else ""


def _via_export_pages(partner: Partner, guest: Guest) -> str:
    # The GDPR export pages outside the portal, as a staff member of the partner (not superuser).
    client = _manager_client(partner)
    query = {"partner": partner.slug}
    pages = [
        client.get(reverse(name, args=[guest.pk]), query)
        for name in ("gdpr:guest-export", "gdpr:guest-export-json")
    ]
    return "\n".join(r.content.decode() for r in pages if r.status_code == 200)


def _via_complete_export_asked(partner: Partner, guest: Guest) -> str:
    # The data-protection officer's complete export, asked for (with a reason) by a manager of
    # the partner who lacks the permission: at most the partner-scoped export comes back.
    client = _manager_client(partner)
    query = {"reason": "SAR-2026-001"}
    pages = [
        client.get(reverse(name, args=[guest.pk]), query)
        for name in ("gdpr:guest-export", "gdpr:guest-export-json")
    ]
    return "\n".join(r.content.decode() for r in pages if r.status_code == 200)


def _staff_client(partner: Partner) -> Client:
    client = Client()
    client.force_login(MembershipFactory(partner=partner).user)
    return client


def _via_portal_guest_page(partner: Partner, guest: Guest) -> str:
    response = _staff_client(partner).get(reverse("portal:guest", args=[guest.pk]))
    return response.content.decode()


PATHS: dict[str, Callable[[Partner, Guest], str]] = {
    "interactions_visible_to(guest)": lambda p, g: _flatten(
        interactions_visible_to(partner=p, guest=g)
    ),
    "interactions_visible_to(all guests)": lambda p, g: _flatten(
        interactions_visible_to(partner=p)
    ),
    "timeline_visible_to": lambda p, g: _flatten(timeline_visible_to(partner=p, guest=g)),
    "guest_profile_for": lambda p, g: _flatten(
        [guest_profile_for(partner=p, guest=g, include_activity=True)]
    ),
    "guest_access_bulk + querysets": _via_bulk,
    "selectors.interaction_list_for_guest": lambda p, g: _flatten(
        interaction_list_for_guest(partner=p, guest=g)
    ),
    "selectors.timeline_list_for_guest": lambda p, g: _flatten(
        timeline_list_for_guest(partner=p, guest=g)
    ),
    "api GET /guests/{id}": _via_api,
    "portal guest page": _via_portal_guest_page,
}

# Exports: only tourist office managers may run them (others get 403), so their check is
# against the tourist office, the partner that sees the most.
EXPORT_PATHS: dict[str, Callable[[Partner, Guest], str]] = {
    "portal guest_export": _via_portal_export,
    "gdpr export pages": _via_export_pages,
    "gdpr complete export (no permission)": _via_complete_export_asked,
}


@pytest.fixture
def world() -> dict[str, object]:
    """Partner B logged a private and a shared note about a guest that every viewer knows as
    well as it can: A (a ski school) has the profile shared with it, the tourist office is the
    steward and knows the guest, the rental shop does not know the guest at all."""
    guest = GuestFactory()
    owner = PartnerFactory(name="School B")
    school = PartnerFactory(name="School A")
    office = PartnerFactory(name="Tourist office", kind=Partner.Kind.TOURIST_OFFICE)
    rental = PartnerFactory(name="Rental", kind=Partner.Kind.EQUIPMENT_RENTAL)
    staff = MembershipFactory(partner=owner).user
    PartnerGuestLinkFactory(partner=owner, guest=guest)  # B served the guest: a booking
    interaction_log(
        guest=guest,
        partner=owner,
        staff=staff,
        kind=Interaction.Kind.COMPLAINT,
        channel=Interaction.Channel.PHONE,
        summary=PRIVATE,
        visibility=Visibility.PRIVATE,
    )
    interaction_log(
        guest=guest,
        partner=owner,
        staff=staff,
        kind=Interaction.Kind.NOTE,
        channel=Interaction.Channel.IN_PERSON,
        summary=SHARED,
    )
    # Another private timeline entry of B that is not an interaction (a private booking note).
    timeline_add(
        guest=guest,
        kind=TimelineEvent.Kind.BOOKING,
        occurred_at=guest.created_at,
        title=f"Booking {PRIVATE}",
        partner=owner,
        visibility=Visibility.PRIVATE,
    )
    consent_record(
        guest=guest,
        purpose=Purpose.PROFILE_SHARING,
        granted=True,
        method=ConsentProof.Method.DESK,
        partners=[school],
        wording=ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING),
    )
    PartnerGuestLinkFactory(partner=office, guest=guest)
    MembershipFactory(partner=office, role=Membership.Role.MANAGER)
    return {"guest": guest, "owner": owner, "school": school, "office": office, "rental": rental}


VIEWERS = ["school", "office", "rental"]


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("path", list(PATHS))
def test_another_partners_private_data_is_never_visible(world, viewer, path):
    seen = PATHS[path](world[viewer], world["guest"])
    assert PRIVATE not in seen


@pytest.mark.parametrize("path", list(PATHS))
def test_the_owner_sees_its_own_private_data(world, path):
    # The control: each path really returns data, so the check above can fail.
    seen = PATHS[path](world["owner"], world["guest"])
    assert PRIVATE in seen
    assert SHARED in seen


@pytest.mark.parametrize("viewer", ["school", "office"])
@pytest.mark.parametrize("path", list(PATHS))
def test_shared_data_reaches_partners_the_rules_open_it_to(world, viewer, path):
    seen = PATHS[path](world[viewer], world["guest"])
    assert SHARED in seen


@pytest.mark.parametrize("path", list(PATHS))
def test_an_unrelated_partner_does_not_see_shared_interactions_either(world, path):
    seen = PATHS[path](world["rental"], world["guest"])
    assert SHARED not in seen


@pytest.mark.parametrize("path", list(EXPORT_PATHS))
def test_exports_never_give_the_tourist_office_another_partners_private_data(world, path):
    seen = EXPORT_PATHS[path](world["office"], world["guest"])
    assert SHARED in seen  # the export really carries the notes it may
    assert PRIVATE not in seen


@pytest.mark.parametrize("viewer", ["owner", "school", "rental"])
@pytest.mark.parametrize("path", list(EXPORT_PATHS))
def test_exports_are_refused_to_other_partners(world, viewer, path):
    assert not can_export(MembershipFactory(partner=world[viewer]).user, world[viewer])
    assert EXPORT_PATHS[path](world[viewer], world["guest"]) == ""


@pytest.mark.parametrize("viewer", ["owner", *VIEWERS])
def test_a_partner_agent_without_the_permission_gets_no_complete_export(world, viewer):
    client = _staff_client(world[viewer])  # an agent: no export of any scope, no complete one
    for name in ("gdpr:guest-export", "gdpr:guest-export-json"):
        response = client.get(reverse(name, args=[world["guest"].pk]), {"reason": "SAR-1"})
        assert response.status_code == 403
        assert PRIVATE not in response.content.decode()


# Readers of many guests' profiles rather than of one guest's activity: what they show of each
# guest must be what ``guest_profile_for`` shows that partner, never more.
def _via_segment_preview(partner: Partner, guest: Guest) -> dict:
    from newsletters.segments import segment_preview

    consent_record(
        guest=guest,
        purpose=Purpose.PARTNER_OFFERS,
        granted=True,
        method=ConsentProof.Method.DESK,
        partners=[partner],
        channels=["email"],
        wording=ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS),
    )
    rows = [r for r in segment_preview({"all": []}, partner=partner) if r["id"] == guest.pk]
    return rows[0] if rows else {}


PROFILE_LIST_PATHS: dict[str, Callable[[Partner, Guest], dict]] = {
    "newsletters segment_preview": _via_segment_preview,
}


@pytest.mark.parametrize("sections", [None, ["demographics"], []])
@pytest.mark.parametrize("viewer", ["owner", *VIEWERS])
@pytest.mark.parametrize("path", list(PROFILE_LIST_PATHS))
def test_profile_lists_show_what_the_profile_shows(world, viewer, path, sections):
    from partners.models import SharingRule

    if sections is not None:
        SharingRule.objects.update(sections=sections)
    guest = world["guest"]
    GuestEmailFactory(guest=guest, email="jeanne.martin@mail.example")
    row = PROFILE_LIST_PATHS[path](world[viewer], guest)
    assert row, "the path really shows the guest"
    profile = guest_profile_for(partner=world[viewer], guest=guest)
    assert PRIVATE not in json.dumps(row) and SHARED not in json.dumps(row)
    assert ("name" in row) == ("identity" in profile)
    assert ("language" in row) == ("demographics" in profile)
    assert ("email" in row) == ("contact" in profile or "contact_hint" in profile)
    assert "jeanne.martin" not in json.dumps(row)  # a preview masks addresses


def test_even_a_rule_opening_every_section_cannot_open_private_rows(world):
    from partners.models import Section, SharingRule

    SharingRule.objects.update(sections=list(Section.values))
    for viewer in VIEWERS:
        for path, read in PATHS.items():
            assert PRIVATE not in read(world[viewer], world["guest"]), (viewer, path)
    for path, read in EXPORT_PATHS.items():
        assert PRIVATE not in read(world["office"], world["guest"]), path


# --- Readers that must follow the sharing rules too (issue 16) ------------------------------
# With rules stricter than the demo's (nothing open to unrelated partners), each of these paths
# used to show the guest anyway: the page title, the desk booking form's prefill, the
# duplicate-candidate hints. Each returns what it shows an unrelated partner, as text.

NAME = ("Philomène", "Zabrowski")
EMAIL = "philomene.zabrowski@mail.example"


def _via_desk_form_prefill(partner: Partner, guest: Guest) -> str:
    from tests.factories import offer_make, session_make

    offer = offer_make(partner, is_published=True)
    session_make(offer)
    response = _staff_client(partner).get(
        reverse("bookings_desk:create", kwargs={"slug": offer.slug}), {"guest": guest.pk}
    )
    assert response.status_code == 200
    return response.content.decode()


def _via_likely_duplicates(partner: Partner, guest: Guest) -> str:
    from portal.selectors import likely_duplicates

    rows = likely_duplicates(
        partner=partner, data={"first_name": NAME[0], "last_name": NAME[1], "email": EMAIL}
    )
    assert [r.guest_id for r in rows] == [guest.pk], "the path really finds the guest"
    return json.dumps([vars(r) for r in rows], default=str, ensure_ascii=False)


STRICT_PATHS: dict[str, Callable[[Partner, Guest], str]] = {
    "portal guest page (title and header)": _via_portal_guest_page,
    "desk booking form prefill": _via_desk_form_prefill,
    "portal likely_duplicates hints": _via_likely_duplicates,
}


@pytest.mark.parametrize("path", list(STRICT_PATHS))
def test_closed_sections_stay_closed_on_every_reader(world, path):
    from destination.models import Guest as GuestModel
    from destination.normalize import mask_email
    from destination.services.resolution import match_keys_refresh
    from partners.models import SharingRule

    guest = world["guest"]
    GuestModel.objects.filter(pk=guest.pk).update(
        first_name=NAME[0], last_name=NAME[1], country="DE"
    )
    GuestEmailFactory(guest=guest, email=EMAIL, email_normalized=EMAIL, is_primary=True)
    match_keys_refresh([guest.pk])
    guest.refresh_from_db()
    SharingRule.objects.filter(level=SharingRule.Level.UNRELATED).update(sections=[])
    seen = STRICT_PATHS[path](world["rental"], guest)
    for secret in (*NAME, EMAIL, mask_email(EMAIL), '<option value="DE" selected'):
        assert secret not in seen, secret
    assert PRIVATE not in seen and SHARED not in seen


# Counts a page shows must not reveal how many private entries other partners hold.
def _via_duplicate_page_counts(partner: Partner, guest: Guest) -> int:
    from destination.models import PossibleDuplicate

    other = GuestFactory()
    low, high = sorted((guest, other), key=lambda g: g.pk)
    pair = PossibleDuplicate.objects.create(guest_a=low, guest_b=high, score=0.9, reasons=[])
    response = _manager_client(partner).get(reverse("portal:duplicate", args=[pair.pk]))
    side = "history_a" if low.pk == guest.pk else "history_b"
    return response.context[side]


def _via_erase_page_counts(partner: Partner, guest: Guest) -> int:
    response = _manager_client(partner).get(reverse("portal:guest_erase", args=[guest.pk]))
    counts = response.context["counts"]
    return counts["timeline"] + counts["interactions"]


COUNT_PATHS: dict[str, Callable[[Partner, Guest], int]] = {
    "portal duplicate comparison (timeline entries)": _via_duplicate_page_counts,
    "portal erase confirmation (interactions + timeline)": _via_erase_page_counts,
}


@pytest.mark.parametrize("path", list(COUNT_PATHS))
def test_counts_never_include_other_partners_private_entries(world, path):
    office, guest = world["office"], world["guest"]
    visible = {
        "portal duplicate comparison (timeline entries)": timeline_visible_to(
            partner=office, guest=guest
        ).count(),
        "portal erase confirmation (interactions + timeline)": timeline_visible_to(
            partner=office, guest=guest
        ).count()
        + interactions_visible_to(partner=office, guest=guest).count(),
    }[path]
    assert COUNT_PATHS[path](office, guest) == visible
    # The control: there are private entries the count leaves out.
    assert TimelineEvent.objects.filter(guest=guest, visibility=Visibility.PRIVATE).exists()
