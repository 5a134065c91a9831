"""Reads of the partner portal. Everything about a guest goes through ``partners.access``: each
function receives the acting partner and returns only what its access opens."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Page, Paginator
from django.db.models import Field, Q
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bookings.models import Offer
from bookings.selectors import stay_last_by_guest
from destination.languages import language_label
from destination.linkage.realtime import Side, verdict_for
from destination.linkage.scorer import HOUSEHOLD
from destination.linkage.store import linkage_model_cached
from destination.models import (
    ConsentEvent,
    Guest,
    GuestEmail,
    GuestPhone,
    PossibleDuplicate,
    TimelineEvent,
    Visibility,
)
from destination.normalize import fold, mask_email, mask_phone
from destination.selectors import guest_search
from destination.services.merge import MERGE_FIELDS
from destination.services.resolution import REASON_LABELS, PersonData, guest_candidates
from partners.access import (
    NOT_A_RELATIONSHIP,
    GuestAccess,
    guest_access,
    guest_access_bulk,
    interactions_visible_to,
    timeline_visible_to,
)
from partners.models import (
    AccessFlag,
    Interaction,
    Partner,
    PartnerGuestLink,
    Section,
    SharingRule,
)
from portal.stored_text import timeline_title

Level = SharingRule.Level

SEARCH_LIMIT = 10
SEARCH_MIN_LENGTH = 2


@dataclass
class SearchResult:
    """One line of the search results: enough to tell two people apart, no more than the
    acting partner may see."""

    guest_id: int
    name: str
    country: Any = ""  # a django_countries Country, or ""
    language: str = ""
    email_hint: str = ""
    phone_hint: str = ""
    last_stay: dt.datetime | None = None
    partners_known: list[str] = field(default_factory=list)
    known_to_you: bool = False


def new_booking_url(*, partner: Partner, guest: Guest) -> str:
    """The booking desk's "new booking" page for this guest (it carries ``?guest=`` on to the
    booking form, which it prefills), or "" when the partner has nothing to book: the booking
    desk and the tourist office book every partner's offers (no query), other partners their
    own published ones (one query). "" as well when the booking desk is not installed."""
    try:
        url = reverse("bookings_desk:new")
    except NoReverseMatch:
        return ""
    if (
        not partner.books_for_all
        and not Offer.objects.filter(partner=partner, is_published=True).exists()
    ):
        return ""
    return f"{url}?{urlencode({'guest': guest.pk})}"


def portal_search(*, partner: Partner, query: str, limit: int = SEARCH_LIMIT) -> list[SearchResult]:
    """Guests matching ``query`` (a name with typos, an email, a phone number in any format),
    best first, as ``partner`` may see them. A constant number of queries whatever the number of
    results: the search, access (two), relationships, bookings and contact hints (one each)."""
    query = (query or "").strip()
    if len(query) < SEARCH_MIN_LENGTH:
        return []
    guests = guest_search(query, limit=limit)
    if not guests:
        return []
    ids = [g.pk for g in guests]
    accesses = guest_access_bulk(partner=partner, guest_ids=ids)

    links: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for gid, pid, name in (
        PartnerGuestLink.objects.filter(guest_id__in=ids, partner__is_active=True)
        .exclude(reason__in=NOT_A_RELATIONSHIP)
        .values_list("guest_id", "partner_id", "partner__name")
        .order_by("partner__name")
    ):
        links[gid].append((pid, name))
    last_stay = stay_last_by_guest(
        partner=partner,
        guest_ids=ids,
        opened_guest_ids=[gid for gid in ids if accesses[gid].can(Section.BOOKINGS)],
    )

    hinted = [
        gid
        for gid in ids
        if accesses[gid].can(Section.CONTACT_HINT) or accesses[gid].can(Section.CONTACT)
    ]
    emails: dict[int, str] = {}
    phones: dict[int, str] = {}
    if hinted:
        for gid, email in (
            GuestEmail.objects.filter(guest_id__in=hinted)
            .order_by("guest_id", "-is_primary", "id")
            .values_list("guest_id", "email_normalized")
        ):
            emails.setdefault(gid, mask_email(email))
        for gid, phone in (
            GuestPhone.objects.filter(guest_id__in=hinted)
            .order_by("guest_id", "-is_primary", "id")
            .values_list("guest_id", "phone")
        ):
            phones.setdefault(gid, mask_phone(str(phone)))

    results = []
    for guest in guests:
        access = accesses[guest.pk]
        known = links.get(guest.pk, [])
        known_to_you = any(pid == partner.pk for pid, _name in known)
        # Who else knows the guest is part of the shared story: shown when that is open.
        if access.can(Section.SHARED_INTERACTIONS):
            names = [name for _pid, name in known]
        else:
            names = [name for pid, name in known if pid == partner.pk]
        results.append(
            SearchResult(
                guest_id=guest.pk,
                name=guest.full_name if access.can(Section.IDENTITY) else "",
                country=guest.country if access.can(Section.DEMOGRAPHICS) else "",
                language=guest.language if access.can(Section.DEMOGRAPHICS) else "",
                email_hint=emails.get(guest.pk, ""),
                phone_hint=phones.get(guest.pk, ""),
                last_stay=last_stay.get(guest.pk),
                partners_known=names,
                known_to_you=known_to_you,
            )
        )
    return results


# --- The guest's 360° page ------------------------------------------------------------------

TIMELINE_PAGE_SIZE = 20


@dataclass
class TimelineEntry:
    id: int
    kind: str
    kind_label: str
    title: str
    body: str
    occurred_at: dt.datetime
    partner_name: str
    is_own: bool
    is_private: bool
    staff_name: str = ""


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str  # "" when this is the last page


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def timeline_cursor(entry: TimelineEntry) -> str:
    """The keyset position after ``entry``: "<microseconds since 1970>_<id>", URL-safe."""
    delta = entry.occurred_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}_{entry.id}"


def _cursor_parse(cursor: str) -> tuple[dt.datetime, int] | None:
    micros, _sep, pk = (cursor or "").partition("_")
    try:
        return _EPOCH + dt.timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None


def timeline_page(
    *,
    partner: Partner,
    guest: Guest,
    access: GuestAccess,
    kind: str = "",
    from_partner: int | None = None,
    cursor: str = "",
    limit: int = TIMELINE_PAGE_SIZE,
) -> TimelinePage:
    """One page of the guest's timeline as ``partner`` may read it, newest first, with keyset
    pagination on (occurred_at, id): two queries whatever the timeline's length and the page's
    depth (the entries with their partner, and the staff of the interactions among them)."""
    qs = timeline_visible_to(partner=partner, guest=guest, access=access)
    if kind in TimelineEvent.Kind.values:
        qs = qs.filter(kind=kind)
    if from_partner:
        qs = qs.filter(partner_id=from_partner)
    parsed = _cursor_parse(cursor)
    if parsed is not None:
        when, pk = parsed
        qs = qs.filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=pk))
    rows = list(qs.select_related("partner").order_by("-occurred_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]

    entries = _entries(rows, partner=partner, guest=guest)
    return TimelinePage(entries, timeline_cursor(entries[-1]) if more and entries else "")


def _entries(rows: list[TimelineEvent], *, partner: Partner, guest: Guest) -> list[TimelineEntry]:
    """Timeline rows as the template shows them; the staff of interactions in one query."""
    interaction_ids = [
        e.object_id for e in rows if e.kind == TimelineEvent.Kind.INTERACTION and e.object_id
    ]
    staff: dict[int, str] = {}
    if interaction_ids:
        for pk, first, last, email in Interaction.objects.filter(
            pk__in=interaction_ids, guest=guest
        ).values_list("pk", "staff__first_name", "staff__last_name", "staff__email"):
            staff[pk] = f"{first or ''} {last or ''}".strip() or (email or "")

    kinds = dict(TimelineEvent.Kind.choices)
    entries = []
    for event in rows:
        # Stored in the default language; shown in the reader's (see portal.stored_text).
        title = timeline_title(title=event.title, kind=event.kind, data=event.data or {})
        entries.append(
            TimelineEntry(
                id=event.pk,
                kind=event.kind,
                kind_label=str(kinds.get(event.kind, event.kind)),
                title=title,
                body=event.body,
                occurred_at=event.occurred_at,
                partner_name=event.partner.name if event.partner else "",
                is_own=event.partner_id == partner.pk,
                is_private=event.visibility == Visibility.PRIVATE,
                staff_name=staff.get(event.object_id or 0, "")
                if event.kind == TimelineEvent.Kind.INTERACTION
                else "",
            )
        )
    return entries


def timeline_entry_for(
    *, partner: Partner, guest: Guest, access: GuestAccess, source: Any
) -> TimelineEntry | None:
    """The timeline entry a service wrote for ``source`` (a just-logged interaction), if this
    partner may read it."""
    rows = list(
        timeline_visible_to(partner=partner, guest=guest, access=access)
        .filter(content_type=ContentType.objects.get_for_model(source), object_id=source.pk)
        .select_related("partner")[:1]
    )
    entries = _entries(rows, partner=partner, guest=guest)
    return entries[0] if entries else None


def timeline_partners(
    *, partner: Partner, guest: Guest, access: GuestAccess
) -> list[tuple[int, str]]:
    """The partners whose entries this partner sees on the guest's timeline (the filter's
    choices): one query."""
    rows = (
        timeline_visible_to(partner=partner, guest=guest, access=access)
        .filter(partner__isnull=False)
        .values_list("partner_id", "partner__name")
        .order_by("partner__name")
        .distinct()
    )
    return list(rows)


@dataclass
class HouseholdMember:
    guest_id: int
    name: str


def household_members(*, partner: Partner, guest: Guest, limit: int = 12) -> list[HouseholdMember]:
    """The other active members of the guest's household, each named only where the partner's
    access to that member opens IDENTITY: three queries."""
    if not guest.household_id:
        return []
    members = list(
        Guest.objects.active()
        .filter(household_id=guest.household_id)
        .exclude(pk=guest.pk)
        .order_by("first_name", "id")[:limit]
    )
    accesses = guest_access_bulk(partner=partner, guest_ids=[m.pk for m in members])
    return [
        HouseholdMember(
            m.pk, m.full_name if accesses.get(m.pk) and accesses[m.pk].can(Section.IDENTITY) else ""
        )
        for m in members
    ]


# --- Likely duplicates before creating a guest ----------------------------------------------


@dataclass
class CandidateView:
    guest_id: int
    name: str
    score: float
    reasons: list[str]
    country: Any = ""
    email_hint: str = ""
    phone_hint: str = ""


def _reason_labels(codes: list[str]) -> list[str]:
    return [str(REASON_LABELS.get(code, code)) for code in codes]


def _hints(guest_ids: list[int]) -> tuple[dict[int, str], dict[int, str]]:
    emails: dict[int, str] = {}
    phones: dict[int, str] = {}
    if guest_ids:
        for gid, email in (
            GuestEmail.objects.filter(guest_id__in=guest_ids)
            .order_by("guest_id", "-is_primary", "id")
            .values_list("guest_id", "email_normalized")
        ):
            emails.setdefault(gid, mask_email(email))
        for gid, phone in (
            GuestPhone.objects.filter(guest_id__in=guest_ids)
            .order_by("guest_id", "-is_primary", "id")
            .values_list("guest_id", "phone")
        ):
            phones.setdefault(gid, mask_phone(str(phone)))
    return emails, phones


def likely_duplicates(
    *, partner: Partner, data: dict[str, Any], limit: int = 5
) -> list[CandidateView]:
    """Guests that may already be the person about to be created at a desk, best first, shown
    as the partner may see them (names where IDENTITY is open, masked contact hints)."""
    person = PersonData(
        first_name=data.get("first_name") or "",
        last_name=data.get("last_name") or "",
        email=data.get("email") or "",
        phone=data.get("phone") or "",
        country=data.get("country") or "",
        birth_date=data.get("birth_date"),
    )
    candidates = guest_candidates(person, limit=limit)
    if not candidates:
        return []
    ids = [c.guest_id for c in candidates]
    guests = Guest.objects.active().in_bulk(ids)
    accesses = guest_access_bulk(partner=partner, guest_ids=ids)
    # Masked contacts only where the partner's access opens them (the hint or the contact).
    emails, phones = _hints(
        [
            gid
            for gid, a in accesses.items()
            if a.can(Section.CONTACT_HINT) or a.can(Section.CONTACT)
        ]
    )
    views = []
    for c in candidates:
        guest = guests.get(c.guest_id)
        access = accesses.get(c.guest_id)
        if guest is None or access is None:
            continue
        views.append(
            CandidateView(
                guest_id=c.guest_id,
                name=guest.full_name if access.can(Section.IDENTITY) else "",
                score=c.score,
                reasons=_reason_labels(c.reasons),
                country=guest.country if access.can(Section.DEMOGRAPHICS) else "",
                email_hint=emails.get(c.guest_id, ""),
                phone_hint=phones.get(c.guest_id, ""),
            )
        )
    return views


# --- The possible-duplicates queue (the tourist office stewards the shared data) ------------


DUPLICATES_PER_PAGE = 25
# The queue's order: most likely first, then oldest. "Next pair" follows the same order.
_QUEUE_ORDER = ("-score", "id")


def pair_looks_like_household(pair: PossibleDuplicate) -> bool:
    """What the current rules see as two people of one household rather than one person: a
    shared email address with different first names and different birth dates (a mother and
    her daughter on the family address). Read from the pair's reasons, or from both guests when
    the reasons do not say (older pairs)."""
    reasons = set(pair.reasons or [])
    if "email" not in reasons:
        return False
    a, b = pair.guest_a, pair.guest_b
    first_differs = "first_name_differs" in reasons or bool(
        a.first_name and b.first_name and fold(a.first_name) != fold(b.first_name)
    )
    birth_differs = "birth_date_differs" in reasons or bool(
        a.birth_date and b.birth_date and a.birth_date != b.birth_date
    )
    return first_differs and birth_differs


# The model's comparisons and levels (destination/linkage/comparisons.py), as the queue
# names them.
EVIDENCE_FIELDS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "birth_date": _("Birth date"),
    "email": _("Email"),
    "phone": _("Phone"),
    "country": _("Country"),
}
EVIDENCE_LEVELS = {
    "exact": pgettext_lazy("linkage level", "same"),
    "same without accents": pgettext_lazy("linkage level", "same"),
    "known nickname": _("known nickname"),
    "first and last names swapped": _("first and last names swapped"),
    "one name crosswise": _("found in the other name"),
    "Jaro-Winkler >= 0.92": _("very close spelling"),
    "Jaro-Winkler >= 0.8": _("close spelling"),
    "day and month swapped": _("day and month swapped"),
    "one digit off": _("one digit off"),
    "same year": _("same year only"),
    "same local part, made of the names": _("same name before the @, other provider"),
    "same local part": _("same part before the @"),
    "same domain": _("same provider only"),
    "same last 8 digits": _("same last 8 digits"),
    "known on one side only": _("on one profile only"),
    "all other": pgettext_lazy("linkage level", "different"),
}


@dataclass(frozen=True)
class Evidence:
    """One comparison of the model for a pair: the field, how it compared, and its match
    weight in bits (positive for one person, negative against)."""

    field: str
    label: str
    level: str
    weight: float

    @property
    def agrees(self) -> bool:
        return self.weight >= 0.05

    @property
    def disagrees(self) -> bool:
        return self.weight <= -0.05

    @property
    def weight_display(self) -> str:
        return f"{self.weight:+.1f}"


@dataclass
class HouseholdGroup:
    """The pairs of one household on the page (a shared address, one surname): dismissed
    together."""

    email: str
    members: list[Guest]
    pairs: list[PossibleDuplicate]


@dataclass
class QueueRow:
    """One line of the duplicates queue: a pair, or a household's pairs together."""

    pair: PossibleDuplicate
    reasons: list[str]  # what agreed, or differs, in the reader's language
    household: bool  # shown as "Household?" instead of a score
    evidence: list[Evidence] = field(default_factory=list)
    group: HouseholdGroup | None = None

    @property
    def score_percent(self) -> int:
        return round(self.pair.score * 100)


