"""manage.py dedupe_guests on a dirty base: guests created without resolution, as an old
import would have left them."""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

import pytest
from django.core.management import call_command

from destination.linkage.comparisons import pair_levels
from destination.linkage.dedupe import clusters_broken, plan_from_pairs
from destination.linkage.features import features_for
from destination.linkage.model import Pair, Thresholds
from destination.linkage.scorer import constraint_for
from destination.linkage.store import _default
from destination.models import Guest, GuestEmail, GuestMerge, GuestPhone, PossibleDuplicate
from destination.services.merge import guest_merge_undo
from tests.destination.data.linkage_people import TEST_SEED, build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quiet_splink():
    logging.getLogger("splink").setLevel(logging.ERROR)


def _dirty_base(entities: int = 500) -> dict[int, int]:
    """One guest per labelled record, no resolution: guest id -> the real person."""
    data = build(seed=TEST_SEED, entities=entities)
    entity_of: dict[int, int] = {}
    for record in data.records:
        row = features_for(unique_id=0, **record.as_dict())
        guest = Guest.objects.create(
            first_name=record.first_name.strip(),
            last_name=record.last_name.strip(),
            country=row["country"] or "",
            birth_date=record.birth_date,
            language=row["language"] or "",
            source=Guest.Source.IMPORT,
        )
        if row["email"]:
            GuestEmail.objects.create(
                guest=guest, email=row["email"], email_normalized=row["email"], is_primary=True
            )
        if row["phone"] and row["phone"].startswith("+"):
            GuestPhone.objects.create(guest=guest, phone=row["phone"], is_primary=True)
        entity_of[guest.pk] = record.entity
    return entity_of


