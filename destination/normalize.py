"""Normalisation of the values identity resolution matches on, and the validators of a guest's
fields (language, birth date, phone read after the country) that every form and service calls.

Every place that stores or looks up an email, a phone or a name goes through these functions, so
"Jean.Martin@Gmail.com " typed at a desk and "jean.martin@gmail.com" from a booking are one key.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
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
    national numbers; the destination's default region is used when it is unknown."""
    value = (raw or "").strip()
    if not value:
        return ""
    region = (region or settings.PHONENUMBER_DEFAULT_REGION or "FR").upper()
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."),
            code="invalid_phone",
            params={"value": raw},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_email(email: str) -> str:
    """ "jean.martin@gmail.com" -> "j•••n@gmail.com": enough to tell two people apart."""
    local, _sep, domain = email.partition("@")
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"


def mask_phone(e164: str) -> str:
    """ "+33612345678" -> "+33 ••• ••• 678"."""
    if len(e164) < 6:
        return "•••"
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
            raise ValidationError(_("Enter a valid date."), code="invalid") from None
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