def _side(guest: Guest, emails: list[str], phones: list[str]) -> Side:
    return Side(
        first_name=guest.first_name,
        last_name=guest.last_name,
        emails=tuple(emails),
        phones=tuple(phones),
        country=str(guest.country or ""),
        birth_date=guest.birth_date,
        language=guest.language,
    )


def _contacts(guest_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Every email and phone of the guests, primary first: two queries."""
    emails: dict[int, list[str]] = defaultdict(list)
    phones: dict[int, list[str]] = defaultdict(list)
    for gid, email in (
        GuestEmail.objects.filter(guest_id__in=guest_ids)
        .order_by("guest_id", "-is_primary", "id")
        .values_list("guest_id", "email_normalized")
    ):
        emails[gid].append(email)
    for gid, phone in (
        GuestPhone.objects.filter(guest_id__in=guest_ids)
        .order_by("guest_id", "-is_primary", "id")
        .values_list("guest_id", "phone")
    ):
        phones[gid].append(str(phone))
    return emails, phones


def pair_evidence(
    pair: PossibleDuplicate, emails: dict[int, list[str]], phones: dict[int, list[str]]
) -> tuple[list[Evidence], str | None]:
    """The current model's comparisons of the pair's two guests, strongest first, and the
    family rule it meets (``household``, ``twins`` or None). No query: the model is cached."""
    model = linkage_model_cached()
    a, b = pair.guest_a, pair.guest_b
    verdict = verdict_for(
        _side(a, emails.get(a.pk, []), phones.get(a.pk, [])),
        _side(b, emails.get(b.pk, []), phones.get(b.pk, [])),
        scorer=model.scorer(),
        thresholds=model.thresholds,
    )
    evidence = [
        Evidence(
            field=r["field"],
            label=str(EVIDENCE_FIELDS.get(r["field"], r["field"])),
            level=str(EVIDENCE_LEVELS.get(r["level"], r["level"])),
            weight=r["weight"],
        )
        for r in verdict.score.reasons
    ]
    return evidence, verdict.score.constraint


def _is_household(
    pair: PossibleDuplicate, emails: dict[int, list[str]], phones: dict[int, list[str]]
) -> bool:
    """Flagged a household by the family rules: the queue's (``pair_looks_like_household``) or
    the model's."""
    return pair_looks_like_household(pair) or pair_evidence(pair, emails, phones)[1] == HOUSEHOLD


def _household_key(pair: PossibleDuplicate, emails: dict[int, list[str]]) -> tuple[str, str] | None:
    shared = sorted(set(emails.get(pair.guest_a_id, [])) & set(emails.get(pair.guest_b_id, [])))
    surname = fold(pair.guest_a.last_name)
    if not shared or not surname or surname != fold(pair.guest_b.last_name):
        return None
    return shared[0], surname


def duplicate_queue(*, page: int | str = 1, per_page: int = DUPLICATES_PER_PAGE) -> Page[QueueRow]:
    """One page of the open pairs, most likely first, as ``QueueRow``s, with the total, each
    with the model's evidence (the fields compared and their weights). The pairs of one
    household on the page (a shared email and surname, flagged by the family rules) form one
    row, dismissed together. Four queries (the count, the page with both guests joined in, their
    emails, their phones), whatever the page."""
    pairs = (
        PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN)
        .select_related("guest_a", "guest_b")
        .order_by(*_QUEUE_ORDER)
    )
    result = Paginator(pairs, per_page).get_page(page)
    page_pairs = list(result.object_list)
    ids = sorted({g for p in page_pairs for g in (p.guest_a_id, p.guest_b_id)})
    emails, phones = _contacts(ids)
    rows: list[QueueRow] = []
    groups: dict[tuple[str, str], QueueRow] = {}
    for pair in page_pairs:
        evidence, constraint = pair_evidence(pair, emails, phones)
        household = pair_looks_like_household(pair) or constraint == HOUSEHOLD
        key = _household_key(pair, emails) if household else None
        if key is not None and key in groups:
            group = groups[key].group
            assert group is not None
            group.pairs.append(pair)
            for guest in (pair.guest_a, pair.guest_b):
                if guest.pk not in {m.pk for m in group.members}:
                    group.members.append(guest)
            continue
        row = QueueRow(pair, _reason_labels(list(pair.reasons or [])), household, evidence)
        if key is not None:
            row.group = HouseholdGroup(key[0], [pair.guest_a, pair.guest_b], [pair])
            groups[key] = row
        rows.append(row)
    return Page(rows, result.number, result.paginator)  # type: ignore[arg-type]  # rows of the same page


