"""Headers (issue 16): a Content-Security-Policy with a per-response nonce on every page, and
``Cache-Control: private, no-store`` on every page with personal data."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from bookings.links import booking_signed_token
from bookings.models import Booking
from partners.models import Membership, Partner
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    book,
    offer_make,
    session_make,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def office_manager():
    office = PartnerFactory(kind=Partner.Kind.TOURIST_OFFICE)
    user = UserFactory(email="boss@office.example", is_staff=True, is_superuser=True)
    MembershipFactory(partner=office, user=user, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def booking() -> Booking:
    school = PartnerFactory(kind=Partner.Kind.SKI_SCHOOL)
    return book(session_make(offer_make(school)))


def _private(response) -> bool:
    parts = {p.strip() for p in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= parts and "public" not in parts


def test_every_page_has_a_policy_and_scripts_carry_a_fresh_nonce(
    client: Client, office_manager
) -> None:
    policy = client.get("/en/newsletter/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert client.get("/health/").has_header("Content-Security-Policy")
    client.force_login(office_manager)
    nonces = []
    for _ in range(2):
        response = client.get(reverse("portal:home"))
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
        assert nonce, response["Content-Security-Policy"]
        assert f'nonce="{nonce.group(1)}"' in response.content.decode()  # htmx's script
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


def test_the_inline_script_carries_the_nonce(client: Client, booking: Booking) -> None:
    """The booking form's error focus script is the templates' one inline script."""
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request._csp_nonce = "abc123"  # what the middleware puts there
    html = render_to_string("bookings/_form_errors.html", {"form": _FormWithErrors()}, request)
    assert '<script nonce="abc123">' in html


class _FormWithErrors:
    errors = {"email": ["bad"]}
    non_field_errors = staticmethod(lambda: ["bad"])

    def __iter__(self):
        return iter([])


def test_no_inline_event_handler_is_left_in_the_templates() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    handlers = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    found = [
        str(path.relative_to(root))
        for folder in ("templates", "partners", "bookings", "content", "destination", "newsletters")
        for path in (root / folder).rglob("*.html")
        if handlers.search(path.read_text())
    ]
    assert found == []


def test_portal_pages_are_private(client: Client, office_manager) -> None:
    client.force_login(office_manager)
    for url in (
        reverse("portal:home"),
        reverse("portal:search") + "?q=jeanne",
        reverse("bookings_desk:list"),
        reverse("offers:list"),
    ):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        assert _private(response), (url, response.get("Cache-Control"))


def test_gdpr_export_and_admin_pages_are_private(client: Client, office_manager, booking) -> None:
    client.force_login(office_manager)
    export = client.get(reverse("gdpr:guest-export", args=[booking.booker_id]))
    assert _private(export), export.get("Cache-Control")
    for url in ("/django-admin/", "/cms/", "/accounts/2fa/"):
        assert _private(client.get(url)), url


def test_booking_management_pages_are_private(client: Client, booking: Booking) -> None:
    token = booking_signed_token(booking)
    for name in ("bookings:booking-detail", "bookings:booking-status"):
        response = client.get(reverse(name, args=[token]))
        assert response.status_code < 500
        assert _private(response), (name, response.get("Cache-Control"))
    assert _private(client.get(reverse("bookings:my-bookings")))


def test_public_pages_stay_cacheable(client: Client) -> None:
    response = client.get("/en/newsletter/")
    assert "no-store" not in response.get("Cache-Control", "")


def _directive(policy: str, name: str) -> str:
    return next(d.strip() for d in policy.split(";") if d.strip().startswith(name + " "))


def test_only_wagtails_admin_allows_inline_scripts(client: Client) -> None:
    site = client.get("/en/newsletter/")["Content-Security-Policy"]
    assert "'unsafe-inline'" not in _directive(site, "script-src")
    cms = client.get("/cms/login/")["Content-Security-Policy"]
    assert _directive(cms, "script-src") == "script-src 'self' 'unsafe-inline'"
    assert _directive(cms, "object-src") == "object-src 'none'"
    admin = client.get("/django-admin/login/")["Content-Security-Policy"]
    assert "'unsafe-inline'" not in _directive(admin, "script-src")
