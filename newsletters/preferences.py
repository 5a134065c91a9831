"""The preference centre: what a recipient chooses from the link in any marketing email, without
logging in (issue 15, section 5).

- The link carries the message's signed token (``newsletters.tokens``, the same one as the
  unsubscribe link): it names the recipient only through the message row, and works for
  ``NEWSLETTER_PREFERENCES_DAYS`` after the email was written. A tampered or unknown token, a
  message without a guest, or a guest erased since, is an invalid link, never a 500.
- The choices: the destination newsletter by email; each partner's offers by email (the
  partners the guest has an answer for, and the one that sent the email), each on its own; the
  language of the emails; or leave everything.
- Each change is its own consent-ledger entry (``consent_record``, method "email link"), proved
  by the request (IP, user agent, time, via "preference_centre", the message): turning off one
  partner's offers withdraws exactly that scope, nothing else. Turning one on needs the current
  wording of its purpose in the page's language, which the page showed and the proof keeps.
- Leave everything withdraws the newsletter on every channel it was granted on, profiling if
  granted, and files an objection (``consent_object``), which reaches every partner that
  received the data, as the core does for any objection.
- The language is not a consent: it goes through ``guest_update`` (an audit entry with the old
  and new value).

Everything of one submission is written in one transaction with the guest's row locked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from destination.errors import DomainError
from destination.models import (
    Channel,
    ConsentProof,
    ConsentState,
    ConsentWording,
    Guest,
    Purpose,
)
from destination.normalize import fold
from destination.services.consent import consent_object, consent_record, consent_wording_current
from destination.services.guests import guest_lock_active, guest_update
from newsletters.models import Message
from newsletters.selectors import message_get_by_token
from newsletters.signup import newsletter_wording
from partners.models import Partner

VIA = "preference_centre"


class PreferenceError(DomainError):
    """The preference link was refused: ``code`` "invalid" or "expired"."""


@dataclass(frozen=True)
class PartnerChoice:
    partner: Partner
    granted: bool


@dataclass(frozen=True)
class Preferences:
    """What the page shows: the guest's current answers for email, and the wordings a grant
    would be proved with (None: that purpose cannot be turned on here)."""

    guest: Guest
    newsletter: bool
    partners: list[PartnerChoice]
    language: str
    newsletter_wording: ConsentWording | None
    offers_wording: ConsentWording | None


def preferences_message_get(*, token: str) -> Message:
    """The message a preference link names, with its guest; PreferenceError otherwise."""
    message = message_get_by_token(token=token)
    if message is None or message.guest_id is None:
        raise PreferenceError(
            _("This link is not valid. Use the link of the email you received, in full."),
            code="invalid",
        )
    days = settings.NEWSLETTER_PREFERENCES_DAYS
    if message.created_at < timezone.now() - timedelta(days=days):
        raise PreferenceError(
            _(
                "This link has expired. Use the link of a more recent email from us, or write "
                "to us."
            ),
            code="expired",
        )
    guest = Guest.objects.filter(pk=message.guest_id).first()
    if guest is None or guest.status != Guest.Status.ACTIVE:
        raise PreferenceError(
            _("This link is no longer valid: we no longer hold your details."), code="invalid"
        )
    message.guest = guest
    return message


def preferences_read(*, message: Message, language: str) -> Preferences:
    """The guest's current email answers, in two queries plus the wordings."""
    guest = message.guest
    assert guest is not None  # preferences_message_get checked it
    states = list(
        ConsentState.objects.filter(
            guest=guest,
            channel=Channel.EMAIL,
            purpose__in=[Purpose.NEWSLETTER, Purpose.PARTNER_OFFERS],
        ).select_related("partner")
    )
    newsletter = any(s.granted for s in states if s.purpose == Purpose.NEWSLETTER)
    offers: dict[int, PartnerChoice] = {
        s.partner.pk: PartnerChoice(partner=s.partner, granted=s.granted)
        for s in states
        if s.purpose == Purpose.PARTNER_OFFERS and s.partner is not None
    }
    if message.partner_id is not None and message.partner_id not in offers:
        partner = Partner.objects.get(pk=message.partner_id)
        offers[partner.pk] = PartnerChoice(partner=partner, granted=False)
    # Names in reading order whatever their accents ("École" among the E's).
    partners = sorted(offers.values(), key=lambda c: (fold(c.partner.name), c.partner.pk))
    return Preferences(
        guest=guest,
        newsletter=newsletter,
        partners=partners,
        language=guest.language or message.language or settings.LANGUAGE_CODE,
        newsletter_wording=newsletter_wording(language),
        offers_wording=consent_wording_current(purpose=Purpose.PARTNER_OFFERS, language=language),
    )


