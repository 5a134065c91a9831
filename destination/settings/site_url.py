"""The absolute base of the links the product writes (emails, the Wagtail Site, canonical URLs)
when no *_SITE_URL setting names it: the address ``bin/demo`` serves on (``DEMO_ADDR``, what
``runserver`` takes), so a demo on another port or host gets links that open."""

from __future__ import annotations

DEFAULT_ADDR = "127.0.0.1:8000"
# Addresses a server listens on but a browser cannot open: a link says localhost instead.
_ANY_HOST = {"", "0", "0.0.0.0", "[::]", "::"}  # noqa: S104  compared, never bound


def site_url_from_addr(addr: str | None) -> str:
    """ "0.0.0.0:8001" -> "http://localhost:8001", "8002" -> "http://localhost:8002",
    "demo.example:80" -> "http://demo.example", "" -> "http://localhost:8000"."""
    addr = (addr or "").strip() or DEFAULT_ADDR
    if addr.isdigit():
        host, port = "", addr
    elif addr.startswith("["):  # an IPv6 literal, "[::1]:8000" (runserver's form)
        host, _sep, rest = addr.partition("]")
        host += "]"
        port = rest.lstrip(":")
    else:
        host, _sep, port = addr.rpartition(":")
        if not _sep:
            host, port = addr, ""
    if host in _ANY_HOST or host in {"127.0.0.1", "[::1]"}:
        host = "localhost"
    port = port or "8000"
    return f"http://{host}" + ("" if port == "80" else f":{port}")
