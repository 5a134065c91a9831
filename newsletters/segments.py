"""Segments: saved rule trees over the shared guest profile and its history.

A rule tree is data (JSON), never code. ``segment_rules_validate`` checks it and names each
problem by its path ("all.1.not.season"); ``segment_queryset`` compiles it to ONE SQL query over
``Guest`` built from ``Q`` objects and ``Exists()`` subqueries, so no Python loop ever walks the
guests. A node is one of::

    {"all": [node, ...]}          AND ({"all": []} is every guest)
    {"any": [node, ...]}          OR (at least one node)
    {"not": node}                 NOT: over bookings it means "has no such booking"
    {"rule": "<name>", ...}       one of RULES, with its fields

Rules (fields in brackets are optional):

- ``language``: ``in`` a list of language codes.
- ``country``: ``in`` a list of ISO country codes.
- ``interests``: has one of the tags ``in`` (slugs).
- ``consent``: a granted consent now (the ``ConsentState`` current-state table) for ``purpose``,
  with ``partner`` (an id) for partner-scoped purposes and ``channel`` for channel purposes,
  following the consent ledger's scope rules.
- ``booked``: a real booking (confirmed, checked in or completed; not held, cancelled, refunded
  or expired) as booker, [``partner`` id] [``partner_kind``] [``offer_kind``] [``season``].
- ``stay``: a real booking arriving (the session's start) [``arriving_from``] [``arriving_to``]
  (ISO dates, inclusive, in the destination's time zone) or in a [``season``]; [``offer_kind``].
  A season is "2025-26" (1 November 2025 to 30 April 2026) or "last_winter" (the last season
  that has ended).
- ``last_contact``: ``Guest.last_contact_at`` (real contact only: never an open) ``before`` or
  ``after`` a date, or ``within_days``. Under NOT, a guest never contacted matches "not within".
- ``clicked``: a human click on [``campaign``] (an id) [``within_days``]: the settled human
  clicks newsletters' tracking stores (``TrackingHit``: kind click, verdict human, settled, not
  the trap link); machine clicks and clicks not settled yet never count.
- ``household_children``: a child among the participants of one of the guest's real bookings
  (``Participant.is_child`` or ``Booking.children``), or an active member of the guest's
  household born less than 18 years ago.

Merged and erased guests are never in a segment. With ``partner``, a segment reaches only the
guests who granted that partner's marketing consent (partner offers, by email, now), and each
rule sees only what the sharing rules open to the partner (``partners.access``): a rule reads
another partner's bookings only where BOOKINGS is open to it, and so on (``RULE_SECTIONS``); its
own bookings, consents and messages always. What a partner may not see counts as absent, so a
count never depends on data hidden from it. ``segment_preview`` shows guests through
``guest_access_bulk`` like every other reader.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries
from psycopg.errors import QueryCanceled

from bookings.models import Booking, Offer, Participant
from destination.errors import DomainError
from destination.models import (
    CHANNEL_PURPOSES,
    PARTNER_PURPOSES,
    Channel,
    ConsentState,
    Guest,
    GuestEmail,
    Purpose,
)
from destination.normalize import mask_email
from newsletters.tracking import REAL_CLICK
from partners.access import _guests_opening_q, guest_access_bulk
from partners.models import Partner, Section

# Limits: a segment is edited by people; anything past these is a mistake or an attack.
MAX_DEPTH = 8
MAX_NODES = 100
MAX_LIST = 200
MAX_DAYS = 3650
CHILD_AGE = 18

# Bookings that mean the guest really booked (seats taken and kept).
REAL_BOOKING_STATUSES = (
    Booking.Status.CONFIRMED,
    Booking.Status.CHECKED_IN,
    Booking.Status.COMPLETED,
)

# The profile section whose opening lets a partner's segment read another partner's (or the
# destination's) data for each rule; a rule missing here could not be compiled for a partner.
RULE_SECTIONS: dict[str, Section] = {
    "language": Section.DEMOGRAPHICS,
    "country": Section.DEMOGRAPHICS,
    "interests": Section.INTERESTS,
    "consent": Section.CONSENTS,
    "booked": Section.BOOKINGS,
    "stay": Section.BOOKINGS,
    "last_contact": Section.SHARED_INTERACTIONS,
    "clicked": Section.MESSAGES,
    "household_children": Section.HOUSEHOLD,
}

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
_SEASON = re.compile(r"^(\d{4})-(\d{2})$")
LAST_WINTER = "last_winter"

Errors = list[tuple[str, str]]


# --- Validation -----------------------------------------------------------------------------


def _join(path: str, part: str | int) -> str:
    return f"{path}.{part}" if path else str(part)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_list(value: Any, *, check: Callable[[str], bool]) -> str | None:
    """The error of a list of strings field, or None."""
    if not isinstance(value, list) or not value:
        return _("Give a non-empty list.")
    if len(value) > MAX_LIST:
        return _("At most %(max)d values.") % {"max": MAX_LIST}
    for item in value:
        if not isinstance(item, str) or not check(item):
            return _("“%(value)s” is not a valid value here.") % {"value": str(item)[:40]}
    return None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _season_error(value: Any) -> str | None:
    if value == LAST_WINTER:
        return None
    match = _SEASON.match(value) if isinstance(value, str) else None
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        return _("A season is written like “2025-26”, or “last_winter”.")
    return None


def _days_error(value: Any) -> str | None:
    if not _is_int(value) or not 1 <= value <= MAX_DAYS:
        return _("A number of days between 1 and %(max)d.") % {"max": MAX_DAYS}
    return None


def _choice_error(value: Any, choices: list[str]) -> str | None:
    if value not in choices:
        return _("“%(value)s” is not one of: %(choices)s.") % {
            "value": str(value)[:40],
            "choices": ", ".join(choices),
        }
    return None


def _id_error(value: Any) -> str | None:
    if not _is_int(value) or value < 1:
        return _("An id (a positive whole number).")
    return None


@dataclass
class _Refs:
    """Ids the tree names, checked against the database in one query per kind."""

    partners: dict[int, list[str]] = field(default_factory=dict)


def _check_rule(node: Mapping[str, Any], path: str, errors: Errors, refs: _Refs) -> None:
    name = node.get("rule")
    if not isinstance(name, str) or name not in RULE_FIELDS:
        errors.append(
            (
                _join(path, "rule"),
                _("Unknown rule “%(rule)s”. Rules: %(rules)s.")
                % {"rule": str(name)[:40], "rules": ", ".join(RULE_FIELDS)},
            )
        )
        return
    allowed = RULE_FIELDS[name]
    for key in node:
        if key != "rule" and (not isinstance(key, str) or key not in allowed):
            errors.append(
                (
                    _join(path, key),
                    _("Unknown field “%(field)s” for the rule “%(rule)s”.")
                    % {"field": str(key)[:40], "rule": name},
                )
            )
    before = len(errors)
    for key, check in allowed.items():
        if key in node:
            message = check(node[key])
            if message:
                errors.append((_join(path, key), message))
    if len(errors) == before:
        _check_rule_whole(name, node, path, errors, refs)


def _check_rule_whole(
    name: str, node: Mapping[str, Any], path: str, errors: Errors, refs: _Refs
) -> None:
    """Required fields and fields that go together, once each field is valid on its own."""

    def need(key: str) -> None:
        if key not in node:
            errors.append((_join(path, key), _("This rule needs “%(field)s”.") % {"field": key}))

    if name in ("language", "country", "interests"):
        need("in")
    elif name == "consent":
        need("purpose")
        purpose = node.get("purpose")
        if purpose in PARTNER_PURPOSES:
            need("partner")
        elif purpose is not None and "partner" in node:
            errors.append((_join(path, "partner"), _("This purpose is not given per partner.")))
        if purpose in CHANNEL_PURPOSES:
            need("channel")
        elif purpose is not None and "channel" in node:
            errors.append((_join(path, "channel"), _("This purpose is not given per channel.")))
    elif name == "stay":
        if not {"arriving_from", "arriving_to", "season"} & set(node):
            errors.append(
                (
                    path or "rule",
                    _("Give arrival dates (“arriving_from”, “arriving_to”) or a season."),
                )
            )
        start, end = _date(node.get("arriving_from")), _date(node.get("arriving_to"))
        if start and end and end < start:
            errors.append((_join(path, "arriving_to"), _("The end is before the start.")))
    elif name == "last_contact":
        given = [k for k in ("before", "after", "within_days") if k in node]
        if len(given) != 1:
            errors.append(
                (path or "rule", _("Give exactly one of “before”, “after” or “within_days”."))
            )
    if name in ("consent", "booked") and "partner" in node:
        refs.partners.setdefault(node["partner"], []).append(_join(path, "partner"))


def _walk(node: Any, path: str, depth: int, errors: Errors, refs: _Refs, size: list[int]) -> None:
    size[0] += 1
    if size[0] > MAX_NODES:
        if size[0] == MAX_NODES + 1:
            errors.append((path, _("A segment has at most %(max)d parts.") % {"max": MAX_NODES}))
        return
    if depth > MAX_DEPTH:
        errors.append((path, _("A segment nests at most %(max)d levels.") % {"max": MAX_DEPTH}))
        return
    if not isinstance(node, Mapping):
        errors.append((path, _("Each part is an object: a rule, “all”, “any” or “not”.")))
        return
    combinators = [k for k in ("all", "any", "not") if k in node]
    if "rule" in node and not combinators:
        _check_rule(node, path, errors, refs)
        return
    if len(combinators) != 1 or len(node) != 1:
        errors.append((path, _("Each part is exactly one of: a rule, “all”, “any” or “not”.")))
        return
    key = combinators[0]
    here = _join(path, key)
    if key == "not":
        _walk(node["not"], here, depth + 1, errors, refs, size)
        return
    items = node[key]
    if not isinstance(items, list):
        errors.append((here, _("A list of parts.")))
        return
    if key == "any" and not items:
        errors.append((here, _("“any” needs at least one part.")))
    for index, item in enumerate(items):
        _walk(item, _join(here, index), depth + 1, errors, refs, size)


def segment_rules_validate(rules: Any) -> Errors:
    """Every problem of a rule tree as (path, message), in tree order; empty when it is valid.

    Paths name the part: "all.1.not.season". Ids of partners are checked against the database
    (one query when the tree names partners)."""
    errors: Errors = []
    refs = _Refs()
    _walk(rules, "", 1, errors, refs, [0])
    ids = [pk for pk in refs.partners if _is_int(pk)]
    if ids:
        known = set(Partner.objects.filter(pk__in=ids).values_list("pk", flat=True))
        for pk in ids:
            if pk not in known:
                for path in refs.partners[pk]:
                    errors.append((path, _("There is no partner #%(id)d.") % {"id": pk}))
    return errors


def segment_rules_check(rules: Any) -> None:
    """Raise a ``DomainError`` (code "invalid_segment") naming each problem by its path."""
    errors = segment_rules_validate(rules)
    if errors:
        by_path: dict[str, list[str]] = {}
        for path, message in errors:
            by_path.setdefault(path or "__all__", []).append(message)
        raise DomainError(by_path, code="invalid_segment")


# Each rule's fields and the check of each field on its own.
RULE_FIELDS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "language": {"in": lambda v: _string_list(v, check=lambda s: bool(_LANGUAGE.match(s)))},
    "country": {"in": lambda v: _string_list(v, check=lambda s: s in countries)},
    "interests": {"in": lambda v: _string_list(v, check=lambda s: 0 < len(s) <= 64)},
    "consent": {
        "purpose": lambda v: _choice_error(v, list(Purpose.values)),
        "partner": _id_error,
        "channel": lambda v: _choice_error(v, [c for c in Channel.values if c]),
    },
    "booked": {
        "partner": _id_error,
        "partner_kind": lambda v: _choice_error(v, list(Partner.Kind.values)),
        "offer_kind": lambda v: _choice_error(v, list(Offer.Kind.values)),
        "season": _season_error,
    },
    "stay": {
        "arriving_from": lambda v: None if _date(v) else _("A date, like “2026-02-14”."),
        "arriving_to": lambda v: None if _date(v) else _("A date, like “2026-02-14”."),
        "season": _season_error,
        "offer_kind": lambda v: _choice_error(v, list(Offer.Kind.values)),
    },
    "last_contact": {
        "before": lambda v: None if _date(v) else _("A date, like “2026-02-14”."),
        "after": lambda v: None if _date(v) else _("A date, like “2026-02-14”."),
        "within_days": _days_error,
    },
    "clicked": {"campaign": _id_error, "within_days": _days_error},
    "household_children": {},
}
RULES = tuple(RULE_FIELDS)


# --- Compiling --------------------------------------------------------------------------------


def _rule_date(value: str) -> dt.date:
    """A date of a rule tree that ``segment_rules_check`` accepted (ISO, checked there)."""
    return dt.date.fromisoformat(value)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def season_bounds(season: str, *, today: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a winter season in the destination's time zone: "2025-26" is
    1 November 2025 to 1 May 2026; "last_winter" the last season that has ended."""
    if season == LAST_WINTER:
        today = today or timezone.localdate()
        start_year = today.year - 1 if today.month >= 5 else today.year - 2
    else:
        start_year = int(season[:4])
    return (
        _local_midnight(dt.date(start_year, 11, 1)),
        _local_midnight(dt.date(start_year + 1, 5, 1)),
    )


