"""The browser harness itself: Chromium starts, reaches the live server and renders a page."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_chromium_renders_the_health_page(live_server, page):
    response = page.goto(f"{live_server.url}/health/")
    assert response is not None and response.status == 200
    assert "ok" in page.content().lower()
