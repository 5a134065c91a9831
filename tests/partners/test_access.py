"""The access layer: levels, the sections each opens, rule precedence, querysets, the profile
projection, query counts and the permission helpers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone

from destination.models import ConsentProof, Guest, Purpose, TimelineEvent, Visibility
from destination.services.consent import consent_record
from destination.services.timeline import timeline_add
from partners import sharing
from partners.access import (
    TIMELINE_SECTIONS,
    GuestAccess,
    can_edit_guest,
    can_erase,
    can_export,
    can_merge,
    guest_access,
    guest_access_bulk,
    guest_access_for_request,
    guest_profile_for,
    interactions_visible_to,
    membership_for,
    timeline_visible_to,
)
from partners.models import Membership, Partner, Section, SharingRule
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    GuestPhoneFactory,
    InteractionFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
    TagFactory,
)
from tests.queries import assert_num_queries

pytestmark = pytest.mark.django_db

Level = SharingRule.Level


def _share_profile(guest: Guest, partner: Partner, granted: bool = True) -> None:
    consent_record(
        guest=guest,
        purpose=Purpose.PROFILE_SHARING,
        granted=granted,
        method=ConsentProof.Method.DESK,
        partners=[partner],
        wording=ConsentWordingFactory(purpose=Purpose.PROFILE_SHARING) if granted else None,
    )


def _at_level(level: str, partner: Partner, guest: Guest) -> None:
    if level == Level.RELATED:
        PartnerGuestLinkFactory(partner=partner, guest=guest)
    elif level == Level.CONSENTED:
        _share_profile(guest, partner)


# --- Levels and sections --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.UNRELATED, sharing.UNRELATED),
        (Level.RELATED, sharing.RELATED),
        (Level.CONSENTED, sharing.CONSENTED),
    ],
)
def test_each_level_opens_exactly_the_sections_of_its_rule(level, expected):
    school, guest = PartnerFactory(), GuestFactory()
    _at_level(level, school, guest)

    access = guest_access(partner=school, guest=guest)

    assert access.level == level
    assert access.sections == frozenset(expected)
    assert access.is_steward is False
    for section in Section:
        assert access.can(section) is (section.value in expected)


@pytest.mark.parametrize("level", [Level.UNRELATED, Level.RELATED, Level.CONSENTED])
def test_the_steward_sees_its_sections_at_every_level(level):
    office, guest = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE), GuestFactory()
    _at_level(level, office, guest)
    access = guest_access(partner=office, guest=guest)
    assert access.is_steward is True
    assert access.sections == frozenset(sharing.STEWARD)


def test_rules_follow_edits_in_the_database():
    school, guest = PartnerFactory(), GuestFactory()
    SharingRule.objects.filter(level=Level.UNRELATED, partner_kind="").update(
        sections=["identity", "no-such-section"]
    )
    assert guest_access(partner=school, guest=guest).sections == {Section.IDENTITY}


def test_a_kind_specific_rule_wins_over_the_generic_one_at_its_level_only():
    lodging = PartnerFactory(kind=Partner.Kind.LODGING)
    school = PartnerFactory(kind=Partner.Kind.SKI_SCHOOL)
    unknown, known = GuestFactory(), GuestFactory()
    PartnerGuestLinkFactory(partner=lodging, guest=known)
    SharingRule.objects.create(
        level=Level.UNRELATED, partner_kind=Partner.Kind.LODGING, sections=["identity"]
    )

    assert guest_access(partner=lodging, guest=unknown).sections == {Section.IDENTITY}
    assert guest_access(partner=school, guest=unknown).sections == set(sharing.UNRELATED)
    # No lodging rule at RELATED: the generic one applies.
    assert guest_access(partner=lodging, guest=known).sections == set(sharing.RELATED)
    # An empty kind-specific rule also wins: it closes everything for that kind.
    SharingRule.objects.create(level=Level.RELATED, partner_kind=Partner.Kind.LODGING, sections=[])
    assert guest_access(partner=lodging, guest=known).sections == frozenset()


def test_withdrawing_profile_sharing_falls_back_to_related():
    school, guest = PartnerFactory(), GuestFactory()
    _share_profile(guest, school)
    assert guest_access(partner=school, guest=guest).level == Level.CONSENTED
    _share_profile(guest, school, granted=False)
    # The consent created the relationship; it stays, the sharing does not.
    assert guest_access(partner=school, guest=guest).level == Level.RELATED


def test_consent_to_another_partner_does_not_raise_this_ones_level():
    school, other, guest = PartnerFactory(), PartnerFactory(), GuestFactory()
    _share_profile(guest, other)
    assert guest_access(partner=school, guest=guest).level == Level.UNRELATED


def test_an_inactive_partner_gets_no_section():
    school, guest = PartnerFactory(is_active=False), GuestFactory()
    PartnerGuestLinkFactory(partner=school, guest=guest)
    access = guest_access(partner=school, guest=guest)
    assert access.sections == frozenset()
    InteractionFactory(guest=guest, partner=PartnerFactory())
    assert not interactions_visible_to(partner=school).exists()


# --- Query counts ---------------------------------------------------------------------------


def test_guest_access_takes_two_queries():
    school, guest = PartnerFactory(), GuestFactory()
    PartnerGuestLinkFactory(partner=school, guest=guest)
    with assert_num_queries(2):
        guest_access(partner=school, guest=guest)


def _bulk_queries(partner: Partner, guests: list[Guest]) -> tuple[int, dict[int, GuestAccess]]:
    with assert_num_queries(2) as ctx:
        result = guest_access_bulk(partner=partner, guest_ids=[g.pk for g in guests])
    return len(ctx), result


def test_guest_access_bulk_is_constant_for_3_or_30_guests():
    school = PartnerFactory()
    few, many = GuestFactory.create_batch(3), GuestFactory.create_batch(30)
    for i, guest in enumerate(few + many):
        if i % 3 == 1:
            PartnerGuestLinkFactory(partner=school, guest=guest)
        elif i % 3 == 2:
            _share_profile(guest, school)

    few_count, few_result = _bulk_queries(school, few)
    many_count, many_result = _bulk_queries(school, many)

    assert few_count == many_count == 2
    assert len(few_result) == 3
    assert len(many_result) == 30
    # Bulk and single answers agree.
    for guest in few + many:
        result = few_result if guest in few else many_result
        assert result[guest.pk] == guest_access(partner=school, guest=guest)
    assert {a.level for a in many_result.values()} == set(Level)


def test_guest_access_bulk_ignores_unknown_ids():
    assert guest_access_bulk(partner=PartnerFactory(), guest_ids=[]) == {}
    assert guest_access_bulk(partner=PartnerFactory(), guest_ids=[987654]) == {}


def test_guest_access_is_cached_per_request():
    school, guest = PartnerFactory(), GuestFactory()
    request = RequestFactory().get("/")
    first = guest_access_for_request(request, partner=school, guest=guest)
    with assert_num_queries(0):
        assert guest_access_for_request(request, partner=school, guest=guest) is first


def test_guest_profile_for_has_a_bounded_number_of_queries():
    office, guest = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE), GuestFactory()
    GuestEmailFactory.create_batch(3, guest=guest, is_primary=False)
    GuestPhoneFactory.create_batch(3, guest=guest, is_primary=False)
    guest.tags.add(*TagFactory.create_batch(3))
    for partner in PartnerFactory.create_batch(3):
        _share_profile(guest, partner)
        InteractionFactory.create_batch(2, guest=guest, partner=partner)
    access = guest_access(partner=office, guest=guest)
    # emails, phones, phones kept as typed (their "pt:" keys), tags, consents, interactions,
    # timeline (no household)
    with assert_num_queries(7):
        profile = guest_profile_for(
            partner=office, guest=guest, access=access, include_activity=True
        )
    assert len(profile["consents"]) == 3
    assert len(profile["interactions"]) == 6


# --- The profile projection -----------------------------------------------------------------


@pytest.fixture
def rich_guest() -> Guest:
    guest = GuestFactory(first_name="Zoë", last_name="Martin", birth_date=dt.date(1990, 5, 17))
    GuestEmailFactory(guest=guest, email="zoe.martin@mail.example")
    GuestPhoneFactory(guest=guest, phone="+33612345678")
    guest.tags.add(TagFactory(slug="freeride", name="Freeride"))
    return guest


SECTION_KEYS = {
    Section.IDENTITY: "identity",
    Section.DEMOGRAPHICS: "demographics",
    Section.BIRTH_DATE: "birth_date",
    Section.CONTACT: "contact",
    Section.INTERESTS: "interests",
    Section.HOUSEHOLD: "household",
    Section.CONSENTS: "consents",
}


@pytest.mark.parametrize("level", [Level.UNRELATED, Level.RELATED, Level.CONSENTED])
def test_profile_carries_only_the_opened_sections(rich_guest, level):
    school = PartnerFactory()
    _at_level(level, school, rich_guest)
    access = guest_access(partner=school, guest=rich_guest)

    profile = guest_profile_for(partner=school, guest=rich_guest)

    for section, key in SECTION_KEYS.items():
        assert (key in profile) is access.can(section), section
    if access.can(Section.CONTACT):
        assert profile["contact"]["emails"] == [
            {"email": "zoe.martin@mail.example", "is_primary": True}
        ]
        assert "contact_hint" not in profile
    else:
        assert profile["contact_hint"] == {
            "emails": ["z•••n@mail.example"],
            "phones": ["+33 ••• ••• 678"],
        }
        assert "zoe.martin" not in str(profile)
        assert "612345678" not in str(profile)
    if not access.can(Section.BIRTH_DATE):
        assert "1990" not in str(profile)


def test_unrelated_profile_is_just_enough_to_tell_people_apart(rich_guest):
    profile = guest_profile_for(partner=PartnerFactory(), guest=rich_guest)
    assert profile["identity"]["full_name"] == "Zoë Martin"
    assert profile["demographics"] == {"country": "FR", "language": "fr"}
    assert set(profile) == {
        "id",
        "uuid",
        "status",
        "access",
        "identity",
        "demographics",
        "contact_hint",
    }


def test_household_shows_name_and_size_only(rich_guest):
    from destination.models import Household

    household = Household.objects.create(name="Martin family")
    Guest.objects.filter(pk=rich_guest.pk).update(household=household)
    GuestFactory(household=household, first_name="Secret")
    rich_guest.refresh_from_db()
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    profile = guest_profile_for(partner=office, guest=rich_guest)
    assert profile["household"] == {"id": household.pk, "name": "Martin family", "size": 2}
    assert "Secret" not in str(profile)


# --- Querysets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "kinds_seen"),
    [
        (Level.UNRELATED, set()),
        (Level.RELATED, {TimelineEvent.Kind.CONSENT}),
        (Level.CONSENTED, set(TIMELINE_SECTIONS)),
    ],
)
def test_shared_timeline_entries_follow_the_sections(level, kinds_seen):
    school, other, guest = PartnerFactory(), PartnerFactory(), GuestFactory()
    _at_level(level, school, guest)
    now = timezone.now()
    expected_titles = set()
    for kind in TimelineEvent.Kind:
        for owner in (other, None):
            title = f"entry {kind} by {owner or 'destination'}"
            timeline_add(guest=guest, kind=kind, occurred_at=now, title=title, partner=owner)
            if kind in kinds_seen:
                expected_titles.add(title)
        timeline_add(
            guest=guest,
            kind=kind,
            occurred_at=now,
            title=f"own private {kind}",
            partner=school,
            visibility=Visibility.PRIVATE,
        )
        expected_titles.add(f"own private {kind}")

    titles = set(
        timeline_visible_to(partner=school, guest=guest)
        .exclude(content_type__isnull=False)  # the consent service's own entry
        .values_list("title", flat=True)
    )
    assert titles == expected_titles


def test_private_entry_without_partner_is_shown_to_no_one():
    office, guest = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE), GuestFactory()
    timeline_add(
        guest=guest,
        kind=TimelineEvent.Kind.PROFILE,
        occurred_at=timezone.now(),
        title="odd",
        visibility=Visibility.PRIVATE,
    )
    assert not timeline_visible_to(partner=office, guest=guest).exists()


def test_interactions_across_guests_decide_the_level_per_guest_in_sql():
    school, other = PartnerFactory(), PartnerFactory()
    consented, related, unknown = GuestFactory(), GuestFactory(), GuestFactory()
    _share_profile(consented, school)
    PartnerGuestLinkFactory(partner=school, guest=related)
    shared = {g: InteractionFactory(guest=g, partner=other) for g in (consented, related, unknown)}
    private = InteractionFactory(guest=consented, partner=other, visibility=Visibility.PRIVATE)
    own_private = InteractionFactory(guest=unknown, partner=school, visibility=Visibility.PRIVATE)

    with assert_num_queries(2):  # the rules, then one SQL statement
        seen = set(interactions_visible_to(partner=school))
    assert seen == {shared[consented], own_private}
    assert private not in seen

    # Opening shared interactions to RELATED partners (a rule edit) is followed.
    SharingRule.objects.filter(level=Level.RELATED, partner_kind="").update(
        sections=[*sharing.RELATED, "shared_interactions"]
    )
    assert set(interactions_visible_to(partner=school)) == {
        shared[consented],
        shared[related],
        own_private,
    }
    # And to everyone: still never another partner's private row.
    SharingRule.objects.update(sections=list(Section.values))
    assert private not in set(interactions_visible_to(partner=school))
    assert set(interactions_visible_to(partner=school)) == {*shared.values(), own_private}


def test_interactions_for_one_guest_follow_the_access():
    school, other, guest = PartnerFactory(), PartnerFactory(), GuestFactory()
    theirs = InteractionFactory(guest=guest, partner=other)
    mine = InteractionFactory(guest=guest, partner=school, visibility=Visibility.PRIVATE)
    InteractionFactory(partner=school)  # another guest
    assert set(interactions_visible_to(partner=school, guest=guest)) == {mine}
    _share_profile(guest, school)
    assert set(interactions_visible_to(partner=school, guest=guest)) == {mine, theirs}


# --- Permissions ----------------------------------------------------------------------------


@pytest.fixture
def office() -> Partner:
    return PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)


@pytest.mark.parametrize("helper", [can_merge, can_erase, can_export])
def test_steward_actions_are_for_tourist_office_managers_only(office, helper):
    school = PartnerFactory()
    manager = MembershipFactory(partner=office, role=Membership.Role.MANAGER).user
    agent = MembershipFactory(partner=office, role=Membership.Role.AGENT).user
    school_manager = MembershipFactory(partner=school, role=Membership.Role.MANAGER).user
    former = MembershipFactory(partner=office, role=Membership.Role.MANAGER, is_active=False).user

    assert helper(manager, office) is True
    assert helper(agent, office) is False
    assert helper(school_manager, school) is False
    assert helper(school_manager, office) is False  # not a member of the office
    assert helper(manager, school) is False  # acting for another partner
    assert helper(former, office) is False
    assert helper(AnonymousUser(), office) is False
    assert helper(manager, None) is False


def test_membership_for_only_returns_active_memberships(office):
    active = MembershipFactory(partner=office)
    inactive = MembershipFactory(partner=office, is_active=False)
    assert membership_for(active.user, office) == active
    assert membership_for(inactive.user, office) is None
    assert membership_for(AnonymousUser(), office) is None
    Partner.objects.filter(pk=office.pk).update(is_active=False)
    assert membership_for(active.user, office) is None


def test_can_edit_guest_needs_membership_and_a_relationship():
    school, guest = PartnerFactory(), GuestFactory()
    member = MembershipFactory(partner=school).user
    outsider = MembershipFactory().user

    assert can_edit_guest(member, school, guest) is False  # unrelated
    PartnerGuestLinkFactory(partner=school, guest=guest)
    assert can_edit_guest(member, school, guest) is True
    assert can_edit_guest(outsider, school, guest) is False
    assert can_edit_guest(member, None, guest) is False
    Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
    guest.refresh_from_db()
    assert can_edit_guest(member, school, guest) is False


def test_can_edit_guest_with_consented_access():
    school, guest = PartnerFactory(), GuestFactory()
    member = MembershipFactory(partner=school).user
    _share_profile(guest, school)
    assert can_edit_guest(member, school, guest) is True


def test_tourist_office_managers_may_edit_any_guest_but_its_agents_need_a_relationship(office):
    guest = GuestFactory()
    manager = MembershipFactory(partner=office, role=Membership.Role.MANAGER).user
    agent = MembershipFactory(partner=office, role=Membership.Role.AGENT).user
    school_manager = MembershipFactory(role=Membership.Role.MANAGER)

    assert can_edit_guest(manager, office, guest) is True
    assert can_edit_guest(agent, office, guest) is False
    assert can_edit_guest(school_manager.user, school_manager.partner, guest) is False


# --- Selectors built on the access layer: no N+1 --------------------------------------------


def test_partner_selectors_have_constant_query_counts():
    from partners.selectors import interaction_list_for_guest, timeline_list_for_guest

    office, guest = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE), GuestFactory()
    for partner in PartnerFactory.create_batch(3):
        staff = MembershipFactory(partner=partner).user
        InteractionFactory.create_batch(2, guest=guest, partner=partner, staff=staff)
        timeline_add(
            guest=guest,
            kind=TimelineEvent.Kind.BOOKING,
            occurred_at=timezone.now(),
            title="Booked",
            partner=partner,
        )
    access = guest_access(partner=office, guest=guest)
    with assert_num_queries(1):
        rows = [
            (i.partner.name, i.staff.email)
            for i in interaction_list_for_guest(partner=office, guest=guest, access=access)
        ]
    assert len(rows) == 6
    with assert_num_queries(1):
        entries = [
            (e.title, e.partner.name if e.partner else "")
            for e in timeline_list_for_guest(partner=office, guest=guest, access=access)
        ]
    assert len(entries) == 3
