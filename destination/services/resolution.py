"""Identity resolution: every incoming person (signup, booking, desk entry, import, API) becomes
an existing guest or a new one, through this one bulk-capable service.

How a person is resolved, in order:

1. A known external id (``GuestExternalRef``: same source, same id) resolves straight to its
   guest: re-running an import changes nothing.
2. Exact contact: a guest with the same normalised email or phone, scored by the linkage model
   (``destination.linkage``: the active version's weights and family rules, the ones
   ``dedupe_guests`` uses on the whole base). It is attached when the identity check does not
   refuse it (same first name up to a typo in the middle of the word, compatible last name, no
   two different known birth dates), no family rule holds (a household or twins on one address
   are never merged nor suggested, a possibly mistyped first name never merged), and either the
   model says "automatic" or nothing the two know disagrees (an email alone, a name and a
   phone: the shared contact identifies them). Otherwise a new guest is created and the pair
   goes to the "possible duplicates" review queue, whatever the model's weight: two guests
   behind one address must not be a duplicate nobody is told about.
3. Fuzzy candidates found through blocking keys (``MatchKey``) and scored by the same model.
   They never merge: from the review threshold up a new guest is created and the pair is
   queued, ordered by the model's match probability, with its reasons.

Every review row names the model version that scored it (``detected_by``
"resolution/linkage:vN", the score is its match probability), as the audit rows of the guests it
created or enriched do: a new version decides new resolutions only, never past ones.

Work is set-based per batch: one query per kind of lookup for the whole batch (exact keys,
guests with their contacts, blocking keys) and one multi-row insert per table (``bulk_create``;
on PostgreSQL ``INSERT ... SELECT unnest(arrays)``, several times faster). Whatever may be
created twice by simultaneous resolutions (a guest for a new email or phone, a contact added to
a guest) is serialised on ``ResolutionKey`` rows: inserted, locked in sorted order, then looked
up again; two simultaneous resolutions of the same new email create one guest. Known people
need no lock: resolving one by email or phone is two reads on PostgreSQL (three elsewhere),
and no write when nothing changes. The model is read once per process and interval
with the size of the base its prior is scaled to (``linkage_model_cached``: two queries when
its cache is cold, none otherwise).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property, lru_cache, partial
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, transaction
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries
from rapidfuzz.distance import OSA

from destination.db import any_id, any_text, binary_cursor, insert_rows, insert_rows_returning
from destination.linkage.realtime import Side, Verdict, verdict_for
from destination.linkage.scorer import NEVER, Scorer
from destination.linkage.store import CurrentModel, linkage_model_cached
from destination.models import (
    AuditEntry,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestPhone,
    MatchKey,
    PossibleDuplicate,
    ResolutionKey,
    TimelineEvent,
    User,
    Visibility,
)
from destination.normalize import (
    TYPED_PHONE_PREFIX,
    PhoneEvidence,
    PhoneReading,
    fold,
    normalize_email,
    phone_digits,
    phone_read,
    validate_birth_date,
    validate_language,
)
from partners.models import Partner, PartnerGuestLink  # layering exception: destination/__init__.py

__all__ = [
    "REASON_LABELS",
    "Candidate",
    "CleanPerson",
    "Decision",
    "FieldWarning",
    "PersonData",
    "PersonReading",
    "ResolutionResult",
    "guest_candidates",
    "guest_resolve",
    "guest_resolve_many",
    "match_keys_for",
    "match_keys_refresh",
    "name_skeleton",
    "person_read",
    "person_validate",
]

# --- Tuning -------------------------------------------------------------------------------

DETECTED_BY = "resolution"
# Review at most this many candidates per person: the best ones, so the queue stays usable.
MAX_REVIEW_CANDIDATES = 5
# A blocking key shared by more guests than this says nothing: skipped.
MAX_BLOCK_SIZE = 200
# A full-name key ("n:") shared by more guests is not even loaded: with that many namesakes an
# unrelated homonym is likelier than a duplicate, and a namesake who is the same person also
# shares a birth date, email or phone key, and is found through that key.
MAX_NAME_BLOCK_SIZE = 3
# The model's levels that say two people differ, whatever their trained weight: an exact
# contact whose other fields reach none of them is attached even when the model, missing
# fields, stays below its automatic threshold (an email alone, a name and a phone). A second
# email or phone that differs is not one: people have several.
DISAGREEING_LEVELS: dict[str, frozenset[str]] = {
    "first_name": frozenset({"all other"}),
    "last_name": frozenset({"all other"}),
    "birth_date": frozenset({"same year", "all other"}),
    "country": frozenset({"all other"}),
}
# Local parts of an email that say nothing about a person.
GENERIC_LOCAL_PARTS = frozenset(
    {"info", "contact", "booking", "bookings", "reservation", "reservations", "hello", "mail",
     "email", "admin", "office", "noreply", "no-reply", "test", "family", "famille", "home"}
)  # fmt: skip

REASON_LABELS: dict[str, Any] = {
    "external_id": gettext_lazy("Same external id"),
    "email": gettext_lazy("Same email address"),
    "phone": gettext_lazy("Same phone number"),
    "name": gettext_lazy("Same or similar name"),
    "birth_date": gettext_lazy("Same birth date"),
    "birth_date_differs": gettext_lazy("Different birth dates"),
    "first_name_differs": gettext_lazy("Different first names"),
    "last_name_differs": gettext_lazy("Different last names"),
    "email_local": gettext_lazy("Similar email address"),
    "phone_fragment": gettext_lazy("Phone numbers end with the same digits"),
    "country": gettext_lazy("Same country"),
}


# --- Interface ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonData:
    """A person as a caller received it: raw strings, not yet validated (a birth date may be a
    date or an ISO string)."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    country: str = ""
    birth_date: dt.date | str | None = None
    language: str = ""
    external_id: str = ""
    extra_emails: tuple[str, ...] = ()
    extra_phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class CleanPerson:
    """A validated person: normalised contacts (email lower-case, phone E.164) and folded names."""

    first_name: str = ""
    last_name: str = ""
    first_folded: str = ""
    last_folded: str = ""
    emails: tuple[str, ...] = ()  # the first one is the primary
    phones: tuple[str, ...] = ()  # E.164
    country: str = ""
    birth_date: dt.date | None = None
    language: str = ""
    external_id: str = ""
    # National numbers nothing told the country of: their digits as typed, never stored as
    # the guest's phones, kept for matching by their digits ("pt:" and "p:" blocking keys).
    phones_as_typed: tuple[str, ...] = ()
    # (E.164, evidence) of the phones whose country came from weaker evidence than their own
    # code or the person's country (a known phone, the email's domain, the language): audited.
    phones_read_by: tuple[tuple[str, str], ...] = ()
    # The fields that could not be read and were left out (keep_partial): audited.
    left_out: tuple[str, ...] = ()

    @property
    def name_folded(self) -> str:
        return " ".join(part for part in (self.first_folded, self.last_folded) if part)

    @cached_property
    def match_keys(self) -> set[str]:
        return match_keys_for(
            first_folded=self.first_folded,
            last_folded=self.last_folded,
            birth_date=self.birth_date,
            emails=self.emails,
            phones=self.phones,
            typed_phones=self.phones_as_typed,
        )


class Decision(StrEnum):
    MATCHED = "matched"
    CREATED = "created"
    REVIEW = "review"
    REJECTED = "rejected"


@dataclass(frozen=True)
class FieldWarning:
    """A field the person was kept without, or kept differently (a phone as typed)."""

    class Code(StrEnum):
        LEFT_OUT = "left_out"  # unreadable: the person was kept without it
        PHONE_AS_TYPED = "phone_as_typed"  # no country for it: kept as typed, not as a phone

    field: str
    code: Code
    message: str
    value: str = ""  # PHONE_AS_TYPED: the digits kept


@dataclass
class ResolutionResult:
    decision: Decision
    guest: Guest | None = None
    review_with: list[int] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Codes from REASON_LABELS: why the guest was matched or sent to review.
    reasons: list[str] = field(default_factory=list)
    warnings: list[FieldWarning] = field(default_factory=list)
    # The linkage model version that scored the decision ("linkage:v3"), and its match
    # probability for the guest matched (MATCHED through an exact contact) or the best review
    # candidate (REVIEW); empty for decisions the model took no part in (a known external id).
    model: str = ""
    score: float | None = None


@dataclass(frozen=True)
class Candidate:
    guest_id: int
    score: float
    reasons: list[str]


# --- Validation ---------------------------------------------------------------------------

_T = TypeVar("_T")

