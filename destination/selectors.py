"""Reads of the shared core for views, the portal and the API."""

from __future__ import annotations

import re

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


def guest_search_by_name(query: str, *, limit: int = 20) -> list[Guest]:
    """Active guests whose name looks like ``query`` (typos, accents, either order), best first.

    PostgreSQL: the trigram index on ``name_folded``. SQLite: guests containing one of the words,
    ranked with rapidfuzz."""
    folded = fold(query)
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


def guest_search(query: str, *, limit: int = 20) -> list[Guest]:
    """One search box: an email finds its guests exactly (normalised), a phone number in any
    format finds its guests exactly (E.164), anything else is a fuzzy name search."""
    text = (query or "").strip()
    if not text:
        return []
    if "@" in text:
        try:
            email = normalize_email(text)
        except ValidationError:
            return []
        return list(
            Guest.objects.active()
            .filter(emails__email_normalized=email)
            .distinct()
            .order_by("id")[:limit]
        )
    digits = sum(ch.isdigit() for ch in text)
    if _PHONE_LIKE.match(text) and digits >= 6:
        try:
            phone = normalize_phone(text)
        except ValidationError:
            return []
        return list(
            Guest.objects.active().filter(phones__phone=phone).distinct().order_by("id")[:limit]
        )
    return guest_search_by_name(text, limit=limit)
