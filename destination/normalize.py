"""Normalisation of the values identity resolution matches on, and the validators of a guest's
fields (language, birth date, phone read after the country) that every form and service calls.

Every place that stores or looks up an email, a phone or a name goes through these functions, so
"Jean.Martin@Gmail.com " typed at a desk and "jean.martin@gmail.com" from a booking are one key.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NON_DIGIT_RE = re.compile(r"\D")
# Letters that NFKD does not decompose into a base letter plus an accent.
_SPECIAL_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
    }
)


# Names repeat a lot (a few thousand first and last names cover most guests): a bulk import
# folds each of them once.
@lru_cache(maxsize=65536)
def fold(text: str | None) -> str:
    """Lower-case, accent-free, punctuation-free words: "  Zoë O'Brien-Duval " -> "zoe o brien duval"."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL_LETTERS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", text).strip()


def fold_name(first_name: str | None, last_name: str | None) -> str:
    return " ".join(part for part in (fold(first_name), fold(last_name)) if part)


def normalize_email(raw: str | None) -> str:
    """Strip and lower-case an email address; raise ValidationError when it is not one."""
    value = (raw or "").strip().lower()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is not a valid email address."),
            code="invalid_email",
            params={"value": raw},
        ) from None
    return value


def normalize_phone(raw: str | None, region: str | None = None) -> str:
    """Return the E.164 form of a phone number typed in any format; raise ValidationError if it
    is not a possible number. ``region`` (ISO 3166 alpha-2, usually the guest's country) reads
    national numbers; the destination's default region is used when it is unknown (a form at
    the destination's desk). Resolution reads with ``phone_read`` and never guesses that way."""
    default = settings.PHONENUMBER_DEFAULT_REGION or "FR"
    reading = phone_read(raw, country=region or "", default_region=default)
    if reading is None:
        return ""
    if reading.as_typed:
        raise _invalid_phone(raw)
    return reading.value


# --- Reading a phone with the best evidence of its country ------------------------------------
# One rule, one place: resolution, the forms (through normalize_phone) and the linkage model's
# features (destination.linkage.features.phone_canon) all read a phone here.


class PhoneEvidence(StrEnum):
    """What told the country of a phone number, strongest first."""

    INTERNATIONAL = "international"  # written with its country code (+32..., 0032...)
    COUNTRY = "country"  # the person's (or row's) country
    KNOWN_PHONE = "known_phone"  # a phone the candidate guest already has, read the same way
    EMAIL_DOMAIN = "email_domain"  # the email's country domain (.be, .it, .co.uk...)
    LANGUAGE = "language"  # the region of the person's language (de-ch, da, pl...)
    DEFAULT = "default"  # the destination's own region: forms at its desk only
    AS_TYPED = "as_typed"  # nothing says: kept as typed, matched by its digits


@dataclass(frozen=True)
class PhoneReading:
    """A phone as read: E.164 when its country is known, else its digits as typed."""

    value: str
    evidence: PhoneEvidence

    @property
    def as_typed(self) -> bool:
        return self.evidence == PhoneEvidence.AS_TYPED


# Country domains and languages that point at one calling region.
EMAIL_DOMAIN_REGIONS = {
    "fr": "FR", "be": "BE", "de": "DE", "uk": "GB", "it": "IT", "es": "ES", "nl": "NL",
    "ch": "CH", "dk": "DK", "pl": "PL", "pt": "PT", "at": "AT", "se": "SE", "no": "NO",
    "lu": "LU", "ie": "IE", "cz": "CZ", "fi": "FI",
}  # fmt: skip
LANGUAGE_REGIONS = {
    "fr": "FR", "de": "DE", "en": "GB", "it": "IT", "es": "ES", "nl": "NL", "da": "DK",
    "pl": "PL", "pt": "PT", "sv": "SE", "nb": "NO", "cs": "CZ", "fi": "FI",
}  # fmt: skip
# What a phone number may be written with besides its digits.
_PHONE_TEXT_RE = re.compile(r"^\+?[\d\s().\-/]+$")
PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15


