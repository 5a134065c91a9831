"""The duplicates queue as the tourist office works through it (issue 13): the total and pages,
what agreed for each pair, households told apart from duplicates, the next pair after each
decision, and "Undo" in the merge's confirmation."""

import datetime as dt

import pytest
from django.urls import reverse

from destination.models import Guest, GuestMerge, PossibleDuplicate
from portal.selectors import DUPLICATES_PER_PAGE, pair_looks_like_household
from tests.factories import GuestFactory
from tests.queries import assert_num_queries, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db

QUEUE = reverse("portal:duplicates")


def pair_make(score: float, reasons=("name", "birth_date"), **b_fields) -> PossibleDuplicate:
    a = GuestFactory(first_name="Anna", last_name="Keller", birth_date=dt.date(1970, 1, 1))
    b = GuestFactory(
        **{"first_name": "Ana", "last_name": "Keller", "birth_date": dt.date(1970, 1, 1)} | b_fields
    )
    return PossibleDuplicate.objects.create(guest_a=a, guest_b=b, score=score, reasons=reasons)


def test_the_queue_shows_the_total_pages_and_reasons(client, steward):
    for i in range(DUPLICATES_PER_PAGE + 5):
        pair_make(0.5 + i / 100)
    client.force_login(steward)
    first = client.get(QUEUE).content.decode()
    assert f"{DUPLICATES_PER_PAGE + 5} pairs waiting" in first
    assert first.count('class="card dup"') == DUPLICATES_PER_PAGE
    assert "Page 1 of 2" in first and "?page=2" in first
    assert "Same or similar name" in first and "Same birth date" in first
    assert first.index("79 %") < first.index("78 %")  # most likely first
    second = client.get(QUEUE, {"page": 2}).content.decode()
    assert second.count('class="card dup"') == 5 and "Page 2 of 2" in second
    assert "50 %" in second
    # A page past the end shows the last one rather than an error.
    assert "Page 2 of 2" in client.get(QUEUE, {"page": 9}).content.decode()


def test_the_paged_queue_runs_the_same_queries_for_3_or_25_pairs(client, steward):
    client.force_login(steward)
    for _ in range(3):
        pair_make(0.8)
    client.get(QUEUE)  # warm the session and content types
    with capture_queries() as few:
        client.get(QUEUE)
    for _ in range(40):
        pair_make(0.7)
    with capture_queries() as many:
        client.get(QUEUE, {"page": 2})
    assert_same_num_queries(few, many)
    # Session, user, memberships (the shell); the count and the page with both guests, their
    # emails and phones for the model's evidence (the queue); the manager's membership (may
    # merge) and the brand (the layout); nothing per row.
    with assert_num_queries(9) as log:
        client.get(QUEUE)
    assert sum("COUNT(*)" in sql for sql in log.statements) == 1


def test_a_shared_email_with_different_first_names_and_birth_dates_is_a_household(client, steward):
    mother = pair_make(
        0.9, reasons=["email", "birth_date_differs"], first_name="Léa",
        birth_date=dt.date(2004, 6, 1),
    )  # fmt: skip
    twin = pair_make(0.9, reasons=["email", "name"])  # same first name (folded), same birth
    assert pair_looks_like_household(mother) and not pair_looks_like_household(twin)
    client.force_login(steward)
    page = client.get(QUEUE).content.decode()
    assert page.count("Household?") == 2  # the explanation once, and the mother's pair
    assert page.count("90 %") == 1  # the twin keeps its score
    detail = client.get(reverse("portal:duplicate", args=[mother.pk])).content.decode()
    assert "Household?" in detail and "score 0.90" not in detail


def test_after_a_dismiss_the_next_pair_opens(client, steward):
    high, middle, low = pair_make(0.9), pair_make(0.8), pair_make(0.7)
    client.force_login(steward)
    url = reverse("portal:duplicate", args=[middle.pk])
    response = client.post(url, {"action": "dismiss"})
    assert response["Location"] == reverse("portal:duplicate", args=[low.pk])
    # The last one of the queue: on with the first one still open.
    response = client.post(reverse("portal:duplicate", args=[low.pk]), {"action": "dismiss"})
    assert response["Location"] == reverse("portal:duplicate", args=[high.pk])
    response = client.post(reverse("portal:duplicate", args=[high.pk]), {"action": "dismiss"})
    assert response["Location"] == QUEUE


def test_a_merge_leads_to_the_next_pair_with_undo_in_its_confirmation(client, steward):
    first, following = pair_make(0.9), pair_make(0.8)
    client.force_login(steward)
    response = client.post(
        reverse("portal:duplicate", args=[first.pk]), {"keep": "a", "action": "merge"}
    )
    next_url = reverse("portal:duplicate", args=[following.pk])
    assert response["Location"] == next_url
    merge = GuestMerge.objects.get()
    undo = reverse("portal:merge_undo", args=[merge.pk])
    page = client.get(next_url).content.decode()
    assert f"Merged: guest #{first.guest_b_id} now opens profile #{first.guest_a_id}" in page
    assert f'action="{undo}"' in page
    assert undo not in client.get(next_url).content.decode()  # shown once, like a message

    response = client.post(undo, {"next": next_url})
    assert response["Location"] == next_url  # the steward stays on the pair in front of them
    merge.refresh_from_db()
    assert merge.undone_by == steward
    assert Guest.objects.get(pk=first.guest_b_id).status == Guest.Status.ACTIVE
    first.refresh_from_db()
    assert first.status == PossibleDuplicate.Status.OPEN
