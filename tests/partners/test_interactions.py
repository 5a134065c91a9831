"""Interactions logged by partner staff: side effects, refusals, links and the form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from destination.errors import PermissionRefused
from destination.models import AuditEntry, Guest, TimelineEvent, Visibility
from destination.services import GuestError
from partners.forms import InteractionForm
from partners.models import Interaction, Partner, PartnerGuestLink
from partners.services import interaction_log, partner_guest_link_touch
from tests.factories import (
    GuestFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> Partner:
    return PartnerFactory(name="Ski School X")


@pytest.fixture
def staff(school):
    return MembershipFactory(partner=school).user


LONG_AGO = timezone.now() - dt.timedelta(days=400)


def _known(partner: Partner, **fields) -> Guest:
    """A guest the partner knows by evidence (a booking long ago): it may log interactions."""
    guest = GuestFactory(**fields)
    PartnerGuestLinkFactory(
        partner=partner, guest=guest, reason=PartnerGuestLink.Reason.BOOKING,
        first_seen_at=LONG_AGO, last_seen_at=LONG_AGO,
    )  # fmt: skip
    return guest


def _log(guest, school, staff, **kwargs) -> Interaction:
    defaults = {
        "kind": Interaction.Kind.DESK_VISIT,
        "channel": Interaction.Channel.IN_PERSON,
        "summary": "Asked about private lessons for two children.",
    }
    return interaction_log(guest=guest, partner=school, staff=staff, **{**defaults, **kwargs})


@pytest.mark.parametrize("visibility", [Visibility.SHARED, Visibility.PRIVATE])
def test_interaction_log_writes_everything_in_one_go(school, staff, visibility):
    guest = _known(school)
    when = timezone.now() - dt.timedelta(minutes=30)

    interaction = _log(guest, school, staff, occurred_at=when, visibility=visibility)

    interaction.refresh_from_db()
    assert (interaction.guest, interaction.partner, interaction.staff) == (guest, school, staff)
    assert interaction.visibility == visibility
    assert interaction.occurred_at == when

    entry = TimelineEvent.objects.get(guest=guest, kind=TimelineEvent.Kind.INTERACTION)
    assert entry.partner == school
    assert entry.visibility == visibility
    assert entry.title == "Desk visit — Ski School X"
    assert entry.body == "Asked about private lessons for two children."
    assert entry.occurred_at == when
    assert entry.source_object == interaction

    link = PartnerGuestLink.objects.get(partner=school, guest=guest)
    # An interaction never creates a relationship: it moves the proved one's last sighting.
    assert link.reason == PartnerGuestLink.Reason.BOOKING
    assert (link.first_seen_at, link.last_seen_at) == (LONG_AGO, when)

    guest.refresh_from_db()
    assert guest.last_contact_at == when

    audit = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.CHANGE)
    assert audit.actor == staff
    assert audit.acting_partner == school
    assert audit.details["interaction_logged"] == interaction.pk
    # The audit row says that something was logged, never what: private notes stay private.
    assert "lessons" not in str(audit.details)


def test_timeline_title_is_stored_in_the_default_language(school, staff):
    guest = _known(school)
    with translation.override("fr"):
        _log(guest, school, staff)
    assert TimelineEvent.objects.get(guest=guest).title == "Desk visit — Ski School X"


def test_second_interaction_moves_last_seen_and_keeps_the_first(school, staff):
    guest = GuestFactory()
    first = timezone.now() - dt.timedelta(days=3)
    PartnerGuestLink.objects.create(
        partner=school,
        guest=guest,
        reason=PartnerGuestLink.Reason.BOOKING,
        has_booked=True,
        first_seen_at=first,
        last_seen_at=first,
    )
    _log(guest, school, staff)
    link = PartnerGuestLink.objects.get(partner=school, guest=guest)
    assert link.first_seen_at == first
    assert link.reason == PartnerGuestLink.Reason.BOOKING
    assert link.has_booked is True
    assert link.last_seen_at > first


def test_a_backdated_interaction_does_not_move_last_contact_back(school, staff):
    recent = timezone.now() - dt.timedelta(hours=1)
    guest = _known(school, last_contact_at=recent)
    _log(guest, school, staff, occurred_at=recent - dt.timedelta(days=10))
    guest.refresh_from_db()
    assert guest.last_contact_at == recent


def test_staff_must_be_an_active_member_of_the_partner(school):
    guest = GuestFactory()
    other_staff = MembershipFactory().user
    former = MembershipFactory(partner=school, is_active=False).user
    for user in (other_staff, former):
        with pytest.raises(GuestError):
            _log(guest, school, user)
    assert not Interaction.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not PartnerGuestLink.objects.exists()


def test_an_inactive_partner_cannot_log(school, staff):
    Partner.objects.filter(pk=school.pk).update(is_active=False)
    with pytest.raises(GuestError):
        _log(GuestFactory(), school, staff)


@pytest.mark.parametrize("status", [Guest.Status.ERASED, Guest.Status.MERGED])
def test_erased_and_merged_guests_are_refused(school, staff, status):
    guest = GuestFactory(
        status=status, merged_into=GuestFactory() if status == Guest.Status.MERGED else None
    )
    with pytest.raises(GuestError):
        _log(guest, school, staff)
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [{"kind": "telepathy"}, {"channel": "pigeon"}, {"summary": "   "}, {"visibility": "secret"}],
)
def test_invalid_values_are_refused_with_nothing_written(school, staff, bad):
    with pytest.raises(ValidationError):
        _log(_known(school), school, staff, **bad)
    assert not Interaction.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_future_interactions_are_refused(school, staff):
    with pytest.raises(GuestError):
        _log(_known(school), school, staff, occurred_at=timezone.now() + dt.timedelta(days=1))


def test_a_partner_that_does_not_know_the_guest_cannot_log_one(school, staff):
    # Reproduction (issue 16): one logged interaction used to relate any partner to any guest.
    guest = GuestFactory()
    with pytest.raises(PermissionRefused) as refused:
        _log(guest, school, staff)
    assert refused.value.code == "not_related"
    assert not Interaction.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not PartnerGuestLink.objects.exists()


def test_a_resolved_link_is_not_enough_to_log(school, staff):
    guest = GuestFactory()
    PartnerGuestLinkFactory(partner=school, guest=guest, reason=PartnerGuestLink.Reason.RESOLVED)
    with pytest.raises(PermissionRefused):
        _log(guest, school, staff)


def test_the_tourist_office_logs_without_a_prior_relationship():
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    user = MembershipFactory(partner=office).user
    guest = GuestFactory()
    _log(guest, office, user)
    assert Interaction.objects.filter(guest=guest, partner=office).exists()


# --- partner_guest_link_touch ---------------------------------------------------------------


def test_link_touch_creates_then_updates_without_losing_history(school):
    guest = GuestFactory()
    t0 = timezone.now() - dt.timedelta(days=5)
    link = partner_guest_link_touch(
        partner=school, guest=guest, reason=PartnerGuestLink.Reason.IMPORTED, at=t0
    )
    assert (link.reason, link.first_seen_at, link.last_seen_at, link.has_booked) == (
        PartnerGuestLink.Reason.IMPORTED,
        t0,
        t0,
        False,
    )
    t1 = t0 + dt.timedelta(days=2)
    partner_guest_link_touch(
        partner=school, guest=guest, reason=PartnerGuestLink.Reason.BOOKING, at=t1, booked=True
    )
    # An older event recorded late: moves the first sighting and reason back, not last_seen.
    t_old = t0 - dt.timedelta(days=30)
    partner_guest_link_touch(
        partner=school, guest=guest, reason=PartnerGuestLink.Reason.CREATED, at=t_old
    )
    partner_guest_link_touch(partner=school, guest=guest, reason="interaction", at=t0)

    link = PartnerGuestLink.objects.get()
    assert link.first_seen_at == t_old
    assert link.reason == PartnerGuestLink.Reason.CREATED
    assert link.last_seen_at == t1
    assert link.has_booked is True


# --- InteractionForm ------------------------------------------------------------------------


def test_interaction_form_defaults_to_shared_and_optional_date():
    form = InteractionForm(data={"kind": "call", "channel": "phone", "summary": " Called back "})
    assert form.is_valid(), form.errors
    data = form.interaction_data()
    assert data["visibility"] == Visibility.SHARED
    assert data["occurred_at"] is None
    assert data["summary"] == "Called back"
    assert InteractionForm().fields["visibility"].initial == Visibility.SHARED


def test_interaction_form_feeds_the_service(school, staff):
    form = InteractionForm(
        data={"kind": "note", "channel": "in_person", "summary": "VIP", "visibility": "private"}
    )
    assert form.is_valid(), form.errors
    interaction = interaction_log(
        guest=_known(school), partner=school, staff=staff, **form.interaction_data()
    )
    assert interaction.visibility == Visibility.PRIVATE


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "x", "channel": "phone", "summary": "a"}, "kind"),
        ({"kind": "call", "channel": "x", "summary": "a"}, "channel"),
        ({"kind": "call", "channel": "phone", "summary": "   "}, "summary"),
        ({"kind": "call", "channel": "phone", "summary": "a", "visibility": "x"}, "visibility"),
        (
            {"kind": "call", "channel": "phone", "summary": "a", "occurred_at": "soon"},
            "occurred_at",
        ),
        (
            {
                "kind": "call",
                "channel": "phone",
                "summary": "a",
                "occurred_at": (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M"),
            },
            "occurred_at",
        ),
        ({"kind": "call", "channel": "phone", "summary": "a" * 4001}, "summary"),
    ],
)
def test_interaction_form_reports_errors_on_their_field(data, field):
    form = InteractionForm(data=data)
    assert not form.is_valid()
    assert list(form.errors) == [field]
