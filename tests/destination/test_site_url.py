"""Links in demo emails open where bin/demo serves (DEMO_ADDR), not always localhost:8000."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from destination.settings.site_url import site_url_from_addr

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        (None, "http://localhost:8000"),
        ("", "http://localhost:8000"),
        ("127.0.0.1:8000", "http://localhost:8000"),
        ("0.0.0.0:8001", "http://localhost:8001"),
        ("8002", "http://localhost:8002"),
        ("[::]:8003", "http://localhost:8003"),
        ("[2001:db8::5]:8004", "http://[2001:db8::5]:8004"),
        ("demo.example:80", "http://demo.example"),
        ("192.168.1.20:8080", "http://192.168.1.20:8080"),
        ("demo.example", "http://demo.example:8000"),
    ],
)
def test_the_site_url_follows_the_address_served_on(addr, url):
    assert site_url_from_addr(addr) == url


def _settings_with(env: dict[str, str]) -> dict[str, str]:
    """The link settings as a fresh ``bin/demo`` process (dev settings) reads them."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n) for n in "
        "('NEWSLETTER_SITE_URL', 'BOOKING_SITE_URL', 'WAGTAILADMIN_BASE_URL')}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("SITE_URL", "BASE_URL"))}
    clean.pop("DEMO_ADDR", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "destination.settings.dev", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_booking_and_newsletter_links_follow_demo_addr_unless_set():
    assert set(_settings_with({"DEMO_ADDR": "0.0.0.0:8123"}).values()) == {"http://localhost:8123"}
    assert set(_settings_with({}).values()) == {"http://localhost:8000"}
    # A setting of its own still wins (production names its HTTPS address).
    chosen = _settings_with({"DEMO_ADDR": "0.0.0.0:8123", "BOOKING_SITE_URL": "https://x.example"})
    assert chosen["BOOKING_SITE_URL"] == "https://x.example"
    assert chosen["NEWSLETTER_SITE_URL"] == "http://localhost:8123"
