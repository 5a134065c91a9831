"""Guest edit services: names and demographics, contact points, tags, households."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from destination.models import AuditEntry, Guest, GuestEmail, GuestPhone, Household, MatchKey
from destination.services import GuestError
from destination.services.guests import (
    guest_email_add,
    guest_email_remove,
    guest_email_set_primary,
    guest_phone_add,
    guest_phone_remove,
    guest_phone_set_primary,
    guest_tags_set,
    guest_update,
    household_link,
)
from partners.models import Partner
from tests.factories import (
    GuestFactory,
    MembershipFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshed(monkeypatch) -> list[list[int]]:
    """Records the guest services' calls to the match-key refresh (and still runs it)."""
    from destination.services import guests

    calls: list[list[int]] = []
    real = guests.match_keys_refresh

    def spy(guest_ids):
        calls.append(list(guest_ids))
        return real(guest_ids)

    monkeypatch.setattr(guests, "match_keys_refresh", spy)
    return calls


@pytest.fixture
def school() -> Partner:
    return PartnerFactory()


@pytest.fixture
def agent(school):
    return MembershipFactory(partner=school).user


@pytest.fixture
def guest(school) -> Guest:
    guest = GuestFactory(first_name="Jean", last_name="Martin", country="FR", language="fr")
    PartnerGuestLinkFactory(partner=school, guest=guest)
    return guest


# --- guest_update ---------------------------------------------------------------------------


def test_update_changes_fields_folds_the_name_audits_and_refreshes_keys(
    guest, school, agent, refreshed
):
    updated = guest_update(
        guest=guest,
        data={
            "first_name": "  Zoë ",
            "last_name": "O'Brien-Duval",
            "country": "ie",
            "language": "en",
            "birth_date": "1990-05-17",
        },
        actor=agent,
        partner=school,
    )

    guest.refresh_from_db()
    assert guest == updated
    assert (guest.first_name, guest.last_name) == ("Zoë", "O'Brien-Duval")
    assert guest.name_folded == "zoe o brien duval"
    assert guest.country.code == "IE"
    assert guest.language == "en"
    assert guest.birth_date == dt.date(1990, 5, 17)
    audit = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.CHANGE)
    assert audit.actor == agent
    assert audit.acting_partner == school
    assert audit.details["changes"] == {
        "first_name": {"old": "Jean", "new": "Zoë"},
        "last_name": {"old": "Martin", "new": "O'Brien-Duval"},
        "country": {"old": "FR", "new": "IE"},
        "language": {"old": "fr", "new": "en"},
        "birth_date": {"old": None, "new": "1990-05-17"},
    }
    assert refreshed == [[guest.pk]]
    assert MatchKey.objects.filter(guest=guest).exists()


def test_update_with_nothing_new_writes_nothing(guest, school, agent, refreshed):
    guest_update(guest=guest, data={"first_name": "Jean"}, actor=agent, partner=school)
    assert not AuditEntry.objects.exists()
    assert refreshed == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"birth_date": timezone.localdate() + dt.timedelta(days=30)}, "birth_date"),
        ({"birth_date": "17/05/1990"}, "birth_date"),
        ({"birth_date": dt.date(1850, 1, 1)}, "birth_date"),
        ({"country": "XX"}, "country"),
        ({"language": "not a language"}, "language"),
        ({"first_name": "x" * 151}, "first_name"),
    ],
)
def test_update_reports_bad_values_per_field(guest, school, agent, data, field):
    with pytest.raises(ValidationError) as exc:
        guest_update(guest=guest, data=data, actor=agent, partner=school)
    assert set(exc.value.message_dict) == {field}
    assert not AuditEntry.objects.exists()


def test_update_refuses_fields_it_does_not_own(guest, school, agent):
    with pytest.raises(GuestError):
        guest_update(guest=guest, data={"status": "erased"}, actor=agent, partner=school)


