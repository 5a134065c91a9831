"""The Django admin for operators: every page of both apps loads, lists do not grow with their
rows, the consent ledger and the audit log cannot be touched, and edits go through services."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    ConsentWording,
    Destination,
    Guest,
    GuestMerge,
    PossibleDuplicate,
    User,
)
from destination.services.merge import guest_merge
from partners.api_keys import partner_api_key_create
from partners.models import Interaction, Partner, PartnerApiKey, Section, SharingRule
from tests.factories import GuestEmailFactory, GuestFactory, GuestPhoneFactory, UserFactory
from tests.queries import QueryLog, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db

LEDGER = (ConsentEvent, ConsentProof, ConsentState, ConsentWording, AuditEntry)


def _url(model: type[Model] | Model, view: str, *args: object) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _registered() -> list[type[Model]]:
    return [m for m in admin.site._registry if m._meta.app_label in {"destination", "partners"}]


@pytest.fixture
def operator() -> User:
    return User.objects.create_superuser(email="operator@destination.example", password="x")


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def demo() -> None:
    call_command("seed_demo", guests=60, seed=3, stdout=StringIO())
    # The seed merges only pairs that are truly one person; make sure merges are listed too.
    office_manager = User.objects.get(email="manager@tourist-office.demo")
    pairs = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN).order_by("pk")
    used: set[int] = set()
    for pair in pairs:
        if GuestMerge.objects.count() >= 3:
            break
        if {pair.guest_a_id, pair.guest_b_id} & used:
            continue
        guest_merge(survivor=pair.guest_a, merged=pair.guest_b, actor=office_manager)
        used |= {pair.guest_a_id, pair.guest_b_id}
    for partner in Partner.objects.order_by("pk")[:3]:
        partner_api_key_create(partner=partner, name="Booking engine")
    from destination.linkage.model import TrainedModel
    from destination.linkage.store import _default, linkage_model_save

    shipped = _default()
    trained = TrainedModel(shipped.settings, shipped.tf_tables, shipped.first_name_counts, 60)
    for _version in range(3):
        linkage_model_save(trained=trained, thresholds=shipped.thresholds, training_data={})

    # Flags of unusual access patterns are written only when a daily limit is reached.
    from partners.models import AccessFlag
    from partners.services import access_flag_raise

    for kind in AccessFlag.Kind.values:
        access_flag_raise(kind=kind, partner=office_manager.memberships.get().partner, limit=1)


def test_every_model_of_both_apps_is_registered() -> None:
    from django.apps import apps

    models = {
        m
        for app in ("destination", "partners")
        for m in apps.get_app_config(app).get_models()
        if not m._meta.auto_created
    }
    assert models <= set(_registered()), models - set(_registered())


def test_every_changelist_and_a_change_page_load(demo: None, operator_client: Client) -> None:
    for model in _registered():
        rows = model._default_manager.count()
        if model is not Destination:
            assert rows >= 3, f"{model.__name__}: only {rows} rows seeded"
        response = operator_client.get(_url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model._default_manager.order_by("pk").first()
        response = operator_client.get(_url(model, "change", obj.pk))
        assert response.status_code == 200, model


def test_guest_search_by_name_email_and_national_phone(operator_client: Client) -> None:
    guest = GuestFactory(first_name="Hélène", last_name="Lefèvre", country="FR")
    GuestEmailFactory(guest=guest, email="helene.l@courriel.example")
    GuestPhoneFactory(guest=guest, phone="+33612345678")
    GuestFactory(first_name="Other", last_name="Person")
    url = _url(Guest, "changelist")
    for term in ("Lefèvre", "helene.l@courriel", "06 12 34 56 78"):
        response = operator_client.get(url, {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [guest], term


def _guest_changelist_queries(client: Client) -> QueryLog:
    with capture_queries() as ctx:
        response = client.get(_url(Guest, "changelist"))
    assert response.status_code == 200
    return ctx


def test_guest_changelist_queries_do_not_grow_with_rows(operator_client: Client) -> None:
    def add_guests(n: int) -> None:
        for _ in range(n):
            guest = GuestFactory()
            GuestEmailFactory(guest=guest)
            GuestPhoneFactory(guest=guest)

    add_guests(3)
    with_three = _guest_changelist_queries(operator_client)
    add_guests(17)
    assert_same_num_queries(with_three, _guest_changelist_queries(operator_client))


@pytest.mark.parametrize("model", LEDGER, ids=lambda m: m.__name__)
def test_ledger_and_audit_are_read_only(
    demo: None, operator_client: Client, model: type[Model]
) -> None:
    model_admin = admin.site._registry[model]
    request = type("Request", (), {"user": User.objects.get(email="operator@destination.example")})
    obj = model._default_manager.order_by("pk").first()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert operator_client.get(_url(model, "add")).status_code == 403
    assert operator_client.get(_url(model, "delete", obj.pk)).status_code == 403
    before = model._default_manager.count()
    response = operator_client.post(_url(model, "change", obj.pk), {})
    assert response.status_code == 403
    response = operator_client.post(
        _url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert model._default_manager.count() == before


def test_sharing_rule_sections_are_checkboxes(operator_client: Client) -> None:
    rule = SharingRule.objects.get(level=SharingRule.Level.UNRELATED, partner_kind="")
    url = _url(SharingRule, "change", rule.pk)
    page = operator_client.get(url).content.decode()
    assert 'type="checkbox" name="sections"' in page
    response = operator_client.post(
        url,
        {
            "level": rule.level,
            "partner_kind": "",
            "sections": [Section.INTERESTS, Section.IDENTITY],
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.sections == [Section.IDENTITY, Section.INTERESTS]


def test_guest_edit_goes_through_the_guest_service(operator_client: Client) -> None:
    guest = GuestFactory(first_name="Jerome", last_name="Martin", language="fr", country="FR")
    url = _url(Guest, "change", guest.pk)
    form = {
        "first_name": "Jérôme",
        "last_name": "Martin",
        "birth_date": "",
        "language": "fr",
        "country": "FR",
        "household": "",
        "tags": [],
    }
    for prefix in ("emails", "phones", "external_refs"):
        form |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    form |= {
        "emails-TOTAL_FORMS": "1",
        "emails-0-email": "Jerome.Martin@Courriel.example",
        "emails-0-is_primary": "on",
    }
    response = operator_client.post(url, form)
    assert response.status_code == 302, response.context and response.context["errors"]
    guest.refresh_from_db()
    assert guest.first_name == "Jérôme"
    assert guest.name_folded == "jerome martin"
    assert list(guest.emails.values_list("email_normalized", flat=True)) == [
        "jerome.martin@courriel.example"
    ]
    assert AuditEntry.objects.filter(guest=guest, action=AuditEntry.Action.CHANGE).exists()


def test_opening_a_guest_in_the_admin_is_audited(operator_client: Client, operator: User) -> None:
    guest = GuestFactory()
    assert operator_client.get(_url(Guest, "change", guest.pk)).status_code == 200
    view = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.VIEW)
    assert (view.actor, view.acting_partner, view.details) == (operator, None, {"via": "admin"})
    operator_client.get(_url(Guest, "changelist"))  # a list is not a viewing of each guest
    assert AuditEntry.objects.filter(action=AuditEntry.Action.VIEW).count() == 1


def test_guest_cannot_be_added_outside_resolution(operator_client: Client) -> None:
    assert operator_client.get(_url(Guest, "add")).status_code == 403


def test_operator_creates_a_staff_account_that_signs_in(operator_client: Client) -> None:
    response = operator_client.post(
        _url(User, "add"),
        {
            "email": "New.Agent@Partner.example",
            "usable_password": "true",
            "password1": "a long demo passphrase",
            "password2": "a long demo passphrase",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.agent@partner.example")
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()
    assert Client().login(username="new.agent@partner.example", password="a long demo passphrase")


def test_interaction_moderation_keeps_the_timeline_in_step(
    demo: None, operator_client: Client
) -> None:
    from destination.models import TimelineEvent, Visibility

    interaction = Interaction.objects.filter(visibility=Visibility.SHARED).order_by("pk").first()
    response = operator_client.post(
        _url(Interaction, "change", interaction.pk),
        {"channel": interaction.channel, "visibility": Visibility.PRIVATE, "summary": "Redacted."},
    )
    assert response.status_code == 302
    entry = TimelineEvent.objects.get(object_id=interaction.pk, kind=TimelineEvent.Kind.INTERACTION)
    assert (entry.visibility, entry.body) == (Visibility.PRIVATE, "Redacted.")


def test_staff_without_superuser_cannot_reach_the_admin() -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.get(_url(Guest, "changelist"))
    assert response.status_code == 302


def test_api_keys_are_revoked_not_added_or_deleted(demo: None, operator_client: Client) -> None:
    key = PartnerApiKey.objects.order_by("pk").first()
    assert operator_client.get(_url(PartnerApiKey, "add")).status_code == 403
    response = operator_client.post(
        _url(PartnerApiKey, "changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_guest_edit_refused_by_the_service_shows_on_its_field(operator_client: Client) -> None:
    guest = GuestFactory(first_name="Jerome", last_name="Martin", language="fr", country="FR")
    form = {
        "first_name": "Jerome",
        "last_name": "Martin",
        "birth_date": "",
        "language": "xx",
        "country": "FR",
        "household": "",
        "tags": [],
    }
    for prefix in ("emails", "phones", "external_refs"):
        form |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    response = operator_client.post(_url(Guest, "change", guest.pk), form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["language"] == [
        "“xx” is not a known language code."
    ]
    guest.refresh_from_db()
    assert guest.language == "fr"
