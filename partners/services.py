"""Writes of the partners app: interactions logged by partner staff, partner-guest links proved
by evidence, and the daily limits that flag unusual patterns to the tourist office."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from destination.errors import PermissionRefused
from destination.models import AuditEntry, Guest, GuestEmail, GuestPhone, TimelineEvent, Visibility
from destination.normalize import normalize_email, normalize_phone_for_country
from destination.services import GuestError
from destination.services.audit import audit_log
from destination.services.guests import CLOCK_SKEW, guest_lock_active
from destination.services.partner_links import partner_guest_link_touch
from destination.services.timeline import guest_contact_touch, timeline_add
from partners.access import guest_access, membership_for
from partners.models import AccessFlag, Interaction, Partner, PartnerApiKey, PartnerGuestLink

# Written by the core (consent grants link partners too); re-exported for this app's callers.
__all__ = [
    "access_flag_raise",
    "guest_relationship_prove",
    "interaction_log",
    "interaction_title",
    "partner_guest_link_touch",
    "relationships_proved_today",
]

if TYPE_CHECKING:
    from destination.models import User

# Daily limits (settings override them): beyond, the action is refused and the tourist office's
# managers see an ``AccessFlag``.
DEFAULT_PROOFS_PER_STAFF_DAY = 40
DEFAULT_PROOF_FAILURES_PER_STAFF_DAY = 15
DEFAULT_API_RESOLVES_PER_KEY_DAY = 200


def daily_limit(name: str) -> int:
    """The limit ``settings.<name>``, or its default above."""
    defaults = {
        "PARTNER_PROOFS_PER_STAFF_DAY": DEFAULT_PROOFS_PER_STAFF_DAY,
        "PARTNER_PROOF_FAILURES_PER_STAFF_DAY": DEFAULT_PROOF_FAILURES_PER_STAFF_DAY,
        "PARTNER_API_RESOLVES_PER_KEY_DAY": DEFAULT_API_RESOLVES_PER_KEY_DAY,
    }
    return int(getattr(settings, name, defaults[name]))


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the destination's time zone, aware."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def relationships_proved_today(*, staff: User) -> int:
    """New relationships this staff member proved today by a contact that matched (on the
    guest page, or by creating a guest at the desk who turned out to exist): one query."""
    return PartnerGuestLink.objects.filter(
        reason=PartnerGuestLink.Reason.CONTACT_PROOF,
        evidence__staff_id=staff.pk,
        first_seen_at__gte=day_start(timezone.localdate()),
    ).count()


@transaction.atomic
def access_flag_raise(
    *,
    kind: AccessFlag.Kind | str,
    partner: Partner,
    limit: int,
    staff: User | None = None,
    api_key: PartnerApiKey | None = None,
) -> AccessFlag:
    """Flag today's unusual pattern to the tourist office (one row per kind, who and day; a
    further refused attempt counts on it)."""
    day = timezone.localdate()
    flag = (
        AccessFlag.objects.select_for_update()
        .filter(kind=kind, partner=partner, staff=staff, api_key=api_key, day=day)
        .first()
    )
    if flag is None:
        return AccessFlag.objects.create(
            kind=kind, partner=partner, staff=staff, api_key=api_key, day=day, limit=limit,
            refused=1,
        )  # fmt: skip
    flag.refused += 1
    flag.save(update_fields=["refused"])
    return flag


def _contact_matches(guest: Guest, contact: str) -> str:
    """ "email" or "phone" when ``contact`` is one of the guest's, "" otherwise."""
    contact = (contact or "").strip()
    if "@" in contact:
        email = normalize_email(contact)
        if email and GuestEmail.objects.filter(guest=guest, email_normalized=email).exists():
            return "email"
        return ""
    try:
        phone = normalize_phone_for_country(contact, guest.country)
    except ValidationError:
        return ""
    if phone and GuestPhone.objects.filter(guest=guest, phone=phone).exists():
        return "phone"
    return ""


