"""Where signing in at /accounts/login/ leads: partner staff to the portal, visitors to the
default page, an explicit ?next= wherever it says."""

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.urls import reverse

from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def sign_in(client, user, next_url: str = "") -> str:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    url = reverse("account_login") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response["Location"]


def test_partner_staff_land_on_the_portal(client):
    user = MembershipFactory().user
    assert sign_in(client, user) == reverse("portal:home")


def test_visitors_keep_the_default_page(client):
    assert sign_in(client, UserFactory()) == settings.LOGIN_REDIRECT_URL


@pytest.mark.parametrize("which", ["membership", "partner"])
def test_an_inactive_membership_or_partner_is_a_visitor(client, which):
    membership = MembershipFactory(partner=PartnerFactory())
    if which == "membership":
        membership.is_active = False
        membership.save()
    else:
        membership.partner.is_active = False
        membership.partner.save()
    assert sign_in(client, membership.user) == settings.LOGIN_REDIRECT_URL


def test_an_explicit_next_wins(client):
    user = MembershipFactory().user
    assert sign_in(client, user, next_url="/fr/book/") == "/fr/book/"
