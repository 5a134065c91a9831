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

import phonenumbers

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

# Country calling regions by the email's country domain and by language, for a phone written in
# national format without a country.
_TLD_REGION = {"fr": "FR", "be": "BE", "de": "DE", "uk": "GB", "it": "IT", "es": "ES",
               "nl": "NL", "ch": "CH", "dk": "DK", "pl": "PL", "pt": "PT", "at": "AT",
               "se": "SE", "no": "NO", "lu": "LU", "ie": "IE", "cz": "CZ"}  # fmt: skip
_LANGUAGE_REGION = {"fr": "FR", "de": "DE", "en": "GB", "it": "IT", "es": "ES", "nl": "NL",
                    "da": "DK", "pl": "PL", "pt": "PT", "sv": "SE", "nb": "NO", "cs": "CZ"}  # fmt: skip


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
    index: dict[str, str] = {}
    for name, nicks in NICKNAME_GROUPS.items():
        key = name_canon(name) or name
        index.setdefault(key, key)
        for nick in nicks:
            index.setdefault(name_canon(nick) or nick, key)
    return index


_NICK = _nick_index()


def name_nick(canon: str | None) -> str | None:
    """The name a known nickname stands for ("bill" -> "william"), else the name itself."""
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
    return int(name_canon(letters) in {name_canon(m) for m in made if m})


def region_hint(*, country: str = "", email_domain: str | None = None, language: str = "") -> str:
    """The best guess of a phone's country: the person's country, else the email's country
    domain (.be, .co.uk...), else the language; "" when nothing says."""
    if country:
        return country.upper()
    if email_domain:
        tld = email_domain.rsplit(".", 1)[-1]
        if tld in _TLD_REGION:
            return _TLD_REGION[tld]
    return _LANGUAGE_REGION.get((language or "").split("-")[0].lower(), "")


@lru_cache(maxsize=65536)
def phone_canon(raw: str, region: str = "") -> str | None:
    """E.164 when the number can be read (international, or national with a region), else its
    digits as typed: a national number with no evidence of its country is kept for matching by
    its last digits, never guessed."""
    text = (raw or "").strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 6:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return digits


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
        phone or "",
        region_hint(country=country_value or "", email_domain=email_domain,
                    language=language_value or ""),
    )  # fmt: skip
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
