"""A journey in the Wagtail admin, as the marketing team edits it: the list of journeys, one
journey with its trigger and steps (wait, anchor, kind, content per language), a step's wait
changed and saved. Screenshot: docs/screenshots/journey-admin.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page as Browser
from playwright.sync_api import expect

from newsletters.journey_seed import journeys_demo_create
from newsletters.models import Journey, JourneyStep
from tests.content.helpers import wagtail_roots_ensure
from tests.e2e.helpers import axe_violations, staff_sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_marketing_team_edits_a_journeys_step_in_the_admin(
    live_server, page: Browser, screenshot
):
    # Browser tests flush the database between tests, Wagtail's root page with it: the
    # dashboard needs one.
    wagtail_roots_ensure()
    journeys_demo_create(active=True)
    stay = Journey.objects.get(slug="stay")
    editor = UserFactory(email="marketing@destination.example", first_name="Camille")
    editor.is_superuser = True
    editor.is_staff = True
    editor.save()
    staff_sign_in(page, live_server, editor)

    page.goto(f"{live_server.url}/cms/")
    page.get_by_role("link", name="Journeys").first.click()
    listing = page.locator("main")
    for journey in Journey.objects.all():
        expect(listing).to_contain_text(journey.name)
    assert not axe_violations(page), "axe on the journeys listing"

    listing.get_by_role("link", name=stay.name).click()
    expect(page.locator("#id_name")).to_have_value(stay.name)
    steps = list(stay.steps.order_by("sort_order"))
    assert len(steps) >= 3
    names = page.locator("input[id^='id_steps-'][id$='-name']")
    expect(names).to_have_count(len(steps))
    pre_arrival = next(s for s in steps if s.offset_days == -7)
    index = steps.index(pre_arrival)
    offset = page.locator(f"#id_steps-{index}-offset_days")
    expect(offset).to_have_value("-7")
    # The admin scrolls inside its own pane (a full-page shot shows the viewport only): bring
    # the steps into view so the screenshot shows a step with its wait, anchor and content.
    page.locator(f"#id_steps-{index}-name").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.mouse.wheel(0, -120)
    screenshot(page, "journey-admin")
    assert not axe_violations(page), "axe on the journey editor"

    offset.fill("-6")
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator(".messages")).to_contain_text(stay.name)
    assert JourneyStep.objects.get(pk=pre_arrival.pk).offset_days == -6