def household_pairs_open(pair: PossibleDuplicate) -> list[PossibleDuplicate]:
    """The open pairs of the household ``pair`` belongs to: between guests sharing one of the
    pair's common email addresses and its surname, each a household by the family rules (the
    pair itself included). Empty when the pair is not a household's."""
    a, b = pair.guest_a, pair.guest_b
    emails, phones = _contacts([a.pk, b.pk])
    key = _household_key(pair, emails)
    if key is None or not _is_household(pair, emails, phones):
        return []
    shared = set(emails[a.pk]) & set(emails[b.pk])
    members = [
        g.pk
        for g in Guest.objects.filter(emails__email_normalized__in=shared).distinct()
        if fold(g.last_name) == key[1]
    ]
    candidates = (
        PossibleDuplicate.objects.filter(
            status=PossibleDuplicate.Status.OPEN, guest_a__in=members, guest_b__in=members
        )
        .select_related("guest_a", "guest_b")
        .order_by("pk")
    )
    return [p for p in candidates if p.pk == pair.pk or pair_looks_like_household(p)]


def duplicate_next(*, after: PossibleDuplicate) -> PossibleDuplicate | None:
    """The open pair after ``after`` in the queue's order (its score and id as they were when
    it was shown), else the first open one: what the steward decides next. One or two
    queries."""
    open_pairs = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN).exclude(
        pk=after.pk
    )
    later = (
        open_pairs.filter(Q(score__lt=after.score) | Q(score=after.score, id__gt=after.pk))
        .order_by(*_QUEUE_ORDER)
        .first()
    )
    return later or open_pairs.order_by(*_QUEUE_ORDER).first()


