"""The one place that decides what a partner may see of a shared guest, and who may act on it.

Every view, selector, API endpoint and export reads guests, interactions and timeline entries
through this module, never through raw querysets. The rules:

- A partner always sees what it collected itself: its own interactions and its own timeline
  entries, private or shared.
- Beyond that, its relationship level with the guest picks a ``SharingRule`` (a rule for the
  partner's kind wins over the rule for every kind), which opens profile ``Section``\\ s:
  UNRELATED (no relationship), RELATED (a ``PartnerGuestLink`` proved by evidence) or
  CONSENTED (the guest granted ``profile_sharing`` to it, with proof).
- Access comes from evidence, never from a click. A partner becomes RELATED only through:
  a booking with it (``bookings``), or made by it at the booking desk for another partner's
  offer; the guest's own consent with proof (``consent_record``; at a desk only for the
  recording partner itself, see below); a profile it created or an import of its own
  customer file (``guest_resolve``); or a staff member who typed the guest's email or phone
  and it matched (``partners.services.guest_relationship_prove``: the link records who, when
  and which kind of contact point). Logging an interaction requires that relationship first
  (the tourist office, which stewards the data, excepted). The evidence is kept on the link.
- An API resolution that matches an existing guest answers the guest's id and nothing else;
  the RESOLVED link it leaves is not a relationship (``guest_access`` ignores it) until real
  evidence upgrades it. So a name and an email never turn into a phone or a birth date.
- A desk consent is recorded only for the recording partner's own scope (partner offers,
  profile sharing), or by the tourist office for the destination's purposes and for the
  partners the guest names; the staff member is the witness and the named partners are in
  the proof (``destination.services.consent.consent_desk_scope_errors``).
- Unusual patterns are limited per day and flagged to the tourist office's managers
  (``AccessFlag``, listed on their portal home and in the admin): a staff member proving
  many new guests (``PARTNER_PROOFS_PER_STAFF_DAY``) or typing many contacts that do not
  match (``PARTNER_PROOF_FAILURES_PER_STAFF_DAY``), an API key matching many existing
  guests (``PARTNER_API_RESOLVES_PER_KEY_DAY``).
- Another partner's PRIVATE interactions and timeline entries are never visible, to anyone,
  the tourist office (the steward) included. No rule can open them: the querysets below only
  ever add SHARED rows of other partners.
- An inactive partner sees nothing beyond its own rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from destination.models import (
    ConsentState,
    Guest,
    GuestEmail,
    GuestPhone,
    MatchKey,
    Purpose,
    TimelineEvent,
    Visibility,
)
from destination.normalize import TYPED_PHONE_PREFIX, mask_email, mask_phone
from partners.models import Interaction, Membership, Partner, PartnerGuestLink, Section, SharingRule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from destination.models import User

Level = SharingRule.Level

# Strongest first: the level of a guest is the first that applies.
_LEVEL_ORDER = (Level.CONSENTED, Level.RELATED, Level.UNRELATED)

# Which section opens another partner's (or the destination's) SHARED timeline entries of a kind.
# A kind missing here is never shown to anyone but its own partner: new kinds fail closed.
TIMELINE_SECTIONS: dict[str, Section] = {
    TimelineEvent.Kind.INTERACTION: Section.SHARED_INTERACTIONS,
    TimelineEvent.Kind.PROFILE: Section.SHARED_INTERACTIONS,
    TimelineEvent.Kind.SIGNUP: Section.SHARED_INTERACTIONS,
    TimelineEvent.Kind.MERGE: Section.SHARED_INTERACTIONS,
    TimelineEvent.Kind.BOOKING: Section.BOOKINGS,
    TimelineEvent.Kind.MESSAGE: Section.MESSAGES,
    TimelineEvent.Kind.CONSENT: Section.CONSENTS,
}


@dataclass(frozen=True, slots=True)
class GuestAccess:
    """What one partner may see of one guest. Immutable, so it can be cached per request."""

    partner_id: int
    guest_id: int
    level: SharingRule.Level
    sections: frozenset[Section]
    is_steward: bool = False

    def can(self, section: Section | str) -> bool:
        return section in self.sections

    @property
    def is_related(self) -> bool:
        """The partner knows the guest (served, booked, created, or was granted the profile)."""
        return self.level in (Level.RELATED, Level.CONSENTED)


# --- Rules ----------------------------------------------------------------------------------


def sharing_rules_for_kind(kind: str) -> dict[SharingRule.Level, frozenset[Section]]:
    """The sections each level opens for a partner kind, in one query.

    The rule for the kind wins over the rule with an empty kind at the same level; a level with
    no rule opens nothing. Unknown section names stored in a rule are ignored (fail closed).
    """
    generic: dict[str, frozenset[Section]] = {}
    specific: dict[str, frozenset[Section]] = {}
    valid = set(Section.values)
    for level, partner_kind, sections in SharingRule.objects.filter(
        partner_kind__in=["", kind]
    ).values_list("level", "partner_kind", "sections"):
        opened = frozenset(Section(s) for s in (sections or []) if s in valid)
        (specific if partner_kind else generic)[level] = opened
    return {level: specific.get(level, generic.get(level, frozenset())) for level in _LEVEL_ORDER}


def _consented_subquery(partner: Partner, guest_ref: str) -> Exists:
    return Exists(
        ConsentState.objects.filter(
            guest=OuterRef(guest_ref),
            purpose=Purpose.PROFILE_SHARING,
            partner=partner,
            channel="",
            granted=True,
        )
    )


# Link reasons that are not a relationship: recorded, they open nothing.
NOT_A_RELATIONSHIP = (PartnerGuestLink.Reason.RESOLVED,)


def _related_subquery(partner: Partner, guest_ref: str) -> Exists:
    return Exists(
        PartnerGuestLink.objects.filter(guest=OuterRef(guest_ref), partner=partner).exclude(
            reason__in=NOT_A_RELATIONSHIP
        )
    )


def _level_of(*, related: bool, consented: bool) -> SharingRule.Level:
    if consented:
        return Level.CONSENTED
    if related:
        return Level.RELATED
    return Level.UNRELATED


def _guests_opening_q(*, partner: Partner, section: Section, guest_ref: str) -> Q:
    """A filter, for rows carrying a guest FK at ``guest_ref``, true where this partner's level
    with that guest opens ``section``. Used for lists spanning many guests, in SQL."""
    if not partner.is_active:
        return Q(pk__in=[])
    rules = sharing_rules_for_kind(partner.kind)
    open_levels = {level for level, sections in rules.items() if section in sections}
    if not open_levels:
        return Q(pk__in=[])
    if open_levels == set(_LEVEL_ORDER):
        return Q()
    consented = _consented_subquery(partner, guest_ref)
    related = _related_subquery(partner, guest_ref)
    by_level = {
        Level.CONSENTED: Q(consented),
        Level.RELATED: Q(~consented) & Q(related),
        Level.UNRELATED: Q(~consented) & Q(~related),
    }
    condition = Q(pk__in=[])
    for level in open_levels:
        condition |= by_level[level]
    return condition


# --- Access per guest -----------------------------------------------------------------------


def guest_access_bulk(*, partner: Partner, guest_ids: Iterable[int]) -> dict[int, GuestAccess]:
    """Access of one partner to many guests (a search result list) in two queries, whatever
    their number. Ids that are not guests are left out of the result."""
    ids = sorted({int(pk) for pk in guest_ids})
    if not ids:
        return {}
    rules = sharing_rules_for_kind(partner.kind)
    rows = (
        Guest.objects.filter(pk__in=ids)
        .annotate(
            _related=_related_subquery(partner, "pk"),
            _consented=_consented_subquery(partner, "pk"),
        )
        .values_list("pk", "_related", "_consented")
    )
    result: dict[int, GuestAccess] = {}
    for pk, related, consented in rows:
        level = _level_of(related=bool(related), consented=bool(consented))
        result[pk] = GuestAccess(
            partner_id=partner.pk,
            guest_id=pk,
            level=level,
            sections=rules[level] if partner.is_active else frozenset(),
            is_steward=partner.is_steward and partner.is_active,
        )
    return result


def guest_access(*, partner: Partner, guest: Guest) -> GuestAccess:
    """Access of one partner to one guest: two queries (its rules, its relationship)."""
    access = guest_access_bulk(partner=partner, guest_ids=[guest.pk]).get(guest.pk)
    if access is None:
        return GuestAccess(
            partner_id=partner.pk, guest_id=guest.pk, level=Level.UNRELATED, sections=frozenset()
        )
    return access


def guest_access_for_request(
    request: HttpRequest, *, partner: Partner, guest: Guest
) -> GuestAccess:
    """``guest_access`` cached on the request, for views that check it several times."""
    cache: dict[tuple[int, int], GuestAccess] = request.__dict__.setdefault(
        "_guest_access_cache", {}
    )
    key = (partner.pk, guest.pk)
    if key not in cache:
        cache[key] = guest_access(partner=partner, guest=guest)
    return cache[key]


# --- Querysets ------------------------------------------------------------------------------


def interactions_visible_to(
    *, partner: Partner, guest: Guest | None = None, access: GuestAccess | None = None
) -> QuerySet[Interaction]:
    """Interactions this partner may read: all of its own, plus other partners' SHARED ones where
    its access to the guest opens SHARED_INTERACTIONS. Without ``guest``, across every guest,
    the level being decided per guest in SQL."""
    own = Q(partner=partner)
    shared = Q(visibility=Visibility.SHARED)
    qs = Interaction.objects.all()
    if guest is not None:
        access = access or guest_access(partner=partner, guest=guest)
        qs = qs.filter(guest=guest)
        if access.can(Section.SHARED_INTERACTIONS):
            return qs.filter(own | shared)
        return qs.filter(own)
    opening = _guests_opening_q(
        partner=partner, section=Section.SHARED_INTERACTIONS, guest_ref="guest"
    )
    return qs.filter(own | (shared & opening))


def timeline_visible_to(
    *, partner: Partner, guest: Guest, access: GuestAccess | None = None
) -> QuerySet[TimelineEvent]:
    """A guest's timeline as this partner may read it: its own entries, private or not, plus
    SHARED entries of other partners and of the destination (partner empty) whose kind's
    section (see TIMELINE_SECTIONS) its access opens."""
    access = access or guest_access(partner=partner, guest=guest)
    kinds = [kind for kind, section in TIMELINE_SECTIONS.items() if access.can(section)]
    condition = Q(partner=partner)
    if kinds:
        condition |= Q(visibility=Visibility.SHARED, kind__in=kinds)
    return TimelineEvent.objects.filter(guest=guest).filter(condition)


# --- The profile projection -----------------------------------------------------------------


def guest_profile_for(
    *,
    partner: Partner,
    guest: Guest,
    access: GuestAccess | None = None,
    include_activity: bool = False,
) -> dict[str, Any]:
    """The guest as this partner may see it: only the sections its access opens.

    Views, the API and the partner-scoped export render this dict, never the model. With
    ``include_activity`` it also carries the interactions and timeline entries the partner may
    read (through ``interactions_visible_to`` and ``timeline_visible_to``).
    """
    access = access or guest_access(partner=partner, guest=guest)
    profile: dict[str, Any] = {
        "id": guest.pk,
        "uuid": str(guest.uuid),
        "status": guest.status,
        "access": {
            "level": str(access.level),
            "sections": sorted(str(s) for s in access.sections),
            "is_steward": access.is_steward,
        },
    }
    if access.can(Section.IDENTITY):
        profile["identity"] = {
            "first_name": guest.first_name,
            "last_name": guest.last_name,
            "full_name": guest.full_name,
        }
    if access.can(Section.DEMOGRAPHICS):
        profile["demographics"] = {
            "country": str(guest.country),  # a Country: its str is the code, "" when blank
            "language": guest.language,
        }
    if access.can(Section.BIRTH_DATE):
        profile["birth_date"] = guest.birth_date.isoformat() if guest.birth_date else None
    if access.can(Section.CONTACT) or access.can(Section.CONTACT_HINT):
        emails = list(
            GuestEmail.objects.filter(guest=guest).values_list("email_normalized", "is_primary")
        )
        phones = [
            (str(phone), is_primary)
            for phone, is_primary in GuestPhone.objects.filter(guest=guest).values_list(
                "phone", "is_primary"
            )
        ]
        # Numbers no evidence could read (no country code, no country, nothing else): kept as
        # typed, by their digits, for matching only (resolution's "pt:" keys), never as a phone.
        typed = [
            key.removeprefix(TYPED_PHONE_PREFIX)
            for key in MatchKey.objects.filter(
                guest=guest, key__startswith=TYPED_PHONE_PREFIX
            ).values_list("key", flat=True)
        ]
        if access.can(Section.CONTACT):
            profile["contact"] = {
                "emails": [{"email": e, "is_primary": p} for e, p in emails],
                "phones": [{"phone": n, "is_primary": p} for n, p in phones],
                "phones_as_typed": typed,
            }
        else:
            profile["contact_hint"] = {
                "emails": [mask_email(e) for e, _p in emails],
                "phones": [mask_phone(n) for n, _p in phones] + [mask_phone(d) for d in typed],
            }
    if access.can(Section.INTERESTS):
        profile["interests"] = [
            {"slug": slug, "name": name, "category": category}
            for slug, name, category in guest.tags.order_by("name").values_list(
                "slug", "name", "category"
            )
        ]
    if access.can(Section.HOUSEHOLD):
        household = None
        if guest.household_id:
            # Only the household's name and size: its members' profiles follow their own access.
            names = list(
                Guest.objects.active()
                .filter(household_id=guest.household_id)
                .values_list("household__name", flat=True)
                .order_by()
            )
            household = {
                "id": guest.household_id,
                "name": names[0] if names else "",
                "size": len(names),
            }
        profile["household"] = household
    if access.can(Section.CONSENTS):
        profile["consents"] = [
            {
                "purpose": state.purpose,
                "partner": state.partner.name if state.partner else None,
                "partner_id": state.partner_id,
                "channel": state.channel,
                "granted": state.granted,
                "since": state.event.proof.occurred_at.isoformat(),
            }
            for state in ConsentState.objects.filter(guest=guest)
            .select_related("partner", "event__proof")
            .order_by("purpose", "partner_id", "channel")
        ]
    if include_activity:
        profile["interactions"] = [
            {
                "id": i.pk,
                "partner": i.partner.name,
                "partner_id": i.partner_id,
                "kind": i.kind,
                "channel": i.channel,
                "summary": i.summary,
                "occurred_at": i.occurred_at.isoformat(),
                "visibility": i.visibility,
            }
            for i in interactions_visible_to(partner=partner, guest=guest, access=access)
            .select_related("partner")
            .order_by("-occurred_at", "-id")
        ]
        profile["timeline"] = [
            {
                "id": e.pk,
                "kind": e.kind,
                "partner_id": e.partner_id,
                "title": e.title,
                "body": e.body,
                "occurred_at": e.occurred_at.isoformat(),
                "visibility": e.visibility,
            }
            for e in timeline_visible_to(partner=partner, guest=guest, access=access).order_by(
                "-occurred_at", "-id"
            )
        ]
    return profile


# --- Permissions for actions ----------------------------------------------------------------


def membership_for(
    user: User | AnonymousUser | None,
    partner: Partner | None,
    *,
    known: Membership | None = None,
) -> Membership | None:
    """The user's active membership of an active partner, or None. ``known``: the membership
    the caller already checked for this request (the portal's ``request.membership``), used
    instead of a query when it is this user's for this partner."""
    if user is None or partner is None or not user.is_authenticated or not user.is_active:
        return None
    if known is not None and known.user_id == user.pk and known.partner_id == partner.pk:
        return known
    return (
        Membership.objects.active()
        .filter(user=user, partner=partner)
        .select_related("partner")
        .first()
    )


def staff_home_url(user: User) -> str | None:
    """Partner staff land on the portal after signing in; anyone else gets the default."""
    if user.is_authenticated and Membership.objects.active().filter(user_id=user.pk).exists():
        return reverse("portal:home")
    return None


def _is_steward_manager(
    user: User | AnonymousUser | None, partner: Partner | None, known: Membership | None
) -> bool:
    if partner is None or not partner.is_steward:
        return False
    membership = membership_for(user, partner, known=known)
    return membership is not None and membership.role == Membership.Role.MANAGER


def can_merge(
    user: User | AnonymousUser | None,
    partner: Partner | None,
    *,
    membership: Membership | None = None,
) -> bool:
    """Merging guests changes everyone's data: tourist office managers only."""
    return _is_steward_manager(user, partner, membership)


def can_erase(
    user: User | AnonymousUser | None,
    partner: Partner | None,
    *,
    membership: Membership | None = None,
) -> bool:
    """Erasing a guest (GDPR) is the steward's: tourist office managers only."""
    return _is_steward_manager(user, partner, membership)


def can_export(
    user: User | AnonymousUser | None,
    partner: Partner | None,
    *,
    membership: Membership | None = None,
) -> bool:
    """A full export of a guest's data: tourist office managers only."""
    return _is_steward_manager(user, partner, membership)


def can_edit_guest(
    user: User | AnonymousUser | None,
    partner: Partner | None,
    guest: Guest,
    *,
    access: GuestAccess | None = None,
    membership: Membership | None = None,
) -> bool:
    """Staff of a partner that knows the guest (RELATED or CONSENTED) may edit an active guest;
    tourist office managers, who steward the shared data, may edit any active guest."""
    if partner is None or guest.status != Guest.Status.ACTIVE:
        return False
    membership = membership_for(user, partner, known=membership)
    if membership is None:
        return False
    if partner.is_steward and membership.role == Membership.Role.MANAGER:
        return True
    access = access or guest_access(partner=partner, guest=guest)
    return access.is_related
