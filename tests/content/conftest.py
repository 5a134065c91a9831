"""Fixtures of the content tests; the site builder itself is in tests/content/helpers.py."""

from __future__ import annotations

import pytest

from tests.content.helpers import DemoSite, build_site


@pytest.fixture
def demo_site(db) -> DemoSite:
    return build_site()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters, the cached wording and legal footers must not leak between tests
    (their rows are rolled back, the process-local cache is not)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
