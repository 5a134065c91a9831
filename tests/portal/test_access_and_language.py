"""The acting partner, the picker, the language remembered and the navigation registry."""

import pytest
from django.urls import reverse

from partners.nav import _ITEMS, nav_register
from partners.shell import SESSION_KEY
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = "/en/portal/"


def test_portal_is_mounted_inside_the_language_prefix():
    assert reverse("portal:home") == HOME


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/en/portal/")


def test_expired_session_on_an_htmx_request_reloads_on_the_sign_in_page(client):
    response = client.get(reverse("portal:search"), {"q": "martin"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_staff_without_membership_gets_a_clear_403(client):
    client.force_login(UserFactory())
    response = client.get(HOME)
    assert response.status_code == 403
    assert b"No partner access" in response.content


def test_inactive_membership_gives_no_access(client, school):
    membership = MembershipFactory(partner=school, is_active=False)
    client.force_login(membership.user)
    assert client.get(HOME).status_code == 403


def test_one_membership_acts_for_that_partner(client, agent, school):
    client.force_login(agent)
    response = client.get(HOME)
    assert response.status_code == 200
    assert response.wsgi_request.partner == school
    assert b"Ski School Alpha" in response.content


def test_several_memberships_pick_a_partner_first(client, agent, rental):
    MembershipFactory(user=agent, partner=rental)
    client.force_login(agent)
    response = client.get(HOME + "?q=x")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:pick"))
    page = client.get(response["Location"])
    assert b"Rental Beta" in page.content and b"Ski School Alpha" in page.content
    chosen = client.post(reverse("portal:pick"), {"partner": rental.pk, "next": HOME + "?q=x"})
    assert chosen.status_code == 302 and chosen["Location"] == HOME + "?q=x"
    assert client.session[SESSION_KEY] == rental.pk
    assert client.get(HOME).wsgi_request.partner == rental


def test_picking_a_partner_one_is_not_a_member_of_is_refused(client, agent, rental, office):
    MembershipFactory(user=agent, partner=rental)
    client.force_login(agent)
    response = client.post(reverse("portal:pick"), {"partner": office.pk})
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_picker_ignores_an_outside_next_url(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("portal:pick"),
        {"partner": agent.memberships.get().partner_id, "next": "https://evil.example/"},
    )
    assert response["Location"] == HOME


def test_language_switch_is_remembered_on_the_account(client, agent):
    client.force_login(agent)
    response = client.post(reverse("portal:language"), {"language": "fr", "next": HOME})
    assert response.status_code == 302 and response["Location"] == "/fr/portal/"
    agent.refresh_from_db()
    assert agent.language == "fr"
    # Next time, an English address moves to French, and the page speaks French.
    again = client.get(HOME)
    assert again.status_code == 302 and again["Location"] == "/fr/portal/"
    page = client.get("/fr/portal/")
    assert b"Trouver un client" in page.content


def test_unknown_language_is_ignored(client, agent):
    client.force_login(agent)
    client.post(reverse("portal:language"), {"language": "xx", "next": HOME})
    agent.refresh_from_db()
    assert agent.language == ""


def test_other_apps_add_navigation_entries(client, agent):
    nav_register("extra", "Bookings desk", "portal:guest_create", order=30)
    try:
        client.force_login(agent)
        assert b"Bookings desk" in client.get(HOME).content
    finally:
        _ITEMS.pop("extra")


def test_duplicates_entry_only_for_the_tourist_office(client, agent, steward):
    client.force_login(agent)
    assert b"Possible duplicates" not in client.get(HOME).content
    client.force_login(steward)
    assert b"Possible duplicates" in client.get(HOME).content


def test_login_attempts_are_rate_limited(client, agent):
    url = reverse("account_login")
    for _ in range(5):
        client.post(url, {"login": agent.email, "password": "wrong"})
    # Even the right password is refused now: allauth's ACCOUNT_RATE_LIMITS["login_failed"].
    response = client.post(url, {"login": agent.email, "password": "correct horse battery"})
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session