def guest_relationship_prove(
    *, guest: Guest, partner: Partner, staff: User, contact: str
) -> PartnerGuestLink:
    """A staff member proves the partner knows the guest by typing one of the guest's email
    addresses or phone numbers: when it matches, the partner becomes RELATED, and the link
    records how (``reason`` contact_proof, ``evidence``: the staff member, which kind of contact
    point, when). A guest the partner is already related to is returned as is.

    Refused (``PermissionRefused``) when the contact does not match (the attempt is audited and
    counted), or when the staff member reached today's limit of new guests proved or of
    failures: the tourist office's managers then see an ``AccessFlag``.
    """
    if membership_for(staff, partner) is None:
        raise PermissionRefused(
            _("%(user)s is not an active member of %(partner)s.")
            % {"user": staff, "partner": partner}
        )
    if guest.status != Guest.Status.ACTIVE:
        raise GuestError(_("This guest is not active."))
    existing = (
        PartnerGuestLink.objects.filter(partner=partner, guest=guest)
        .exclude(reason=PartnerGuestLink.Reason.RESOLVED)
        .first()
    )
    if existing is not None:
        return existing
    today = day_start(timezone.localdate())
    failures_limit = daily_limit("PARTNER_PROOF_FAILURES_PER_STAFF_DAY")
    failures = AuditEntry.objects.filter(
        actor=staff,
        created_at__gte=today,
        details__via="relationship_proof",
        details__matched=False,
    ).count()
    if failures >= failures_limit:
        access_flag_raise(
            kind=AccessFlag.Kind.MANY_PROOF_FAILURES,
            partner=partner,
            staff=staff,
            limit=failures_limit,
        )
        raise PermissionRefused(
            _("Too many contacts that did not match today; the tourist office has been told."),
            code="rate_limited",
        )
    matched = _contact_matches(guest, contact)
    if not matched:
        # Outside any rollback of the caller's: the failed attempt must count.
        audit_log(
            guest=guest,
            action=AuditEntry.Action.VIEW,
            actor=staff,
            partner=partner,
            details={"via": "relationship_proof", "matched": False},
        )
        raise PermissionRefused(
            {"contact": _("This is not one of this guest's email addresses or phone numbers.")},
            code="no_match",
        )
    proofs_limit = daily_limit("PARTNER_PROOFS_PER_STAFF_DAY")
    if relationships_proved_today(staff=staff) >= proofs_limit:
        access_flag_raise(
            kind=AccessFlag.Kind.MANY_RELATIONSHIPS,
            partner=partner,
            staff=staff,
            limit=proofs_limit,
        )
        raise PermissionRefused(
            _("You have reached today's limit of new guests; the tourist office has been told."),
            code="rate_limited",
        )
    now = timezone.now()
    evidence: dict[str, Any] = {
        "method": "contact_match",
        "matched": matched,
        "staff_id": staff.pk,
        "staff_email": staff.email,
        "at": now.isoformat(),
    }
    with transaction.atomic():
        locked = guest_lock_active(guest)
        link = partner_guest_link_touch(
            partner=partner,
            guest=locked,
            reason=PartnerGuestLink.Reason.CONTACT_PROOF,
            at=now,
            evidence=evidence,
        )
        audit_log(
            guest=locked,
            action=AuditEntry.Action.CHANGE,
            actor=staff,
            partner=partner,
            details={"via": "relationship_proof", "matched": matched, "link": link.pk},
        )
    return link


def interaction_title(*, kind: Interaction.Kind | str, partner: Partner) -> str:
    """ "Desk visit — Ski School X", in the destination's default language (stored text)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("%(kind)s — %(partner)s") % {
            "kind": Interaction.Kind(kind).label,
            "partner": partner.name,
        }


@transaction.atomic
def interaction_log(
    *,
    guest: Guest,
    partner: Partner,
    staff: User,
    kind: Interaction.Kind | str,
    channel: Interaction.Channel | str,
    summary: str,
    occurred_at: datetime | None = None,
    visibility: Visibility | str = Visibility.SHARED,
) -> Interaction:
    """A partner's staff member logs something done with or heard from a guest.

    Only a partner related to the guest by evidence logs one (``partners.access``): a partner
    that does not know the guest yet proves it first (``guest_relationship_prove``). The tourist
    office, which stewards the shared data, is the exception.

    Writes the interaction, its timeline entry (same partner and visibility, so a PRIVATE note
    stays the partner's own), the partner-guest link, the guest's last contact (a desk
    interaction is real contact for retention, through ``guest_contact_touch``: it no longer
    bumps the guest's ``updated_at``, a contact is not an edit of the profile) and an audit row,
    in one transaction.
    """
    if membership_for(staff, partner) is None:
        raise GuestError(
            _("%(user)s is not an active member of %(partner)s.")
            % {"user": staff, "partner": partner}
        )
    locked = guest_lock_active(guest)
    if not partner.is_steward and not guest_access(partner=partner, guest=locked).is_related:
        raise PermissionRefused(
            _(
                "Your partner does not know this guest yet: type their email or phone to confirm "
                "it before logging an interaction."
            ),
            code="not_related",
        )
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise GuestError(_("An interaction cannot be logged in the future."))
    interaction = Interaction(
        guest=locked,
        partner=partner,
        staff=staff,
        kind=kind,
        channel=channel,
        summary=(summary or "").strip(),
        occurred_at=occurred_at,
        visibility=visibility,
    )
    interaction.full_clean()
    interaction.save()

    timeline_add(
        guest=locked,
        kind=TimelineEvent.Kind.INTERACTION,
        occurred_at=occurred_at,
        title=interaction_title(kind=interaction.kind, partner=partner),
        partner=partner,
        visibility=interaction.visibility,
        body=interaction.summary,
        data={"kind": interaction.kind, "channel": interaction.channel},
        source=interaction,
    )
    partner_guest_link_touch(
        partner=partner, guest=locked, reason=PartnerGuestLink.Reason.INTERACTION, at=occurred_at
    )
    # A late entry for an old visit must not move the retention clock backwards (the core's
    # guest_contact_touch never does); asked only when it moves, so a late entry costs no query.
    if locked.last_contact_at is None or occurred_at > locked.last_contact_at:
        guest_contact_touch(guest_ids=[locked.pk], at=occurred_at)
        locked.last_contact_at = guest.last_contact_at = occurred_at
    audit_log(
        guest=locked,
        action=AuditEntry.Action.CHANGE,
        actor=staff,
        partner=partner,
        details={
            "interaction_logged": interaction.pk,
            "kind": interaction.kind,
            "visibility": interaction.visibility,
        },
    )
    return interaction
