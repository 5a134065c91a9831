"""Two factors for the staff who can act beyond their own partner (issue 16): tourist office
managers and operators must enrol TOTP once their grace period is over; others get a notice."""

from __future__ import annotations

import datetime as dt

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partners.mfa import mfa_grace_deadline, mfa_role_requires
from partners.models import Membership, Partner
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

ENROL = "/accounts/2fa/totp/activate/"
PASSWORD = "correct horse battery"
LONG_AGO = timezone.now() - dt.timedelta(days=60)


@pytest.fixture(autouse=True)
def _requirement_on(settings):
    settings.MFA_REQUIRED_ROLES = True
    settings.MFA_GRACE_DAYS = 7
    settings.MFA_REQUIRED_SINCE = LONG_AGO


def _member(kind: str, role: str, *, joined: dt.datetime = LONG_AGO, **user):
    partner = PartnerFactory(kind=kind)
    account = UserFactory(**user)
    account.date_joined = joined
    account.save(update_fields=["date_joined"])
    MembershipFactory(partner=partner, user=account, role=role)
    return account


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def steward_manager():
    return _member(Partner.Kind.TOURIST_OFFICE, Membership.Role.MANAGER)


def test_who_must_have_a_second_factor() -> None:
    assert mfa_role_requires(_member(Partner.Kind.TOURIST_OFFICE, Membership.Role.MANAGER))
    assert mfa_role_requires(UserFactory(is_staff=True))
    assert mfa_role_requires(UserFactory(is_superuser=True))
    assert not mfa_role_requires(_member(Partner.Kind.TOURIST_OFFICE, Membership.Role.AGENT))
    assert not mfa_role_requires(_member(Partner.Kind.SKI_SCHOOL, Membership.Role.MANAGER))


def test_after_grace_a_steward_manager_is_sent_to_enrolment_with_the_reason(steward_manager):
    client = _client(steward_manager)
    for url in (reverse("portal:home"), "/fr/portal/", reverse("portal:duplicates")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == ENROL
    # One of the pages asked is French (/fr/portal/): the reason is given in either language.
    reasons = _messages(response)
    assert any("second factor" in m or "second facteur" in m for m in reasons), reasons
    enrol = client.get(ENROL)  # the enrolment page itself is reachable: no loop
    assert enrol.status_code in (200, 302)
    assert enrol.get("Location", ENROL) != ENROL or enrol.status_code == 200


def test_after_grace_an_operator_is_sent_to_enrolment_from_both_admins() -> None:
    operator = UserFactory(is_staff=True, is_superuser=True)
    operator.date_joined = LONG_AGO
    operator.save(update_fields=["date_joined"])
    client = _client(operator)
    for url in ("/django-admin/", "/cms/", "/en/portal/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == ENROL, url


def _sign_in(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def test_within_grace_sign_in_tells_the_days_left_and_pages_open(steward_manager):
    steward_manager.date_joined = timezone.now() - dt.timedelta(days=2)
    steward_manager.save(update_fields=["date_joined"])
    client = _sign_in(steward_manager)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert "set up an authenticator app within 5 days" in response.content.decode()
    # Once per session, not on every page.
    again = client.get(reverse("portal:home"))
    assert "second factor" not in again.content.decode()


def test_grace_counts_from_when_the_requirement_was_switched_on(steward_manager, settings):
    settings.MFA_REQUIRED_SINCE = timezone.now() - dt.timedelta(days=1)
    assert mfa_grace_deadline(steward_manager) == settings.MFA_REQUIRED_SINCE + dt.timedelta(7)
    assert _client(steward_manager).get(reverse("portal:home")).status_code == 200


def test_an_enrolled_steward_manager_goes_through_and_has_recovery_codes(steward_manager):
    TOTP.activate(steward_manager, generate_totp_secret())
    RecoveryCodes.activate(steward_manager)
    client = _client(steward_manager)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert "second factor" not in response.content.decode()
    assert len(RecoveryCodes.activate(steward_manager).get_unused_codes()) == 10


def test_other_staff_are_encouraged_never_forced() -> None:
    agent = _member(Partner.Kind.SKI_SCHOOL, Membership.Role.MANAGER)
    response = _sign_in(agent).get(reverse("portal:home"))
    assert response.status_code == 200
    assert "Protect your account with a second factor" in response.content.decode()


def test_sign_in_past_grace_leads_to_enrolment(steward_manager):
    response = _sign_in(steward_manager).get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == ENROL


def test_the_requirement_can_be_switched_off(steward_manager, settings):
    settings.MFA_REQUIRED_ROLES = False
    assert _client(steward_manager).get(reverse("portal:home")).status_code == 200


def test_removing_the_authenticator_brings_the_requirement_back(steward_manager):
    totp = TOTP.activate(steward_manager, generate_totp_secret())
    client = _client(steward_manager)
    assert client.get(reverse("portal:home")).status_code == 200
    from allauth.mfa.signals import authenticator_removed

    request = client.get(reverse("portal:home")).wsgi_request
    totp.instance.delete()
    authenticator_removed.send(
        sender=type(totp.instance), request=request, user=steward_manager,
        authenticator=totp.instance,
    )  # fmt: skip
    request.session.save()
    assert client.get(reverse("portal:home")).status_code == 302
