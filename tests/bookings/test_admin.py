"""The operators' admin lists and opens offers, sessions, bookings and the outbox."""

import pytest
from django.urls import reverse

from tests.factories import book

pytestmark = pytest.mark.django_db


def test_admin_pages_open(admin_client, session, on_site):
    booking = book(session)
    for name in ("offer", "session", "booking", "bookingevent", "stripeevent"):
        assert admin_client.get(reverse(f"admin:bookings_{name}_changelist")).status_code == 200
    for name, pk in (("offer", session.offer_id), ("session", session.pk), ("booking", booking.pk)):
        url = reverse(f"admin:bookings_{name}_change", args=[pk])
        assert admin_client.get(url).status_code == 200


def test_an_existing_rows_owner_is_read_only(admin_client, session, on_site):
    # Seats were taken on the session, and segments reach a partner kind's bookings through
    # the session's offer: the admin never moves a booking, a session or an offer.
    booking = book(session)
    for name, pk, fields in (
        ("booking", booking.pk, ("session", "partner")),
        ("session", session.pk, ("offer",)),
        ("offer", session.offer_id, ("partner",)),
    ):
        page = admin_client.get(reverse(f"admin:bookings_{name}_change", args=[pk]))
        assert page.status_code == 200
        for field in fields:
            assert f'name="{field}"' not in page.content.decode(), (name, field)
    # Adding still chooses them.
    for name, field in (("booking", "session"), ("session", "offer"), ("offer", "partner")):
        page = admin_client.get(reverse(f"admin:bookings_{name}_add"))
        assert f'name="{field}"' in page.content.decode(), (name, field)
