"""The Content-Security-Policy holds in a real browser: the site, the portal, Wagtail's admin
and Django's admin load with no CSP violation (issue 16). Violations are caught both as
``securitypolicyviolation`` events and as Chromium's console errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from wagtail.models import Page as WagtailPage

from content.models import StoryPage
from partners.models import Membership, Partner
from tests.e2e.helpers import staff_sign_in
from tests.e2e.test_content import seeded_site  # noqa: F401 (fixture)
from tests.factories import GuestFactory, MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _violations(page: Page, console: list[str], url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert response.headers.get("content-security-policy"), url
    page.wait_for_load_state("networkidle")
    return [f"{url}: {v}" for v in page.evaluate("window.__csp")] + [
        f"{url}: {m}" for m in console if "Content Security Policy" in m
    ]


def test_site_portal_and_both_admins_load_without_csp_violations(
    live_server,
    page: Page,
    seeded_site,  # noqa: F811
):
    office = PartnerFactory(name="Office", kind=Partner.Kind.TOURIST_OFFICE)
    admin = UserFactory(email="root@destination.example", is_staff=True, is_superuser=True)
    MembershipFactory(partner=office, user=admin, role=Membership.Role.MANAGER)
    guest = GuestFactory(first_name="Jeanne", last_name="Martin")
    story = StoryPage.objects.live().filter(locale__language_code="en").first()
    home = WagtailPage.objects.get(depth=2, locale__language_code="en")
    staff_sign_in(page, live_server, admin)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(LISTEN)
    base = live_server.url
    urls = [
        f"{base}/en/",
        f"{base}{story.url}",
        f"{base}/en/search/?q=ski",
        f"{base}/en/newsletter/",
        f"{base}/en/book/",
        f"{base}/en/portal/",
        f"{base}/en/portal/search/?q=Jeanne",
        f"{base}/en/portal/guests/{guest.pk}/",
        f"{base}/en/portal/bookings/",
        f"{base}/en/portal/offers/",
        f"{base}/cms/",
        f"{base}/cms/pages/{home.pk}/",
        f"{base}/cms/pages/{story.pk}/edit/",
        f"{base}/cms/images/",
        f"{base}/django-admin/",
        f"{base}/django-admin/destination/guest/",
        f"{base}/django-admin/destination/guest/{guest.pk}/change/",
    ]
    found: list[str] = []
    for url in urls:
        console.clear()
        found += _violations(page, console, url)
    assert found == [], "\n".join(found)
