"""The columns the linkage model compares, computed from a person the same way everywhere.

``features_for`` turns a person (raw strings, as a desk, a form or a partner file wrote them)
into flat, comparable columns. The whole-base job feeds these rows to DuckDB (or Spark); the
real-time scorer computes them for the incoming person and for each candidate guest. One
function for both, so an import, a booking and the clean-up compare the same values.

Nothing here raises on bad input: a field that cannot be read becomes ``None`` and the model's
null level treats it as unknown.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from rapidfuzz.distance import OSA

from destination.normalize import phone_read

# Columns in the order of the table the model reads.
COLUMNS = (
    "unique_id",
    "first_exact",
    "first_canon",
    "first_nick",
    "last_canon",
    "birth_date",
    "birth_swapped",
    "birth_year",
    "email",
    "email_local",
    "email_domain",
    "email_named",
    "phone",
    "phone_last8",
    "country",
    "language",
)

# Two spellings of one sound or letter across languages, collapsed after accents are dropped:
# Müller / Muller / Mueller, Søren / Soeren / Soren, Weiß / Weiss, Aase / Åse.
_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"), ("aa", "a"), ("ss", "s"))
_SPECIAL = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
_NON_ALNUM = re.compile(r"[^a-z0-9]")

# Known nicknames and short forms, each with the name it stands for (folded, see name_canon).
# A pair of first names in one group compares as "known nickname".
NICKNAME_GROUPS: dict[str, tuple[str, ...]] = {
    "william": ("bill", "billy", "will", "willy", "liam"),
    "charles": ("charlie", "chuck"),
    "thomas": ("tom", "tommy"),
    "robert": ("bob", "bobby", "rob", "robbie"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "richard": ("rick", "dick", "richie"),
    "daniel": ("dan", "danny"),
    "samuel": ("sam", "sammy"),
    "benjamin": ("ben", "benny"),
    "alexander": ("alex", "sasha", "sandy"),
    "alejandro": ("alex", "ale"),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "lisa"),
    "elisabeth": ("lisa", "liesel", "sissi", "elise"),
    "victoria": ("vicky", "tori"),
    "jennifer": ("jenny", "jen"),
    "rebecca": ("becky", "becca"),
    "catherine": ("kate", "cathy", "katie"),
    "katharina": ("kathi", "katja", "kati"),
    "margaret": ("maggie", "meg", "peggy"),
    "maximilian": ("max", "maxi"),
    "maxime": ("max",),
    "matthias": ("matze", "matti"),
    "michael": ("michi", "mike", "micha"),
    "andreas": ("andi",),
    "christoph": ("chris", "christophe"),
    "johannes": ("hans", "johann", "jo"),
    "alessandro": ("sandro", "ale"),
    "alessandra": ("sandra",),
    "francesco": ("franco", "cesco", "checco"),
    "giuseppe": ("beppe", "peppe", "pino"),
    "isabella": ("bella", "isa"),
    "jose": ("pepe",),
    "francisco": ("paco", "pancho", "curro"),
    "dolores": ("lola",),
    "concepcion": ("concha",),
    "ignacio": ("nacho",),
    "manuel": ("manolo",),
    "nicolas": ("nico",),
    "frederic": ("fred",),
    "sebastien": ("seb",),
    "guillaume": ("guigui",),
    "malgorzata": ("gosia",),
    "katarzyna": ("kasia",),
    "krzysztof": ("krzysiek",),
    "wojciech": ("wojtek",),
    "willem": ("wim",),
    "hendrik": ("henk",),
    "frederik": ("frede",),
    "margriet": ("griet",),
    "verena": ("vreni",),
}


def _strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL))
    return "".join(c for c in text if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def name_exact(raw: str) -> str | None:
    """Lower case, spaces collapsed, accents kept: "Léa " == "LÉA"."""
    value = " ".join((raw or "").lower().split())
    return value or None


@lru_cache(maxsize=65536)
def name_canon(raw: str) -> str | None:
    """Accents dropped, transliterations collapsed, only letters and digits:
    "Müller" == "Mueller" == "MULLER", "de Jong" == "Dejong"."""
    value = _NON_ALNUM.sub("", _strip_accents(raw or ""))
    for digraph, single in _DIGRAPHS:
        value = value.replace(digraph, single)
    return value or None


def _nick_index() -> dict[str, str]:
    """Every name and nickname -> one key for its group. Groups sharing a nickname are one
    group (Max is Maxime's and Maximilian's, Lisa Elizabeth's and Elisabeth's), keyed by the
    group's first name in the table ("bill" and "william" -> "william")."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    mains = [name_canon(name) or name for name in NICKNAME_GROUPS]
    for main, nicks in zip(mains, NICKNAME_GROUPS.values(), strict=True):
        for nick in nicks:
            a, b = find(main), find(name_canon(nick) or nick)
            if a != b:
                parent[b] = a
    key_of_root: dict[str, str] = {}
    for main in mains:  # the table's order: the first main name of a group is its key
        key_of_root.setdefault(find(main), main)
    return {name: key_of_root[find(name)] for name in list(parent)}


