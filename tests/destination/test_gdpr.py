"""GDPR: the subject-access export (full and partner-scoped), its pages, erasure and the audit
trail reads."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from destination import registry
from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestMerge,
    GuestPhone,
    Household,
    MatchKey,
    PossibleDuplicate,
    Purpose,
    ResolutionKey,
    TimelineEvent,
)
from destination.services import GuestError
from destination.services import gdpr as gdpr_service
from destination.services.consent import consent_record
from destination.services.gdpr import (
    ERASED_TEXT,
    audit_entries_for,
    guest_erase,
    guest_export,
    guests_erase,
)
from destination.services.guests import guest_update
from destination.services.merge import guest_merge, guest_merge_undo
from destination.services.timeline import timeline_add
from partners.models import Interaction, Membership, Partner, PartnerGuestLink
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
    UserFactory,
)
from tests.queries import assert_num_queries, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db

# Every personal value of the person below: none may survive an erasure.
PERSONAL = [
    "Zoë",
    "Lefèvre-Quintal",
    "zoe lefevre quintal",
    "zoe.lq@mail.example",
    "zoe.alt@mail.example",
    "+33655443322",
    "1987-02-03",
    "CRM-ZLQ-77",
    "Famille Lefèvre",
    "allergic to peanuts",
    "private chat about her divorce",
    "198.51.100.23",
    "Mozilla/5.0 ZoeBrowser",
    "Zoé",
]


@pytest.fixture
def school():
    return PartnerFactory(name="Snow School", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def office():
    return PartnerFactory(name="Tourist Office", kind=Partner.Kind.TOURIST_OFFICE)


@pytest.fixture
def rental():
    return PartnerFactory(name="Rent-a-Ski", kind=Partner.Kind.EQUIPMENT_RENTAL)


@pytest.fixture
def zoe(school, rental, office):
    """A guest with data in every table the core knows about."""
    home = Household.objects.create(name="Famille Lefèvre")
    guest = GuestFactory(
        first_name="Zoë",
        last_name="Quintal",
        birth_date=dt.date(1987, 2, 3),
        country="CH",
        language="fr",
        household=home,
        source_detail="import zoe.lq@mail.example line 3",
    )
    GuestEmailFactory(guest=guest, email="zoe.lq@mail.example", is_primary=True)
    GuestPhoneFactory(guest=guest, phone="+33655443322")
    GuestExternalRef.objects.create(guest=guest, source="import", external_id="CRM-ZLQ-77")
    guest.tags.add(TagFactory(slug="freeride"))
    MatchKey.objects.create(guest=guest, key="lfvrqntl:zoe")
    PartnerGuestLinkFactory(partner=school, guest=guest)
    PartnerGuestLinkFactory(partner=rental, guest=guest)
    InteractionFactory(
        guest=guest, partner=school, summary="Lesson: allergic to peanuts", visibility="shared"
    )
    InteractionFactory(
        guest=guest,
        partner=rental,
        summary="private chat about her divorce",
        visibility="private",
    )
    timeline_add(
        guest=guest,
        kind="interaction",
        occurred_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        title="Zoë asked about lessons",
        body="allergic to peanuts",
        partner=school,
        data={"note": "Zoë Lefèvre-Quintal"},
    )
    consent_record(
        guest=guest,
        purpose=Purpose.NEWSLETTER,
        granted=True,
        method="form",
        channels=["email"],
        wording=ConsentWordingFactory(purpose=Purpose.NEWSLETTER, text="Send me the news."),
        evidence={"ip": "198.51.100.23", "user_agent": "Mozilla/5.0 ZoeBrowser"},
    )
    # An older duplicate profile of hers, merged in (its row keeps her old spelling).
    old = GuestFactory(first_name="Zoé", last_name="Lefèvre-Quintal", birth_date=None)
    GuestEmailFactory(guest=old, email="zoe.alt@mail.example", is_primary=True)
    guest_merge(survivor=guest, merged=old, actor=None)
    # A change with old and new values in its audit row.
    guest_update(guest=guest, data={"last_name": "Lefèvre-Quintal"}, actor=None, partner=None)
    guest.refresh_from_db()
    return guest


def dumped(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def personal_left_in(text: str) -> list[str]:
    return [value for value in PERSONAL if value in text]


# --- Export ---------------------------------------------------------------------------------


def test_full_export_holds_everything_about_the_guest(zoe, school, rental):
    actor = UserFactory(is_superuser=True, is_staff=True)
    data = guest_export(guest=zoe, actor=actor)

    json.dumps(data)  # machine-readable as it is
    assert data["export"]["scope"] == "full"
    assert data["identity"]["first_name"] == "Zoë"
    assert data["identity"]["birth_date"] == "1987-02-03"
    assert [p["first_name"] for p in data["merged_profiles"]] == ["Zoé"]
    assert {e["email"] for e in data["emails"]} == {"zoe.lq@mail.example", "zoe.alt@mail.example"}
    assert [p["phone"] for p in data["phones"]] == ["+33655443322"]
    assert data["external_refs"][0]["external_id"] == "CRM-ZLQ-77"
    assert data["household"]["name"] == "Famille Lefèvre"
    assert [t["slug"] for t in data["tags"]] == ["freeride"]
    (entry,) = data["consent_ledger"]
    assert entry["granted"] is True
    assert entry["proof"]["method"] == "form"
    assert entry["proof"]["evidence"]["ip"] == "198.51.100.23"
    assert entry["proof"]["wording"]["text"] == "Send me the news."
    assert data["consent_states"][0]["purpose"] == Purpose.NEWSLETTER
    # The complete export holds every partner's interactions, private ones included.
    assert {i["summary"] for i in data["interactions"]} == {
        "Lesson: allergic to peanuts",
        "private chat about her divorce",
    }
    assert any(t["title"] == "Zoë asked about lessons" for t in data["timeline"])
    assert {r["partner"] for r in data["partner_relationships"]} >= {school.name, rental.name}
    assert data["match_keys"]
    assert data["merges"][0]["role"] == "survivor"
    assert {a["action"] for a in data["audit"]} >= {"merge", "change", "consent"}
    audit = AuditEntry.objects.filter(guest=zoe, action=AuditEntry.Action.EXPORT).get()
    assert audit.actor == actor
    assert audit.details["scope"] == "full"


def test_apps_add_export_sections_through_the_registry(zoe, monkeypatch):
    monkeypatch.setattr(registry, "_guest_exporters", {})
    registry.register_guest_exporter("bookings", lambda guest: [{"guest": guest.pk, "ref": "B1"}])
    data = guest_export(guest=zoe, actor=None)
    assert data["bookings"] == [{"guest": zoe.pk, "ref": "B1"}]


def test_partner_export_shows_only_what_the_partner_may_see(zoe, school, rental):
    data = guest_export(guest=zoe, actor=None, partner=school)
    text = dumped(data)

    assert data["export"]["scope"] == "partner"
    assert data["export"]["partner"]["id"] == school.pk
    assert "Lesson: allergic to peanuts" in text  # its own interaction
    assert "private chat about her divorce" not in text  # another partner's private one
    assert "Send me the news." not in text  # the ledger and its proofs are not partner data
    assert "198.51.100.23" not in text
    assert "identity" in data["profile"]
    audit = AuditEntry.objects.get(guest=zoe, action=AuditEntry.Action.EXPORT)
    assert audit.acting_partner == school
    assert audit.details["scope"] == "partner"

    # The rental partner sees its private note, never the school's... shared? only if opened.
    own = dumped(guest_export(guest=zoe, actor=None, partner=rental))
    assert "private chat about her divorce" in own


def test_partner_export_of_an_unrelated_partner_hides_the_contact_details(zoe):
    stranger = PartnerFactory(kind=Partner.Kind.RESTAURANT)
    text = dumped(guest_export(guest=zoe, actor=None, partner=stranger))
    assert "zoe.lq@mail.example" not in text
    assert "+33655443322" not in text
    assert "private chat about her divorce" not in text
    assert "allergic to peanuts" not in text


# --- Export pages ---------------------------------------------------------------------------


def export_url(guest_id: int, *, html: bool = False) -> str:
    return reverse("gdpr:guest-export" if html else "gdpr:guest-export-json", args=[guest_id])


def manager_of(partner: Partner, role: str = Membership.Role.MANAGER):
    return MembershipFactory(partner=partner, role=role).user


REASON = {"reason": "SAR-2026-014, letter of 28 November"}


def test_superuser_gets_the_full_export_as_json_and_html(client, zoe):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(export_url(zoe.pk), REASON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert response.json()["export"]["scope"] == "full"
    page = client.get(export_url(zoe.pk, html=True), REASON)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Zoë" in html
    assert "private chat about her divorce" in html
    assert "Send me the news." in html


def dpo_user():
    """A data-protection officer: the group migration 0009 makes (flushed by no test here)."""
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Data protection officer"))
    return user


def test_the_data_protection_officer_gives_a_reason_then_gets_the_complete_export(client, zoe):
    dpo = dpo_user()
    client.force_login(dpo)
    # First the page asks why; nothing is exported or audited yet.
    ask = client.get(export_url(zoe.pk, html=True))
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    assert "private chat about her divorce" not in ask.content.decode()
    assert client.get(export_url(zoe.pk))["Location"] == export_url(zoe.pk, html=True)
    assert client.get(export_url(zoe.pk, html=True), {"reason": "  "}).status_code == 400
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()

    page = client.get(export_url(zoe.pk, html=True), REASON)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>Complete export</h1>" in html
    assert "private chat about her divorce" in html  # every partner's notes
    assert REASON["reason"] in html
    entry = AuditEntry.objects.get(guest=zoe, action=AuditEntry.Action.EXPORT)
    assert entry.actor == dpo and entry.acting_partner is None
    assert entry.details["scope"] == "full"
    assert entry.details["reason"] == REASON["reason"]
    data = client.get(export_url(zoe.pk), REASON).json()
    assert data["export"]["scope"] == "full"
    assert AuditEntry.objects.filter(guest=zoe, action=AuditEntry.Action.EXPORT).count() == 2


def test_the_complete_export_and_its_audit_row_share_a_transaction(zoe, monkeypatch):
    # The audit row cannot be written: no export leaves (and nothing half-written stays).
    def refuse(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(gdpr_service, "audit_log", refuse)
    with pytest.raises(RuntimeError):
        gdpr_service.guest_export(guest=zoe, actor=dpo_user(), reason="SAR-1")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_the_export_page_says_which_scope_it_is_and_links_back(client, zoe, office):
    client.force_login(manager_of(office))
    html = client.get(export_url(zoe.pk, html=True)).content.decode()
    assert f"<h1>Partner-scoped export for {office.name}</h1>" in html
    assert '<main id="main"' in html and "<nav" in html and 'class="topbar"' in html
    assert f'href="{reverse("portal:guest", args=[zoe.pk])}"' in html
    assert f'href="{export_url(zoe.pk)}"' in html
    assert "a.m.." not in html and "p.m.." not in html


def test_steward_manager_gets_the_partner_scoped_export(client, zoe, office, rental):
    client.force_login(manager_of(office))
    data = client.get(export_url(zoe.pk)).json()
    assert data["export"]["scope"] == "partner"
    assert data["export"]["partner"]["id"] == office.pk
    assert "private chat about her divorce" not in dumped(data)
    page = client.get(export_url(zoe.pk, html=True))
    assert page.status_code == 200
    assert "private chat about her divorce" not in page.content.decode()


def test_the_partner_parameter_picks_one_of_several_memberships(client, zoe, office, school):
    user = manager_of(office)
    MembershipFactory(user=user, partner=school)
    client.force_login(user)
    assert client.get(export_url(zoe.pk)).status_code == 403  # which partner? ambiguous
    assert client.get(export_url(zoe.pk), {"partner": office.slug}).status_code == 200
    assert client.get(export_url(zoe.pk), {"partner": str(office.pk)}).status_code == 200
    assert client.get(export_url(zoe.pk), {"partner": school.slug}).status_code == 403
    other = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    assert client.get(export_url(zoe.pk), {"partner": other.slug}).status_code == 403


@pytest.mark.parametrize("who", ["agent-of-office", "school-manager", "no-membership"])
def test_staff_whose_partner_may_not_export_get_403(client, zoe, office, school, who):
    user = {
        "agent-of-office": lambda: manager_of(office, role=Membership.Role.AGENT),
        "school-manager": lambda: manager_of(school),
        "no-membership": lambda: UserFactory(is_staff=True),
    }[who]()
    client.force_login(user)
    assert client.get(export_url(zoe.pk)).status_code == 403
    assert client.get(export_url(zoe.pk, html=True)).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_export_pages_need_a_login(client, zoe):
    response = client.get(export_url(zoe.pk))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_unknown_id_is_404_and_merged_id_redirects_to_the_survivor(client, zoe):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(export_url(10**9)).status_code == 404
    old = Guest.objects.get(merged_into=zoe)
    response = client.get(export_url(old.pk, html=True), {"partner": "x"})
    assert response.status_code == 302
    assert response["Location"] == f"{export_url(zoe.pk, html=True)}?partner=x"
    assert client.get(export_url(old.pk))["Location"] == export_url(zoe.pk)


def test_guest_export_command_writes_the_full_export(zoe, tmp_path: Path):
    actor = UserFactory(email="dpo@destination.example")
    out = tmp_path / "zoe.json"
    old = Guest.objects.get(merged_into=zoe)
    err = StringIO()
    call_command(
        "guest_export", str(old.pk), "--output", str(out), "--actor", actor.email, stderr=err
    )
    data = json.loads(out.read_text())
    assert data["identity"]["id"] == zoe.pk
    assert f"merged into guest #{zoe.pk}" in err.getvalue()
    assert AuditEntry.objects.get(guest=zoe, action="export").actor == actor
    with pytest.raises(CommandError):
        call_command("guest_export", str(10**9), stdout=StringIO())


# --- Erasure --------------------------------------------------------------------------------


def every_row_text(guest_ids: list[int]) -> str:
    """Every row the core and partners keep about these guests, as one string."""
    parts: list[Any] = []
    for model, field in (
        (Guest, "pk"),
        (GuestEmail, "guest_id"),
        (GuestPhone, "guest_id"),
        (GuestExternalRef, "guest_id"),
        (MatchKey, "guest_id"),
        (Interaction, "guest_id"),
        (TimelineEvent, "guest_id"),
        (ConsentEvent, "guest_id"),
        (ConsentState, "guest_id"),
        (AuditEntry, "guest_id"),
        (PartnerGuestLink, "guest_id"),
        (GuestMerge, "survivor_id"),
        (GuestMerge, "merged_id"),
        (PossibleDuplicate, "guest_a_id"),
        (PossibleDuplicate, "guest_b_id"),
    ):
        parts.extend(model.objects.filter(**{f"{field}__in": guest_ids}).values())
    parts.extend(ConsentProof.objects.filter(events__guest_id__in=guest_ids).values())
    parts.extend(Household.objects.values())
    # Not linked to a guest: every resolution key and every admin history row.
    parts.extend(ResolutionKey.objects.values())
    parts.extend(LogEntry.objects.values())
    return dumped(parts)


def admin_history_and_resolution_keys(guest: Guest, old: Guest) -> None:
    """What identity resolution and the Django admin leave behind about zoe: keys holding her
    contacts and external id in clear, change records naming her and her addresses."""
    ResolutionKey.objects.bulk_create(
        ResolutionKey(key=key)
        for key in (
            "email:zoe.lq@mail.example",
            "email:zoe.alt@mail.example",
            "phone:+33655443322",
            "ref:import:CRM-ZLQ-77",
            "email:ann@mail.example",
        )
    )
    admin = UserFactory(is_staff=True, is_superuser=True)
    for obj, message in (
        (guest, [{"added": {"name": "email address", "object": "zoe.lq@mail.example"}}]),
        (old, [{"changed": {"fields": ["Last name"]}}]),
        (GuestEmail.objects.get(guest=guest, is_primary=True), ""),
        (GuestPhone.objects.get(guest=guest), ""),
        (GuestExternalRef.objects.get(guest=guest), ""),
    ):
        LogEntry.objects.log_actions(
            user_id=admin.pk, queryset=[obj], action_flag=CHANGE, change_message=message
        )


def test_erasure_anonymises_the_guest_everywhere(zoe, school):
    old = Guest.objects.get(merged_into=zoe)
    other = GuestFactory(first_name="Ann")
    PossibleDuplicate.objects.create(
        guest_a_id=min(zoe.pk, other.pk),
        guest_b_id=max(zoe.pk, other.pk),
        score=0.7,
        reasons=["same email zoe.lq@mail.example"],
    )
    admin_history_and_resolution_keys(zoe, old)
    ann = GuestFactory(first_name="Annette")
    LogEntry.objects.log_actions(
        user_id=UserFactory().pk, queryset=[ann], action_flag=CHANGE, change_message=""
    )
    ids = [zoe.pk, old.pk]
    assert personal_left_in(every_row_text(ids))  # the check below can fail

    guest_erase(guest=zoe, actor=UserFactory(), reason="GDPR request by email")

    assert personal_left_in(every_row_text(ids)) == []
    # Other people's keys and history stay; the fact that zoe was changed in the admin too.
    assert list(ResolutionKey.objects.values_list("key", flat=True)) == ["email:ann@mail.example"]
    assert LogEntry.objects.get(object_id=str(ann.pk)).object_repr == "Annette " + ann.last_name
    assert LogEntry.objects.filter(object_id=str(zoe.pk), action_flag=CHANGE).exists()
    assert personal_left_in(dumped(guest_export(guest=zoe, actor=None))) == []
    zoe.refresh_from_db()
    assert zoe.status == Guest.Status.ERASED
    assert zoe.erased_at is not None
    assert (zoe.first_name, zoe.last_name, zoe.name_folded, zoe.birth_date) == ("", "", "", None)
    assert (zoe.country, zoe.language, zoe.household_id) == ("", "", None)
    assert not zoe.tags.exists()
    for model in (GuestEmail, GuestPhone, GuestExternalRef, MatchKey):
        assert not model.objects.filter(guest_id__in=ids).exists()
    # Statistics keep kind, date and partner.
    interactions = Interaction.objects.filter(guest=zoe)
    assert interactions.count() == 2
    assert set(interactions.values_list("summary", flat=True)) == {ERASED_TEXT}
    assert set(interactions.values_list("partner_id", flat=True)) >= {school.pk}
    event = TimelineEvent.objects.get(guest=zoe, kind="interaction")
    assert (event.title, event.partner_id) == (ERASED_TEXT, school.pk)
    # The consent ledger stays (purpose, grant, dates), its evidence goes.
    ledger = ConsentEvent.objects.get(guest=zoe)
    assert (ledger.purpose, ledger.granted) == (Purpose.NEWSLETTER, True)
    assert ledger.proof.evidence == {}
    assert ledger.proof.occurred_at is not None
    # The merged profile is anonymised too but still resolves (it stays MERGED).
    old.refresh_from_db()
    assert (old.status, old.first_name, old.merged_into_id) == ("merged", "", zoe.pk)
    assert PartnerGuestLink.objects.filter(guest=zoe).exists()
    assert PossibleDuplicate.objects.get(guest_b_id=max(zoe.pk, other.pk)).status == "dismissed"
    other.refresh_from_db()
    assert other.first_name == "Ann"  # nobody else is touched


def test_erasure_is_audited_with_counts_and_no_personal_data(zoe):
    actor = UserFactory()
    guest_erase(guest=zoe, actor=actor, partner=None, reason="GDPR request")
    entry = AuditEntry.objects.get(guest=zoe, action=AuditEntry.Action.ERASE)
    assert entry.actor == actor
    assert entry.details["reason"] == "GDPR request"
    assert entry.details["removed"]["emails"] == 2
    assert entry.details["removed"]["phones"] == 1
    assert entry.details["removed"]["interactions"] == 2
    assert entry.details["merged_profiles"] == 1
    assert personal_left_in(dumped(entry.details)) == []
    assert {a.action for a in audit_entries_for(zoe)} >= {"erase", "merge", "change", "consent"}


def test_erasure_is_irreversible(zoe):
    old = Guest.objects.get(merged_into=zoe)
    merge = GuestMerge.objects.get(survivor=zoe)
    guest_erase(guest=zoe, actor=None, reason="request")
    with pytest.raises(GuestError, match="already been erased"):
        guest_erase(guest=zoe, actor=None, reason="again")
    with pytest.raises(GuestError, match="erased"):
        guest_merge(survivor=GuestFactory(), merged=zoe, actor=None)
    with pytest.raises(GuestError, match="erased"):
        guest_merge_undo(merge=merge, actor=None)
    with pytest.raises(GuestError, match="erased"):
        guest_update(guest=zoe, data={"first_name": "Back"}, actor=None, partner=None)
    assert guests_erase(guest_ids=[zoe.pk], reason="again") == 0
    assert AuditEntry.objects.filter(guest=zoe, action="erase").count() == 1
    with pytest.raises(GuestError, match=f"merged into guest #{zoe.pk}"):
        guest_erase(guest=old, actor=None, reason="request")


def test_erasure_needs_a_reason():
    guest = GuestFactory()
    with pytest.raises(GuestError):
        guest_erase(guest=guest, actor=None, reason="  ")
    assert Guest.objects.get(pk=guest.pk).status == Guest.Status.ACTIVE


def make_guest_with_data(n: int) -> Guest:
    guest = GuestFactory()
    GuestEmailFactory(guest=guest)
    GuestPhoneFactory(guest=guest, phone=f"+3361234{n:04d}")
    InteractionFactory(guest=guest)
    guest.tags.add(TagFactory(slug="ski"))
    return guest


def test_guests_erase_is_set_based():
    """The same number of statements for one guest or five: no per-guest loop."""
    one = [make_guest_with_data(0).pk]
    five = [make_guest_with_data(n).pk for n in range(1, 6)]

    with capture_queries() as single:
        assert guests_erase(guest_ids=one, reason="test") == 1
    with capture_queries() as many:
        assert guests_erase(guest_ids=five, reason="test") == 5
    assert_same_num_queries(single, many)
    assert Guest.objects.filter(pk__in=five, status="erased").count() == 5


def test_apps_plug_their_anonymiser_in(monkeypatch):
    calls: list[list[int]] = []
    monkeypatch.setattr(registry, "_guest_erasers", [])

    def erase_bookings(guest_ids: list[int]) -> dict[str, int]:
        calls.append(sorted(guest_ids))
        return {"bookings": 3}

    registry.register_guest_eraser(erase_bookings)
    guest = GuestFactory()
    guest_erase(guest=guest, actor=None, reason="request")
    assert calls == [[guest.pk]]
    entry = AuditEntry.objects.get(guest=guest, action="erase")
    assert entry.details["extensions"] == {"bookings": 3}


def test_guest_erase_command(zoe):
    out = StringIO()
    call_command(
        "guest_erase", str(zoe.pk), "--reason", "letter of 2025-03-01", "--yes", stdout=out
    )
    assert Guest.objects.get(pk=zoe.pk).status == Guest.Status.ERASED
    with pytest.raises(CommandError, match="already been erased"):
        call_command("guest_erase", str(zoe.pk), "--reason", "again", "--yes", stdout=out)


def test_audit_entries_for_lists_views_changes_exports_merges_and_erasure(zoe):
    AuditEntry.objects.create(guest=zoe, action=AuditEntry.Action.VIEW)
    guest_export(guest=zoe, actor=None)
    old = Guest.objects.get(merged_into=zoe)
    actions = [(a.guest_id, a.action) for a in audit_entries_for(zoe)]
    assert (zoe.pk, "view") in actions
    assert (zoe.pk, "export") in actions
    assert (zoe.pk, "change") in actions
    assert (old.pk, "merge") in actions  # the merged profile's own history is included
    assert actions[0] == (zoe.pk, "export")  # newest first


def add_activity(guest: Guest, partner: Partner, n: int) -> None:
    for _ in range(n):
        InteractionFactory(guest=guest, partner=partner)
        consent_record(
            guest=guest,
            purpose=Purpose.PARTNER_OFFERS,
            granted=True,
            method="form",
            partners=[partner],
            channels=["email"],
            wording=ConsentWordingFactory(purpose=Purpose.PARTNER_OFFERS),
            named_partners=[partner, PartnerFactory()],
        )
        AuditEntry.objects.create(
            guest=guest, action="view", actor=UserFactory(), acting_partner=partner
        )
        PartnerGuestLinkFactory(guest=guest, partner=PartnerFactory())
        GuestEmailFactory(guest=guest, is_primary=False)


def test_full_export_queries_do_not_grow_with_the_rows(school):
    """No N+1: one guest with one row of each kind, then with three."""
    guest = GuestFactory()
    add_activity(guest, school, 1)
    with capture_queries() as one:
        guest_export(guest=guest, actor=None)
    add_activity(guest, PartnerFactory(), 2)
    with capture_queries() as three:
        data = guest_export(guest=guest, actor=None)
    assert len(data["interactions"]) == 3
    assert len(data["consent_ledger"]) == 3
    assert_same_num_queries(one, three)


def test_audit_entries_for_reads_actors_and_partners_in_one_query(school):
    guest = GuestFactory()
    add_activity(guest, school, 3)
    entries = list(audit_entries_for(guest))
    with assert_num_queries(2):  # the merged profiles, then the entries
        names = [(str(e.actor), str(e.acting_partner)) for e in audit_entries_for(guest)]
    assert len(names) == len(entries) >= 3


def test_the_export_page_shows_dates_in_the_readers_format(client, zoe):
    """The JSON keeps ISO dates; the page writes them as people read them, in each language."""
    zoe.birth_date = dt.date(1990, 5, 17)
    zoe.save(update_fields=["birth_date"])
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    identity = client.get(export_url(zoe.pk), REASON).json()["identity"]
    assert identity["birth_date"] == "1990-05-17"
    english = client.get(
        export_url(zoe.pk, html=True), REASON, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "May 17, 1990" in english and "1990-05-17" not in english
    # A time of the identity (created) is written out too (details kept as recorded are not).
    assert identity["created_at"] not in english
    french = client.get(
        export_url(zoe.pk, html=True), REASON, HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "17 mai 1990" in french
