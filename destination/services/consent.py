"""The consent ledger: every grant or withdrawal is an append-only ``ConsentEvent`` proved by a
``ConsentProof``; ``ConsentState`` holds the current answer per scope and is kept in step in the
same transaction.

A scope is (purpose, partner, channel): purposes in PARTNER_PURPOSES are given per partner,
purposes in CHANNEL_PURPOSES per channel (email, SMS, post); the others have neither.

Reads live in ``destination.consent_selectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.models import (
    CHANNEL_PURPOSES,
    PARTNER_PURPOSES,
    AuditEntry,
    Channel,
    ConsentEvent,
    ConsentProof,
    ConsentState,
    ConsentWording,
    Guest,
    Purpose,
    TimelineEvent,
    Visibility,
)
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.guests import CLOCK_SKEW, guest_lock_active
from destination.services.partner_links import partner_guest_link_touch
from destination.services.timeline import timeline_add
from partners.models import Partner, PartnerGuestLink  # layering exception: destination/__init__.py

if TYPE_CHECKING:
    from destination.models import User

# Contact channels a consent can be given for (Channel.NONE is "not a channel").
CONTACT_CHANNELS: tuple[str, ...] = tuple(c for c in Channel.values if c)

# What an objection withdraws for every partner that received the data.
OBJECTION_PURPOSES = (Purpose.PARTNER_OFFERS, Purpose.PROFILE_SHARING)

Scope = tuple[str, "Partner | None", str]


# --- Wordings -------------------------------------------------------------------------------


def consent_wording_current(*, purpose: Purpose | str, language: str) -> ConsentWording | None:
    """The newest wording of a purpose in a language, or None when none was written yet."""
    return (
        ConsentWording.objects.filter(purpose=purpose, language=language)
        .order_by("-created_at", "-id")
        .first()
    )


@transaction.atomic
def consent_wording_create(
    *, purpose: Purpose | str, language: str, text: str, version: str = ""
) -> ConsentWording:
    """Write a new version of a wording. Existing wordings are never edited: proofs point at the
    exact text the person saw. Without ``version``, the next "vN" for this purpose/language."""
    if purpose not in Purpose.values:
        raise GuestError(_("Unknown consent purpose “%(purpose)s”.") % {"purpose": purpose})
    text = (text or "").strip()
    language = (language or "").strip().lower()
    if not text:
        raise GuestError(_("A consent wording needs its text."))
    if not language:
        raise GuestError(_("A consent wording needs a language."))
    existing = ConsentWording.objects.select_for_update().filter(purpose=purpose, language=language)
    if not version:
        version = f"v{existing.count() + 1}"
        while existing.filter(version=version).exists():
            version = f"{version}.1"
    elif existing.filter(version=version).exists():
        raise GuestError(
            _("Version “%(version)s” of this wording exists already; write a new version.")
            % {"version": version}
        )
    wording = ConsentWording(purpose=purpose, language=language, version=version, text=text)
    wording.full_clean()
    wording.save()
    return wording


# --- Scope rules ----------------------------------------------------------------------------


def consent_scope_errors(
    *,
    purpose: str,
    granted: bool,
    partners: Sequence[Partner] = (),
    channels: Sequence[str] = (),
    wording: ConsentWording | None = None,
) -> dict[str, str]:
    """The scope rules, as {field: message}; empty when the scope is valid. Shared by
    ``consent_record`` and ``ConsentForm`` so a form shows each problem on its field."""
    errors: dict[str, str] = {}
    if purpose not in Purpose.values:
        errors["purpose"] = _("Unknown consent purpose “%(purpose)s”.") % {"purpose": purpose}
        return errors
    label = Purpose(purpose).label
    if purpose in PARTNER_PURPOSES and not partners:
        errors["partner"] = _("“%(purpose)s” is given to a partner: choose which.") % {
            "purpose": label
        }
    elif purpose not in PARTNER_PURPOSES and partners:
        errors["partner"] = _("“%(purpose)s” is not given per partner.") % {"purpose": label}
    unknown = [c for c in channels if c not in CONTACT_CHANNELS]
    if unknown:
        errors["channel"] = _("Unknown channel “%(channel)s”.") % {"channel": unknown[0]}
    elif purpose in CHANNEL_PURPOSES and not channels:
        errors["channel"] = _("“%(purpose)s” is given per channel: choose which.") % {
            "purpose": label
        }
    elif purpose not in CHANNEL_PURPOSES and channels:
        errors["channel"] = _("“%(purpose)s” is not given per channel.") % {"purpose": label}
    if granted and wording is None:
        errors["wording"] = _("A consent needs the exact wording shown to the person.")
    elif wording is not None and wording.purpose != purpose:
        errors["wording"] = _("This wording is for another purpose.")
    return errors


def consent_desk_scope_errors(
    *, recording_partner: Partner, purpose: str, partners: Sequence[Partner] = ()
) -> dict[str, str]:
    """Who may record what at a desk, as {field: message}; empty when allowed. Shared by the
    portal's desk consent form and its service.

    A partner records, at its desk, only its own partner-scoped consents (partner offers and
    profile sharing for itself). The tourist office, which stewards the data, records the
    destination's purposes (newsletter, profiling) and partner-scoped consents for the partners
    the guest names. The staff member is the witness (the service puts them in the proof)."""
    if purpose not in Purpose.values:
        return {}
    if recording_partner.is_steward:
        return {}
    if purpose not in PARTNER_PURPOSES:
        return {
            "purpose": _("Only the tourist office records the destination's consents at a desk.")
        }
    if any(p.pk != recording_partner.pk for p in partners):
        return {"partner": _("At your desk, a consent is recorded for your own partner only.")}
    return {}


def _unique[T](items: Sequence[T], key: Callable[[T], Hashable]) -> list[T]:
    seen: set[Hashable] = set()
    out: list[T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def _scope_label(purpose: str, partners: Sequence[Partner], channels: Sequence[str]) -> str:
    label = str(Purpose(purpose).label)
    if partners:
        label += " — " + ", ".join(p.name for p in partners)
    if channels:
        label += " (" + ", ".join(str(Channel(c).label) for c in channels) + ")"
    return label


def _ledger_write(
    *, guest: Guest, proof: ConsentProof, scopes: Sequence[Scope], granted: bool
) -> list[ConsentEvent]:
    """Append one event per scope and bring ConsentState in step. The caller holds the guest
    row lock; the state rows are locked too before being read and rewritten."""
    events = [
        ConsentEvent(
            guest=guest,
            purpose=purpose,
            partner=partner,
            channel=channel,
            granted=granted,
            proof=proof,
        )
        for purpose, partner, channel in scopes
    ]
    ConsentEvent.objects.bulk_create(events)
    purposes = {purpose for purpose, _p, _c in scopes}
    states = {
        (s.purpose, s.partner_id, s.channel): s
        for s in ConsentState.objects.select_for_update()
        .filter(guest=guest, purpose__in=purposes)
        .order_by("pk")
    }
    now = timezone.now()
    new: list[ConsentState] = []
    for event in events:
        state = states.get((event.purpose, event.partner_id, event.channel))
        if state is None:
            new.append(
                ConsentState(
                    guest=guest,
                    purpose=event.purpose,
                    partner=event.partner,
                    channel=event.channel,
                    granted=granted,
                    event=event,
                )
            )
        else:
            state.granted = granted
            state.event = event
            state.updated_at = now
            state.save(update_fields=["granted", "event", "updated_at"])
    ConsentState.objects.bulk_create(new)
    return events


# --- Recording ------------------------------------------------------------------------------


def _consent_trail_write(
    *,
    guest: Guest,
    proof: ConsentProof,
    title: str,
    partner: Partner | None,
    actor: User | None,
    details: dict[str, Any],
) -> None:
    """The timeline entry and the audit row every consent change leaves, dated by the proof."""
    timeline_add(
        guest=guest,
        kind=TimelineEvent.Kind.CONSENT,
        occurred_at=proof.occurred_at,
        title=title,
        partner=partner,
        visibility=Visibility.SHARED,
        data=details,
        source=proof,
    )
    audit_log(
        guest=guest, action=AuditEntry.Action.CONSENT, actor=actor, partner=partner, details=details
    )


@transaction.atomic
def consent_record(
    *,
    guest: Guest,
    purpose: Purpose | str,
    granted: bool,
    method: ConsentProof.Method | str,
    partners: Sequence[Partner] = (),
    channels: Sequence[str] = (),
    wording: ConsentWording | None,
    occurred_at: datetime | None = None,
    named_partners: Sequence[Partner] = (),
    recorded_by: User | None = None,
    recorded_by_partner: Partner | None = None,
    evidence: dict[str, Any] | None = None,
) -> ConsentProof:
    """Record one act of the person: a grant or a withdrawal of ``purpose`` for each
    (partner, channel) pair of the scope, proved by one ``ConsentProof``.

    A withdrawal here affects exactly the scope given: unsubscribing from partner A's email
    offers leaves partner B's offers, and A's SMS offers, untouched. To object to the data being
    used by partners at all, use ``consent_object``, which reaches every partner.

    ``named_partners`` are the partners the wording named to the person; for a grant to
    partners it defaults to those partners. A grant of partner offers or profile sharing makes
    the partner one that "received the data" (a PartnerGuestLink, reason consent).
    """
    if method not in ConsentProof.Method.values:
        raise GuestError(_("Unknown consent method “%(method)s”.") % {"method": method})
    partners = _unique(list(partners), key=lambda p: p.pk)
    channels = _unique([str(c) for c in channels], key=lambda c: c)
    errors = consent_scope_errors(
        purpose=purpose, granted=granted, partners=partners, channels=channels, wording=wording
    )
    if errors:
        # Per field, like the form shows them (``form_add_domain_error``).
        raise GuestError(errors)
    inactive = [p.name for p in partners if not p.is_active]
    if granted and inactive:
        raise GuestError(
            _("%(partners)s is not an active partner.") % {"partners": ", ".join(inactive)}
        )
    locked = guest_lock_active(guest)
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise GuestError(_("A consent cannot be dated in the future."))

    proof = ConsentProof.objects.create(
        method=method,
        wording=wording,
        is_objection=False,
        recorded_by=recorded_by if recorded_by and recorded_by.is_authenticated else None,
        recorded_by_partner=recorded_by_partner,
        evidence=evidence or {},
        occurred_at=occurred_at,
    )
    named = list(named_partners) or (partners if granted else [])
    if named:
        proof.named_partners.set(named)

    scopes: list[Scope] = [
        (str(purpose), partner, channel)
        for partner in ([*partners] if partners else [None])
        for channel in (channels or [""])
    ]
    events = _ledger_write(guest=locked, proof=proof, scopes=scopes, granted=granted)

    if granted and purpose in PARTNER_PURPOSES:
        for partner in partners:
            partner_guest_link_touch(
                partner=partner,
                guest=locked,
                reason=PartnerGuestLink.Reason.CONSENT,
                at=occurred_at,
                evidence={"consent_proof": proof.pk, "method": str(method)},
            )

    with translation.override(settings.LANGUAGE_CODE):
        verb = _("Consent given") if granted else _("Consent withdrawn")
        title = f"{verb}: {_scope_label(str(purpose), partners, channels)}"
    details = {
        "proof": proof.pk,
        "purpose": str(purpose),
        "granted": granted,
        "partners": [p.pk for p in partners],
        "channels": channels,
        "method": str(method),
        "wording": wording.pk if wording else None,
        "events": [e.pk for e in events],
    }
    _consent_trail_write(
        guest=locked,
        proof=proof,
        title=title,
        partner=recorded_by_partner,
        actor=recorded_by,
        details=details,
    )
    return proof


@transaction.atomic
def consent_object(
    *,
    guest: Guest,
    via_partner: Partner,
    method: ConsentProof.Method | str,
    recorded_by: User | None = None,
    evidence: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> ConsentProof:
    """The person objects, through one partner, to their data being used by partners.

    Unlike a withdrawal (``consent_record(granted=False)``), which affects only the scope given,
    an objection reaches EVERY partner that received the data, as the CNIL expects for data passed
    to partners: ``via_partner`` and every partner with a PartnerGuestLink to the guest or a
    granted partner-scoped state lose partner offers (every channel) and profile sharing. One
    proof (``is_objection=True``) covers all the events. The destination's own newsletter and
    profiling are separate purposes and stay as they are.
    """
    if method not in ConsentProof.Method.values:
        raise GuestError(_("Unknown consent method “%(method)s”.") % {"method": method})
    locked = guest_lock_active(guest)
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise GuestError(_("A consent cannot be dated in the future."))

    linked = PartnerGuestLink.objects.filter(guest=locked).values("partner_id")
    granted_to = ConsentState.objects.filter(
        guest=locked, purpose__in=PARTNER_PURPOSES, granted=True, partner__isnull=False
    ).values("partner_id")
    reached = list(
        Partner.objects.filter(
            Q(pk__in=linked) | Q(pk__in=granted_to) | Q(pk=via_partner.pk)
        ).order_by("pk")
    )

    proof = ConsentProof.objects.create(
        method=method,
        wording=None,
        is_objection=True,
        recorded_by=recorded_by if recorded_by and recorded_by.is_authenticated else None,
        recorded_by_partner=via_partner,
        evidence={**(evidence or {}), "reached_partners": [p.pk for p in reached]},
        occurred_at=occurred_at,
    )
    proof.named_partners.set([via_partner])
    scopes: list[Scope] = []
    for partner in reached:
        for purpose in OBJECTION_PURPOSES:
            channels = CONTACT_CHANNELS if purpose in CHANNEL_PURPOSES else ("",)
            scopes += [(purpose, partner, channel) for channel in channels]
    events = _ledger_write(guest=locked, proof=proof, scopes=scopes, granted=False)

    with translation.override(settings.LANGUAGE_CODE):
        title = _("Objection to partners using the data, received by %(partner)s") % {
            "partner": via_partner.name
        }
    details = {
        "proof": proof.pk,
        "objection": True,
        "partners": [p.pk for p in reached],
        "method": str(method),
        "events": [e.pk for e in events],
    }
    _consent_trail_write(
        guest=locked,
        proof=proof,
        title=title,
        partner=via_partner,
        actor=recorded_by,
        details=details,
    )
    return proof