@pytest.mark.parametrize("status", [Guest.Status.ERASED, Guest.Status.MERGED])
def test_erased_and_merged_guests_cannot_be_edited(status):
    guest = GuestFactory(
        status=status, merged_into=GuestFactory() if status == Guest.Status.MERGED else None
    )
    with pytest.raises(GuestError):
        guest_update(guest=guest, data={"first_name": "X"}, actor=None, partner=None)
    with pytest.raises(GuestError):
        guest_email_add(guest=guest, email="x@example.com", actor=None, partner=None)
    with pytest.raises(GuestError):
        guest_phone_add(guest=guest, phone="+33612345678", actor=None, partner=None)
    with pytest.raises(GuestError):
        guest_tags_set(guest=guest, tags=[], actor=None, partner=None)


def test_the_core_leaves_authorisation_to_its_callers(agent, school):
    """Who may edit whom is the partners app's rule (``partners.access.can_edit_guest``), checked
    by the portal before it calls these services (tests/partners/test_edit_authorisation.py);
    ``partner`` here only says for whom the change is audited."""
    stranger_guest = GuestFactory()
    guest_update(guest=stranger_guest, data={"first_name": "X"}, actor=agent, partner=school)
    entry = AuditEntry.objects.get(guest=stranger_guest)
    assert entry.acting_partner == school


# --- Emails ---------------------------------------------------------------------------------


def test_email_add_normalises_and_the_first_is_primary(guest, school, agent, refreshed):
    first = guest_email_add(
        guest=guest, email=" Jean.Martin@Gmail.COM ", actor=agent, partner=school
    )
    second = guest_email_add(guest=guest, email="jm@work.example", actor=agent, partner=school)
    assert (first.email_normalized, first.is_primary) == ("jean.martin@gmail.com", True)
    assert second.is_primary is False
    assert refreshed == [[guest.pk], [guest.pk]]
    audit = AuditEntry.objects.filter(guest=guest).first()
    # The audit keeps a masked address only: it outlives an erasure.
    assert "jean.martin" not in str(audit.details)


def test_email_add_is_idempotent_and_can_switch_the_primary(guest, school, agent):
    guest_email_add(guest=guest, email="a@x.example", actor=agent, partner=school)
    again = guest_email_add(guest=guest, email="A@X.example", actor=agent, partner=school)
    assert GuestEmail.objects.filter(guest=guest).count() == 1
    assert again.is_primary
    guest_email_add(
        guest=guest, email="b@x.example", make_primary=True, actor=agent, partner=school
    )
    primaries = GuestEmail.objects.filter(guest=guest, is_primary=True)
    assert list(primaries.values_list("email_normalized", flat=True)) == ["b@x.example"]
    guest_email_set_primary(guest=guest, email="a@x.example", actor=agent, partner=school)
    assert GuestEmail.objects.get(guest=guest, is_primary=True).email_normalized == "a@x.example"


def test_email_remove_promotes_another_primary(guest, school, agent):
    guest_email_add(guest=guest, email="a@x.example", actor=agent, partner=school)
    guest_email_add(guest=guest, email="b@x.example", actor=agent, partner=school)
    guest_email_remove(guest=guest, email="a@x.example", actor=agent, partner=school)
    remaining = GuestEmail.objects.get(guest=guest)
    assert (remaining.email_normalized, remaining.is_primary) == ("b@x.example", True)


@pytest.mark.parametrize("bad", ["not-an-email", "", "a@", "@b.example"])
def test_bad_email_is_a_field_error(guest, school, agent, bad):
    with pytest.raises(ValidationError) as exc:
        guest_email_add(guest=guest, email=bad, actor=agent, partner=school)
    assert set(exc.value.message_dict) == {"email"}


def test_removing_or_promoting_an_unknown_email_is_a_field_error(guest, school, agent):
    for service in (guest_email_remove, guest_email_set_primary):
        with pytest.raises(ValidationError) as exc:
            service(guest=guest, email="nobody@x.example", actor=agent, partner=school)
        assert set(exc.value.message_dict) == {"email"}


# --- Phones ---------------------------------------------------------------------------------


def test_phone_add_reads_national_numbers_with_the_guests_country(guest, school, agent):
    row = guest_phone_add(guest=guest, phone="06 12 34 56 78", actor=agent, partner=school)
    assert str(row.phone) == "+33612345678"
    assert row.is_primary
    british = GuestFactory(country="GB")
    PartnerGuestLinkFactory(partner=school, guest=british)
    row = guest_phone_add(guest=british, phone="07912 345678", actor=agent, partner=school)
    assert str(row.phone) == "+447912345678"