class _Compiler:
    """Turns a valid tree into one ``Q`` over Guest. With a partner, each rule is narrowed to
    what the sharing rules open to it (see the module docstring)."""

    def __init__(self, *, partner: Partner | None, now: dt.datetime) -> None:
        self.partner = partner
        self.now = now
        self._gates: dict[tuple[Section, str], Q] = {}

    def gate(self, section: Section, guest_ref: str = "pk") -> Q | None:
        """None when the section is open for every guest (no filter), else a filter on rows
        whose guest FK is ``guest_ref``. One SharingRule query per section and reference."""
        if self.partner is None:
            return None
        key = (section, guest_ref)
        if key not in self._gates:
            self._gates[key] = _guests_opening_q(
                partner=self.partner, section=section, guest_ref=guest_ref
            )
        q = self._gates[key]
        return q if q else None

    def own_or_gate(self, section: Section, *, own: Q, guest_ref: str) -> Q | None:
        """Rows of the partner's own, or of guests whose ``section`` is open to it."""
        gate = self.gate(section, guest_ref)
        return None if gate is None else own | gate

    def node(self, node: Mapping[str, Any]) -> Q:
        if "all" in node:
            q = Q()
            for item in node["all"]:
                q &= self.node(item)
            return q
        if "any" in node:
            q = Q(pk__in=[])
            for item in node["any"]:
                q |= self.node(item)
            return q
        if "not" in node:
            return ~self.node(node["not"])
        rule: Callable[[Mapping[str, Any]], Q] = getattr(self, f"rule_{node['rule']}")
        return rule(node)

    def profile(self, section: Section, q: Q) -> Q:
        gate = self.gate(section)
        return q if gate is None else q & gate

    # Rules on the profile itself.
    def rule_language(self, node: Mapping[str, Any]) -> Q:
        return self.profile(Section.DEMOGRAPHICS, Q(language__in=node["in"]))

    def rule_country(self, node: Mapping[str, Any]) -> Q:
        return self.profile(Section.DEMOGRAPHICS, Q(country__in=node["in"]))

    def rule_interests(self, node: Mapping[str, Any]) -> Q:
        through = Guest.tags.through
        sub = through.objects.filter(guest=OuterRef("pk"), tag__slug__in=node["in"])
        return self.profile(Section.INTERESTS, Q(Exists(sub)))

    def rule_last_contact(self, node: Mapping[str, Any]) -> Q:
        if "before" in node:
            q = Q(last_contact_at__lt=_local_midnight(_rule_date(node["before"])))
        elif "after" in node:
            day = _rule_date(node["after"]) + dt.timedelta(days=1)
            q = Q(last_contact_at__gte=_local_midnight(day))
        else:
            q = Q(last_contact_at__gte=self.now - dt.timedelta(days=node["within_days"]))
        return self.profile(Section.SHARED_INTERACTIONS, q)

    # Rules on related tables: one EXISTS each.
    def rule_consent(self, node: Mapping[str, Any]) -> Q:
        sub = ConsentState.objects.filter(
            guest=OuterRef("pk"),
            purpose=node["purpose"],
            # No partner: the destination's own consent (Django turns ``= None`` into IS NULL).
            partner_id=node.get("partner"),  # type: ignore[misc]  # the stubs refuse None
            channel=node.get("channel", ""),
            granted=True,
        )
        if self.partner is not None and node.get("partner") != self.partner.pk:
            gate = self.gate(Section.CONSENTS, "guest")
            if gate is not None:
                sub = sub.filter(gate)
        return Q(Exists(sub))

    def _bookings(self, node: Mapping[str, Any]) -> QuerySet[Booking]:
        """The real bookings the rule names, of every guest (not correlated yet)."""
        sub = Booking.objects.filter(status__in=REAL_BOOKING_STATUSES)
        if "partner" in node:
            sub = sub.filter(partner_id=node["partner"])
        if "partner_kind" in node:
            # Through the session's offer rather than ``Booking.partner``: the same partner (a
            # booking keeps its offer's partner, and neither its session nor an offer's partner
            # ever changes: bookings.admin keeps them read-only), but PostgreSQL then starts from the few sessions of that kind's
            # offers in the season (``session_offer_start_idx``) and reads only their bookings
            # (``booking_session_booker_idx``), not every booking those partners ever had.
            sub = sub.filter(session__offer__partner__kind=node["partner_kind"])
        if "offer_kind" in node:
            sub = sub.filter(session__offer__kind=node["offer_kind"])
        if "season" in node:
            start, end = season_bounds(node["season"], today=timezone.localdate(self.now))
            sub = sub.filter(session__starts_at__gte=start, session__starts_at__lt=end)
        if "arriving_from" in node:
            start = _local_midnight(_rule_date(node["arriving_from"]))
            sub = sub.filter(session__starts_at__gte=start)
        if "arriving_to" in node:
            day = _rule_date(node["arriving_to"]) + dt.timedelta(days=1)
            sub = sub.filter(session__starts_at__lt=_local_midnight(day))
        return sub

    def _has_booking(self, node: Mapping[str, Any]) -> Q:
        sub = self._bookings(node)
        gate = None
        if self.partner is not None and node.get("partner") != self.partner.pk:
            gate = self.gate(Section.BOOKINGS)
        if gate is None:
            return Q(Exists(sub.filter(booker=OuterRef("pk"))))
        # The booker is the guest, so "its own bookings, or any where the guest's BOOKINGS is
        # open to it" is decided per guest. Uncorrelated IN subqueries here: PostgreSQL hashes
        # each once, where EXISTS under OR would run once per guest.
        own = sub.filter(partner=self.partner).values("booker_id")
        return Q(pk__in=own) | (gate & Q(pk__in=sub.values("booker_id")))

    def rule_booked(self, node: Mapping[str, Any]) -> Q:
        return self._has_booking(node)

    def rule_stay(self, node: Mapping[str, Any]) -> Q:
        return self._has_booking(node)

    def rule_clicked(self, node: Mapping[str, Any]) -> Q:
        # The settled human clicks of newsletters' tracking (``TrackingHit``; not imported: the
        # models import this module). Machine clicks, the trap and unsettled clicks never count.
        hits = apps.get_model("newsletters", "TrackingHit")._default_manager
        sub = hits.filter(REAL_CLICK, message__guest=OuterRef("pk"))
        if "campaign" in node:
            sub = sub.filter(campaign_id=node["campaign"])
        if "within_days" in node:
            sub = sub.filter(at__gte=self.now - dt.timedelta(days=node["within_days"]))
        if self.partner is not None:
            # Clicks on its own messages, and others' where MESSAGES is open to it.
            gate = self.gate(Section.MESSAGES, "message__guest")
            if gate is not None:
                sub = sub.filter(Q(message__partner=self.partner) | gate)
        return Q(Exists(sub))

    def rule_household_children(self, node: Mapping[str, Any]) -> Q:
        booked = Booking.objects.filter(booker=OuterRef("pk"), status__in=REAL_BOOKING_STATUSES)
        if self.partner is not None:
            scope = self.own_or_gate(
                Section.BOOKINGS, own=Q(partner=self.partner), guest_ref="booker"
            )
            if scope is not None:
                booked = booked.filter(scope)
        with_children = booked.filter(
            Q(children__gt=0)
            | Q(Exists(Participant.objects.filter(booking=OuterRef("pk"), is_child=True)))
        )
        today = timezone.localdate(self.now)
        try:
            born_after = today.replace(year=today.year - CHILD_AGE)
        except ValueError:  # 29 February
            born_after = today.replace(year=today.year - CHILD_AGE, day=28)
        children = Guest.objects.filter(
            household=OuterRef("household"),
            status=Guest.Status.ACTIVE,
            birth_date__gt=born_after,
        ).exclude(pk=OuterRef("pk"))
        household = self.profile(
            Section.HOUSEHOLD, Q(household__isnull=False) & Q(Exists(children))
        )
        return Q(Exists(with_children)) | household


