"""Stored text shown in the reader's language.

Timeline titles are written once, in the destination's default language, by the service that
acts (``timeline_add(title=...)``): the timeline is an append-only record and a title must read
the same in an export years later. The portal does not change what is stored; it *displays*
a known title in the reader's language:

- an interaction's title comes from its kind (``data["kind"]``), as before;
- every other known title is recognised by the message it was made from (the same msgid, read
  in the default language), its parts taken back out, the parts that are themselves known
  labels (a booking step, a consent purpose, a channel) translated, the date re-written in the
  reader's format, and the message rendered again in the reader's language;
- anything else (a newsletter's subject, an entry from an import) is shown as stored.

Interest tags have one stored ``name``; the portal shows it through the catalogue
(``tag_name``), so the known names (the destination's interests) read in French, and a tag
created since shows as typed until its name joins ``portal/locale``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bookings.services import BOOKING_EMAILS
from destination.models import Channel, Purpose, TimelineEvent
from partners.models import Interaction

# The steps a booking's timeline entry names (bookings/services.py ``_timeline_all``).
BOOKING_STEPS = (
    _("Booking"),
    _("Booking held"),
    _("Booking cancelled"),
    _("Booking refunded"),
    _("Checked in"),
    _("Balance paid"),
    _("Booking confirmed"),
    _("Booking expired unpaid"),
    _("Balance overdue"),
    *BOOKING_EMAILS.values(),
)
CONSENT_VERBS = (_("Consent given"), _("Consent withdrawn"))

# The interests the destination starts with (``destination.demo_data.INTERESTS``, the admin's
# first tags), marked for the catalogue so they read in the reader's language.
KNOWN_TAG_NAMES = (
    _("Alpine skiing"),
    _("Snowboard"),
    _("Ski touring"),
    _("Cross-country skiing"),
    _("Snowshoeing"),
    _("Freeride"),
    _("Family holidays"),
    _("Kids' club"),
    _("Gastronomy"),
    _("Spa and wellness"),
    _("Après-ski and nightlife"),
    _("Events and concerts"),
    _("Dog sledding"),
    _("Summer holidays"),
    _("Skiing"),
    _("Family"),
)

# Django's "N j, Y" in English (the default language's DATE_FORMAT): "Dec. 8, 2026".
_MONTHS = {
    "jan.": 1, "feb.": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "aug.": 8, "sept.": 9, "oct.": 10, "nov.": 11, "dec.": 12,
}  # fmt: skip
_DATE = r"(?:Jan\.|Feb\.|March|April|May|June|July|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.) \d{1,2}, \d{4}"


def tag_name(name: str) -> str:
    """An interest tag's stored name in the reader's language, when the catalogue knows it."""
    return gettext(name) if name else name


def _date_again(text: str) -> str:
    month, day, year = text.replace(",", "").split()
    try:
        when = dt.date(int(year), _MONTHS[month.lower()], int(day))
    except (KeyError, ValueError):
        return text
    return date_format(when, "DATE_FORMAT")


@dataclass(frozen=True)
class _Known:
    """A stored title made from ``message``; ``labels`` names the parts that are one of a set of
    known labels, ``dates`` the parts that are a date, ``lists`` the parts that are a ", "-list
    of labels."""

    message: Any
    labels: dict[str, tuple[Any, ...]]
    dates: tuple[str, ...] = ()
    lists: dict[str, tuple[Any, ...]] | None = None


def _consent_scope_labels() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    return tuple(Purpose(p).label for p in Purpose.values), tuple(
        Channel(c).label for c in Channel.values if c
    )


def _known_titles() -> list[_Known]:
    purposes, channels = _consent_scope_labels()
    return [
        _Known(
            _("%(what)s %(reference)s: %(offer)s, %(date)s"),
            {"what": BOOKING_STEPS},
            dates=("date",),
        ),
        _Known(_("Guest #%(id)s merged into this profile"), {}),
        _Known(_("Merge with guest #%(id)s undone"), {}),
        _Known(_("Objection to partners using the data, received by %(partner)s"), {}),
        _Known(_("Signed up to the newsletter"), {}),
        # consent.py writes f"{verb}: {purpose}[ — partners][ (channels)]".
        _Known(
            _("%(verb)s: %(purpose)s%(partners)s%(channels)s"),
            {"verb": CONSENT_VERBS, "purpose": purposes},
            lists={"channels": channels},
        ),
    ]


def _alternation(labels: tuple[Any, ...]) -> str:
    # Longest first: "Booking confirmed" before "Booking".
    texts = sorted({str(label) for label in labels}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(t) for t in texts) + ")"


@lru_cache(maxsize=4)
def _patterns(default_language: str) -> list[tuple[re.Pattern[str], _Known, dict[str, str]]]:
    """Each known title as a regular expression over its default-language text, with the
    default-language text of each label (to find its translation)."""
    compiled = []
    with translation.override(default_language):
        for known in _known_titles():
            text = str(known.message)
            pattern = ""
            for piece in re.split(r"(%\(\w+\)s)", text):
                name = piece[2:-2] if piece.startswith("%(") else None
                if name is None:
                    pattern += re.escape(piece)
                elif name in known.labels:
                    pattern += f"(?P<{name}>{_alternation(known.labels[name])})"
                elif name in known.dates:
                    pattern += f"(?P<{name}>{_DATE})"
                elif name == "partners" and known.lists is not None:
                    pattern += r"(?P<partners>(?: — [^()]+?)?)"
                elif known.lists and name in known.lists:
                    pattern += rf"(?P<{name}>(?: \((?:{_alternation(known.lists[name])})"
                    pattern += rf"(?:, {_alternation(known.lists[name])})*\))?)"
                else:
                    pattern += f"(?P<{name}>.+?)"
            english = {
                str(label): label
                for labels in [*known.labels.values(), *(known.lists or {}).values()]
                for label in labels
            }
            compiled.append((re.compile(f"^{pattern}$"), known, english))
    return compiled


def _render(known: _Known, parts: dict[str, str], labels: dict[str, Any]) -> str:
    values: dict[str, str] = {}
    for name, value in parts.items():
        if name in known.labels:
            values[name] = str(labels[value])
        elif name in known.dates:
            values[name] = _date_again(value)
        elif known.lists and name in known.lists and value:
            inner = value.strip()[1:-1].split(", ")
            values[name] = " (" + ", ".join(str(labels[item]) for item in inner) + ")"
        else:
            values[name] = value
    return str(known.message) % values


def timeline_title(
    *, title: str, kind: str, data: dict[str, Any], default_language: str | None = None
) -> str:
    """The stored ``title`` of a timeline entry as the reader should see it (see the module's
    docstring). Never raises: an unknown or altered title is returned as stored."""
    interaction_kinds: dict[str, Any] = dict(Interaction.Kind.choices)
    if kind == TimelineEvent.Kind.INTERACTION and (data or {}).get("kind") in interaction_kinds:
        return str(interaction_kinds[data["kind"]])
    default = default_language or settings.LANGUAGE_CODE
    if not title or translation.get_language() == default:
        return title
    for pattern, known, labels in _patterns(default):
        match = pattern.match(title)
        if match:
            try:
                return _render(known, match.groupdict(), labels)
            except (KeyError, ValueError, TypeError):
                return title
    return title
