"""Shared helpers of the newsletters tests."""

from __future__ import annotations

import pytest

from destination.models import ConsentProof, Guest
from destination.services.consent import consent_record
from tests.factories import ConsentWordingFactory, GuestEmailFactory, GuestFactory


def guest_make(*, language: str = "fr", email: str | None = None, **kwargs) -> Guest:
    guest = GuestFactory(language=language, **kwargs)
    GuestEmailFactory(guest=guest, **({"email": email} if email else {}))
    return guest


def grant(guest: Guest, *, purpose: str = "newsletter", partner=None) -> None:
    consent_record(
        guest=guest,
        purpose=purpose,
        granted=True,
        method=ConsentProof.Method.FORM,
        partners=[partner] if partner else [],
        channels=["email"],
        wording=ConsentWordingFactory(purpose=purpose),
    )


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