def _marketing_consent(partner: Partner) -> Q:
    """The partner's own marketing consent, granted now: partner offers by email."""
    return Q(
        Exists(
            ConsentState.objects.filter(
                guest=OuterRef("pk"),
                purpose=Purpose.PARTNER_OFFERS,
                partner=partner,
                channel=Channel.EMAIL,
                granted=True,
            )
        )
    )


def segment_queryset(
    rules: Any, *, partner: Partner | None = None, now: dt.datetime | None = None
) -> QuerySet[Guest]:
    """The active guests the tree selects, as one lazy query. Raises ``DomainError`` (code
    "invalid_segment") when the tree is not valid. With ``partner``, only guests who granted it
    their marketing consent, each rule seeing what the sharing rules open to it; an inactive
    partner reaches nobody."""
    segment_rules_check(rules)
    guests = Guest.objects.filter(status=Guest.Status.ACTIVE)
    if partner is not None:
        if not partner.is_active:
            return guests.none()
        guests = guests.filter(_marketing_consent(partner))
    compiler = _Compiler(partner=partner, now=now or timezone.now())
    return guests.filter(compiler.node(rules))


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, QueryCanceled)


def queryset_count_within(queryset: QuerySet[Any], *, timeout_ms: int) -> int | None:
    """``queryset.count()``, or None when PostgreSQL cancels it after ``timeout_ms``: a live
    size shows "unavailable", never a wrong 0. SQLite has no statement timeout: it counts."""
    if connection.vendor != "postgresql":
        return queryset.count()
    # Inside an outer transaction the atomic block below is a savepoint, and SET LOCAL would
    # outlive it until the outer commit: put the previous value back after the count.
    restore = connection.in_atomic_block
    try:
        with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
            # SET LOCAL takes no parameters; set_config(..., true) is its bound form. JIT off:
            # compiling a count over many subplans can cost seconds, more than running it.
            cursor.execute(
                "SELECT current_setting('statement_timeout'), current_setting('jit'), "
                "set_config('statement_timeout', %s, true), set_config('jit', 'off', true)",
                [f"{int(timeout_ms)}ms"],
            )
            previous_timeout, previous_jit = cursor.fetchone()[:2]
            count = queryset.count()
            if restore:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true), set_config('jit', %s, true)",
                    [previous_timeout, previous_jit],
                )
            return count
    except OperationalError as exc:
        # A cancelled statement rolls the savepoint back, and the setting with it.
        if _is_timeout(exc):
            return None
        raise


