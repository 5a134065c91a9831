"""Reads of the shared core for views, the portal and the API."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from rapidfuzz import fuzz

from destination.models import Guest
from destination.normalize import fold, normalize_email, normalize_phone
from destination.services.resolution import name_skeleton

# --- Search -------------------------------------------------------------------------------

# pg_trgm similarity needed to list a name. Lower values let every guest who merely shares a
# common first name through the index (0.4: ~15,000 heap rechecks for "pierre martni" among 1M
# guests, p95 > 180 ms); 0.5 still finds one typo in most names, and the phonetic name key
# (below) finds vowel typos, accents and swapped names the threshold would miss.
NAME_SIMILARITY_THRESHOLD = 0.5
# For a one-word query ("martin") the best-matching word of the name counts, not the whole name.
WORD_SIMILARITY_THRESHOLD = 0.6
# The SQLite fallback ranks at most this many token matches in Python.
FALLBACK_SCAN_LIMIT = 1000
FALLBACK_MIN_SCORE = 60

_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")
# One token with a dot, an underscore or a digit among letters: the start of an address.
_EMAIL_START = re.compile(r"^(?=[^\s@]*[a-zA-Z])(?=[^\s@]*[._\d])[^\s@]+$")
# Shortest starts searched as prefixes: 6 digits of a number (country code included), 4
# characters of an address.
PREFIX_MIN_DIGITS = 6
PREFIX_MIN_EMAIL = 4
# Longer input is cut: no name or address is longer (an address is at most 254 characters), and
# a 60 kB query of words made SQLite's statement too deep. At most this many name words count.
SEARCH_MAX_LENGTH = 254
SEARCH_MAX_WORDS = 8


def guest_search_by_name(query: str, *, limit: int = 20) -> list[Guest]:
    """Active guests whose name looks like ``query`` (typos, accents, either order), best first.

    PostgreSQL: the trigram index on ``name_folded``. SQLite: guests containing one of the words,
    ranked with rapidfuzz."""
    folded = " ".join(fold(query[:SEARCH_MAX_LENGTH]).split()[:SEARCH_MAX_WORDS])
    if not folded or limit <= 0:
        return []
    if connection.vendor == "postgresql":
        return _search_trigram(folded, limit)
    return _search_fallback(folded, limit)


def _search_trigram(folded: str, limit: int) -> list[Guest]:
    if " " not in folded:
        queryset = (
            Guest.objects.active()
            .filter(name_folded__trigram_word_similar=folded)
            .annotate(similarity=TrigramWordSimilarity(folded, "name_folded"))
        )
        setting, threshold = "pg_trgm.word_similarity_threshold", WORD_SIMILARITY_THRESHOLD
        with transaction.atomic(), connection.cursor() as cursor:
            # Local to this transaction: the operator uses the index with this threshold.
            cursor.execute("SELECT set_config(%s, %s, true)", [setting, str(threshold)])
            return list(queryset.order_by("-similarity", "id")[:limit])

    by_trigram = (
        Guest.objects.active()
        .filter(name_folded__trigram_similar=folded)
        .annotate(similarity=TrigramSimilarity("name_folded", folded))
        .order_by("-similarity", "id")
    )
    # The phonetic full-name key of identity resolution finds, with one index lookup, what the
    # trigram threshold misses: vowel typos in short names, accents, swapped names.
    skeletons = sorted({name_skeleton(t) for t in folded.split() if len(t) > 1})
    by_key = (
        Guest.objects.active()
        .filter(match_keys__key="n:" + " ".join(skeletons[:6]))
        .annotate(similarity=TrigramSimilarity("name_folded", folded))
        .order_by("-similarity", "id")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
            [str(NAME_SIMILARITY_THRESHOLD)],
        )
        found = {g.pk: g for g in by_trigram[:limit]}
        for guest in by_key[:limit]:
            found.setdefault(guest.pk, guest)
    return sorted(found.values(), key=lambda g: (-g.similarity, g.pk))[:limit]


def _search_fallback(folded: str, limit: int) -> list[Guest]:
    tokens = [t for t in folded.split() if len(t) >= 2] or folded.split()
    condition = Q()
    for token in tokens:
        condition |= Q(name_folded__icontains=token)
    guests = list(Guest.objects.active().filter(condition).order_by("id")[:FALLBACK_SCAN_LIMIT])
    scored = [(fuzz.WRatio(folded, g.name_folded), g) for g in guests]
    scored = [(score, g) for score, g in scored if score >= FALLBACK_MIN_SCORE]
    scored.sort(key=lambda item: (-item[0], item[1].pk))
    return [g for _score, g in scored[:limit]]


def _by_email_prefix(prefix: str, limit: int) -> list[Guest]:
    """Guests with an address starting with ``prefix`` (PostgreSQL uses the ``_like``
    pattern index Django adds to ``email_normalized``)."""
    return list(
        Guest.objects.active()
        .filter(emails__email_normalized__startswith=prefix)
        .distinct()
        .order_by("id")[:limit]
    )


def phone_prefix(text: str) -> str:
    """The E.164 start of a phone number being typed ("06 12 34" -> "+3361234" in France),
    or "" when it is too short or cannot be read as a number's start."""
    raw = re.sub(r"[^\d+]", "", text.replace("(0)", ""))
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("00"):
        digits = raw[2:]
    elif raw.startswith("0"):
        region = getattr(settings, "PHONENUMBER_DEFAULT_REGION", None) or "FR"
        digits = f"{phonenumbers.country_code_for_region(region)}{raw[1:]}"
    else:
        return ""
    if not digits.isdigit() or len(digits) < PREFIX_MIN_DIGITS:
        return ""
    return "+" + digits


def guest_search(query: str, *, limit: int = 20) -> list[Guest]:
    """One search box, as you type. An email finds its guests exactly (normalised), else the
    addresses that start with what was typed; a phone number in any format finds its guests
    exactly (E.164), else the numbers that start with it; anything else is a fuzzy name search,
    with the addresses starting with it first when it looks like the start of an address
    ("jeanne.ma", "j_martin")."""
    text = (query or "").strip()[:SEARCH_MAX_LENGTH].strip()
    if not text:
        return []
    if "@" in text:
        try:
            email = normalize_email(text)
        except ValidationError:
            email = ""
        if email:
            exact = list(
                Guest.objects.active()
                .filter(emails__email_normalized=email)
                .distinct()
                .order_by("id")[:limit]
            )
            if exact:
                return exact
        prefix = "".join(text.split()).lower()
        return _by_email_prefix(prefix, limit) if len(prefix) >= PREFIX_MIN_EMAIL else []
    digits = sum(ch.isdigit() for ch in text)
    if _PHONE_LIKE.match(text) and digits >= 6:
        try:
            phone = normalize_phone(text)
        except ValidationError:
            phone = None
        if phone:
            exact = list(
                Guest.objects.active().filter(phones__phone=phone).distinct().order_by("id")[:limit]
            )
            if exact:
                return exact
        start = phone_prefix(text)
        if not start:
            return []
        return list(
            Guest.objects.active()
            .filter(phones__phone__startswith=start)
            .distinct()
            .order_by("id")[:limit]
        )
    names = guest_search_by_name(text, limit=limit)
    if len(text) >= PREFIX_MIN_EMAIL and _EMAIL_START.match(text):
        by_address = _by_email_prefix(text.lower(), limit)
        seen = {g.pk for g in by_address}
        return (by_address + [g for g in names if g.pk not in seen])[:limit]
    return names
