"""Fixtures of the newsletters tests (their test data is in helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_rate_limit_or_quiet_hours(settings):
    """Tests opt into the rate limit and quiet hours where they test them."""
    settings.NEWSLETTER_RATE_PER_SECOND = 0
    settings.NEWSLETTER_QUIET_HOURS = ""


@pytest.fixture(autouse=True)
def _fresh_compiled_emails():
    """Each test starts with its own brand: no compiled email or brand values carried over."""
    from newsletters import rendering

    rendering.cache_clear()
    yield
    rendering.cache_clear()
