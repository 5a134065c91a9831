"""The duplicates queue shows why a pair was suggested (each field the model compared, with its
match weight) and groups a household's pairs so a manager dismisses them with one action
(issue 14)."""

import datetime as dt

import pytest
from django.urls import reverse

from destination.linkage.realtime import Side
from destination.linkage.store import linkage_model_current
from destination.models import AuditEntry, PossibleDuplicate
from destination.services import GuestError
from portal.selectors import duplicate_queue, household_pairs_open
from portal.services import duplicate_household_dismiss
from tests.factories import GuestEmailFactory, GuestFactory, GuestPhoneFactory, MembershipFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("portal:duplicates")
FAMILY = "famille.martin@orange.fr"


def guest_with(email: str = "", phone: str = "", **fields):
    guest = GuestFactory(**fields)
    if email:
        GuestEmailFactory(guest=guest, email=email, is_primary=True)
    if phone:
        GuestPhoneFactory(guest=guest, phone=phone, is_primary=True)
    return guest


def pair_of(a, b, score: float, reasons) -> PossibleDuplicate:
    a, b = sorted((a, b), key=lambda g: g.pk)
    return PossibleDuplicate.objects.create(guest_a=a, guest_b=b, score=score, reasons=reasons)


def household(size: int = 3) -> tuple[list, list[PossibleDuplicate]]:
    people = [("Jean", dt.date(1970, 3, 1)), ("Marie", dt.date(1972, 8, 9)),
              ("Léa", dt.date(2004, 6, 1)), ("Hugo", dt.date(2007, 1, 20))][:size]  # fmt: skip
    members = [
        guest_with(FAMILY, first_name=first, last_name="Martin", birth_date=born, country="FR")
        for first, born in people
    ]
    reasons = ["email", "first_name_differs", "birth_date_differs"]
    pairs = [pair_of(a, b, 0.6, reasons) for i, a in enumerate(members) for b in members[i + 1 :]]
    return members, pairs


def one_person() -> PossibleDuplicate:
    a = guest_with("anna.keller@bluewin.ch", "+41791234567", first_name="Anna",
                   last_name="Keller", birth_date=dt.date(1980, 5, 4), country="CH")  # fmt: skip
    b = guest_with("anna.keller@gmail.com", "+41791234567", first_name="Ana",
                   last_name="Keller", birth_date=dt.date(1980, 5, 4), country="CH")  # fmt: skip
    return pair_of(a, b, 0.95, ["phone", "birth_date", "name"])


def test_each_suggestion_shows_the_fields_compared_with_the_model_weights(client, steward):
    pair = one_person()
    client.force_login(steward)
    page = client.get(QUEUE).content.decode()
    row = duplicate_queue().object_list[0]
    # The weights are the current model's, field by field, strongest first.
    model = linkage_model_current()
    a, b = pair.guest_a, pair.guest_b
    expected = model.scorer().score(
        Side(a.first_name, a.last_name, ("anna.keller@bluewin.ch",), ("+41791234567",),
             "CH", a.birth_date).rows(1)[0],
        Side(b.first_name, b.last_name, ("anna.keller@gmail.com",), ("+41791234567",),
             "CH", b.birth_date).rows(2)[0],
    )  # fmt: skip
    assert [(e.field, e.weight) for e in row.evidence] == [
        (r["field"], r["weight"]) for r in expected.reasons
    ]
    weights = {e.field: e for e in row.evidence}
    assert weights["phone"].agrees and weights["birth_date"].agrees
    assert weights["email"].level == "same name before the @, other provider"
    strengths = [abs(e.weight) for e in row.evidence]
    assert strengths == sorted(strengths, reverse=True)
    assert (
        f'Phone: same <span class="chip__weight">{weights["phone"].weight_display}</span>' in page
    )
    assert "Birth date: same" in page and "chip--for" in page


