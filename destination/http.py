"""The client's IP address, for rate limits and consent proofs.

Behind a reverse proxy, ``REMOTE_ADDR`` is the proxy's address: every visitor would share one
rate-limit counter and every proof would record the proxy. ``X-Forwarded-For`` holds the real
address, but anyone can send that header: only the entries our own proxies append can be
believed. ``TRUSTED_PROXY_COUNT`` says how many there are (0: no proxy, use ``REMOTE_ADDR``;
N: the Nth address from the right is the one the outermost proxy of ours saw). allauth reads
the same number (``ALLAUTH_TRUSTED_PROXY_COUNT``) for its sign-in limits.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

USER_AGENT_PROVED = 500


def _clean_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address as our last trusted proxy saw it, else ``REMOTE_ADDR``.

    A header with fewer entries than trusted proxies (a request that did not come through them,
    e.g. a health check on the app server) or an entry that is not an IP address falls back to
    ``REMOTE_ADDR``: a limit may then count the proxy, but a client can never pick the address
    it is counted under."""
    remote = _clean_ip(request.META.get("REMOTE_ADDR"))
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if hops <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < hops:
        return remote
    return _clean_ip(forwarded[-hops]) or remote


def request_evidence(request: HttpRequest) -> dict[str, Any]:
    """The request as a consent proof's evidence: the client's address, its user agent
    (trimmed) and when it came."""
    return {
        "ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_PROVED],
        "at": timezone.now().isoformat(),
    }
