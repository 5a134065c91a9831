"""Partner-private data of another partner is never visible, by any path, to anyone.

Each entry of PATHS is a way to read a guest's data as a partner; it returns everything that
path shows, flattened to text. A new view, API endpoint or export adds itself to PATHS and gets
every check below for free.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from destination.models import ConsentProof, Guest, Purpose, TimelineEvent, Visibility
from destination.services.consent import consent_record
from destination.services.timeline import timeline_add
from partners.access import (
    guest_access_bulk,
    guest_profile_for,
    interactions_visible_to,
    timeline_visible_to,
)
from partners.models import Interaction, Membership, Partner
from partners.selectors import interaction_list_for_guest, timeline_list_for_guest
from partners.services import interaction_log
from tests.factories import (
    ConsentWordingFactory,
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


def test_even_a_rule_opening_every_section_cannot_open_private_rows(world):
    from partners.models import Section, SharingRule

    SharingRule.objects.update(sections=list(Section.values))
    for viewer in VIEWERS:
        for path, read in PATHS.items():
            assert PRIVATE not in read(world[viewer], world["guest"]), (viewer, path)
