"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Every test here is marked ``e2e``; the root conftest skips them, with the reason, when
/usr/bin/chromium is missing (and fails the run instead under CI=true).
"""

from pathlib import Path

import pytest

from tests.e2e.helpers import DESKTOP

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium floods the closed network with retries.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": DESKTOP, "locale": "en-GB"}


@pytest.fixture
def screenshot():
    """Saves a full-page screenshot as docs/screenshots/<name>.png (the README shows them)."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