_NICK = _nick_index()


def name_nick(canon: str | None) -> str | None:
    """The key of a known name's group of nicknames ("bill" -> "william"), else the name
    itself."""
    if canon is None:
        return None
    # A compound first name ("Maria Jose") is looked up by its first part too.
    return _NICK.get(canon, canon)


def _birth(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def email_parts(raw: str) -> tuple[str | None, str | None, str | None]:
    value = (raw or "").strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain:
        return None, None, None
    return value, local, domain


NAMED_TYPO_MIN_LENGTH = 8


def local_part_is_named(local: str | None, first: str | None, last: str | None) -> int | None:
    """1 when an email's local part is only the person's names (jean.martin, jmartin,
    martin.jean2): two namesakes often have one, so it says less than a local part of its own
    (skibum77), 0 otherwise, None without an email."""
    if local is None:
        return None
    letters = "".join(c for c in local if c.isalpha())
    first, last = first or "", last or ""
    if not letters or not (first or last):
        return 0
    # Either name may be the one written in full (a record with the names swapped reads
    # "wout.p" for Wout Peeters as made of its first name's initial).
    made = {first + last, last + first, first[:1] + last, first + last[:1], last[:1] + first,
            last + first[:1], first, last}  # fmt: skip
    canon = name_canon(letters) or ""
    forms = {name_canon(m) or "" for m in made if m}
    if canon in forms:
        return 1
    # A typo in the record's own name (Bernadette iGrard, bernadette.girard@...) does not make
    # the address its own: one edit away from a long enough form is still made of the names.
    return int(
        len(canon) >= NAMED_TYPO_MIN_LENGTH
        and any(OSA.distance(canon, f) <= 1 for f in forms if len(f) >= NAMED_TYPO_MIN_LENGTH)
    )


@lru_cache(maxsize=65536)
def phone_canon(raw: str, country: str = "", email: str = "", language: str = "") -> str | None:
    """The phone as ``destination.normalize.phone_read`` reads it (the one rule): E.164 when
    its own code, the country, the email's country domain or the language tells its country,
    else its digits as typed (matched by its last digits, never guessed); None when it is no
    phone number."""
    try:
        reading = phone_read(raw, country=country, email=email, language=language)
    except ValidationError:
        return None
    return reading.value if reading is not None else None


def features_for(
    *,
    unique_id: int,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    country: str = "",
    birth_date: Any = None,
    language: str = "",
) -> dict[str, Any]:
    first = name_canon(first_name)
    email_value, email_local, email_domain = email_parts(email)
    country_value = (country or "").strip().upper() or None
    language_value = (language or "").strip().lower().split("-")[0] or None
    phone_value = phone_canon(
        phone or "", country_value or "", email_value or "", (language or "").strip().lower()
    )
    birth = _birth(birth_date)
    return {
        "unique_id": unique_id,
        "first_exact": name_exact(first_name),
        "first_canon": first,
        "first_nick": name_nick(first),
        "last_canon": name_canon(last_name),
        "birth_date": birth.isoformat() if birth else None,
        "birth_swapped": (
            birth.replace(day=birth.month, month=birth.day).isoformat()
            if birth and birth.day <= 12 and birth.day != birth.month
            else None
        ),
        "birth_year": birth.year if birth else None,
        "email": email_value,
        "email_local": email_local,
        "email_domain": email_domain,
        "email_named": local_part_is_named(email_local, first, name_canon(last_name)),
        "phone": phone_value,
        "phone_last8": phone_value[-8:] if phone_value else None,
        "country": country_value,
        "language": language_value,
    }