def duplicate_open_count() -> int:
    return PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.OPEN).count()


@dataclass
class CompareRow:
    field: str
    label: str
    a: str
    b: str
    default: str  # "a" or "b": the side kept unless the steward picks the other

    @property
    def differs(self) -> bool:
        return self.a != self.b


def _field_display(guest: Guest, name: str) -> str:
    value = getattr(guest, name)
    if name == "country":
        return str(value.name) if value else ""
    if name == "birth_date":
        return date_format(value, "DATE_FORMAT") if value else ""
    if name == "household":
        return str(value) if value else ""
    if name == "language" and value:
        return language_label(value)
    return str(value or "")


def duplicate_comparison(pair: Any, *, partner: Partner) -> dict[str, Any]:
    """Both profiles of a pair side by side for the steward: the choosable fields, each side's
    contact points (where its access opens them) and how much history each carries as the
    steward may read it (never other partners' private entries). A fixed number of queries."""
    a, b = pair.guest_a, pair.guest_b
    accesses = guest_access_bulk(partner=partner, guest_ids=[a.pk, b.pk])
    empty = GuestAccess(
        partner_id=partner.pk, guest_id=0, level=Level.UNRELATED, sections=frozenset()
    )
    rows = []
    for name in MERGE_FIELDS:
        label = str(cast("Field[Any, Any]", Guest._meta.get_field(name)).verbose_name)
        da, db = _field_display(a, name), _field_display(b, name)
        rows.append(
            CompareRow(name, label[:1].upper() + label[1:], da, db, "a" if da or not db else "b")
        )
    contacts: dict[int, dict[str, list[str]]] = {
        a.pk: {"emails": [], "phones": []},
        b.pk: {"emails": [], "phones": []},
    }

    def shown(gid: int, value: str, mask: Any) -> str | None:
        access = accesses.get(gid, empty)
        if access.can(Section.CONTACT):
            return value
        return mask(value) if access.can(Section.CONTACT_HINT) else None

    for gid, email in (
        GuestEmail.objects.filter(guest_id__in=[a.pk, b.pk])
        .order_by("-is_primary", "id")
        .values_list("guest_id", "email")
    ):
        if (value := shown(gid, email, mask_email)) is not None:
            contacts[gid]["emails"].append(value)
    for gid, phone in (
        GuestPhone.objects.filter(guest_id__in=[a.pk, b.pk])
        .order_by("-is_primary", "id")
        .values_list("guest_id", "phone")
    ):
        if (value := shown(gid, str(phone), mask_phone)) is not None:
            contacts[gid]["phones"].append(value)
    history = {
        guest.pk: timeline_visible_to(
            partner=partner, guest=guest, access=accesses.get(guest.pk, empty)
        ).count()
        for guest in (a, b)
    }
    return {
        "pair": pair,
        "a": a,
        "b": b,
        "rows": rows,
        "contacts_a": contacts[a.pk],
        "contacts_b": contacts[b.pk],
        "history_a": history.get(a.pk, 0),
        "history_b": history.get(b.pk, 0),
        "reasons": _reason_labels(list(pair.reasons or [])),
        "household": pair_looks_like_household(pair),
    }


