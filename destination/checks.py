"""System checks of the project's own deployment rules, run by ``manage.py check --deploy``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

SHARED_CACHES = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.db.DatabaseCache",
)


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Sign-in and signup rate limits count in the cache: a per-process cache lets every web
    worker count alone, so an attacker gets N times the allowed attempts."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in SHARED_CACHES:
        return []
    return [
        Warning(
            "The default cache is per process: rate limits (sign-in, newsletter signup) are "
            "counted by each web worker alone.",
            hint="Set CACHE_URL to a Redis database shared by every web process.",
            id="destination.W001",
        )
    ]
