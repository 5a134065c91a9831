"""manage.py seed_demo: a small demo destination with every kind of data, logins that work,
deterministic generation, and --if-empty as a no-op once seeded."""

from __future__ import annotations

import random
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count, Max
from django.test import Client
from django.urls import reverse

from destination import demo_data
from destination.models import (
    ConsentEvent,
    ConsentProof,
    ConsentWording,
    Destination,
    Guest,
    GuestEmail,
    Household,
    PossibleDuplicate,
    Purpose,
    TimelineEvent,
    User,
    Visibility,
)
from partners.models import Interaction, Membership, Partner, PartnerGuestLink

pytestmark = pytest.mark.django_db

GUESTS = 150


def seed(**options: object) -> str:
    out = StringIO()
    call_command("seed_demo", guests=GUESTS, seed=7, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded() -> str:
    return seed()


def test_seeds_partners_staff_and_destination(seeded: str) -> None:
    assert Partner.objects.count() == len(demo_data.PARTNERS)
    kinds = set(Partner.objects.values_list("kind", flat=True))
    assert {"tourist_office", "ski_school", "booking_desk", "lodging", "equipment_rental"} <= kinds
    assert Partner.objects.filter(kind=Partner.Kind.SKI_SCHOOL).count() == 2
    # A manager and an agent per partner, and the data-protection officer at the office.
    roles = dict(
        Membership.objects.values("partner__slug")
        .annotate(n=Count("id"))
        .values_list("partner__slug", "n")
    )
    assert roles.pop(demo_data.DPO_PARTNER) == 3
    assert set(roles.values()) == {2}
    assert Membership.objects.filter(role=Membership.Role.MANAGER).count() == len(
        demo_data.PARTNERS
    )
    destination = Destination.load()
    assert destination.name == demo_data.DESTINATION_NAME
    assert destination.language_list[:2] == ["fr", "en"]
    assert User.objects.get(email=demo_data.ADMIN_EMAIL).is_superuser


def test_seeds_guests_through_resolution_with_duplicates_in_review(seeded: str) -> None:
    guests = Guest.objects.count()
    # Uncertain matches create a second profile and a review pair, so there are a few more
    # guest rows than people.
    assert GUESTS <= guests < GUESTS * 1.4
    assert PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN).exists()
    # Matched people attached to an existing guest: some guests are known by several partners.
    multi = PartnerGuestLink.objects.values("guest").annotate(n=Count("id")).filter(n__gte=2)
    assert multi.exists()
    # Several languages and countries.
    assert Guest.objects.values("language").distinct().count() >= 4
    assert Guest.objects.values("country").distinct().count() >= 5
    # Families share an email address and a household.
    shared = (
        GuestEmail.objects.values("email_normalized").annotate(n=Count("guest")).filter(n__gte=2)
    )
    assert shared.exists()
    assert Household.objects.annotate(n=Count("members")).filter(n__gte=2).exists()
    assert Guest.objects.filter(tags__isnull=False).exists()


def test_seeds_consents_with_proof(seeded: str) -> None:
    assert set(ConsentWording.objects.values_list("language", flat=True)) == {"fr", "en"}
    assert ConsentWording.objects.values("purpose").distinct().count() == len(Purpose)
    assert ConsentEvent.objects.filter(granted=True).exists()
    assert ConsentEvent.objects.filter(granted=False).exists()
    assert ConsentProof.objects.filter(method=ConsentProof.Method.EMAIL_LINK).exists()
    methods = set(ConsentProof.objects.values_list("method", flat=True))
    assert {"desk", "form"} <= methods
    # Every grant is proved with the wording shown and when.
    assert not ConsentEvent.objects.filter(granted=True, proof__wording__isnull=True).exists()


def test_seeds_interactions_over_two_seasons(seeded: str) -> None:
    interactions = Interaction.objects.all()
    assert interactions.exists()
    assert interactions.filter(visibility=Visibility.PRIVATE).exists()
    years = {d.year for d in interactions.values_list("occurred_at", flat=True)}
    assert {2024, 2025} <= years or {2025, 2026} <= years
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.INTERACTION).count() == (
        interactions.count()
    )
    # last_contact_at is the latest interaction, kept by interaction_log.
    latest = dict(
        interactions.values("guest").annotate(m=Max("occurred_at")).values_list("guest", "m")
    )
    for guest_id, last_contact in Guest.objects.filter(pk__in=latest).values_list(
        "pk", "last_contact_at"
    ):
        assert last_contact == latest[guest_id]


def test_every_printed_login_authenticates(seeded: str, client: Client) -> None:
    logins = demo_data.demo_logins()
    # The operator, a manager and an agent per partner, the data-protection officer.
    assert len(logins) == 2 + 2 * len(demo_data.PARTNERS)
    for login in logins:
        assert login.email in seeded and login.password in seeded
        user = authenticate(username=login.email, password=login.password)
        assert user is not None, login
        assert EmailAddress.objects.filter(
            user=user, email=login.email, verified=True, primary=True
        ).exists()
    # And through allauth's login form, as a person would.
    response = client.post(
        reverse("account_login"),
        {"login": "manager@ski-school-1.demo", "password": demo_data.MANAGER_PASSWORD},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(
        User.objects.get(email="manager@ski-school-1.demo").pk
    )


def test_if_empty_is_a_no_op_once_seeded(seeded: str) -> None:
    counts = (Partner.objects.count(), Guest.objects.count(), Interaction.objects.count())
    out = seed(if_empty=True)
    assert "not seeded" in out
    assert (Partner.objects.count(), Guest.objects.count(), Interaction.objects.count()) == counts


def test_if_empty_seeds_an_empty_database() -> None:
    seed(if_empty=True)
    assert Partner.objects.exists()


def test_generation_is_deterministic_for_a_seed() -> None:
    def generate(seed: int) -> tuple[list, dict]:
        rng = random.Random(seed)
        people, _households = demo_data.build_people(rng, 200)
        return people, demo_data.build_records(rng, people)

    assert generate(3) == generate(3)
    assert generate(3) != generate(4)


def test_generated_duplicates_carry_real_life_mess() -> None:
    rng = random.Random(42)
    people, _households = demo_data.build_people(rng, 400)
    records = [r for rs in demo_data.build_records(rng, people).values() for r in rs]
    variants = {r.variant for r in records}
    assert {"email_case", "phone_national", "accents_dropped", "swapped_names"} <= variants
    assert all(e.endswith(".example") for e in (p.email for p in people) if e)


def test_the_data_protection_officer_may_export_everything_and_acts_for_the_office(
    seeded: str,
) -> None:
    dpo = User.objects.get(email=demo_data.DPO_EMAIL)
    assert dpo.has_perm("destination.export_complete_guest_data")
    assert not dpo.is_superuser and not dpo.is_staff
    assert [m.partner.slug for m in dpo.memberships.all()] == [demo_data.DPO_PARTNER]
    # Nobody else of the demo gets the complete export but the operator.
    holders = [
        u.email for u in User.objects.all() if u.has_perm("destination.export_complete_guest_data")
    ]
    assert sorted(holders) == sorted([demo_data.DPO_EMAIL, demo_data.ADMIN_EMAIL])
