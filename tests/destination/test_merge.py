"""guest_merge / guest_merge_undo: every related row moves, conflicts are resolved and recorded,
consent never becomes more permissive, and the undo puts everything back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from destination.models import (
    AuditEntry,
    ConsentEvent,
    ConsentState,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestMerge,
    GuestPhone,
    Household,
    MatchKey,
    PossibleDuplicate,
    Purpose,
    TimelineEvent,
)
from destination.registry import model_label, row_serialize
from destination.services import GuestError
from destination.services.consent import consent_record
from destination.services.merge import (
    MERGE_EXCLUDED,
    guest_merge,
    guest_merge_undo,
    guest_relations,
    guest_resolve_id,
)
from destination.services.timeline import timeline_add
from partners.models import Interaction, PartnerGuestLink
from tests.factories import (
    ConsentWordingFactory,
    GuestEmailFactory,
    GuestFactory,
    GuestPhoneFactory,
    InteractionFactory,
    PartnerFactory,
    PartnerGuestLinkFactory,
    TagFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def consent(
    guest: Guest,
    *,
    granted: bool,
    when: dt.datetime,
    method: str = "form",
    purpose: str = Purpose.NEWSLETTER,
    channels: tuple[str, ...] = ("email",),
    partners: tuple[Any, ...] = (),
) -> None:
    consent_record(
        guest=guest,
        purpose=purpose,
        granted=granted,
        method=method,
        channels=channels,
        partners=partners,
        wording=ConsentWordingFactory(purpose=purpose) if granted else None,
        occurred_at=when,
        evidence={"ip": "203.0.113.7", "user_agent": "Firefox"},
    )


def pair(a: Guest, b: Guest, **kwargs: Any) -> PossibleDuplicate:
    low, high = sorted([a.pk, b.pk])
    return PossibleDuplicate.objects.create(guest_a_id=low, guest_b_id=high, score=0.9, **kwargs)


@pytest.fixture
def actor():
    return UserFactory()


@pytest.fixture
def world(actor):
    """Two profiles of one person, with a bit of everything, overlapping on purpose."""
    p1, p2 = PartnerFactory(), PartnerFactory()
    ski, family, food = TagFactory(slug="ski"), TagFactory(slug="family"), TagFactory(slug="food")
    home = Household.objects.create(name="Martin family")
    s = GuestFactory(first_name="Jeanne", last_name="Martin", birth_date=None, language="")
    m = GuestFactory(
        first_name="Jeane",
        last_name="Martin",
        birth_date=dt.date(1990, 5, 4),
        language="en",
        country="BE",
        household=home,
        last_contact_at=at(30),
    )
    s.last_contact_at = at(10)
    s.save()
    GuestEmailFactory(guest=s, email="jeanne@mail.example", is_primary=True)
    GuestEmailFactory(guest=s, email="family@mail.example", is_primary=False)
    GuestEmailFactory(guest=m, email="Jeanne@mail.example", is_primary=False, verified_at=at(1))
    GuestEmailFactory(guest=m, email="jm@other.example", is_primary=True)
    GuestPhoneFactory(guest=s, phone="+33611111111", is_primary=True)
    GuestPhoneFactory(guest=m, phone="+33611111111", is_primary=True)
    GuestPhoneFactory(guest=m, phone="+33622222222", is_primary=False)
    s.tags.add(ski)
    m.tags.add(ski, family)
    GuestExternalRef.objects.create(guest=s, source="import", external_id="S-1")
    GuestExternalRef.objects.create(guest=m, source="booking", external_id="M-1")
    PartnerGuestLinkFactory(
        partner=p1, guest=s, reason="interaction", first_seen_at=at(5), last_seen_at=at(8)
    )
    PartnerGuestLinkFactory(
        partner=p1,
        guest=m,
        reason="booking",
        has_booked=True,
        first_seen_at=at(2),
        last_seen_at=at(6),
    )
    PartnerGuestLinkFactory(partner=p2, guest=m, first_seen_at=at(3), last_seen_at=at(4))
    InteractionFactory(guest=s, partner=p1, summary="Asked about ski passes")
    InteractionFactory(guest=m, partner=p2, summary="Private note", visibility="private")
    timeline_add(guest=m, kind="profile", occurred_at=at(1), title="Profile created")
    MatchKey.objects.create(guest=s, key="shared-key")
    MatchKey.objects.create(guest=m, key="shared-key")
    MatchKey.objects.create(guest=m, key="m-only")
    consent(s, granted=True, when=at(1))
    consent(m, granted=True, when=at(2), purpose=Purpose.PROFILING, channels=())
    x, y, z = GuestFactory(), GuestFactory(), GuestFactory()
    pair(s, m)
    pair(m, x)  # repointed to (s, x)
    pair(m, y)  # dropped: (s, y) exists
    pair(s, y)
    pair(m, z, status=PossibleDuplicate.Status.DISMISSED)  # history: stays
    return {
        "s": s,
        "m": m,
        "p1": p1,
        "p2": p2,
        "x": x,
        "y": y,
        "z": z,
        "tags": (ski, family, food),
        "home": home,
        "actor": actor,
    }


def rows_pointing_at(guest: Guest) -> dict[str, int]:
    """Rows of every relation to Guest (Guest._meta.related_objects, the tags M2M table and
    hidden FKs) still pointing at ``guest``, except those left there by design."""
    counts: dict[str, int] = {}
    relations: set[tuple[type[models.Model], str]] = {
        (model, fk.name) for model, fk in guest_relations()
    }
    # related_objects must be covered by the introspection the merge uses.
    for rel in Guest._meta.related_objects:
        if rel.many_to_many:
            through = rel.through
            fk = next(f for f in through._meta.fields if f.related_model is Guest)
            assert (through, fk.name) in relations
        else:
            assert (rel.related_model, rel.field.name) in relations
    assert (Guest.tags.through, "guest") in relations
    for model, fk_name in relations:
        if (model_label(model), fk_name) in MERGE_EXCLUDED:
            continue
        qs = model._default_manager.filter(**{fk_name: guest.pk})
        if model is PossibleDuplicate:
            qs = qs.filter(status=PossibleDuplicate.Status.OPEN)
        if qs.exists():
            counts[f"{model_label(model)}.{fk_name}"] = qs.count()
    return counts


def test_merge_moves_every_related_row_and_leaves_nothing_on_the_merged_guest(world):
    s, m = world["s"], world["m"]
    m_interaction = Interaction.objects.get(guest=m)
    m_events = set(ConsentEvent.objects.filter(guest=m).values_list("pk", flat=True))

    merge = guest_merge(survivor=s, merged=m, actor=world["actor"])

    assert rows_pointing_at(m) == {}
    m_interaction.refresh_from_db()
    assert m_interaction.guest_id == s.pk
    assert m_events <= set(ConsentEvent.objects.filter(guest=s).values_list("pk", flat=True))
    assert set(GuestEmail.objects.filter(guest=s).values_list("email_normalized", flat=True)) == {
        "jeanne@mail.example",
        "family@mail.example",
        "jm@other.example",
    }
    assert sorted(
        str(p) for p in GuestPhone.objects.filter(guest=s).values_list("phone", flat=True)
    ) == [
        "+33611111111",
        "+33622222222",
    ]
    assert set(s.tags.values_list("slug", flat=True)) == {"ski", "family"}
    assert set(GuestExternalRef.objects.filter(guest=s).values_list("external_id", flat=True)) == {
        "S-1",
        "M-1",
    }
    assert TimelineEvent.objects.filter(guest=s, title="Profile created").exists()
    assert set(PartnerGuestLink.objects.filter(guest=s).values_list("partner_id", flat=True)) == {
        world["p1"].pk,
        world["p2"].pk,
    }
    # Match keys are recomputed from the merged profile; the merged guest keeps none.
    assert not MatchKey.objects.filter(guest=m).exists()
    assert MatchKey.objects.filter(guest=s).exists()
    assert ConsentState.objects.filter(guest=s, purpose=Purpose.PROFILING, granted=True).exists()
    # The record of what moved, per model label and foreign key.
    assert merge.moved["partners.Interaction"]["guest"] == [m_interaction.pk]
    assert "destination.Guest_tags" in merge.moved
    assert "destination.ConsentEvent" in merge.moved


def test_unique_conflicts_are_resolved_and_the_dropped_rows_recorded(world):
    s, m, p1 = world["s"], world["m"], world["p1"]
    merge = guest_merge(survivor=s, merged=m, actor=world["actor"])

    emails = {e.email_normalized: e for e in GuestEmail.objects.filter(guest=s)}
    assert emails["jeanne@mail.example"].is_primary  # the survivor's primary stays
    assert not emails["jm@other.example"].is_primary  # the merged guest's is demoted
    assert emails["jeanne@mail.example"].verified_at == at(1)  # its verification carried over
    assert GuestEmail.objects.filter(guest=s, is_primary=True).count() == 1
    assert GuestPhone.objects.filter(guest=s, is_primary=True).count() == 1
    link = PartnerGuestLink.objects.get(guest=s, partner=p1)
    assert (link.first_seen_at, link.last_seen_at, link.has_booked) == (at(2), at(8), True)
    assert link.reason == "booking"  # the reason of the earliest contact
    dropped_emails = [
        row["fields"]["email_normalized"] for row in merge.dropped["destination.GuestEmail"]
    ]
    assert dropped_emails == ["jeanne@mail.example"]
    assert [row["fields"]["phone"] for row in merge.dropped["destination.GuestPhone"]] == [
        "+33611111111"
    ]
    assert len(merge.dropped["partners.PartnerGuestLink"]) == 1
    assert len(merge.dropped["destination.Guest_tags"]) == 1
    assert [row["fields"]["key"] for row in merge.dropped["destination.MatchKey"]] == ["shared-key"]


def test_the_merged_primary_becomes_primary_when_the_survivor_has_none():
    s, m = GuestFactory(), GuestFactory()
    GuestEmailFactory(guest=m, email="only@mail.example", is_primary=True)
    guest_merge(survivor=s, merged=m, actor=None)
    assert GuestEmail.objects.get(guest=s).is_primary


def test_possible_duplicates_are_decided_repointed_or_dropped(world):
    s, m, x, y, z = (world[k] for k in "smxyz")
    merge = guest_merge(survivor=s, merged=m, actor=world["actor"])

    decided = PossibleDuplicate.objects.get(guest_a_id=min(s.pk, m.pk), guest_b_id=max(s.pk, m.pk))
    assert decided.status == PossibleDuplicate.Status.MERGED
    assert decided.resolved_by == world["actor"]
    low, high = sorted([s.pk, x.pk])
    assert PossibleDuplicate.objects.filter(guest_a_id=low, guest_b_id=high, status="open").exists()
    assert (
        PossibleDuplicate.objects.filter(status="open")
        .filter(models.Q(guest_a=m) | models.Q(guest_b=m))
        .count()
        == 0
    )
    low, high = sorted([s.pk, y.pk])
    assert PossibleDuplicate.objects.filter(guest_a_id=low, guest_b_id=high).count() == 1
    assert len(merge.dropped["destination.PossibleDuplicate"]) == 1
    low, high = sorted([m.pk, z.pk])
    assert PossibleDuplicate.objects.get(guest_a_id=low, guest_b_id=high).status == "dismissed"


def test_fields_default_to_the_survivor_or_fill_its_blanks(world):
    s, m = world["s"], world["m"]
    merge = guest_merge(survivor=s, merged=m, actor=None)
    s.refresh_from_db()
    assert (s.first_name, s.last_name, s.birth_date, s.language) == (
        "Jeanne",
        "Martin",
        dt.date(1990, 5, 4),
        "en",
    )
    assert s.country.code == "FR"  # both had one: the survivor's
    assert s.household == world["home"]  # the survivor had none
    assert s.name_folded == "jeanne martin"
    assert s.last_contact_at == at(30)  # the latest of both
    assert merge.field_choices["first_name"] == "survivor"
    assert merge.field_choices["birth_date"] == "merged"


def test_explicit_field_choices_win(world):
    s, m = world["s"], world["m"]
    guest_merge(
        survivor=s,
        merged=m,
        field_choices={"first_name": "merged", "country": "merged", "household": "survivor"},
        actor=None,
    )
    s.refresh_from_db()
    assert s.first_name == "Jeane"
    assert s.name_folded == "jeane martin"
    assert s.country.code == "BE"
    assert s.household is None


@pytest.mark.parametrize(
    "choices", [{"email": "merged"}, {"first_name": "both"}], ids=["unknown-field", "bad-value"]
)
def test_invalid_field_choices_are_refused(world, choices):
    with pytest.raises(GuestError):
        guest_merge(survivor=world["s"], merged=world["m"], field_choices=choices, actor=None)
    assert Guest.objects.get(pk=world["m"].pk).status == Guest.Status.ACTIVE


def test_the_merged_id_keeps_resolving_even_down_a_chain(world):
    s, m = world["s"], world["m"]
    guest_merge(survivor=s, merged=m, actor=None)
    m.refresh_from_db()
    assert (m.status, m.merged_into_id) == (Guest.Status.MERGED, s.pk)
    assert m.merged_at is not None
    assert m.first_name == "Jeane"  # the row stays
    assert guest_resolve_id(m.pk) == s
    newer = GuestFactory()
    guest_merge(survivor=newer, merged=s, actor=None)
    assert guest_resolve_id(m.pk) == newer
    assert guest_resolve_id(newer.pk) == newer
    with pytest.raises(Guest.DoesNotExist):
        guest_resolve_id(10**9)


def test_merging_a_guest_with_itself_is_refused():
    g = GuestFactory()
    with pytest.raises(GuestError, match="itself"):
        guest_merge(survivor=g, merged=g, actor=None)


@pytest.mark.parametrize("side", ["survivor", "merged"])
def test_merging_an_erased_guest_is_refused(side):
    guests = {"survivor": GuestFactory(), "merged": GuestFactory()}
    Guest.objects.filter(pk=guests[side].pk).update(
        status=Guest.Status.ERASED, erased_at=timezone.now()
    )
    with pytest.raises(GuestError, match=rf"#{guests[side].pk} has been erased"):
        guest_merge(survivor=guests["survivor"], merged=guests["merged"], actor=None)


@pytest.mark.parametrize("side", ["survivor", "merged"])
def test_merging_an_already_merged_guest_names_its_survivor(side):
    first, other, target = GuestFactory(), GuestFactory(), GuestFactory()
    guest_merge(survivor=target, merged=first, actor=None)
    kwargs = (
        {"survivor": other, "merged": first}
        if side == "merged"
        else {
            "survivor": first,
            "merged": other,
        }
    )
    with pytest.raises(GuestError) as excinfo:
        guest_merge(**kwargs, actor=None)
    assert f"#{first.pk} was already merged into guest #{target.pk}" in str(excinfo.value)


def test_merge_is_audited_on_both_guests_and_on_the_survivors_timeline(world):
    s, m, p1 = world["s"], world["m"], world["p1"]
    merge = guest_merge(survivor=s, merged=m, actor=world["actor"], partner=p1)
    assert merge.merged_by == world["actor"]
    assert merge.acting_partner == p1
    assert merge.survivor_before["fields"]["first_name"] == "Jeanne"
    assert merge.merged_before["fields"]["birth_date"] == "1990-05-04"
    for guest, role in ((s, "survivor"), (m, "merged")):
        entry = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.MERGE)
        assert entry.actor == world["actor"]
        assert entry.acting_partner == p1
        assert entry.details["merge_id"] == merge.pk
        assert entry.details["role"] == role
    event = TimelineEvent.objects.get(guest=s, kind=TimelineEvent.Kind.MERGE)
    assert event.data["merge_id"] == merge.pk
    assert str(m.pk) in event.title


# --- Consent on merge -----------------------------------------------------------------------


def newsletter_state(guest: Guest) -> bool | None:
    state = ConsentState.objects.filter(
        guest=guest, purpose=Purpose.NEWSLETTER, partner=None, channel="email"
    ).first()
    return None if state is None else state.granted


@pytest.mark.parametrize(
    ("survivor_acts", "merged_acts", "expected"),
    [
        # Only one side has a state: it carries over.
        ([], [(True, 1, "form")], True),
        ([(False, 1, "desk")], [], False),
        # Both agree.
        ([(True, 1, "form")], [(True, 2, "import")], True),
        # They disagree: the withdrawal wins...
        ([(True, 1, "form")], [(False, 2, "email_link")], False),
        ([(False, 2, "email_link")], [(True, 1, "form")], False),
        # ...even against a later grant that the person did not give themselves...
        ([(False, 1, "desk")], [(True, 2, "import")], False),
        ([(False, 1, "desk")], [(True, 2, "system")], False),
        ([(True, 2, "import")], [(False, 1, "desk")], False),
        # ...unless the person granted it themselves after withdrawing.
        ([(False, 1, "desk")], [(True, 2, "form")], True),
        ([(True, 2, "api")], [(False, 1, "email_link")], True),
        ([(False, 1, "form")], [(True, 2, "email_link")], True),
        ([(True, 3, "desk")], [(False, 2, "form")], True),
    ],
)
def test_merge_never_makes_consent_more_permissive(survivor_acts, merged_acts, expected):
    s, m = GuestFactory(), GuestFactory()
    for guest, acts in ((s, survivor_acts), (m, merged_acts)):
        for granted, day, method in acts:
            consent(guest, granted=granted, when=at(day), method=method)
    ledger = ConsentEvent.objects.filter(guest__in=[s, m]).count()

    guest_merge(survivor=s, merged=m, actor=None)

    assert newsletter_state(s) is expected
    assert ConsentEvent.objects.filter(guest=s).count() == ledger  # the whole ledger moved
    assert ConsentState.objects.filter(guest=s).count() == 1
    state = ConsentState.objects.get(guest=s)
    assert state.event.guest_id == s.pk


def test_consent_scopes_are_compared_one_by_one():
    s, m = GuestFactory(), GuestFactory()
    p1, p2 = PartnerFactory(), PartnerFactory()
    offers = {"purpose": Purpose.PARTNER_OFFERS, "channels": ("email",)}
    consent(s, granted=True, when=at(1), partners=(p1,), **offers)
    consent(m, granted=False, when=at(2), method="email_link", partners=(p1,), **offers)
    consent(m, granted=True, when=at(2), partners=(p2,), **offers)
    consent(s, granted=True, when=at(1), channels=("sms",))
    guest_merge(survivor=s, merged=m, actor=None)
    states = {
        (st.purpose, st.partner_id, st.channel): st.granted
        for st in ConsentState.objects.filter(guest=s)
    }
    assert states == {
        (Purpose.PARTNER_OFFERS, p1.pk, "email"): False,
        (Purpose.PARTNER_OFFERS, p2.pk, "email"): True,
        (Purpose.NEWSLETTER, None, "sms"): True,
    }


# --- Undo -----------------------------------------------------------------------------------


def snapshot(*guests: Guest) -> dict[str, Any]:
    """Every row of every relation of these guests, as stored (ids included)."""
    ids = [g.pk for g in guests]
    rows: dict[str, Any] = {}
    for model, fk in guest_relations():
        label = model_label(model)
        if (label, fk.name) in MERGE_EXCLUDED or model in (MatchKey, ConsentState):
            continue
        for row in model._default_manager.filter(**{f"{fk.name}__in": ids}):
            if model is TimelineEvent and row.kind == TimelineEvent.Kind.MERGE:
                continue
            rows[f"{label}#{row.pk}"] = row_serialize(row)
    rows["consent_states"] = sorted(
        ConsentState.objects.filter(guest__in=ids).values_list(
            "guest_id", "purpose", "partner_id", "channel", "granted", "event_id"
        ),
        key=str,
    )
    for guest in Guest.objects.filter(pk__in=ids):
        data = row_serialize(guest)
        data["fields"].pop("updated_at")
        rows[f"guest#{guest.pk}"] = data
    return rows


def test_undo_restores_exactly_what_was_there(world):
    s, m = world["s"], world["m"]
    # Consent disagreement where the merged guest's state wins (and replaces the survivor's).
    consent(s, granted=False, when=at(3), method="desk", purpose=Purpose.PROFILING, channels=())
    consent(m, granted=True, when=at(4), method="form", purpose=Purpose.PROFILING, channels=())
    before = snapshot(s, m)
    keys_before = set(MatchKey.objects.filter(guest=m).values_list("key", flat=True))

    merge = guest_merge(survivor=s, merged=m, actor=world["actor"])
    assert snapshot(s, m) != before
    guest_merge_undo(merge=merge, actor=world["actor"])

    assert snapshot(s, m) == before
    m.refresh_from_db()
    assert (m.status, m.merged_into_id, m.merged_at) == (Guest.Status.ACTIVE, None, None)
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert merge.undone_by == world["actor"]
    assert MatchKey.objects.filter(guest=m).exists()  # recomputed for the restored guest
    assert keys_before  # (set up by the fixture, replaced by the recomputed ones)
    for guest in (s, m):
        assert AuditEntry.objects.filter(guest=guest, action=AuditEntry.Action.UNMERGE).exists()
    assert TimelineEvent.objects.filter(guest=s, kind=TimelineEvent.Kind.MERGE).count() == 2


def test_undo_keeps_what_happened_to_the_survivor_after_the_merge(world):
    s, m = world["s"], world["m"]
    merge = guest_merge(survivor=s, merged=m, actor=None)
    later = InteractionFactory(guest=s, partner=world["p1"])
    consent(s, granted=False, when=timezone.now(), method="email_link")
    guest_merge_undo(merge=merge, actor=None)
    later.refresh_from_db()
    assert later.guest_id == s.pk
    assert newsletter_state(s) is False  # the withdrawal recorded after the merge stays
    assert ConsentState.objects.filter(guest=m, purpose=Purpose.PROFILING, granted=True).exists()


def test_undo_twice_is_refused(world):
    merge = guest_merge(survivor=world["s"], merged=world["m"], actor=None)
    guest_merge_undo(merge=merge, actor=None)
    with pytest.raises(GuestError, match="already been undone"):
        guest_merge_undo(merge=merge, actor=None)


@pytest.mark.parametrize("who", ["survivor", "merged-into-new"])
def test_undo_is_refused_after_a_later_merge_of_either_guest(world, who):
    s, m = world["s"], world["m"]
    merge = guest_merge(survivor=s, merged=m, actor=None)
    other = GuestFactory()
    if who == "survivor":
        guest_merge(survivor=s, merged=other, actor=None)
    else:
        guest_merge(survivor=other, merged=s, actor=None)
    with pytest.raises(GuestError, match="later merge"):
        guest_merge_undo(merge=merge, actor=None)
    assert GuestMerge.objects.get(pk=merge.pk).undone_at is None


def test_undo_of_the_later_merge_then_the_first_one_works(world):
    s, m = world["s"], world["m"]
    first = guest_merge(survivor=s, merged=m, actor=None)
    second = guest_merge(survivor=s, merged=GuestFactory(), actor=None)
    guest_merge_undo(merge=second, actor=None)
    guest_merge_undo(merge=first, actor=None)
    assert Guest.objects.get(pk=m.pk).status == Guest.Status.ACTIVE
