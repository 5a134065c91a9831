import os
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; the ORM calls that the browser
# tests make between page actions are still synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = Path("/usr/bin/chromium")


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _redis_missing() -> str | None:
    """Why tests marked ``redis`` cannot run here, or None when the Redis broker answers."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return f"needs a Redis broker: run with CELERY_BROKER_URL=redis://... (now {url!r})"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise pytest.UsageError(f"CI is set but {CHROMIUM} is missing: run bin/browser-up.")
        skip_e2e = pytest.mark.skip(
            reason=f"needs Debian's chromium at {CHROMIUM} (bin/browser-up)"
        )
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip_e2e)
    if os.environ.get("REQUIRE_POSTGRES") and not _on_postgres():
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL.")
    if any("redis" in item.keywords for item in items):
        redis_missing = _redis_missing()
        if redis_missing and os.environ.get("REQUIRE_POSTGRES"):
            # CI's service run: a missing broker is a failure, not a reason to skip.
            raise pytest.UsageError(f"REQUIRE_POSTGRES is set but {redis_missing}")
        if redis_missing:
            for item in items:
                if "redis" in item.keywords:
                    item.add_marker(pytest.mark.skip(reason=redis_missing))
    if _on_postgres():
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks, real concurrency or trigram search): "
        "run with DATABASE_URL=postgres://..."
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and cached settings live in the cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _linkage_model_forgotten():
    """The real-time resolver keeps the current linkage model for a few minutes and its
    scorers by version: a version stored by one test (and rolled back) must not decide for the
    next one."""
    from destination.linkage import store

    store._forget_current()
    store._cache.clear()
    yield
    store._forget_current()
    store._cache.clear()