# Compiled once: libphonenumber's many patterns keep evicting re's own cache in bulk.
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=1024)
def _clean_country(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    code = countries.alpha2(value) or countries.by_name(value)
    if not code:
        raise ValidationError(_("“%(value)s” is not a known country.") % {"value": raw})
    return str(code)


def _max_length(model: type[Guest] | type[GuestExternalRef], name: str, default: int) -> int:
    model_field = model._meta.get_field(name)
    return getattr(model_field, "max_length", None) or default


def _clean_name(raw: str, problems: dict[str, list[str]], key: str) -> str:
    value = " ".join((raw or "").split())
    max_length = _max_length(Guest, key, 150)
    if len(value) > max_length:
        problems.setdefault(key, []).append(
            _("Enter at most %(max)s characters.") % {"max": max_length}
        )
        return ""
    return value


@dataclass(frozen=True)
class PersonReading:
    """What ``person_read`` made of a person: the clean person, the errors that refuse it, and
    the warnings of what it is kept without (or kept as typed)."""

    person: CleanPerson
    errors: dict[str, list[str]]
    warnings: list[FieldWarning]


# Fields a person may be kept without. The external id is the caller's key (re-running a file
# changes nothing because of it): one that cannot be stored refuses the person.
_DROPPABLE = frozenset(
    {"first_name", "last_name", "email", "extra_emails", "phone", "extra_phones", "country",
     "language", "birth_date"}
)  # fmt: skip


def person_read(person: PersonData, *, keep_partial: bool = False) -> PersonReading:
    """Validate and normalise a person; never raises for bad input.

    A field that cannot be read is an error that refuses the person, or, with
    ``keep_partial`` (files and partner systems, where nobody is there to correct it), a
    warning: the person is kept without that field. Either way the person is refused when no
    name, no email and no phone remain. A national phone number nothing tells the country of
    is kept as typed (a warning, never an error): see ``destination.normalize.phone_read``."""
    problems: dict[str, list[str]] = {}

    def run(key: str, func: Callable[..., _T], *args: Any) -> _T | None:
        try:
            return func(*args)
        except ValidationError as exc:
            problems.setdefault(key, []).extend(str(m) for m in exc.messages)
            return None

    first_name = _clean_name(person.first_name, problems, "first_name")
    last_name = _clean_name(person.last_name, problems, "last_name")
    country = run("country", _clean_country, person.country or "") or ""
    language = run("language", validate_language, person.language or "") or ""
    birth_date = run("birth_date", validate_birth_date, person.birth_date)

    emails: list[str] = []
    for key, values in (("email", [person.email]), ("extra_emails", person.extra_emails)):
        for raw in values:
            value = run(key, normalize_email, raw)
            if value and value not in emails:
                emails.append(value)
    phones: list[str] = []
    typed: list[str] = []
    typed_fields: list[tuple[str, str, str]] = []
    read_by: list[tuple[str, str]] = []
    for key, values in (("phone", [person.phone]), ("extra_phones", person.extra_phones)):
        for raw in values:
            reading = _phone_read_into(raw, key, problems, country, emails, language)
            if reading is None:
                continue
            if reading.as_typed:
                if reading.value not in typed:
                    typed.append(reading.value)
                    typed_fields.append((key, raw, reading.value))
            elif reading.value not in phones:
                phones.append(reading.value)
                if reading.evidence in _WEAK_EVIDENCE:
                    read_by.append((reading.value, str(reading.evidence)))

    external_id = (person.external_id or "").strip()
    errors: dict[str, list[str]] = {}
    max_ref = _max_length(GuestExternalRef, "external_id", 128)
    if len(external_id) > max_ref:
        errors["external_id"] = [_("Enter at most %(max)s characters.") % {"max": max_ref}]
        external_id = ""
    warnings: list[FieldWarning] = []
    if keep_partial:
        for key, messages in problems.items():
            warnings.extend(
                FieldWarning(key, FieldWarning.Code.LEFT_OUT, _("Left out: %(reason)s") % {
                    "reason": message})
                for message in messages
            )  # fmt: skip
    else:
        errors = {**problems, **errors}
    warnings.extend(
        FieldWarning(
            key,
            FieldWarning.Code.PHONE_AS_TYPED,
            _("“%(value)s” is kept as typed, not as a phone number: nothing tells its country.")
            % {"value": raw.strip()},
            value=digits,
        )
        for key, raw, digits in typed_fields
    )
    clean = CleanPerson(
        first_name=first_name,
        last_name=last_name,
        first_folded=fold(first_name),
        last_folded=fold(last_name),
        emails=tuple(emails),
        phones=tuple(phones),
        country=country,
        birth_date=birth_date,
        language=language,
        external_id=external_id,
        phones_as_typed=tuple(typed),
        phones_read_by=tuple(read_by),
        left_out=tuple(problems) if keep_partial else (),
    )
    if not errors and not (clean.first_folded or clean.last_folded or emails or phones):
        # What could not be read says why nothing is left.
        errors = {**problems, "__all__": [str(NOTHING_IDENTIFYING)]}
        warnings = []
    return PersonReading(clean, errors, warnings)


NOTHING_IDENTIFYING = gettext_lazy("Give at least a name, an email address or a phone number.")
# Evidence of a phone's country weaker than its own code or the person's country: audited.
_WEAK_EVIDENCE = frozenset(
    {PhoneEvidence.KNOWN_PHONE, PhoneEvidence.EMAIL_DOMAIN, PhoneEvidence.LANGUAGE}
)


def _phone_read_into(
    raw: str,
    key: str,
    problems: dict[str, list[str]],
    country: str,
    emails: list[str],
    language: str,
) -> PhoneReading | None:
    """``phone_read`` with the person's evidence; a phone that is no number goes to
    ``problems`` under ``key``."""
    try:
        return phone_read(
            raw, country=country, email=emails[0] if emails else "", language=language
        )
    except ValidationError as exc:
        problems.setdefault(key, []).extend(str(m) for m in exc.messages)
        return None


def person_validate(person: PersonData) -> tuple[CleanPerson, dict[str, list[str]]]:
    """Validate and normalise a person, every unreadable field an error (``person_read``
    without ``keep_partial``). Returns the clean person and field-level errors (empty when
    valid); never raises for bad input."""
    reading = person_read(person)
    return reading.person, reading.errors


# --- Blocking keys ------------------------------------------------------------------------

# Consonant classes that are often confused or spelled differently across languages.
_SKELETON_DIGRAPHS = (("sch", "s"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("qu", "k"))
_SKELETON_MAP = str.maketrans(
    {"c": "k", "q": "k", "g": "k", "z": "s", "x": "s", "d": "t", "b": "p", "v": "f", "w": "f"}
)
_VOWELS = frozenset("aeiouyh")


@lru_cache(maxsize=65536)
def name_skeleton(token: str) -> str:
    """A coarse phonetic key of a folded name token: the first letter, then consonant classes
    with vowels and repeats dropped. "Müller"/"Mueller" -> "mlr", "Schmidt"/"Schmitt" -> "smt"."""
    token = token.replace(" ", "")
    if not token:
        return ""
    for digraph, replacement in _SKELETON_DIGRAPHS:
        token = token.replace(digraph, replacement)
    head, tail = token[0], token[1:].translate(_SKELETON_MAP)
    out = [head]
    previous = head.translate(_SKELETON_MAP)
    for char in tail:
        if char in _VOWELS:
            previous = ""
            continue
        if char != previous:
            out.append(char)
        previous = char
    return "".join(out)


def _tokens(first_folded: str, last_folded: str) -> list[str]:
    return [t for t in f"{first_folded} {last_folded}".split() if len(t) > 1][:6]


def _email_local(email: str) -> str:
    local = email.partition("@")[0].split("+")[0]
    return _NON_ALNUM_RE.sub("", local)


def match_keys_for(
    *,
    first_folded: str,
    last_folded: str,
    birth_date: dt.date | None,
    emails: Iterable[str],
    phones: Iterable[str],
    typed_phones: Iterable[str] = (),
) -> set[str]:
    """The blocking keys of a person or guest (what fuzzy candidate search looks up).

    - ``n:`` the sorted skeletons of every name token: swapped first/last names, dropped accents
      and vowel typos collide;
    - ``t:`` one name token's skeleton + birth date: a consonant typo in the other name still
      finds the person born that day;
    - ``e:`` the email's local part: the same person at another provider;
    - ``p:`` the last 6 digits of a phone: a number read in the wrong region still collides;
    - ``pt:`` the digits of a phone kept as typed (no country said how to read it): the only
      place it is kept, so ``match_keys_refresh`` keeps these keys; its ``p:`` key matches it
      with the same number written with its country code.
    """
    keys: set[str] = set()
    skeletons = sorted({name_skeleton(t) for t in _tokens(first_folded, last_folded)})
    if first_folded and last_folded and skeletons:
        keys.add("n:" + " ".join(skeletons))
    if birth_date is not None:
        for skeleton in skeletons:
            keys.add(f"t:{skeleton}:{birth_date.isoformat()}")
    for email in emails:
        local = _email_local(email)
        if len(local) >= 4 and local not in GENERIC_LOCAL_PARTS:
            keys.add("e:" + local[:100])
    keys |= {TYPED_PHONE_PREFIX + digits for digits in typed_phones}
    for digits in [*(phone_digits(phone) for phone in phones), *typed_phones]:
        if tail := _phone_tail_key(digits):
            keys.add(tail)
    return keys


def _phone_tail_key(digits: str) -> str | None:
    """The blocking key of a phone's last six digits ("p:345678"), for numbers long enough to
    be one (8 digits or more), whether read to E.164 or kept as typed."""
    return "p:" + digits[-6:] if len(digits) >= 8 else None


# --- Comparing identities -----------------------------------------------------------------


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _same_name(a: str, b: str) -> bool:
    """Folded names that are the same up to spacing or a typo inside the word. A difference only
    in the last letters is read as another name (Mario/Maria, Louis/Louise), never as a typo."""
    a, b = a.replace(" ", ""), b.replace(" ", "")
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    limit = 1 if max(len(a), len(b)) < 9 else 2
    if OSA.distance(a, b, score_cutoff=limit) > limit:
        return False
    return _common_prefix(a, b) < shorter - 2


# The guest columns resolution reads, in the model's field order (what Model.from_db wants).
_GUEST_COLUMNS = frozenset(
    {"id", "first_name", "last_name", "name_folded", "birth_date", "country", "language",
     "status", "merged_into_id"}
)  # fmt: skip


def _guest_columns() -> list[str]:
    return [f.attname for f in Guest._meta.concrete_fields if f.attname in _GUEST_COLUMNS]


@lru_cache(maxsize=1)
def _guest_column_index() -> dict[str, int]:
    return {name: i for i, name in enumerate(_guest_columns())}


@dataclass(eq=False)
class _Profile:
    """What resolution knows about a guest of the batch (from the database or created now).

    Guests read from the database keep their row; the model instance is built only when the
    guest is returned or changed, since most candidates are only scored."""

    first: str
    last: str
    birth_date: dt.date | None
    country: str
    emails: set[str]
    phones: set[str]
    guest_obj: Guest | None = None
    row: tuple[Any, ...] | None = None
    is_new: bool = False
    changed_fields: set[str] = field(default_factory=set)
    new_emails: list[str] = field(default_factory=list)
    new_phones: list[str] = field(default_factory=list)
    new_typed: list[str] = field(default_factory=list)  # phones as typed (digits)
    # The guest's phones kept as typed that the batch knows of (from their "pt:" keys).
    typed: set[str] = field(default_factory=set)
    # How the incoming people were read, for the audit row (left-out fields, phones as typed).
    notes: dict[str, Any] = field(default_factory=dict)
    # Bumped whenever the batch changes what it knows of the guest: a verdict scored before is
    # stale (see _Batch._verdict).
    revision: int = 0

    def note(self, person: CleanPerson) -> None:
        if person.left_out:
            self.notes.setdefault("fields_left_out", set()).update(person.left_out)
        if person.phones_as_typed:
            self.notes.setdefault("phones_as_typed", set()).update(person.phones_as_typed)
        if person.phones_read_by:
            self.notes.setdefault("phones_read_by", {}).update(dict(person.phones_read_by))

    def audit_notes(self) -> dict[str, Any]:
        return {k: sorted(v) if isinstance(v, set) else v for k, v in self.notes.items()}

    @property
    def guest(self) -> Guest:
        if self.guest_obj is None:
            assert self.row is not None
            self.guest_obj = Guest.from_db(DEFAULT_DB_ALIAS, _guest_columns(), self.row)
        return self.guest_obj

    @property
    def names(self) -> tuple[str, str]:
        """The first and last names as written (the model folds them its own way)."""
        if self.guest_obj is not None:
            return self.guest_obj.first_name, self.guest_obj.last_name
        assert self.row is not None
        at = _guest_column_index()
        return self.row[at["first_name"]] or "", self.row[at["last_name"]] or ""

    @property
    def guest_id(self) -> int:
        if self.guest_obj is not None:
            return self.guest_obj.pk or 0
        assert self.row is not None
        guest_id: int = self.row[0]
        return guest_id

    @property
    def key(self) -> int:
        # One profile object per guest (see _Batch._absorb), so its identity is the guest's.
        return id(self)


def _identity_check(person: CleanPerson, profile: _Profile) -> tuple[bool, int, list[str]]:
    """Can this exact-contact guest be the person? Returns (compatible, strength, reasons):
    strength counts the name parts that were compared and agree."""
    if person.birth_date and profile.birth_date and person.birth_date != profile.birth_date:
        return False, 0, ["birth_date_differs"]
    pf, pl, gf, gl = person.first_folded, person.last_folded, profile.first, profile.last
    if pf and pl and gf and gl and _same_name(pf, gl) and _same_name(pl, gf):
        return True, 2, ["name"]
    strength = 0
    if pf and gf:
        if not _same_name(pf, gf):
            return False, 0, ["first_name_differs"]
        strength += 1
    if pl and gl:
        if not _same_name(pl, gl):
            return False, 0, ["last_name_differs"]
        strength += 1
    return True, strength, ["name"] if strength else []


# --- The batch engine ---------------------------------------------------------------------


def _guests_insert(guests: list[Guest], *, now: dt.datetime) -> None:
    """Insert new guests and set their ids. PostgreSQL: one ``INSERT ... SELECT unnest``
    returning (uuid, id), matched back by uuid; elsewhere ``bulk_create``."""
    if not guests:
        return
    if connection.vendor != "postgresql":
        Guest.objects.bulk_create(guests)
        return
    names = ["uuid", "first_name", "last_name", "name_folded", "language", "country",
             "birth_date", "source", "source_detail", "created_by_id", "created_by_partner_id",
             "status", "created_at", "updated_at"]  # fmt: skip
    # By field name or column attribute name ("created_by" or "created_by_id").
    attnames = {n: f.attname for f in Guest._meta.concrete_fields for n in (f.name, f.attname)}
    for guest in guests:
        guest.created_at = guest.updated_at = now
    rows = [
        tuple(
            str(getattr(g, attname)) if n == "country" else getattr(g, attname)
            for n, attname in ((n, attnames[n]) for n in names)
        )
        for g in guests
    ]
    ids = dict(insert_rows_returning(Guest, names, rows, returning=["uuid", "id"]))
    for guest in guests:
        guest.pk = ids[guest.uuid]
        guest._state.adding = False
        guest._state.db = DEFAULT_DB_ALIAS


def _email_key(email: str) -> str:
    return f"email:{email}"[:300]


def _phone_key(phone: str) -> str:
    return f"phone:{phone}"


def _ref_key(ref_source: str, external_id: str) -> str:
    return f"ref:{ref_source}:{external_id}"[:300]


def _ref_source(source: str, source_detail: str) -> str:
    return (source_detail or str(source))[:64]


class _Sql:
    """The hot queries of resolution written once as SQL, for PostgreSQL.

    Resolving a known person is a couple of index lookups; building and compiling the
    equivalent ORM querysets (unions, annotations, array subqueries) cost several times more
    than running them. The SQL is built from the models' metadata, so renamed tables or
    columns follow."""

    @cached_property
    def guest_columns(self) -> str:
        fields = [f for f in Guest._meta.concrete_fields if f.attname in _GUEST_COLUMNS]
        # A concrete field always has a column.
        return ", ".join(f"g.{connection.ops.quote_name(str(f.column))}" for f in fields)

    @cached_property
    def _tables(self) -> dict[str, str]:
        q = connection.ops.quote_name
        return {
            "guest": q(Guest._meta.db_table),
            "email": q(GuestEmail._meta.db_table),
            "phone": q(GuestPhone._meta.db_table),
            "ref": q(GuestExternalRef._meta.db_table),
        }

    @cached_property
    def contacts(self) -> str:
        """The guest's emails and phones as two arrays, for a row aliased ``g``."""
        t = self._tables
        # Identifiers come from the models' metadata, quoted; every value is a parameter.
        return (
            f"ARRAY(SELECT e.email_normalized FROM {t['email']} e WHERE e.guest_id = g.id), "  # noqa: S608
            f"ARRAY(SELECT p.phone::text FROM {t['phone']} p WHERE p.guest_id = g.id)"
        )

    @cached_property
    def guests(self) -> str:
        """Guests by id, with their contacts: one parameter, an array of ids."""
        return (
            f"SELECT {self.guest_columns}, {self.contacts} FROM {self._tables['guest']} g "  # noqa: S608
            "WHERE g.id = ANY(%b::bigint[])"
        )

    @cached_property
    def exact(self) -> str:
        """Who holds these emails, phones and external ids (parameters: emails, phones, ids,
        source), each hit with its guest row and contacts: a known person in one round trip.
        A hit on a merged guest comes with that guest's row; the survivor is fetched next."""
        t = self._tables
        return (
            "WITH hits AS ("  # noqa: S608
            f"SELECT 'e' AS kind, email_normalized AS value, guest_id FROM {t['email']} "
            "WHERE email_normalized = ANY(%b::text[]) "
            f"UNION ALL SELECT 'p', phone::text, guest_id FROM {t['phone']} "
            "WHERE phone = ANY(%b::text[]) "
            f"UNION ALL SELECT 'r', external_id, guest_id FROM {t['ref']} "
            "WHERE external_id = ANY(%b::text[]) AND source = %b) "
            f"SELECT h.kind, h.value, h.guest_id, {self.guest_columns}, {self.contacts} "
            f"FROM hits h JOIN {t['guest']} g ON g.id = h.guest_id"
        )


_SQL = _Sql()


def _load_profiles(
    guest_ids: Iterable[int],
    *,
    preloaded: Sequence[tuple[Any, ...]] = (),
) -> dict[int, _Profile]:
    """Load guests with their emails and phones (one query on PostgreSQL), following merges to the
    survivor. Returns {requested id: profile of the active guest}; erased guests are left out.
    ``preloaded`` rows (guest columns then the two contact arrays, as ``_Sql.exact`` returns
    them on PostgreSQL) need no query of their own."""
    wanted = set(guest_ids)
    if not wanted:
        return {}
    columns = _guest_columns()
    at = {name: i for i, name in enumerate(columns)}
    redirect: dict[int, int] = {}
    guests: dict[int, tuple[Any, ...]] = {}
    emails: dict[int, set[str]] = defaultdict(set)
    phones: dict[int, set[str]] = defaultdict(set)
    # PostgreSQL: the contacts come with the guest rows, as arrays (one round trip, not two).
    inline = connection.vendor == "postgresql"
    done = {values[0] for values in preloaded}
    to_fetch = wanted - done
    batches: list[Iterable[tuple[Any, ...]]] = [preloaded]
    for _hop in range(10):  # merge chains are short; the bound guards against a cycle
        if to_fetch:
            if inline:
                with binary_cursor() as cursor:
                    cursor.execute(_SQL.guests, [sorted(to_fetch)])
                    batches.append(cursor.fetchall())
            else:
                batches.append(Guest.objects.filter(any_id("id", to_fetch)).values_list(*columns))
        if not batches:
            break
        to_fetch = set()
        for values in (values for batch in batches for values in batch):
            row = values[: len(columns)]
            gid, merged_into = row[0], row[at["merged_into_id"]]
            guests[gid] = row
            if inline:
                emails[gid].update(values[-2])
                phones[gid].update(values[-1])
            if row[at["status"]] == Guest.Status.MERGED and merged_into:
                redirect[gid] = merged_into
                if merged_into not in guests:
                    to_fetch.add(merged_into)
        batches = []

    def final(guest_id: int) -> int | None:
        for _hop in range(10):
            if guest_id not in redirect:
                break
            guest_id = redirect[guest_id]
        row = guests.get(guest_id)
        return guest_id if row is not None and row[at["status"]] == Guest.Status.ACTIVE else None

    finals = {gid: final(gid) for gid in wanted}
    active_ids = {gid for gid in finals.values() if gid is not None}
    if active_ids and not inline:
        rows = (
            GuestEmail.objects.filter(any_id("guest_id", active_ids))
            .annotate(kind=Value("e"), value=F("email_normalized"))
            .values_list("kind", "value", "guest_id")
            .order_by()
            .union(
                GuestPhone.objects.filter(any_id("guest_id", active_ids))
                .annotate(kind=Value("p"), value=Cast("phone", output_field=CharField()))
                .values_list("kind", "value", "guest_id")
                .order_by(),
                all=True,
            )
        )
        for kind, value, gid in rows:
            (emails if kind == "e" else phones)[gid].add(value)
    profiles = {
        gid: _Profile(
            row=guests[gid],
            first=fold(guests[gid][at["first_name"]]),
            last=fold(guests[gid][at["last_name"]]),
            birth_date=guests[gid][at["birth_date"]],
            country=str(guests[gid][at["country"]] or ""),
            emails=emails[gid],
            phones=phones[gid],
        )
        for gid in active_ids
    }
    return {gid: profiles[fid] for gid, fid in finals.items() if fid is not None}


@dataclass(frozen=True)
class _Review:
    """A guest to suggest as the person's possible duplicate, with the model's verdict."""

    profile: _Profile
    verdict: Verdict
    reasons: list[str]

    @property
    def probability(self) -> float:
        return round(self.verdict.score.match_probability, 6)


def _reasons(contact_reasons: Iterable[str], verdict: Verdict) -> list[str]:
    """The model's reason codes, heaviest first, after the exact contacts that found the guest
    (a contact held through a merged guest is one too)."""
    codes = sorted(set(contact_reasons))
    return codes + [code for code in verdict.reasons if code not in codes]


def _disagrees(verdict: Verdict) -> bool:
    return any(
        verdict.score.levels.get(name) in levels for name, levels in DISAGREEING_LEVELS.items()
    )


@dataclass
class _Context:
    source: str
    source_detail: str
    partner: Partner | None
    actor: User | None
    now: dt.datetime

    @property
    def ref_source(self) -> str:
        return _ref_source(self.source, self.source_detail)


class _Batch:
    """One batch of valid people, resolved in one transaction with set-based queries."""

    def __init__(self, people: list[tuple[int, CleanPerson]], ctx: _Context) -> None:
        self.people = people
        self.ctx = ctx
        self.by_email: dict[str, list[_Profile]] = defaultdict(list)
        self.by_phone: dict[str, list[_Profile]] = defaultdict(list)
        self.by_key: dict[str, list[_Profile]] = defaultdict(list)
        self.refs: dict[str, _Profile] = {}
        self.stale_refs: set[str] = set()
        self.new_profiles: list[_Profile] = []
        self.enriched: dict[int, _Profile] = {}
        self.pairs: dict[tuple[int, int], tuple[_Profile, _Profile, float, list[str]]] = {}
        self.results: dict[int, ResolutionResult] = {}
        self.new_refs: dict[str, _Profile] = {}
        self.loaded: dict[int, _Profile] = {}
        # (person, guest profile, its revision) -> the model's verdict: a person is weighed
        # against a guest several times (lock planning, then the decision).
        self.verdicts: dict[tuple[int, int, int], Verdict] = {}

    # -- the model -----------------------------------------------------------------------

    @cached_property
    def model(self) -> CurrentModel:
        """The active linkage model, read once per batch (and cached per process: no query
        while ``linkage_model_cached`` is warm)."""
        return linkage_model_cached()

    @cached_property
    def scorer(self) -> Scorer:
        return self.model.scorer()

    @property
    def detected_by(self) -> str:
        return f"{DETECTED_BY}/{self.model.label}"

    def _verdict(self, person: CleanPerson, profile: _Profile) -> Verdict:
        """The model's verdict on the person and this guest. The contacts they share come
        first on both sides (the model compares a few contact points per side), a contact the
        guest holds through a merged guest or a phone kept as typed included."""
        cache_key = (id(person), profile.key, profile.revision)
        verdict = self.verdicts.get(cache_key)
        if verdict is not None:
            return verdict
        emails = [
            e for e in person.emails if e in profile.emails or profile in self.by_email.get(e, ())
        ]
        phones = [
            p for p in person.phones if p in profile.phones or profile in self.by_phone.get(p, ())
        ]
        typed = [
            d
            for d in person.phones_as_typed
            if d in profile.typed or profile in self.by_key.get(TYPED_PHONE_PREFIX + d, ())
        ]
        first, last = profile.names
        candidate = Side(
            first_name=first,
            last_name=last,
            emails=(*emails, *sorted(profile.emails - set(emails))),
            phones=(
                *phones,
                *typed,
                *sorted(profile.phones - set(phones)),
                *sorted(profile.typed - set(typed)),
            ),
            country=profile.country,
            birth_date=profile.birth_date,
        )
        incoming = Side(
            first_name=person.first_name,
            last_name=person.last_name,
            emails=(*emails, *(e for e in person.emails if e not in emails)),
            phones=(
                *phones,
                *typed,
                *(p for p in person.phones if p not in phones),
                *(d for d in person.phones_as_typed if d not in typed),
            ),
            country=person.country,
            birth_date=person.birth_date,
            language=person.language,
        )
        verdict = verdict_for(
            incoming, candidate, scorer=self.scorer, thresholds=self.model.thresholds
        )
        self.verdicts[cache_key] = verdict
        return verdict

    # -- lookups -------------------------------------------------------------------------

    def _index(self, profile: _Profile) -> None:
        for email in profile.emails:
            if profile not in self.by_email[email]:
                self.by_email[email].append(profile)
        for phone in profile.phones:
            if profile not in self.by_phone[phone]:
                self.by_phone[phone].append(profile)

    def _lock_keys(self, keys: set[str]) -> None:
        if not keys:
            return
        ordered = sorted(keys)
        # Inserting in sorted order and locking in sorted order: no deadlock between batches.
        insert_rows(ResolutionKey, ["key", "created_at"], [(k, self.ctx.now) for k in ordered])
        list(
            ResolutionKey.objects.select_for_update()
            .filter(any_text("key", ordered))
            .order_by("key")
            .values_list("id", flat=True)
        )

    def _fetch_exact(self, people: list[CleanPerson]) -> None:
        external_ids = {p.external_id for p in people if p.external_id}
        emails = {e for p in people for e in p.emails}
        phones = {ph for p in people for ph in p.phones}
        if connection.vendor == "postgresql":
            self._fetch_exact_pg(emails, phones, external_ids)
            return
        # One round trip for the three exact keys: external ids, emails, phones.
        parts: list[QuerySet[Any, Any]] = []
        if emails:
            parts.append(
                GuestEmail.objects.filter(any_text("email_normalized", emails))
                .annotate(kind=Value("e"), value=F("email_normalized"))
                .values_list("kind", "value", "guest_id")
                .order_by()
            )
        if phones:
            parts.append(
                # Values are already E.164: no per-value re-parsing by the field (slow in bulk).
                GuestPhone.objects.filter(any_text("phone", phones))
                .annotate(kind=Value("p"), value=Cast("phone", output_field=CharField()))
                .values_list("kind", "value", "guest_id")
                .order_by()
            )
        if external_ids:
            parts.append(
                GuestExternalRef.objects.filter(
                    any_text("external_id", external_ids), source=self.ctx.ref_source
                )
                .annotate(kind=Value("r"), value=F("external_id"))
                .values_list("kind", "value", "guest_id")
                .order_by()
            )
        rows: list[tuple[str, str, int]] = []
        if parts:
            rows = list(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])
        ref_rows = [(value, gid) for kind, value, gid in rows if kind == "r"]
        email_rows = [(value, gid) for kind, value, gid in rows if kind == "e"]
        phone_rows = [(value, gid) for kind, value, gid in rows if kind == "p"]
        ids = {gid for _k, gid in ref_rows} | {gid for _k, gid in email_rows}
        ids |= {gid for _k, gid in phone_rows}
        self._index_exact(ref_rows, email_rows, phone_rows, _load_profiles(ids))

    def _fetch_exact_pg(self, emails: set[str], phones: set[str], external_ids: set[str]) -> None:
        """``_fetch_exact`` in one statement: the hits come with their guests and contacts."""
        if not (emails or phones or external_ids):
            self._index_exact([], [], [], {})
            return
        with binary_cursor() as cursor:
            cursor.execute(
                _SQL.exact,
                [sorted(emails), sorted(phones), sorted(external_ids), self.ctx.ref_source],
            )
            rows = cursor.fetchall()
        hits: dict[str, list[tuple[str, int]]] = {"r": [], "e": [], "p": []}
        guest_rows: dict[int, tuple[Any, ...]] = {}
        for kind, value, gid, *guest_row in rows:
            hits[kind].append((value, gid))
            guest_rows[gid] = tuple(guest_row)
        profiles = _load_profiles(guest_rows, preloaded=list(guest_rows.values()))
        self._index_exact(hits["r"], hits["e"], hits["p"], profiles)

    def _index_exact(
        self,
        ref_rows: list[tuple[str, int]],
        email_rows: list[tuple[str, int]],
        phone_rows: list[tuple[str, int]],
        loaded: dict[int, _Profile],
    ) -> None:
        self.verdicts.clear()  # what the guests share with the people may have changed
        profiles = self._absorb(loaded)
        for external_id, gid in ref_rows:
            if gid in profiles:
                self.refs[external_id] = profiles[gid]
            else:
                self.stale_refs.add(external_id)  # its guest was erased
        for profile in self.loaded.values():
            self._index(profile)
        # A merged guest's contacts lead to its survivor even if they were not moved to it.
        for email, gid in email_rows:
            hit = profiles.get(gid)
            if hit is not None and hit not in self.by_email[email]:
                self.by_email[email].append(hit)
        for phone, gid in phone_rows:
            hit = profiles.get(gid)
            if hit is not None and hit not in self.by_phone[phone]:
                self.by_phone[phone].append(hit)

    def _absorb(self, profiles: dict[int, _Profile]) -> dict[int, _Profile]:
        """Keep one profile object per guest: {requested id: the canonical profile}."""
        return {gid: self.loaded.setdefault(p.guest_id, p) for gid, p in profiles.items()}

    def _fetch_candidates(self, people: list[CleanPerson]) -> None:
        wanted: set[str] = set()
        for person in people:
            wanted |= person.match_keys
        if not wanted:
            return
        self.verdicts.clear()  # phones kept as typed are exact contacts through their keys
        query = MatchKey.objects.filter(any_text("key", wanted)).values_list("key", "guest_id")
        tails = {k for k in wanted if k.startswith("p:")}
        if tails:
            # In the same statement, the phones kept as typed ("pt:" keys) of the guests whose
            # phone ends like the person's: the model compares their last digits.
            typed_keys = MatchKey.objects.filter(
                key__startswith=TYPED_PHONE_PREFIX,
                guest_id__in=MatchKey.objects.filter(any_text("key", tails)).values("guest_id"),
            ).values_list("key", "guest_id")
            query = query.order_by().union(typed_keys.order_by(), all=True)
        by_key: dict[str, list[int]] = defaultdict(list)
        typed_of: dict[int, set[str]] = defaultdict(set)
        for key, gid in sorted(set(query)):
            if key in wanted:
                by_key[key].append(gid)
            if key.startswith(TYPED_PHONE_PREFIX):
                typed_of[gid].add(key.removeprefix(TYPED_PHONE_PREFIX))
        by_key = {
            k: v
            for k, v in by_key.items()
            if len(v) <= (MAX_NAME_BLOCK_SIZE if k.startswith("n:") else MAX_BLOCK_SIZE)
        }
        missing = {gid for gids in by_key.values() for gid in gids} - set(self.loaded)
        # With their contacts: the model weighs a different phone or address as much as a
        # shared one (no extra query on PostgreSQL, one elsewhere).
        profiles = self._absorb(_load_profiles(missing))
        for key, gids in by_key.items():
            seen: set[int] = set()
            for gid in gids:
                profile = self.loaded.get(gid) or profiles.get(gid)
                if profile is not None and profile.key not in seen:
                    seen.add(profile.key)
                    self.by_key[key].append(profile)
        for gid, digits in typed_of.items():
            profile = self.loaded.get(gid) or profiles.get(gid)
            if profile is not None:
                profile.typed |= digits

    # -- decisions -----------------------------------------------------------------------

    def _exact(self, person: CleanPerson) -> dict[int, tuple[_Profile, list[str]]]:
        hits: dict[int, tuple[_Profile, list[str]]] = {}
        for email in person.emails:
            for profile in self.by_email.get(email, ()):
                hits.setdefault(profile.key, (profile, []))[1].append("email")
        for phone in person.phones:
            for profile in self.by_phone.get(phone, ()):
                hits.setdefault(profile.key, (profile, []))[1].append("phone")
        # A phone kept as typed is an exact contact too, by its digits (its "pt:" key, loaded
        # with the candidates).
        for digits in person.phones_as_typed:
            for profile in self.by_key.get(TYPED_PHONE_PREFIX + digits, ()):
                hits.setdefault(profile.key, (profile, []))[1].append("phone")
        return hits

    def _best_compatible(
        self, person: CleanPerson
    ) -> tuple[_Profile | None, Verdict | None, list[str], dict[int, _Review]]:
        """The exact-contact guest to attach to, if one is unambiguous, with the model's verdict
        and the reasons; also returns the exact hits to review (see the module docstring)."""
        matchable: list[tuple[tuple[bool, int, int, float, int], _Profile, Verdict, list[str]]]
        matchable = []
        review: dict[int, _Review] = {}
        for key, (profile, contact_reasons) in self._exact(person).items():
            verdict = self._verdict(person, profile)
            constraint = verdict.score.constraint
            if constraint in NEVER:
                continue  # a family rule (household, twins): never merged nor suggested
            ok, strength, _name_reasons = _identity_check(person, profile)
            reasons = _reasons(contact_reasons, verdict)
            auto = verdict.decision == "auto"
            if ok and constraint is None and (auto or not _disagrees(verdict)):
                order = (auto, strength, len(set(contact_reasons)), verdict.score.match_weight,
                         -profile.guest_id)  # fmt: skip
                matchable.append((order, profile, verdict, reasons))
            else:
                # A shared email or phone that the model does not match is always a person's
                # call, whatever its weight: two guests behind one address with nothing in the
                # queue would be a duplicate nobody is told about.
                review[key] = _Review(profile, verdict, reasons)
        if not matchable:
            return None, None, [], review
        matchable.sort(key=lambda m: m[0], reverse=True)
        _order, best, verdict, reasons = matchable[0]
        auto, strength = _order[0], _order[1]
        if len(matchable) > 1 and not auto and strength == 0:
            # Nothing but a shared contact, and several people behind it (a family address).
            for _o, profile, other_verdict, other_reasons in matchable:
                review[profile.key] = _Review(profile, other_verdict, other_reasons)
            return None, None, [], review
        return best, verdict, reasons, review

    def _fuzzy(self, person: CleanPerson, exclude: set[int]) -> list[_Review]:
        """The guests sharing a blocking key with the person that the model scores at least at
        its review threshold (no family rule against them), the most probable first."""
        seen: dict[int, _Profile] = {}
        for key in person.match_keys:
            for profile in self.by_key.get(key, ()):
                if profile.key not in exclude:
                    seen.setdefault(profile.key, profile)
        scored = []
        for profile in seen.values():
            verdict = self._verdict(person, profile)
            if verdict.decision != "none":
                scored.append(_Review(profile, verdict, _reasons([], verdict)))
        scored.sort(key=lambda r: (-r.verdict.score.match_weight, r.profile.guest_id))
        return scored

    def _enrich(self, profile: _Profile, person: CleanPerson) -> None:
        guest = profile.guest
        for attr in ("first_name", "last_name", "country", "language", "birth_date"):
            value = getattr(person, attr)
            if value and not getattr(guest, attr):
                setattr(guest, attr, value)
                profile.changed_fields.add(attr)
        if {"first_name", "last_name"} & profile.changed_fields:
            profile.first, profile.last = fold(guest.first_name), fold(guest.last_name)
            guest.name_folded = " ".join(p for p in (profile.first, profile.last) if p)
            profile.changed_fields.add("name_folded")
        if "birth_date" in profile.changed_fields:
            profile.birth_date = guest.birth_date
        if "country" in profile.changed_fields:
            profile.country = str(guest.country)
        for email in person.emails:
            if email not in profile.emails:
                profile.emails.add(email)
                profile.new_emails.append(email)
        for phone in person.phones:
            if phone not in profile.phones:
                profile.phones.add(phone)
                profile.new_phones.append(phone)
        # Pruned of the ones the guest already has by _typed_known, after the decisions.
        profile.new_typed.extend(d for d in person.phones_as_typed if d not in profile.new_typed)
        profile.typed.update(person.phones_as_typed)
        profile.note(person)
        profile.revision += 1
        if not profile.is_new and (
            profile.changed_fields or profile.new_emails or profile.new_phones or profile.new_typed
        ):
            self.enriched[profile.key] = profile
        self._index(profile)

    def _create(self, person: CleanPerson) -> _Profile:
        ctx = self.ctx
        actor = ctx.actor if ctx.actor is not None and ctx.actor.is_authenticated else None
        guest = Guest(
            first_name=person.first_name,
            last_name=person.last_name,
            name_folded=person.name_folded,
            language=person.language,
            country=person.country,
            birth_date=person.birth_date,
            source=ctx.source,
            source_detail=ctx.source_detail[:200],
            created_by=actor,
            created_by_partner=ctx.partner,
        )
        profile = _Profile(
            guest_obj=guest,
            first=person.first_folded,
            last=person.last_folded,
            birth_date=person.birth_date,
            country=person.country,
            emails=set(person.emails),
            phones=set(person.phones),
            is_new=True,
            new_emails=list(person.emails),
            new_phones=list(person.phones),
            new_typed=list(person.phones_as_typed),
            typed=set(person.phones_as_typed),
        )
        profile.note(person)
        self.new_profiles.append(profile)
        self._index(profile)
        for key in person.match_keys:
            self.by_key[key].append(profile)
        return profile

    def _decide(self, index: int, person: CleanPerson) -> None:
        target: _Profile | None = None
        verdict: Verdict | None = None
        reasons: list[str] = []
        if person.external_id:
            target = self.new_refs.get(person.external_id) or self.refs.get(person.external_id)
            reasons = ["external_id"]
        review: dict[int, _Review] = {}
        if target is None:
            target, verdict, reasons, review = self._best_compatible(person)
            if target is None:
                # Every exact hit was weighed already, the ones left out included.
                exclude = set(self._exact(person))
                for candidate in self._fuzzy(person, exclude=exclude):
                    review.setdefault(candidate.profile.key, candidate)
        if target is not None:
            self._enrich(target, person)
            result = ResolutionResult(Decision.MATCHED, guest=target.guest, reasons=reasons)
            if verdict is not None:
                result.model = self.model.label
                result.score = round(verdict.score.match_probability, 6)
                target.notes["model"] = self.model.label
            profile = target
        else:
            profile = self._create(person)
            ranked = sorted(
                review.values(),
                key=lambda r: (-r.verdict.score.match_weight, r.profile.guest_id),
            )[:MAX_REVIEW_CANDIDATES]
            for candidate in ranked:
                self.pairs[(profile.key, candidate.profile.key)] = (
                    profile, candidate.profile, candidate.probability, candidate.reasons
                )  # fmt: skip
            decision = Decision.REVIEW if ranked else Decision.CREATED
            result = ResolutionResult(decision, guest=profile.guest)
            result.reasons = sorted({r for c in ranked for r in c.reasons})
            result.review_with = [c.profile.key for c in ranked]  # ids after saving
            if ranked:
                result.model = self.model.label
                result.score = ranked[0].probability
                profile.notes["model"] = self.model.label
        if person.external_id and person.external_id not in self.refs:
            self.new_refs.setdefault(person.external_id, profile)
        self.results[index] = result

    # -- writes --------------------------------------------------------------------------

    def _write(self) -> None:
        ctx = self.ctx
        new_guests = [p.guest for p in self.new_profiles]
        _guests_insert(new_guests, now=ctx.now)
        by_key = {p.key: p for p in self.new_profiles} | {p.key: p for p in self.loaded.values()}
        for result in self.results.values():
            result.review_with = [by_key[k].guest_id for k in result.review_with]

        if self.enriched:
            fields = sorted({f for p in self.enriched.values() for f in p.changed_fields})
            changed = [p.guest for p in self.enriched.values() if p.changed_fields]
            for guest in changed:
                guest.updated_at = ctx.now
            if changed and fields:
                Guest.objects.bulk_update(changed, [*fields, "updated_at"])

        now = ctx.now
        emails: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        keys: list[tuple[Any, ...]] = []
        touched = [*self.new_profiles, *self.enriched.values()]
        for profile in touched:
            gid = profile.guest_id
            has_primary_email = bool(profile.emails - set(profile.new_emails))
            for email in profile.new_emails:
                emails.append((gid, email, email, not has_primary_email, now))
                has_primary_email = True
            has_primary_phone = bool(profile.phones - set(profile.new_phones))
            for phone in profile.new_phones:
                phones.append((gid, phone, not has_primary_phone, now))
                has_primary_phone = True
            # Enriched guests may have gained keys; existing ones are skipped by the constraint.
            keys.extend(
                (gid, key[:128])
                for key in match_keys_for(
                    first_folded=profile.first,
                    last_folded=profile.last,
                    birth_date=profile.birth_date,
                    emails=profile.emails,
                    phones=profile.phones,
                    typed_phones=profile.new_typed,
                )
            )
        insert_rows(
            GuestEmail, ["guest_id", "email", "email_normalized", "is_primary", "created_at"],
            emails,
        )  # fmt: skip
        insert_rows(GuestPhone, ["guest_id", "phone", "is_primary", "created_at"], phones)
        # Sorted, like every insert two imports may race on: rows taken in one order.
        insert_rows(MatchKey, ["guest_id", "key"], sorted(keys))

        if self.stale_refs:
            GuestExternalRef.objects.filter(
                source=ctx.ref_source, external_id__in=self.stale_refs
            ).delete()
        insert_rows(
            GuestExternalRef,
            ["guest_id", "source", "external_id", "created_at"],
            [(p.guest_id, ctx.ref_source, ext, now) for ext, p in self.new_refs.items()],
        )
        pairs = []
        for a, b, score, why in self.pairs.values():
            low, high = sorted((a.guest_id, b.guest_id))
            pairs.append(
                (low, high, score, why, PossibleDuplicate.Status.OPEN, self.detected_by, now, now)
            )
        insert_rows(
            PossibleDuplicate,
            ["guest_a_id", "guest_b_id", "score", "reasons", "status", "detected_by",
             "created_at", "updated_at"],
            pairs,
        )  # fmt: skip

        actor = ctx.actor if ctx.actor is not None and ctx.actor.is_authenticated else None
        actor_id = actor.pk if actor is not None else None
        partner_id = ctx.partner.pk if ctx.partner is not None else None
        title = _profile_created_title(ctx.source, ctx.source_detail)[:200]
        data = {"source": str(ctx.source), "source_detail": ctx.source_detail}
        insert_rows(
            TimelineEvent,
            ["guest_id", "occurred_at", "kind", "partner_id", "visibility", "title", "body",
             "data", "created_at"],
            [
                (g.pk, now, TimelineEvent.Kind.PROFILE, partner_id, Visibility.SHARED, title, "",
                 data, now)
                for g in new_guests
            ],
            ignore_conflicts=False,
        )  # fmt: skip
        audits: list[tuple[Any, ...]] = [
            (p.guest.pk, AuditEntry.Action.CREATE, actor_id, partner_id,
             {**data, "via": DETECTED_BY, **p.audit_notes()}, now)
            for p in self.new_profiles
        ]  # fmt: skip
        audits += [
            (p.guest.pk, AuditEntry.Action.CHANGE, actor_id, partner_id,
             {**data, "via": DETECTED_BY, "fields": sorted(p.changed_fields),
              "emails_added": len(p.new_emails), "phones_added": len(p.new_phones),
              **p.audit_notes()},
             now)
            for p in self.enriched.values()
        ]  # fmt: skip
        insert_rows(
            AuditEntry,
            ["guest_id", "action", "actor_id", "acting_partner_id", "details", "created_at"],
            audits,
            ignore_conflicts=False,
        )

        if ctx.partner is not None:
            self._link_partner()

    def _link_partner(self) -> None:
        ctx = self.ctx
        reason = (
            PartnerGuestLink.Reason.IMPORTED
            if ctx.source == Guest.Source.IMPORT
            else PartnerGuestLink.Reason.CREATED
        )
        guests = {r.guest.pk: r.guest for r in self.results.values() if r.guest is not None}
        PartnerGuestLink.objects.bulk_create(
            [
                PartnerGuestLink(
                    partner=ctx.partner,
                    guest=g,
                    reason=reason,
                    first_seen_at=ctx.now,
                    last_seen_at=ctx.now,
                )
                for _pk, g in sorted(guests.items())
            ],
            update_conflicts=True,
            unique_fields=["partner", "guest"],
            update_fields=["last_seen_at"],
        )

    def _unknown_keys(self, person: CleanPerson) -> set[str]:
        keys = {_email_key(e) for e in person.emails if e not in self.by_email}
        keys |= {_phone_key(p) for p in person.phones if p not in self.by_phone}
        if person.external_id and person.external_id not in self.refs:
            keys.add(_ref_key(self.ctx.ref_source, person.external_id))
        return keys

    def _settled(self, person: CleanPerson) -> bool:
        """Resolved to an existing guest by a known external id or a compatible exact contact."""
        if person.external_id and person.external_id in self.refs:
            return True
        return self._best_compatible(person)[0] is not None

    def _keys_to_lock(self, person: CleanPerson) -> set[str]:
        """A settled person only needs the contacts and id it adds to its guest; anyone else
        may create a guest, so all of its keys serialise simultaneous resolutions."""
        if self._settled(person):
            return self._unknown_keys(person)
        keys = {_email_key(e) for e in person.emails} | {_phone_key(p) for p in person.phones}
        keys |= {_phone_key(TYPED_PHONE_PREFIX + d) for d in person.phones_as_typed}
        if person.external_id:
            keys.add(_ref_key(self.ctx.ref_source, person.external_id))
        return keys

    def _resolve_all(self) -> None:
        unresolved = [person for _index, person in self.people if not self._settled(person)]
        self._fetch_candidates(unresolved)
        for index, person in self.people:
            self._decide(index, person)
        self._typed_known()

    def _typed_known(self) -> None:
        """Drop the phones as typed that matched guests already have (their "pt:" keys), so
        sending a person again changes nothing. One query, only when there are some."""
        wanted = {
            (p.guest_id, TYPED_PHONE_PREFIX + d)
            for p in self.enriched.values()
            for d in p.new_typed
        }
        if not wanted:
            return
        known = set(
            MatchKey.objects.filter(
                any_id("guest_id", {gid for gid, _k in wanted}),
                any_text("key", {k for _g, k in wanted}),
            ).values_list("guest_id", "key")
        )
        for key, profile in list(self.enriched.items()):
            profile.new_typed = [
                d for d in profile.new_typed
                if (profile.guest_id, TYPED_PHONE_PREFIX + d) not in known
            ]  # fmt: skip
            if not profile.new_typed:
                profile.notes.pop("phones_as_typed", None)
            if not (profile.changed_fields or profile.new_emails or profile.new_phones
                    or profile.new_typed):  # fmt: skip
                del self.enriched[key]

    def _has_writes(self) -> bool:
        return bool(
            self.new_profiles
            or self.enriched
            or self.pairs
            or self.new_refs
            or self.stale_refs
            or self.ctx.partner is not None
        )

    def run(self) -> dict[int, ResolutionResult]:
        """Resolve and write the batch, once ``_fetch_exact`` has run for all its people.

        What may be created twice by simultaneous resolutions (a guest for a new contact, a
        contact added to a guest) is serialised on its ResolutionKey rows: inserted, locked in
        sorted order, then looked up again, since another transaction may have created it
        between our first read and our lock. Known people need no lock, and no transaction at
        all when nothing changes."""
        keys: set[str] = set()
        locked: list[CleanPerson] = []
        for _index, person in self.people:
            person_keys = self._keys_to_lock(person)
            if person_keys:
                keys |= person_keys
                locked.append(person)
        if keys:
            with transaction.atomic():
                self._lock_keys(keys)
                self._fetch_exact(locked)
                self._resolve_all()
                self._write()
            return self.results
        self._resolve_all()
        if self._has_writes():
            with transaction.atomic():
                self._write()
        return self.results


def _profile_created_title(source: str, source_detail: str) -> str:
    if source == Guest.Source.IMPORT and source_detail:
        return _("Profile created from import %(name)s") % {"name": source_detail}
    label = Guest.Source(source).label if source in Guest.Source.values else source
    if source_detail:
        return _("Profile created (%(source)s: %(detail)s)") % {
            "source": label,
            "detail": source_detail,
        }
    return _("Profile created (%(source)s)") % {"source": label}


# --- Public services ----------------------------------------------------------------------


def guest_resolve_many(
    people: Sequence[PersonData],
    *,
    source: Guest.Source | str,
    source_detail: str = "",
    partner: Partner | None = None,
    actor: User | None = None,
    batch_size: int = 1000,
    keep_partial: bool = False,
    validation_processes: int = 0,
) -> list[ResolutionResult]:
    """Resolve many people to guests, in batches of ``batch_size``: each batch is one
    transaction with a fixed number of queries. Results come back in the input order; rejected
    people (validation errors) write nothing.

    ``keep_partial`` (an import, a partner's system: nobody is there to correct a field) keeps
    a person without the fields that cannot be read, each named in ``result.warnings``; only a
    person with no name, no email and no phone left is rejected (see ``person_read``).

    With several batches, the next batches are validated while this thread waits on the
    database for the current one: by a second thread (validation is pure Python, phone
    numbers, countries, names, and the database driver releases the GIL while it waits), or,
    with ``validation_processes`` > 0, by that many forked processes, so validation runs on
    another core while this one writes (a bulk import: the thread shares one core's GIL). The
    forked processes only read people; they never touch the database. A batch that meets a
    deadlock outside a caller's transaction is retried (see ``_resolve_batch_retrying``)."""
    results: list[ResolutionResult | None] = [None] * len(people)
    batch_size = max(1, batch_size)
    starts = range(0, len(people), batch_size)
    warnings: dict[int, list[FieldWarning]] = {}

    def accept(readings: list[tuple[int, PersonReading]]) -> list[tuple[int, CleanPerson]]:
        valid: list[tuple[int, CleanPerson]] = []
        for index, reading in readings:
            if reading.errors:
                results[index] = ResolutionResult(Decision.REJECTED, errors=reading.errors)
            else:
                valid.append((index, reading.person))
                if reading.warnings:
                    warnings[index] = reading.warnings
        return valid

    def validate(start: int) -> list[tuple[int, CleanPerson]]:
        return accept(_read_slice(people, start, start + batch_size, keep_partial))

    def resolve(valid: list[tuple[int, CleanPerson]]) -> None:
        if not valid:
            return
        valid = _typed_phones_read(valid)
        typed = {index: person.phones_as_typed for index, person in valid}
        for index, result in _resolve_batch_retrying(
            valid, source=source, source_detail=source_detail, partner=partner, actor=actor
        ).items():
            # A phone as typed that a known phone read after all is no longer a warning.
            result.warnings = [
                w for w in warnings.pop(index, [])
                if w.code != FieldWarning.Code.PHONE_AS_TYPED or w.value in typed[index]
            ]  # fmt: skip
            results[index] = result

    language = translation.get_language()
    if len(starts) == 1:
        resolve(validate(0))
    elif validation_processes > 0:
        for readings in _read_in_processes(
            people, starts, batch_size, keep_partial, language, validation_processes
        ):
            resolve(accept(readings))
    else:

        def validate_in_thread(start: int) -> list[tuple[int, CleanPerson]]:
            with translation.override(language):  # error messages in the caller's language
                return validate(start)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="resolve-validate") as pool:
            for valid in pool.map(validate_in_thread, starts):
                resolve(valid)
    return [r for r in results if r is not None]