def segment_count(
    rules: Any,
    *,
    partner: Partner | None = None,
    timeout_ms: int = 2000,
    now: dt.datetime | None = None,
) -> int | None:
    """How many guests the segment reaches now: one COUNT query (on PostgreSQL under a
    ``statement_timeout``; None when it ran out of time)."""
    return queryset_count_within(
        segment_queryset(rules, partner=partner, now=now), timeout_ms=timeout_ms
    )


def segment_preview(
    rules: Any, *, partner: Partner, limit: int = 20, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The first guests of a partner's segment, shown as its sharing rules allow
    (``guest_access_bulk``): the name when IDENTITY is open, language and country when
    DEMOGRAPHICS is, the primary email masked when CONTACT or CONTACT_HINT is. Four queries
    (guests, access rules, access levels, emails) plus the compiler's, whatever ``limit``."""
    limit = max(1, min(int(limit), 100))
    rows = list(
        segment_queryset(rules, partner=partner, now=now)
        .order_by("pk")
        .values("pk", "first_name", "last_name", "language", "country")[:limit]
    )
    if not rows:
        return []
    accesses = guest_access_bulk(partner=partner, guest_ids=[r["pk"] for r in rows])
    hinted = [
        pk
        for pk, access in accesses.items()
        if access.can(Section.CONTACT) or access.can(Section.CONTACT_HINT)
    ]
    emails = dict(
        GuestEmail.objects.filter(guest_id__in=hinted, is_primary=True).values_list(
            "guest_id", "email_normalized"
        )
    )
    preview = []
    for row in rows:
        access = accesses.get(row["pk"])
        if access is None:  # gone since: never show what access was not computed for
            continue
        item: dict[str, Any] = {"id": row["pk"], "level": str(access.level)}
        if access.can(Section.IDENTITY):
            item["name"] = f"{row['first_name']} {row['last_name']}".strip()
        if access.can(Section.DEMOGRAPHICS):
            item["language"] = row["language"]
            item["country"] = str(row["country"] or "")
        if row["pk"] in emails:
            item["email"] = mask_email(emails[row["pk"]])
        preview.append(item)
    return preview
