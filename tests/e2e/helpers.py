"""What several browser tests do the same way."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from playwright.sync_api import Page

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def staff_sign_in(page: Page, live_server, user) -> None:
    """Sign a staff member in by session cookie (the sign-in form has its own browser test,
    in test_portal)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )
