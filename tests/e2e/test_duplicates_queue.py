"""The duplicates queue in Chromium (issue 14): each suggestion shows the fields the model
compared with their weights, a household's pairs are one row dismissed with one click, and axe
finds no serious or critical violation. Saves docs/screenshots/duplicates-queue.png."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, Page, expect

from destination.models import AuditEntry, PossibleDuplicate
from tests.e2e.axe_check import assert_no_serious_axe_violations
from tests.e2e.helpers import DESKTOP, staff_sign_in
from tests.portal.world import guest_make, world_build

pytestmark = pytest.mark.django_db(transaction=True)

FAMILY = "famille.moreau@orange.fr"


@pytest.fixture
def axe_page(browser: Browser):
    """A page whose content security policy lets axe's script in (the portal's CSP may not)."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    yield context.new_page()
    context.close()


def pair(a, b, score: float, reasons: list[str]) -> PossibleDuplicate:
    a, b = sorted((a, b), key=lambda g: g.pk)
    return PossibleDuplicate.objects.create(guest_a=a, guest_b=b, score=score, reasons=reasons)


def queue_fill() -> list[PossibleDuplicate]:
    anna = guest_make("Anna", "Keller", email="anna.keller@bluewin.ch", phone="+41791234567",
                      country="CH", birth_date=dt.date(1980, 5, 4))  # fmt: skip
    ana = guest_make("Ana", "Keller", email="anna.keller@gmail.com", phone="+41791234567",
                     country="CH", birth_date=dt.date(1980, 5, 4))  # fmt: skip
    pair(anna, ana, 0.97, ["phone", "birth_date", "name"])
    people = [("Paul", dt.date(1968, 2, 11)), ("Claire", dt.date(1970, 7, 30)),
              ("Inès", dt.date(2003, 12, 2))]  # fmt: skip
    members = [
        guest_make(first, "Moreau", email=FAMILY, country="FR", birth_date=born)
        for first, born in people
    ]
    household = [
        pair(a, b, 0.6, ["email", "first_name_differs", "birth_date_differs"])
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    ]
    tom = guest_make("Tom", "Wright", email="tom.wright@gmail.com", country="GB")
    thomas = guest_make("Thomas", "Wright", email="twright@outlook.com", country="GB",
                        birth_date=dt.date(1990, 1, 5))  # fmt: skip
    pair(tom, thomas, 0.74, ["name"])
    return household


def test_the_queue_shows_the_evidence_and_dismisses_a_household_at_once(
    live_server, axe_page: Page, screenshot
):
    page = axe_page
    world = world_build()
    household = queue_fill()
    staff_sign_in(page, live_server, world.office_manager)
    page.goto(f"{live_server.url}/en/portal/duplicates/")

    anna = page.locator("a.dup", has_text="Anna Keller")
    expect(anna.locator(".chip--for", has_text="Phone: same")).to_be_visible()
    expect(anna.locator(".chip--for", has_text="Birth date: same")).to_be_visible()
    expect(page.locator("a.dup", has_text="Tom Wright")).to_contain_text(
        "First name: known nickname"
    )
    row = page.locator(".dup--household")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3 people of one household")
    expect(row).to_contain_text(f"Sharing {FAMILY}")
    for name in ("Paul Moreau", "Claire Moreau", "Inès Moreau"):
        expect(row).to_contain_text(name)
    assert_no_serious_axe_violations(page, "duplicates queue with evidence and a household")
    screenshot(page, "duplicates-queue")

    singles = page.locator("a.dup").count()
    row.get_by_role("button", name="Different people: dismiss all 3 pairs").click()
    expect(page.locator(".messages")).to_contain_text(
        "3 pairs of one household marked as different people."
    )
    expect(page.locator(".dup--household")).to_have_count(0)
    expect(page.locator("a.dup")).to_have_count(singles)  # the other pairs stay
    assert all(
        p.status == PossibleDuplicate.Status.DISMISSED
        for p in PossibleDuplicate.objects.filter(pk__in=[p.pk for p in household])
    )
    assert AuditEntry.objects.filter(details__event="household_dismissed").count() == 3
