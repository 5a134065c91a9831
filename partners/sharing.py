"""The default sharing rules, in code: a partner that does not know a guest sees only enough to
tell two people apart; one that served them sees their contact details; one the guest agreed to
share the profile with sees the destination's shared story. The tourist office stewards the
shared data.

``sharing_rules_ensure()`` writes them (idempotent): the data migration
(``0004_sharing_rules_ensure``) and the tests that flush the database call it.
"""

from __future__ import annotations

from typing import Any

from partners.models import Section, SharingRule

UNRELATED: tuple[str, ...] = (Section.IDENTITY, Section.DEMOGRAPHICS, Section.CONTACT_HINT)
RELATED: tuple[str, ...] = (
    Section.IDENTITY,
    Section.DEMOGRAPHICS,
    Section.BIRTH_DATE,
    Section.CONTACT,
    Section.INTERESTS,
    Section.HOUSEHOLD,
    Section.CONSENTS,
)
CONSENTED: tuple[str, ...] = (
    *RELATED,
    Section.SHARED_INTERACTIONS,
    Section.BOOKINGS,
    Section.MESSAGES,
)
STEWARD: tuple[str, ...] = CONSENTED

# (level, partner kind ("" for every kind), sections)
DEFAULT_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (SharingRule.Level.UNRELATED, "", UNRELATED),
    (SharingRule.Level.RELATED, "", RELATED),
    (SharingRule.Level.CONSENTED, "", CONSENTED),
    (SharingRule.Level.UNRELATED, "tourist_office", STEWARD),
    (SharingRule.Level.RELATED, "tourist_office", STEWARD),
    (SharingRule.Level.CONSENTED, "tourist_office", STEWARD),
)


def sharing_rules_ensure(*, model: Any = SharingRule) -> int:
    """Create or reset the default rules; returns how many were written. ``model`` is the
    historical ``SharingRule`` when a migration calls it (``apps.get_model``)."""
    for level, kind, sections in DEFAULT_RULES:
        model.objects.update_or_create(
            level=str(level), partner_kind=kind, defaults={"sections": [str(s) for s in sections]}
        )
    return len(DEFAULT_RULES)
