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
