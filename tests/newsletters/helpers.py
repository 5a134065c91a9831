"""Test data of the newsletters tests: guests with an email, consents granted with proof."""

from __future__ import annotations

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
