"""The partner API: key authentication, resolution with field-level errors, and the guest read
that goes through the access layer (a partner never sees another's private data or sections its
sharing level keeps closed)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from destination.models import AuditEntry, ConsentProof, Guest, Purpose, Visibility
from destination.services.consent import consent_record, consent_wording_create
from destination.services.merge import guest_merge
from destination.services.resolution import PersonData, guest_resolve
from partners.api_keys import partner_api_key_create, partner_api_key_revoke
from partners.models import (
    AccessFlag,
    Interaction,
    Membership,
    Partner,
    PartnerApiKey,
    PartnerGuestLink,
    Section,
    SharingRule,
)
from partners.services import interaction_log, partner_guest_link_touch
from partners.sharing import sharing_rules_ensure
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

RESOLVE = "/api/v1/guests/resolve"
PERSON = {
    "first_name": "Hélène",
    "last_name": "Lefèvre",
    "email": "helene.lefevre@courriel.example",
    "phone": "06 12 34 56 78",
    "country": "FR",
    "birth_date": "1984-02-11",
    "language": "fr",
}


def _books(partner: Partner, guest: Guest) -> None:
    """Evidence of a relationship: the guest booked with the partner."""
    partner_guest_link_touch(
        partner=partner, guest=guest, reason=PartnerGuestLink.Reason.BOOKING, booked=True
    )


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client: Client, key: str, body: dict[str, Any]) -> Any:
    return client.post(RESOLVE, body, content_type="application/json", **bearer(key))


@pytest.fixture(autouse=True)
def _sharing_rules() -> None:
    # The default rules come from a data migration: a transactional test run before this
    # file (on PostgreSQL, the concurrency tests) flushes them away.
    sharing_rules_ensure()


@pytest.fixture
def school() -> Partner:
    return PartnerFactory(name="Ski School A", slug="school-a", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def hotel() -> Partner:
    return PartnerFactory(name="Hotel B", slug="hotel-b", kind=Partner.Kind.LODGING)


@pytest.fixture
def school_key(school: Partner) -> str:
    return partner_api_key_create(partner=school, name="Lesson booking engine")[1]


@pytest.fixture
def hotel_guest(hotel: Partner) -> Guest:
    """A guest the hotel knows, with a private note and a shared request from the hotel."""
    guest = guest_resolve(
        PersonData(**{**PERSON, "birth_date": None}), source="booking", partner=hotel
    ).guest
    staff = MembershipFactory(partner=hotel, role=Membership.Role.AGENT).user
    for visibility, summary in (
        (Visibility.PRIVATE, "Disputed the minibar bill."),
        (Visibility.SHARED, "Asked for a quiet room."),
    ):
        interaction_log(
            guest=guest,
            partner=hotel,
            staff=staff,
            kind=Interaction.Kind.NOTE,
            channel=Interaction.Channel.IN_PERSON,
            summary=summary,
            visibility=visibility,
        )
    return guest


# --- Authentication -------------------------------------------------------------------------


def test_requests_without_a_valid_key_are_refused(client: Client, school_key: str) -> None:
    assert client.post(RESOLVE, PERSON, content_type="application/json").status_code == 401
    assert post(client, "nope", PERSON).status_code == 401
    prefix = school_key.split(".")[0]
    assert post(client, f"{prefix}.wrong-secret", PERSON).status_code == 401
    assert client.get("/api/v1/guests/1").status_code == 401


def test_a_revoked_key_is_refused(client: Client, school_key: str) -> None:
    assert post(client, school_key, PERSON).status_code == 201
    partner_api_key_revoke(key=PartnerApiKey.objects.get())
    assert post(client, school_key, PERSON).status_code == 401


def test_an_inactive_partners_key_is_refused(
    client: Client, school: Partner, school_key: str
) -> None:
    Partner.objects.filter(pk=school.pk).update(is_active=False)
    assert post(client, school_key, PERSON).status_code == 401


def test_only_a_hash_of_the_key_is_stored(school_key: str) -> None:
    row = PartnerApiKey.objects.get()
    assert school_key.startswith(row.prefix + ".")
    assert len(row.prefix) == 8 and len(row.key_hash) == 64
    assert school_key not in (row.key_hash, row.name)


def test_the_command_prints_a_working_key(client: Client, school: Partner) -> None:
    out = StringIO()
    call_command("partner_api_key_create", school.slug, "Booking engine", stdout=out)
    key = next(line for line in out.getvalue().splitlines() if line.count(".") == 1)
    assert post(client, key.strip(), PERSON).status_code == 201


# --- Resolution -----------------------------------------------------------------------------


def test_resolve_creates_then_matches(client: Client, school: Partner, school_key: str) -> None:
    created = post(client, school_key, PERSON)
    assert created.status_code == 201
    assert created.json()["decision"] == "created"
    again = post(client, school_key, {**PERSON, "email": "  Helene.Lefevre@Courriel.example "})
    assert again.status_code == 200
    assert again.json() == {
        "decision": "matched",
        "guest_id": created.json()["guest_id"],
        "warnings": [],
    }
    guest = Guest.objects.get(pk=created.json()["guest_id"])
    assert guest.source == Guest.Source.API
    assert guest.partner_links.filter(partner=school).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "helene.lefevre@", "is not a valid email address"),
        ("phone", "12", "is not a valid phone number"),
        ("birth_date", "1984-02-31", "“1984-02-31” is not a valid date"),
        ("birth_date", "2999-01-01", "cannot be in the future"),
        ("country", "Atlantis", "is not a known country"),
    ],
)
def test_an_unreadable_field_is_left_out_with_a_warning(
    client: Client, school_key: str, field: str, value: str, message: str
) -> None:
    """Keep every person (issue 14): one field that cannot be read does not refuse the person;
    they are created without it and the answer says what was left out and why."""
    response = post(client, school_key, {**PERSON, field: value})
    assert response.status_code == 201
    body = response.json()
    assert body["decision"] == "created"
    [warning] = body["warnings"]
    assert warning["field"] == field
    assert warning["code"] == "left_out"
    assert warning["message"].startswith("Left out: ") and message in warning["message"]
    guest = Guest.objects.get(pk=body["guest_id"])
    assert guest.last_name == "Lefèvre"
    kept = {
        "email": guest.emails.exists(),
        "phone": guest.phones.exists(),
        "birth_date": guest.birth_date is not None,
        "country": bool(guest.country),
    }
    assert kept == {name: name != field for name in kept}


def test_a_phone_with_no_country_to_read_it_is_kept_as_typed(
    client: Client, school_key: str
) -> None:
    body = post(
        client,
        school_key,
        {
            **PERSON,
            "country": "",
            "language": "",
            "email": "h@mail.example",
            "phone": "0470 12 34 56",
        },
    ).json()
    [warning] = body["warnings"]
    assert (warning["field"], warning["code"]) == ("phone", "phone_as_typed")
    assert "0470 12 34 56" in warning["message"]
    guest = Guest.objects.get(pk=body["guest_id"])
    assert not guest.phones.exists()
    assert guest.match_keys.filter(key="pt:0470123456").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Nothing identifying left once the unreadable fields are left out.
        ({"email": "helene.lefevre@", "phone": "12", "country": "FR"}, "__all__"),
        # The wrong type (a number for the phone) or too long a value: the JSON is refused.
        ({**PERSON, "phone": 612345678}, "phone"),
        ({**PERSON, "last_name": "x" * 151}, "last_name"),
    ],
)
def test_refused_input_answers_422_with_the_field(
    client: Client, school_key: str, body: dict[str, Any], field: str
) -> None:
    response = post(client, school_key, body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert field in errors and errors[field][0]
    assert not Guest.objects.exists()


# --- Reading a guest through the access layer -----------------------------------------------


def test_unknown_and_unrelated_guests_answer_404(
    client: Client, school_key: str, hotel_guest: Guest
) -> None:
    assert client.get("/api/v1/guests/999999", **bearer(school_key)).status_code == 404
    # The school has no relationship with the hotel's guest: no way to walk through ids.
    assert client.get(f"/api/v1/guests/{hotel_guest.pk}", **bearer(school_key)).status_code == 404


def test_partner_never_sees_another_partners_private_interactions(
    client: Client, school: Partner, school_key: str, hotel: Partner, hotel_guest: Guest
) -> None:
    # The school resolves the same person: a match is not a relationship (issue 16).
    assert post(client, school_key, PERSON).json()["guest_id"] == hotel_guest.pk
    assert client.get(f"/api/v1/guests/{hotel_guest.pk}", **bearer(school_key)).status_code == 404
    # The person books a lesson: now related, not yet granted the shared profile.
    _books(school, hotel_guest)
    profile = client.get(f"/api/v1/guests/{hotel_guest.pk}", **bearer(school_key)).json()
    assert profile["access"]["level"] == SharingRule.Level.RELATED
    assert profile["contact"]["emails"][0]["email"] == PERSON["email"]
    assert profile["interactions"] == []
    assert "Disputed" not in str(profile)

    # The guest agrees to share the profile with the school: shared notes open, private never.
    wording = consent_wording_create(purpose=Purpose.PROFILE_SHARING, language="fr", text="Oui.")
    consent_record(
        guest=hotel_guest,
        purpose=Purpose.PROFILE_SHARING,
        granted=True,
        method=ConsentProof.Method.FORM,
        partners=[school],
        wording=wording,
        occurred_at=timezone.now(),
    )
    profile = client.get(f"/api/v1/guests/{hotel_guest.pk}", **bearer(school_key)).json()
    assert profile["access"]["level"] == SharingRule.Level.CONSENTED
    assert [i["summary"] for i in profile["interactions"]] == ["Asked for a quiet room."]
    assert "Disputed" not in str(profile)
    assert AuditEntry.objects.filter(
        guest=hotel_guest, action=AuditEntry.Action.VIEW, acting_partner=school
    ).exists()


def test_sections_the_sharing_level_keeps_closed_are_absent(
    client: Client, school_key: str, hotel_guest: Guest
) -> None:
    SharingRule.objects.update_or_create(
        level=SharingRule.Level.RELATED,
        partner_kind=Partner.Kind.SKI_SCHOOL,
        defaults={"sections": [Section.IDENTITY]},
    )
    post(client, school_key, PERSON)
    _books(PartnerApiKey.objects.get().partner, hotel_guest)
    profile = client.get(f"/api/v1/guests/{hotel_guest.pk}", **bearer(school_key)).json()
    assert profile["identity"]["last_name"] == "Lefèvre"
    for closed in ("contact", "contact_hint", "birth_date", "demographics", "consents"):
        assert closed not in profile
    assert PERSON["email"] not in str(profile)


def test_a_merged_id_answers_with_the_survivor(
    client: Client, school_key: str, hotel: Partner
) -> None:
    first = post(client, school_key, PERSON).json()["guest_id"]
    other = post(
        client,
        school_key,
        {"first_name": "Helene", "last_name": "Lefevre", "email": "hl@x.example"},
    ).json()["guest_id"]
    guest_merge(
        survivor=Guest.objects.get(pk=first), merged=Guest.objects.get(pk=other), actor=None
    )
    response = client.get(f"/api/v1/guests/{other}", **bearer(school_key))
    assert response.status_code == 200
    assert response.json()["id"] == first


def test_openapi_schema_answers(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/guests/resolve" in paths
    assert "/api/v1/guests/{guest_id}" in paths


# --- What a resolve reveals (issue 16) --------------------------------------------------------


def test_a_resolve_reveals_only_what_was_sent_and_the_guest_id(
    client: Client, school: Partner, school_key: str, hotel: Partner
) -> None:
    # Reproduction: a known name + email used to turn into the phone and the birth date.
    known = guest_resolve(PersonData(**PERSON), source="booking", partner=hotel).guest
    response = post(
        client,
        school_key,
        {"first_name": PERSON["first_name"], "last_name": PERSON["last_name"],
         "email": PERSON["email"]},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {"decision": "matched", "guest_id": known.pk, "warnings": []}
    read = client.get(f"/api/v1/guests/{known.pk}", **bearer(school_key))
    assert read.status_code == 404
    for secret in ("1984-02-11", "+33612345678", "12 34 56 78"):
        assert secret not in response.content.decode() + read.content.decode()
    link = PartnerGuestLink.objects.get(partner=school, guest=known)
    assert link.reason == PartnerGuestLink.Reason.RESOLVED
    assert link.evidence["api_key"] == PartnerApiKey.objects.get(partner=school).prefix

    # Real evidence (a booking with the school) upgrades the row: now the school may read.
    _books(school, known)
    link.refresh_from_db()
    assert link.reason == PartnerGuestLink.Reason.BOOKING
    profile = client.get(f"/api/v1/guests/{known.pk}", **bearer(school_key)).json()
    assert profile["birth_date"] == "1984-02-11"


def test_a_created_guest_stays_readable_by_the_partner_that_sent_it(
    client: Client, school_key: str
) -> None:
    created = post(client, school_key, PERSON)
    assert created.status_code == 201
    guest_id = created.json()["guest_id"]
    profile = client.get(f"/api/v1/guests/{guest_id}", **bearer(school_key)).json()
    assert profile["access"]["level"] == SharingRule.Level.RELATED


def test_many_resolves_of_existing_guests_are_limited_and_flagged(
    client: Client, settings: Any, school: Partner, school_key: str, hotel: Partner
) -> None:
    settings.PARTNER_API_RESOLVES_PER_KEY_DAY = 2
    emails = [f"walk{n}@courriel.example" for n in range(3)]
    for n, email in enumerate(emails):
        guest_resolve(
            PersonData(first_name="Ann", last_name=f"Walker{n}", email=email),
            source="booking",
            partner=hotel,
        )
    answers = [
        post(client, school_key, {"first_name": "Ann", "last_name": f"Walker{n}", "email": e})
        for n, e in enumerate(emails)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    flag = AccessFlag.objects.get()
    assert (flag.kind, flag.partner, flag.api_key.prefix, flag.limit) == (
        AccessFlag.Kind.MANY_RESOLVES,
        school,
        PartnerApiKey.objects.get(partner=school).prefix,
        2,
    )