def test_a_household_is_one_row_dismissed_with_one_action(client, steward):
    members, pairs = household(3)
    other = one_person()
    client.force_login(steward)
    rows = duplicate_queue().object_list
    assert len(rows) == 2  # the household's three pairs in one row, and the other pair
    group = rows[1].group
    assert group is not None and group.email == FAMILY
    assert sorted(g.pk for g in group.members) == sorted(g.pk for g in members)
    assert len(group.pairs) == 3
    page = client.get(QUEUE).content.decode()
    assert "3 people of one household" in page and "dismiss all 3 pairs" in page
    url = reverse("portal:duplicate_household_dismiss", args=[rows[1].pair.pk])
    assert f'action="{url}"' in page

    response = client.post(url)
    assert response["Location"] == QUEUE
    for pair in pairs:
        pair.refresh_from_db()
        assert pair.status == PossibleDuplicate.Status.DISMISSED
        assert pair.resolved_by == steward and pair.resolved_at is not None
    other.refresh_from_db()
    assert other.status == PossibleDuplicate.Status.OPEN
    audits = AuditEntry.objects.filter(details__event="household_dismissed")
    assert sorted(a.guest_id for a in audits) == sorted(g.pk for g in members)
    assert all(a.actor == steward and sorted(a.details["pairs"]) == sorted(p.pk for p in pairs)
               for a in audits)  # fmt: skip
    page = client.get(QUEUE).content.decode()
    assert "3 pairs of one household marked as different people." in page
    assert "people of one household" not in page.replace("3 pairs of one household", "")


def test_the_household_service_takes_only_the_household_pairs(steward, office):
    members, pairs = household(2)
    # A namesake sharing the address but not the surname, and a real duplicate of one member
    # on the family address: neither is part of the household's dismissal.
    lodger = guest_with(
        FAMILY, first_name="Paul", last_name="Durand", birth_date=dt.date(1990, 1, 1)
    )
    lodger_pair = pair_of(members[0], lodger, 0.5, ["email", "first_name_differs"])
    same = guest_with(FAMILY, first_name="Jean", last_name="Martin", birth_date=dt.date(1970, 3, 1))
    same_pair = pair_of(members[0], same, 0.9, ["email", "name", "birth_date"])
    assert [p.pk for p in household_pairs_open(pairs[0])] == [pairs[0].pk]
    assert household_pairs_open(same_pair) == []

    dismissed = duplicate_household_dismiss(pair=pairs[0], user=steward, partner=office)
    assert [p.pk for p in dismissed] == [pairs[0].pk]
    for pair in (lodger_pair, same_pair):
        pair.refresh_from_db()
        assert pair.status == PossibleDuplicate.Status.OPEN
    with pytest.raises(GuestError, match="already been decided"):
        duplicate_household_dismiss(pair=pairs[0], user=steward, partner=office)
    with pytest.raises(GuestError, match="not one household"):
        duplicate_household_dismiss(pair=same_pair, user=steward, partner=office)


def test_only_a_manager_dismisses_a_household(client, office):
    _members, pairs = household(2)
    desk = MembershipFactory(partner=office).user
    client.force_login(desk)
    response = client.post(reverse("portal:duplicate_household_dismiss", args=[pairs[0].pk]))
    assert response.status_code == 403
    pairs[0].refresh_from_db()
    assert pairs[0].status == PossibleDuplicate.Status.OPEN
    assert not AuditEntry.objects.filter(details__event="household_dismissed").exists()


def test_every_level_of_the_model_has_a_name_in_the_queue():
    """The queue names each comparison level in the reader's language: a level added to the
    model (``linkage/comparisons.py``) without a name here would show its English label."""
    from django.utils import translation

    from destination.linkage.comparisons import COMPARISONS
    from portal.selectors import EVIDENCE_LEVELS

    labels = {lv.label for c in COMPARISONS for lv in c.levels if not lv.is_null}
    assert labels - set(EVIDENCE_LEVELS) == set()
    with translation.override("fr"):
        assert str(EVIDENCE_LEVELS["known on one side only"]) == "sur une seule fiche"