def test_phone_primary_switch_remove_and_idempotence(guest, school, agent, refreshed):
    guest_phone_add(guest=guest, phone="+33612345678", actor=agent, partner=school)
    guest_phone_add(guest=guest, phone="0033 6 12 34 56 78", actor=agent, partner=school)
    guest_phone_add(guest=guest, phone="06 98 76 54 32", actor=agent, partner=school)
    assert GuestPhone.objects.filter(guest=guest).count() == 2
    guest_phone_set_primary(guest=guest, phone="+33698765432", actor=agent, partner=school)
    assert str(GuestPhone.objects.get(guest=guest, is_primary=True).phone) == "+33698765432"
    guest_phone_remove(guest=guest, phone="06 98 76 54 32", actor=agent, partner=school)
    remaining = GuestPhone.objects.get(guest=guest)
    assert (str(remaining.phone), remaining.is_primary) == ("+33612345678", True)
    assert len(refreshed) == 4  # two adds (the third was a repeat), primary switch, remove


@pytest.mark.parametrize("bad", ["12", "not a phone", ""])
def test_bad_phone_is_a_field_error(guest, school, agent, bad):
    with pytest.raises(ValidationError) as exc:
        guest_phone_add(guest=guest, phone=bad, actor=agent, partner=school)
    assert set(exc.value.message_dict) == {"phone"}
    assert not GuestPhone.objects.exists()


# --- Tags -----------------------------------------------------------------------------------


def test_tags_set_replaces_the_set_and_audits(guest, school, agent):
    ski, family, vip = TagFactory(slug="ski"), TagFactory(slug="family"), TagFactory(slug="vip")
    guest_tags_set(guest=guest, tags=["ski", family], actor=agent, partner=school)
    assert set(guest.tags.all()) == {ski, family}
    result = guest_tags_set(guest=guest, tags=[vip, "ski"], actor=agent, partner=school)
    assert set(guest.tags.all()) == {ski, vip}
    assert {t.slug for t in result} == {"ski", "vip"}
    audit = AuditEntry.objects.filter(guest=guest).order_by("id").last()
    assert audit.details["tags"] == {"old": ["family", "ski"], "new": ["ski", "vip"]}


def test_tags_set_by_category_keeps_the_other_category(guest, school, agent):
    from destination.models import Tag

    ski = TagFactory(slug="ski")
    vip = TagFactory(slug="vip", category=Tag.Category.LABEL)
    guest.tags.add(ski, vip)
    guest_tags_set(
        guest=guest, tags=[], actor=agent, partner=school, category=Tag.Category.INTEREST
    )
    assert set(guest.tags.all()) == {vip}


def test_unknown_tags_are_a_field_error(guest, school, agent):
    with pytest.raises(ValidationError) as exc:
        guest_tags_set(guest=guest, tags=["nope"], actor=agent, partner=school)
    assert set(exc.value.message_dict) == {"tags"}


# --- Households -----------------------------------------------------------------------------


def test_household_link_creates_one_and_audits_each_member():
    a, b = GuestFactory(), GuestFactory()
    household = household_link(guests=[a, b], name="Martin family")
    assert household.name == "Martin family"
    assert set(household.members.all()) == {a, b}
    assert AuditEntry.objects.filter(guest__in=[a, b]).count() == 2


def test_household_link_merges_existing_households():
    a, b, c, d = GuestFactory.create_batch(4)
    first = household_link(guests=[a, b])
    second = household_link(guests=[c, d], name="Second")
    kept = household_link(guests=[b, c])
    assert kept == first
    # d was not named but joins with its household; the emptied household is gone.
    assert set(kept.members.all()) == {a, b, c, d}
    assert not Household.objects.filter(pk=second.pk).exists()


def test_household_link_refuses_one_guest_and_inactive_guests():
    a = GuestFactory()
    with pytest.raises(GuestError):
        household_link(guests=[a, a])
    erased = GuestFactory(status=Guest.Status.ERASED)
    with pytest.raises(GuestError):
        household_link(guests=[a, erased])
    assert not Household.objects.exists()
