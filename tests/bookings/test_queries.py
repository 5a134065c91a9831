"""Lists read in a fixed number of queries, whatever their length."""

import pytest

from bookings.selectors import (
    booking_list_for_guest,
    booking_list_for_partner,
    offer_list_published,
    session_list_bookable,
)
from destination.linkage.store import linkage_model_cached
from tests.factories import book, offer_make, person, session_make
from tests.queries import (
    assert_at_most,
    assert_num_queries,
    assert_same_num_queries,
    capture_queries,
)

pytestmark = pytest.mark.django_db


def _render_bookings(qs) -> list[tuple]:
    return [
        (
            b.reference,
            b.session.offer.title,
            b.partner.name,
            b.booker.full_name,
            b.session.starts_at,
        )
        for b in qs
    ]


def test_partner_and_guest_lists_do_not_grow_with_rows(ski_school, on_site):
    offers = [offer_make(ski_school, slug=f"o-{n}") for n in range(3)]
    for n, offer in enumerate(offers):
        s = session_make(offer, days=10 + n)
        book(s, booker=person(1), adults=1)
        book(s, booker=person(n + 2), adults=1)
    guest = ski_school.bookings.first().booker
    with assert_num_queries(1):
        _render_bookings(booking_list_for_partner(ski_school))
    with assert_num_queries(1):
        _render_bookings(booking_list_for_guest(guest))
    with assert_num_queries(1):
        [(o.title, o.partner.name) for o in offer_list_published()]
    with assert_num_queries(1):
        [s.seats_left for s in session_list_bookable(offers[0])]


def test_booking_create_query_count_is_bounded(session, on_site):
    """A known guest booking again costs the same queries as the second time: no N+1 on the
    party. Printed on failure so a change is easy to see."""
    # The linkage model the resolver scores with is read once per process and five minutes
    # (one query when that cache is cold): warm, as in a running server.
    linkage_model_cached()
    book(session, booker=person(1), adults=1)
    with capture_queries() as small:
        book(session, booker=person(1), adults=1)
    with capture_queries() as again:
        book(session, booker=person(1), adults=1)
    assert_same_num_queries(small, again)
    assert_at_most(small, 40)
