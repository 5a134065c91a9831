"""Read the guest base as feature rows for the model.

DuckDB's postgres extension would read the tables directly, but it is downloaded on first use
(impossible offline: ``LOAD postgres`` fails here), and the features need Python anyway
(phone numbers, transliteration): the guests are streamed with a server-side cursor, one row
per active guest with its primary email and phone, and turned into feature rows in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import OuterRef, Subquery

from destination.linkage.features import features_for
from destination.models import Guest, GuestEmail, GuestPhone


def guest_feature_rows(*, chunk_size: int = 5000) -> Iterator[dict[str, Any]]:
    primary_email = GuestEmail.objects.filter(guest=OuterRef("pk")).order_by("-is_primary", "id")
    primary_phone = GuestPhone.objects.filter(guest=OuterRef("pk")).order_by("-is_primary", "id")
    rows = (
        Guest.objects.filter(status=Guest.Status.ACTIVE)
        .annotate(
            primary_email=Subquery(primary_email.values("email")[:1]),
            primary_phone=Subquery(primary_phone.values("phone")[:1]),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "first_name",
            "last_name",
            "primary_email",
            "primary_phone",
            "country",
            "birth_date",
            "language",
        )
    )
    for pk, first, last, email, phone, country, birth, language in rows.iterator(chunk_size):
        yield features_for(
            unique_id=pk,
            first_name=first,
            last_name=last,
            email=email or "",
            phone=str(phone or ""),
            country=str(country or ""),
            birth_date=birth,
            language=language,
        )
