"""No input makes a page fail (issue 16): each reproduction of a server error found by probing,
and the request-level refusals that fixed them (destination.middleware.InputSanityMiddleware,
the search caps and the full-text escaping)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from destination.middleware import InputSanityMiddleware, has_control_characters
from destination.models import Guest, GuestEmail
from partners.api_keys import partner_api_key_create
from partners.models import Partner
from tests.factories import GuestEmailFactory, GuestFactory, MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

RESOLVE = "/api/v1/guests/resolve"


@pytest.fixture
def lenient() -> Client:
    """A client that answers a server error with its 500 instead of raising it."""
    return Client(raise_request_exception=False)


@pytest.fixture
def school() -> Partner:
    return PartnerFactory(name="Ski School A", slug="school-a", kind=Partner.Kind.SKI_SCHOOL)


@pytest.fixture
def agent_client(school: Partner) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(MembershipFactory(partner=school).user)
    return client


@pytest.mark.parametrize(
    "query", ['"', "'", 'Jeanne "Martin', "a AND", "(", "*", "NEAR(a", "-x", "a:b", "^", "l'hôtel"]
)
def test_site_search_answers_full_text_syntax_with_a_page(lenient: Client, query: str) -> None:
    """Before: SQLite's FTS5 answered 'unterminated string' / 'syntax error' with a 500."""
    response = lenient.get("/en/search/", {"q": query})
    assert response.status_code == 200


def test_site_search_refuses_a_nul_byte(lenient: Client) -> None:
    """Before: 500 (PostgreSQL refuses NUL in a text parameter)."""
    response = lenient.get("/en/search/", {"q": "ski\x00"})
    assert response.status_code == 400
    assert b"not allowed" in response.content


def test_api_refuses_nul_and_stores_nothing(lenient: Client, school: Partner) -> None:
    """Before: 201 on SQLite with the NUL stored in the guest's name, 500 on PostgreSQL."""
    key = partner_api_key_create(partner=school, name="engine")[1]
    body = {"first_name": "Je\x00anne", "last_name": "Martin", "email": "j\x01m@example.org"}
    response = lenient.post(
        RESOLVE, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "The request contains characters that are not allowed."}
    assert not Guest.objects.exists()


def test_api_accepts_tabs_and_newlines(lenient: Client, school: Partner) -> None:
    key = partner_api_key_create(partner=school, name="engine")[1]
    body = {"first_name": "Jeanne\t", "last_name": "Martin\r\n", "email": "jm@example.org"}
    response = lenient.post(
        RESOLVE, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 201


def test_api_body_too_large_is_a_clean_413_under_debug(
    lenient: Client, school: Partner, settings
) -> None:
    """Before: under DEBUG, Django's technical 400 page with the traceback."""
    settings.DEBUG = True
    key = partner_api_key_create(partner=school, name="engine")[1]
    body = json.dumps({"first_name": "x" * 3_000_000})
    response = lenient.post(
        RESOLVE, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is too large."}
    assert b"Traceback" not in response.content


def test_form_body_too_large_is_a_413_page(lenient: Client, settings) -> None:
    settings.DEBUG = True
    response = lenient.post("/en/newsletter/", {"email": "x" * 3_000_000})
    assert response.status_code == 413
    assert b"too large" in response.content
    assert b"Traceback" not in response.content


def test_portal_email_prefix_search_refuses_nul(agent_client: Client) -> None:
    """Before: the NUL went into ``LIKE 'jea\\x00%'`` (500 on PostgreSQL)."""
    GuestEmailFactory(guest=GuestFactory(), email="jeanne@example.org")
    response = agent_client.get(reverse("portal:search"), {"q": "jea\x00@"})
    assert response.status_code == 400


def test_portal_search_with_a_60_kb_query_answers(agent_client: Client) -> None:
    """Before: 'Expression tree is too large' on SQLite (one LIKE per word)."""
    response = agent_client.get(reverse("portal:search"), {"q": "ab " * 20_000})
    assert response.status_code == 200
    email = agent_client.get(reverse("portal:search"), {"q": "a" * 60_000 + "@x"})
    assert email.status_code == 200


def test_portal_form_post_with_a_control_character_stores_nothing(
    agent_client: Client, school: Partner
) -> None:
    guest = GuestFactory()
    url = reverse("portal:contact", args=[guest.pk])
    response = agent_client.post(url, {"email": "bad\x1b@example.org"})
    assert response.status_code == 400
    assert not GuestEmail.objects.filter(email__contains="\x1b").exists()


@pytest.mark.parametrize(
    "text, refused",
    [("plain", False), ("tab\tnew\nline\r", False), ("é😀", False), ("\x00", True),
     ("\x07", True), ("\x0b", True), ("\x1f", True), ("\x7f", True)],
)  # fmt: skip
def test_which_characters_are_refused(text: str, refused: bool) -> None:
    assert has_control_characters(text) is refused
    assert has_control_characters({"k": [text]}) is refused
    assert has_control_characters({text: 1}) is refused


def test_textarea_newlines_pass_the_middleware() -> None:
    request = RequestFactory().post("/en/portal/", {"note": "line one\r\nline two\ttab"})
    seen = []
    InputSanityMiddleware(lambda r: seen.append(r) or None)(request)  # type: ignore[arg-type,func-returns-value]
    assert seen == [request]


def test_nul_in_the_path_or_user_agent_is_refused(lenient: Client) -> None:
    assert lenient.get("/en/a%00b/").status_code == 400
    assert lenient.get("/en/", HTTP_USER_AGENT="Mozilla\x00").status_code == 400