def region_for_email(email: str | None) -> str:
    """The calling region of an email's country domain ("x@y.co.uk" -> "GB"); "" for .com."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    if "." not in domain:
        return ""
    return EMAIL_DOMAIN_REGIONS.get(domain.rsplit(".", 1)[-1], "")


def region_for_language(language: str | None) -> str:
    """The region of a language tag ("de-ch" -> "CH") or of a language spoken mostly in one
    country ("da" -> "DK"); "" when it says nothing."""
    value = (language or "").strip().lower().replace("_", "-")
    base, _sep, region = value.partition("-")
    if len(region) == 2 and region.isalpha():
        return region.upper()
    return LANGUAGE_REGIONS.get(base, "")


def phone_digits(raw: str | None) -> str:
    return _NON_DIGIT_RE.sub("", raw or "")


def _invalid_phone(raw: str | None) -> ValidationError:
    return ValidationError(
        _("“%(value)s” is not a valid phone number."),
        code="invalid_phone",
        params={"value": raw},
    )


@lru_cache(maxsize=65536)
def _e164_in(text: str, region: str) -> str:
    """E.164 of ``text`` read in ``region`` (None: international only) when valid, else ""."""
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def _region_of(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def phone_read(
    raw: str | None,
    *,
    country: str = "",
    known_phones: Iterable[str] = (),
    email: str = "",
    language: str = "",
    default_region: str = "",
) -> PhoneReading | None:
    """Read a phone with the best evidence of its country, in this order: its own country code,
    the person's ``country``, the candidate guest's ``known_phones`` (E.164: the number read in
    a known phone's region is that phone), the ``email``'s country domain, the ``language``'s
    region, then ``default_region`` (forms only; resolution passes none). A national number
    that no evidence reads is kept as typed (its digits, evidence AS_TYPED): never guessed.

    None for blank; ValidationError (code "invalid_phone") for what is no phone number: letters,
    too few or too many digits, an international number that does not exist."""
    text = (raw or "").strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = phone_digits(text)
    if not _PHONE_TEXT_RE.match(text) or not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise _invalid_phone(raw)
    if text.startswith("+"):
        value = _e164_in(text, "")
        if not value:
            raise _invalid_phone(raw)
        return PhoneReading(value, PhoneEvidence.INTERNATIONAL)
    code = str(getattr(country, "code", country) or "").strip().upper()
    if code and (value := _e164_in(text, code)):
        return PhoneReading(value, PhoneEvidence.COUNTRY)
    known = [k for k in known_phones if k]
    for phone in known:
        region = _region_of(phone)
        if region and _e164_in(text, region) == phone:
            return PhoneReading(phone, PhoneEvidence.KNOWN_PHONE)
    regions = {_region_of(k) for k in known} - {""}
    if len(regions) == 1 and (value := _e164_in(text, regions.pop())):
        # Another number of the country the guest's phones are from.
        return PhoneReading(value, PhoneEvidence.KNOWN_PHONE)
    for region, evidence in (
        (region_for_email(email), PhoneEvidence.EMAIL_DOMAIN),
        (region_for_language(language), PhoneEvidence.LANGUAGE),
        # The destination's own region stands in only for a country nobody gave.
        ("" if code else (default_region or "").upper(), PhoneEvidence.DEFAULT),
    ):
        if region and (value := _e164_in(text, region)):
            return PhoneReading(value, evidence)
    return PhoneReading(digits, PhoneEvidence.AS_TYPED)


def mask_email(email: str) -> str:
    """ "jean.martin@gmail.com" -> "j•••n@gmail.com": enough to tell two people apart."""
    local, _sep, domain = email.partition("@")
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"


# A phone that no evidence could read is kept by its digits under this blocking-key prefix
# (``MatchKey``), for matching only: never stored as a ``GuestPhone``, shown as typed.
TYPED_PHONE_PREFIX = "pt:"


def mask_phone(e164: str) -> str:
    """ "+33612345678" -> "+33 ••• ••• 678"; a number kept as typed (digits, no country code)
    shows its last digits only: "612345678" -> "••• ••• 678"."""
    if len(e164) < 6:
        return "•••"
    if not e164.startswith("+"):
        return f"••• ••• {e164[-3:]}"
    return f"{e164[:3]} ••• ••• {e164[-3:]}"


# --- Validators shared by forms and services ------------------------------------------------
# One rule, one place: the guest form, the guest services and resolution all call these.

_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)


@lru_cache(maxsize=1024)
def validate_language(raw: str | None) -> str:
    """A language code ("fr", "de-ch", "pt_BR" -> "pt-br") whose language Django knows; "" for
    blank. Raise ValidationError (code "invalid_language") otherwise: "xx" is refused."""
    value = (raw or "").strip().lower().replace("_", "-")
    if not value:
        return ""
    if not _LANGUAGE_RE.match(value) or value.split("-")[0] not in LANG_INFO:
        raise ValidationError(
            _("“%(value)s” is not a known language code."),
            code="invalid_language",
            params={"value": raw},
        )
    return value


def validate_birth_date(value: dt.date | dt.datetime | str | None) -> dt.date | None:
    """A birth date (a date, a datetime or an ISO string), neither in the future nor before
    1900; None for blank. Raise ValidationError (codes "invalid", "future", "too_old")."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                _("“%(value)s” is not a valid date (use YYYY-MM-DD)."),
                code="invalid",
                params={"value": value},
            ) from None
    if not isinstance(value, dt.date):
        raise ValidationError(_("Enter a valid date."), code="invalid")
    if value > timezone.localdate():
        raise ValidationError(_("A birth date cannot be in the future."), code="future")
    if value < OLDEST_BIRTH_DATE:
        raise ValidationError(_("This birth date is too old."), code="too_old")
    return value


def normalize_phone_for_country(raw: str | None, country: object = None) -> str:
    """Read a phone number after the country: a national number ("06 12 34 56 78") is read in
    ``country`` (an ISO code or a django-countries ``Country``; blank: the destination's default
    region). E.164 out, ValidationError (code "invalid_phone") for what is not a number."""
    code = str(getattr(country, "code", country) or "").strip().upper()
    return normalize_phone(raw, code or None)