def test_dedupe_guests_dry_run_then_merge_and_queue():
    entity_of = _dirty_base()
    out = io.StringIO()
    call_command("dedupe_guests", "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue()
    assert not GuestMerge.objects.exists()
    assert not PossibleDuplicate.objects.exists()

    out = io.StringIO()
    call_command("dedupe_guests", stdout=out)
    merges = list(GuestMerge.objects.all())
    assert len(merges) > 50, out.getvalue()
    wrong = [m for m in merges if entity_of[m.survivor_id] != entity_of[m.merged_id]]
    assert not wrong, out.getvalue()
    assert Guest.objects.filter(status=Guest.Status.MERGED).count() == len(merges)
    queue = list(PossibleDuplicate.objects.all())
    assert queue and all(p.detected_by == "linkage:v0" for p in queue)
    assert all(p.guest_a_id < p.guest_b_id and p.reasons for p in queue)
    # Each suggestion is between guests that still exist.
    active = set(Guest.objects.filter(status=Guest.Status.ACTIVE).values_list("pk", flat=True))
    assert all(p.guest_a_id in active and p.guest_b_id in active for p in queue)

    # Run again: nothing left to merge, no suggestion asked twice.
    out = io.StringIO()
    call_command("dedupe_guests", stdout=out)
    assert GuestMerge.objects.count() == len(merges)
    assert PossibleDuplicate.objects.count() == len(queue)
    assert "0 new suggestions" in out.getvalue()

    # Every automatic merge stays undoable.
    merge = merges[-1]
    guest_merge_undo(merge=merge, actor=None)
    assert Guest.objects.get(pk=merge.merged_id).status == Guest.Status.ACTIVE


def _pair(left: int, right: int, weight: float, rows: dict) -> Pair:
    levels = pair_levels(rows[left], rows[right])
    return Pair(left, right, weight, levels, constraint_for(rows[left], rows[right], levels, {}))


def test_a_chain_never_merges_a_household_pair_nobody_scored():
    """A-B and B-C are automatic; A and C, a household, were not scored above the review
    threshold (here: not scored at all): the cluster is checked as a whole and not merged."""
    rows = {
        1: features_for(unique_id=1, first_name="Jean", last_name="Martin",
                        email="famille.martin@orange.fr", birth_date=dt.date(1970, 3, 4)),
        2: features_for(unique_id=2, first_name="Jean", last_name="Martin",
                        email="jean.martin@gmail.com", birth_date=dt.date(1970, 3, 4)),
        3: features_for(unique_id=3, first_name="Louise", last_name="Martin",
                        email="famille.martin@orange.fr", birth_date=dt.date(2010, 6, 7)),
    }  # fmt: skip
    pairs = [_pair(1, 2, 20.0, rows), _pair(2, 3, 15.0, rows)]
    assert [p.constraint for p in pairs] == [None, None]
    thresholds = Thresholds(auto_match_weight=10, review_match_weight=3)
    # Without the rows only the scored pairs are checked: the chain merges the household.
    assert plan_from_pairs(list(rows), pairs, thresholds=thresholds).merges() == {1: [2, 3]}
    plan = plan_from_pairs(list(rows), pairs, thresholds=thresholds, rows=rows)
    assert plan.merges() == {}
    assert {(p.left, p.right) for p in plan.review} == {(1, 2), (2, 3)}
    assert clusters_broken({1: 1, 2: 1, 3: 1}, rows, {}) == {1: (1, 3, "household")}


# Look-alike pairs the 1,000,000-guest benchmark merged (4 December 2026), as generated: each
# was one automatic pair (28 to 35 bits) that the family rules let through.
_LOOKALIKES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # Twins named with a name and its nickname: one surname, birth date and address.
    "twins William and Liam": (
        {"first_name": "William", "last_name": "Freeman", "birth_date": dt.date(1997, 2, 19),
         "email": "freeman.twins9@outlook.com", "country": "GB"},
        {"first_name": "Liam", "last_name": "Freeman", "birth_date": dt.date(1997, 2, 19),
         "email": "freeman.twins9@outlook.com"},
        "name_typo",
    ),
    # A couple whose birth dates differ by one digit, with names alike but both real (two
    # edits apart: perhaps one mistyped, so a person decides).
    "couple Alice and Aimé": (
        {"first_name": "Alice", "last_name": "Cordigues", "birth_date": dt.date(1969, 3, 24),
         "email": "cordigues51@laposte.net", "phone": "+33665945484", "country": "FR"},
        {"first_name": "Aimé", "last_name": "Cordigues", "birth_date": dt.date(1963, 3, 24),
         "email": "cordigues51@laposte.net", "phone": "+33665945484"},
        "name_typo",
    ),
    "household Alexandros and Alexa": (
        {"first_name": "Alexandros", "last_name": "Müller", "birth_date": dt.date(1966, 2, 10),
         "email": "famille.muller@outlook.com", "phone": "+4915185347084"},
        {"first_name": "Alexa", "last_name": "Müller", "birth_date": dt.date(1966, 5, 10),
         "email": "famille.muller@outlook.com", "phone": "+4915185347084", "country": "DE"},
        "household",
    ),
    # A father and his daughter's record that lost its birth date, on the family's email.
    "household Jean and Jeanne, no birth date": (
        {"first_name": "Jean", "last_name": "Fournier", "birth_date": dt.date(1968, 4, 17),
         "email": "famille.fournier@outlook.com", "country": "FR"},
        {"first_name": "Jeanne", "last_name": "Fournier", "email": "famille.fournier@outlook.com",
         "phone": "+33673767122", "country": "FR"},
        "name_typo",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(_LOOKALIKES))
def test_lookalikes_merged_at_scale_are_kept_apart(name):
    left, right, rule = _LOOKALIKES[name]
    rows = {1: features_for(unique_id=1, **left), 2: features_for(unique_id=2, **right)}
    model = _default()
    scorer = model.scorer()
    # Every first name here is a real name of the base (seen three times or more).
    scorer.first_name_counts = {rows[i]["first_canon"]: 50 for i in rows}
    score = scorer.score(rows[1], rows[2])
    assert score.match_weight > model.thresholds.auto_match_weight  # alike enough to merge
    assert score.constraint == rule
    pair = Pair(1, 2, score.match_weight, score.levels, score.constraint)
    plan = plan_from_pairs(
        [1, 2], [pair], thresholds=model.thresholds, rows=rows,
        first_name_counts=scorer.first_name_counts,
    )  # fmt: skip
    assert plan.merges() == {}
    # A possibly mistyped name goes to a person; a household or twins are never suggested.
    assert len(plan.review) == (rule == "name_typo")


def test_the_same_person_with_a_typo_on_one_address_is_still_merged():
    """The rules above keep close names (a typo) and unknown names merging."""
    model = _default()
    scorer = model.scorer()
    scorer.first_name_counts = {"alexandros": 50}
    a = features_for(
        unique_id=1,
        first_name="Alexandros",
        last_name="Müller",
        birth_date=dt.date(1966, 2, 10),
        email="famille.muller@outlook.com",
    )
    b = features_for(unique_id=2, first_name="Alexandrso", last_name="Muller",
                     birth_date=dt.date(1966, 5, 10), email="famille.muller@outlook.com")  # fmt: skip
    score = scorer.score(a, b)
    assert score.constraint is None
    assert score.match_weight > model.thresholds.auto_match_weight