def _read_slice(
    people: Sequence[PersonData], start: int, stop: int, keep_partial: bool
) -> list[tuple[int, PersonReading]]:
    return [
        (index, person_read(people[index], keep_partial=keep_partial))
        for index in range(start, min(stop, len(people)))
    ]


# The people a forked validation process reads: set in the child by ``_forked_init``, whose
# arguments a fork hands over in memory (never pickled).
_FORKED_PEOPLE: Sequence[PersonData] = ()


def _forked_init(people: Sequence[PersonData]) -> None:
    global _FORKED_PEOPLE  # in the child process only
    _FORKED_PEOPLE = people


def _read_forked(
    start: int, batch_size: int, keep_partial: bool, language: str | None
) -> list[tuple[int, PersonReading]]:
    with translation.override(language):  # error messages in the caller's language
        return _read_slice(_FORKED_PEOPLE, start, start + batch_size, keep_partial)


def _read_in_processes(
    people: Sequence[PersonData],
    starts: range,
    batch_size: int,
    keep_partial: bool,
    language: str | None,
    processes: int,
) -> Iterator[list[tuple[int, PersonReading]]]:
    """The readings of each batch, in order, validated ahead by forked processes. Fork (not
    spawn) so a child needs neither Django set up again nor the people pickled to it; children
    only read and return readings, and end without closing the parent's database connection."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=processes, initializer=_forked_init, initargs=(people,)) as pool:
        read = partial(
            _read_forked, batch_size=batch_size, keep_partial=keep_partial, language=language
        )
        yield from pool.imap(read, starts)


# A batch that meets a deadlock (or a serialisation failure) is retried this many times.
DEADLOCK_RETRIES = 3
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _resolve_batch_retrying(
    people: list[tuple[int, CleanPerson]],
    *,
    source: Guest.Source | str,
    source_detail: str,
    partner: Partner | None,
    actor: User | None,
) -> dict[int, ResolutionResult]:
    """``_resolve_batch``, retried after a deadlock: keys are locked in sorted order, but two
    imports enriching the same guests may still meet on rows nobody locks first (links, blocking
    keys). The batch's own block is a savepoint inside a caller's transaction, so it is rolled
    back alone; never when the caller's transaction itself is marked for rollback."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return _resolve_batch(
                people, source=source, source_detail=source_detail, partner=partner, actor=actor
            )
        except OperationalError as exc:
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            if (
                sqlstate not in _RETRY_SQLSTATES
                or connection.needs_rollback
                or attempt == DEADLOCK_RETRIES
            ):
                raise
            time.sleep(0.05 * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


def _typed_phones_read(people: list[tuple[int, CleanPerson]]) -> list[tuple[int, CleanPerson]]:
    """Read the phones kept as typed with the next evidence: the phones of the guests the
    person may be (same email, or a phone ending with the same digits). A number that one of
    them reads the same way becomes that phone (E.164); the others stay as typed. Two queries,
    only for a batch with phones as typed."""
    typed = [(i, p) for i, p in people if p.phones_as_typed]
    if not typed:
        return people
    emails = {e for _i, p in typed for e in p.emails}
    fragments = {tail for _i, p in typed for d in p.phones_as_typed if (tail := _phone_tail_key(d))}
    parts: list[QuerySet[Any, Any]] = []
    if emails:
        parts.append(
            GuestEmail.objects.filter(any_text("email_normalized", emails))
            .annotate(value=F("email_normalized"))
            .values_list("value", "guest_id")
            .order_by()
        )
    if fragments:
        parts.append(
            MatchKey.objects.filter(any_text("key", fragments))
            .annotate(value=F("key"))
            .values_list("value", "guest_id")
            .order_by()
        )
    if not parts:
        return people
    hits: dict[str, set[int]] = defaultdict(set)
    for value, gid in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
        hits[value].add(gid)
    ids = {gid for gids in hits.values() for gid in gids}
    phones_of: dict[int, set[str]] = defaultdict(set)
    for gid, phone in (
        GuestPhone.objects.filter(any_id("guest_id", ids))
        .annotate(text=Cast("phone", output_field=CharField()))
        .values_list("guest_id", "text")
    ):
        phones_of[gid].add(phone)
    changed: dict[int, CleanPerson] = {}
    for index, person in typed:
        gids = {g for e in person.emails for g in hits.get(e, ())}
        tails = [t for d in person.phones_as_typed if (t := _phone_tail_key(d))]
        gids |= {g for tail in tails for g in hits.get(tail, ())}
        known = sorted({ph for g in gids for ph in phones_of.get(g, ())})
        if not known:
            continue
        phones, still, read_by = list(person.phones), [], list(person.phones_read_by)
        for digits in person.phones_as_typed:
            reading = phone_read(digits, known_phones=known)
            if reading is None or reading.as_typed:
                still.append(digits)
            elif reading.value not in phones:
                phones.append(reading.value)
                read_by.append((reading.value, str(reading.evidence)))
        if len(still) < len(person.phones_as_typed):
            changed[index] = replace(
                person,
                phones=tuple(phones),
                phones_as_typed=tuple(still),
                phones_read_by=tuple(read_by),
            )
    return [(i, changed.get(i, p)) for i, p in people]


def _resolve_batch(
    people: list[tuple[int, CleanPerson]],
    *,
    source: Guest.Source | str,
    source_detail: str,
    partner: Partner | None,
    actor: User | None,
) -> dict[int, ResolutionResult]:
    ctx = _Context(
        source=str(source),
        source_detail=source_detail,
        partner=partner,
        actor=actor,
        now=timezone.now(),
    )
    batch = _Batch(people, ctx)
    # The first exact lookup needs no transaction: what it finds is either settled (a known
    # contact or id) or looked up again under lock. A batch of known people then resolves
    # with three queries and no BEGIN/COMMIT round trips when nothing changes.
    batch._fetch_exact([person for _index, person in people])
    return batch.run()


def guest_resolve(
    person: PersonData,
    *,
    source: Guest.Source | str,
    source_detail: str = "",
    partner: Partner | None = None,
    actor: User | None = None,
    keep_partial: bool = False,
) -> ResolutionResult:
    """Resolve one person: the same code path as ``guest_resolve_many``."""
    return guest_resolve_many(
        [person],
        source=source,
        source_detail=source_detail,
        partner=partner,
        actor=actor,
        keep_partial=keep_partial,
    )[0]


@transaction.atomic
def match_keys_refresh(guest_ids: Iterable[int]) -> None:
    """Recompute the blocking keys of these guests from their current names, birth date, emails
    and phones (after a merge, an edit, an erasure). Merged and erased guests lose theirs."""
    ids = sorted(set(guest_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        # A phone kept as typed lives only in its "pt:" key: kept for the active guests.
        typed: dict[int, list[str]] = defaultdict(list)
        for gid, key in MatchKey.objects.filter(
            guest_id__in=chunk, key__startswith=TYPED_PHONE_PREFIX
        ).values_list("guest_id", "key"):
            typed[gid].append(key.removeprefix(TYPED_PHONE_PREFIX))
        MatchKey.objects.filter(guest_id__in=chunk).delete()
        active = Guest.objects.filter(id__in=chunk, status=Guest.Status.ACTIVE).values_list(
            "id", flat=True
        )
        profiles = _load_profiles(active)
        MatchKey.objects.bulk_create(
            [
                MatchKey(guest_id=gid, key=key[:128])
                for gid, p in profiles.items()
                for key in match_keys_for(
                    first_folded=p.first,
                    last_folded=p.last,
                    birth_date=p.birth_date,
                    emails=p.emails,
                    phones=p.phones,
                    typed_phones=typed.get(gid, ()),
                )
            ],
            ignore_conflicts=True,
        )


def guest_candidates(person_or_guest: PersonData | Guest, *, limit: int = 10) -> list[Candidate]:
    """Likely duplicates of a person about to be saved (or of an existing guest), best first by
    the model's match probability: every guest holding one of its emails or phones (a person at
    a desk should see who holds an address, a family member too), then the guests the resolver
    would suggest for review. Invalid fields of a person are ignored here: validation reports
    them elsewhere."""
    exclude_id: int | None = None
    if isinstance(person_or_guest, Guest):
        guest = person_or_guest
        exclude_id = guest.pk
        profile = _load_profiles([guest.pk]).get(guest.pk) if guest.pk else None
        person = CleanPerson(
            first_name=guest.first_name,
            last_name=guest.last_name,
            first_folded=fold(guest.first_name),
            last_folded=fold(guest.last_name),
            emails=tuple(sorted(profile.emails)) if profile else (),
            phones=tuple(sorted(profile.phones)) if profile else (),
            country=str(guest.country or ""),
            birth_date=guest.birth_date,
        )
    else:
        person = _lenient_clean(person_or_guest)
    batch = _Batch([(0, person)], _Context("", "", None, None, timezone.now()))
    batch._fetch_exact([person])
    batch._fetch_candidates([person])
    found: dict[int, Candidate] = {}
    for profile, contact_reasons in batch._exact(person).values():
        gid = profile.guest_id
        if gid == exclude_id:
            continue
        verdict = batch._verdict(person, profile)
        found[gid] = Candidate(
            gid, round(verdict.score.match_probability, 6), _reasons(contact_reasons, verdict)
        )
    excluded = {p.key for p in batch.loaded.values() if p.guest_id == exclude_id}
    for candidate in batch._fuzzy(person, exclude=excluded):
        gid = candidate.profile.guest_id
        if gid not in found and gid != exclude_id:
            found[gid] = Candidate(gid, candidate.probability, candidate.reasons)
    return sorted(found.values(), key=lambda c: (-c.score, c.guest_id))[:limit]


def _lenient_clean(person: PersonData) -> CleanPerson:
    """Keep what is valid: the person without the fields that cannot be read."""
    return person_read(person, keep_partial=True).person