def _evidence(message: Message, request_evidence: dict[str, Any], change: str) -> dict[str, Any]:
    return {
        **request_evidence,
        "via": VIA,
        "change": change,
        "message": message.pk,
        "message_id": message.message_id,
    }


@transaction.atomic
def preferences_update(
    *,
    message: Message,
    newsletter: bool,
    partner_offers: dict[int, bool],
    language: str,
    page_language: str,
    evidence: dict[str, Any],
) -> list[str]:
    """Apply the recipient's choices; returns what changed ("newsletter", "partner:<id>",
    "language"), empty when nothing did. ``evidence`` is the request (ip, user_agent, at);
    ``page_language`` is the language of the wordings the page showed. Partners not offered
    by the page (``preferences_read``) are ignored."""
    # Locked first, read after: two submissions at once see each other's changes, not both
    # the old state (each writing the same withdrawal).
    assert message.guest is not None  # preferences_message_get checked it
    message.guest = guest_lock_active(message.guest)
    current = preferences_read(message=message, language=page_language)
    guest = current.guest
    changes: list[str] = []
    if newsletter != current.newsletter:
        wording = current.newsletter_wording if newsletter else None
        consent_record(
            guest=guest,
            purpose=Purpose.NEWSLETTER,
            granted=newsletter,
            method=ConsentProof.Method.EMAIL_LINK,
            channels=[Channel.EMAIL],
            wording=wording,
            evidence=_evidence(message, evidence, "newsletter"),
        )
        changes.append("newsletter")
    for choice in current.partners:
        wanted = partner_offers.get(choice.partner.pk, choice.granted)
        if wanted == choice.granted:
            continue
        if wanted and (current.offers_wording is None or not choice.partner.is_active):
            continue  # the page offered no way to turn it on
        consent_record(
            guest=guest,
            purpose=Purpose.PARTNER_OFFERS,
            granted=wanted,
            method=ConsentProof.Method.EMAIL_LINK,
            partners=[choice.partner],
            channels=[Channel.EMAIL],
            wording=current.offers_wording if wanted else None,
            evidence=_evidence(message, evidence, f"partner:{choice.partner.pk}"),
        )
        changes.append(f"partner:{choice.partner.pk}")
    if language and language != (guest.language or ""):
        guest_update(guest=guest, data={"language": language}, actor=None, partner=None)
        changes.append("language")
    return changes


@transaction.atomic
def preferences_leave_all(*, message: Message, evidence: dict[str, Any]) -> list[str]:
    """Leave everything: the newsletter on every channel it is granted on, profiling, and an
    objection reaching every partner that received the data. Returns what was withdrawn."""
    assert message.guest is not None  # preferences_message_get checked it
    guest = guest_lock_active(message.guest)
    granted = ConsentState.objects.filter(
        guest=guest, granted=True, purpose__in=[Purpose.NEWSLETTER, Purpose.PROFILING]
    )
    changes: list[str] = []
    newsletter_channels = sorted(
        {s.channel for s in granted if s.purpose == Purpose.NEWSLETTER and s.channel}
    )
    if newsletter_channels:
        consent_record(
            guest=guest,
            purpose=Purpose.NEWSLETTER,
            granted=False,
            method=ConsentProof.Method.EMAIL_LINK,
            channels=newsletter_channels,
            wording=None,
            evidence=_evidence(message, evidence, "leave_all"),
        )
        changes.append("newsletter")
    if any(s.purpose == Purpose.PROFILING for s in granted):
        consent_record(
            guest=guest,
            purpose=Purpose.PROFILING,
            granted=False,
            method=ConsentProof.Method.EMAIL_LINK,
            wording=None,
            evidence=_evidence(message, evidence, "leave_all"),
        )
        changes.append("profiling")
    consent_object(
        guest=guest,
        via_partner=_objection_partner(message),
        method=ConsentProof.Method.EMAIL_LINK,
        evidence=_evidence(message, evidence, "leave_all"),
    )
    changes.append("objection")
    return changes


def _objection_partner(message: Message) -> Partner:
    """The partner an objection is received through: the email's sender, else the tourist
    office (the steward of the destination's shared data), else the first partner."""
    if message.partner is not None:
        return message.partner
    steward = Partner.objects.filter(kind=Partner.Kind.TOURIST_OFFICE).order_by("pk").first()
    if steward is not None:
        return steward
    first = Partner.objects.order_by("pk").first()
    if first is None:
        raise PreferenceError(_("There is no partner to record the objection with."))
    return first