def erase_preview(guest: Guest, *, partner: Partner) -> dict[str, int]:
    """How much an erasure will remove or blank, for the confirmation page, counted as the
    acting partner may read it (``partners.access``): other partners' private entries are
    erased too but never counted here, since their number is theirs. One query each."""
    access = guest_access(partner=partner, guest=guest)
    return {
        "emails": GuestEmail.objects.filter(guest=guest).count()
        if access.can(Section.CONTACT) or access.can(Section.CONTACT_HINT)
        else 0,
        "phones": GuestPhone.objects.filter(guest=guest).count()
        if access.can(Section.CONTACT) or access.can(Section.CONTACT_HINT)
        else 0,
        "interactions": interactions_visible_to(
            partner=partner, guest=guest, access=access
        ).count(),
        "timeline": timeline_visible_to(partner=partner, guest=guest, access=access).count(),
        "consents": ConsentEvent.objects.filter(guest=guest).count()
        if access.can(Section.CONSENTS)
        else 0,
    }


def access_flags_open(*, limit: int = 20) -> list[AccessFlag]:
    """Unreviewed flags of unusual access patterns, newest first, for the tourist office's
    managers' home: one query."""
    return list(
        AccessFlag.objects.filter(reviewed_at__isnull=True)
        .select_related("partner", "staff", "api_key")
        .order_by("-created_at", "-pk")[:limit]
    )
