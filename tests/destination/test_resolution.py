"""Identity resolution: exact and fuzzy matching, review queue, enrichment, bulk, concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone, translation

from destination.linkage import store
from destination.models import (
    AuditEntry,
    Guest,
    GuestEmail,
    GuestExternalRef,
    GuestPhone,
    MatchKey,
    PossibleDuplicate,
    ResolutionKey,
    TimelineEvent,
)
from destination.services.resolution import (
    Decision,
    PersonData,
    guest_candidates,
    guest_resolve,
    guest_resolve_many,
    match_keys_for,
    match_keys_refresh,
    name_skeleton,
    person_validate,
)
from partners.models import PartnerGuestLink
from tests.factories import PartnerFactory, UserFactory
from tests.queries import assert_at_most, assert_same_num_queries, capture_queries

pytestmark = pytest.mark.django_db

SRC = Guest.Source.DESK


def resolve(**kwargs) -> object:
    return guest_resolve(PersonData(**kwargs), source=SRC)


def jean(**extra) -> PersonData:
    data = {
        "first_name": "Jean",
        "last_name": "Martin",
        "email": "jean.martin@example.com",
        "phone": "+33612345678",
        "country": "FR",
        "birth_date": dt.date(1980, 5, 17),
    }
    data.update(extra)
    return PersonData(**data)


# --- Validation ---------------------------------------------------------------------------


def test_validate_normalises_contacts_and_names():
    clean, errors = person_validate(
        PersonData(
            first_name="  Zoë ",
            last_name="O'Brien",
            email="  Zoe.OBrien@Example.COM ",
            phone="06 12 34 56 78",
            country="fr",
            language="FR",
        )
    )
    assert errors == {}
    assert clean.emails == ("zoe.obrien@example.com",)
    assert clean.phones == ("+33612345678",)
    assert clean.first_folded == "zoe"
    assert clean.last_folded == "o brien"
    assert clean.country == "FR"
    assert clean.language == "fr"


def test_validate_reads_national_phone_with_the_persons_country():
    clean, errors = person_validate(
        PersonData(last_name="Keller", phone="044 668 18 00", country="CH")
    )
    assert errors == {}
    assert clean.phones == ("+41446681800",)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.c", "phone": "123"}, "phone"),
        ({"email": "a@b.co", "phone": "+33 6 12"}, "phone"),
        ({"email": "a@b.co", "country": "Atlantis"}, "country"),
        ({"email": "a@b.co", "language": "klingon"}, "language"),
        ({"email": "a@b.co", "birth_date": dt.date(1850, 1, 1)}, "birth_date"),
        ({"email": "a@b.co", "extra_emails": ("ok@x.org", "bad@")}, "extra_emails"),
        ({"email": "a@b.co", "extra_phones": ("zzz",)}, "extra_phones"),
        ({}, "__all__"),
    ],
)
def test_bad_input_is_rejected_with_field_errors_and_writes_nothing(data, field):
    result = guest_resolve(
        PersonData(first_name="Ann", **data) if data else PersonData(), source=SRC
    )
    assert result.decision == Decision.REJECTED
    assert result.guest is None
    assert field in result.errors
    assert all(isinstance(m, str) and m for m in result.errors[field])
    assert Guest.objects.count() == 0
    assert ResolutionKey.objects.count() == 0


def test_future_birth_date_is_rejected():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    result = guest_resolve(jean(birth_date=tomorrow), source=SRC)
    assert result.decision == Decision.REJECTED
    assert list(result.errors) == ["birth_date"]


# --- Creating -----------------------------------------------------------------------------


def test_new_person_is_created_with_contacts_keys_audit_and_timeline():
    user = UserFactory()
    partner = PartnerFactory()
    result = guest_resolve(
        jean(language="fr"),
        source=Guest.Source.BOOKING,
        source_detail="web shop",
        partner=partner,
        actor=user,
    )
    assert result.decision == Decision.CREATED
    guest = Guest.objects.get()
    assert result.guest == guest
    assert guest.name_folded == "jean martin"
    assert guest.source == Guest.Source.BOOKING
    assert guest.source_detail == "web shop"
    assert guest.created_by == user
    assert guest.created_by_partner == partner
    assert guest.emails.get().is_primary
    assert str(guest.phones.get().phone) == "+33612345678"
    assert set(guest.match_keys.values_list("key", flat=True)) == match_keys_for(
        first_folded="jean",
        last_folded="martin",
        birth_date=dt.date(1980, 5, 17),
        emails=["jean.martin@example.com"],
        phones=["+33612345678"],
    )
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.actor, audit.acting_partner) == ("create", user, partner)
    event = TimelineEvent.objects.get()
    assert event.kind == TimelineEvent.Kind.PROFILE
    assert event.guest == guest
    link = PartnerGuestLink.objects.get()
    assert (link.partner, link.guest, link.reason) == (partner, guest, "created")
    assert ResolutionKey.objects.filter(key="email:jean.martin@example.com").exists()


def test_import_source_titles_the_timeline_and_links_as_imported():
    partner = PartnerFactory()
    guest_resolve(jean(), source=Guest.Source.IMPORT, source_detail="winter-2025", partner=partner)
    assert TimelineEvent.objects.get().title == "Profile created from import winter-2025"
    assert PartnerGuestLink.objects.get().reason == PartnerGuestLink.Reason.IMPORTED


# --- Exact matches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {"email": "  JEAN.Martin@Example.com "},
        {"email": "", "phone": "06 12 34 56 78"},
        {"email": "", "phone": "0033 6 12 34 56 78"},
        {"first_name": "Jéan", "last_name": "MARTIN"},
        {"first_name": "Martin", "last_name": "Jean"},
        {"first_name": "", "last_name": "", "birth_date": None},  # only an email
    ],
)
def test_exact_contact_with_compatible_identity_matches(variant):
    first = guest_resolve(jean(), source=SRC)
    result = guest_resolve(jean(**variant), source=SRC)
    assert result.decision == Decision.MATCHED, result
    assert result.guest.pk == first.guest.pk
    assert Guest.objects.count() == 1
    assert AuditEntry.objects.filter(action="create").count() == 1


def test_a_typo_that_makes_another_real_name_goes_to_review():
    """ "Jaen" folds to "jan" (its "ae" read as an "ä"), a first name the model knows: Jean and
    Jan on one address and birth date may be twins (as Louis and Louise), so a person decides,
    with the pair at the top of the queue."""
    first = guest_resolve(jean(), source=SRC)
    result = guest_resolve(jean(first_name="Jaen"), source=SRC)
    assert result.decision == Decision.REVIEW, result
    assert result.review_with == [first.guest.pk]
    assert result.score is not None and result.score > 0.99


def test_match_enriches_without_overwriting():
    first = guest_resolve(
        PersonData(first_name="Jean", email="jean.martin@example.com"), source=SRC
    )
    result = guest_resolve(
        jean(
            first_name="Jeanne-Marie",
            email="JEAN.martin@example.com",
            extra_emails=("jm@work.example",),
        ),
        source=SRC,
    )
    # A different first name: not the same person, whatever the shared address. Queued or
    # not as the model scores the pair (the guest knows only a first name and the address).
    assert result.decision in {Decision.REVIEW, Decision.CREATED}
    assert result.guest.pk != first.guest.pk

    result = guest_resolve(
        jean(email="jean.martin@example.com", extra_emails=("jm@work.example",), language="de"),
        source=SRC,
    )
    assert result.decision == Decision.MATCHED
    guest = Guest.objects.get(pk=first.guest.pk)
    assert guest.first_name == "Jean"
    assert guest.last_name == "Martin"  # filled
    assert guest.birth_date == dt.date(1980, 5, 17)
    assert guest.language == "de"
    assert guest.name_folded == "jean martin"
    emails = dict(guest.emails.values_list("email_normalized", "is_primary"))
    assert emails == {"jean.martin@example.com": True, "jm@work.example": False}
    assert guest.phones.get().is_primary  # first phone of the guest becomes primary
    assert MatchKey.objects.filter(guest=guest, key="e:jm").count() == 0  # too short for a key
    assert MatchKey.objects.filter(guest=guest, key__startswith="n:").count() == 1
    assert AuditEntry.objects.filter(guest=guest, action="change").count() == 1


def test_merged_guest_resolves_to_the_survivor_and_erased_guests_are_never_matched():
    survivor = guest_resolve(jean(email="jean@survivor.example"), source=SRC).guest
    merged = guest_resolve(
        jean(email="old@example.com", phone="", birth_date=None), source=SRC
    ).guest
    Guest.objects.filter(pk=merged.pk).update(status=Guest.Status.MERGED, merged_into=survivor)
    result = guest_resolve(jean(email="old@example.com", phone=""), source=SRC)
    assert result.decision == Decision.MATCHED
    assert result.guest.pk == survivor.pk

    Guest.objects.filter(pk=merged.pk).update(status=Guest.Status.ACTIVE, merged_into=None)
    Guest.objects.filter(pk=survivor.pk).update(status=Guest.Status.ERASED)
    Guest.objects.filter(pk=merged.pk).update(status=Guest.Status.ERASED)
    result = guest_resolve(jean(email="old@example.com", phone=""), source=SRC)
    assert result.decision == Decision.CREATED
    assert result.guest.pk not in {survivor.pk, merged.pk}


# --- Review -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {"birth_date": dt.date(1981, 5, 17)},  # both birth dates known and different
        {"first_name": "Jeanne"},  # an ending change is another name, not a typo
        {"last_name": "Dupont"},
    ],
)
def test_exact_contact_with_disagreeing_identity_goes_to_review(variant):
    first = guest_resolve(jean(), source=SRC).guest
    result = guest_resolve(jean(**variant), source=SRC)
    assert result.decision == Decision.REVIEW
    assert result.review_with == [first.pk]
    assert result.guest.pk != first.pk
    pair = PossibleDuplicate.objects.get()
    assert (pair.guest_a_id, pair.guest_b_id) == (first.pk, result.guest.pk)
    assert "email" in pair.reasons
    assert pair.detected_by == "resolution/linkage:v0"
    assert pair.score == result.score


def test_a_child_on_the_family_email_is_a_household_never_queued():
    """The family rule (a shared address, birth dates far apart): another person, neither
    merged nor suggested, as ``dedupe_guests`` decides on the whole base."""
    first = guest_resolve(jean(), source=SRC).guest
    result = guest_resolve(jean(first_name="Lucie", birth_date=dt.date(2012, 3, 1)), source=SRC)
    assert result.decision == Decision.CREATED
    assert result.guest.pk != first.pk
    assert not PossibleDuplicate.objects.exists()


def test_shared_email_without_a_name_is_ambiguous_between_family_members():
    parent = guest_resolve(jean(), source=SRC).guest
    child = guest_resolve(
        jean(first_name="Lucie", birth_date=dt.date(2012, 3, 1)), source=SRC
    ).guest
    result = guest_resolve(PersonData(email="jean.martin@example.com"), source=SRC)
    assert result.decision == Decision.REVIEW
    assert set(result.review_with) == {parent.pk, child.pk}
    # Known family members with their own name still match.
    again = guest_resolve(jean(first_name="Lucie", birth_date=None), source=SRC)
    assert again.decision == Decision.MATCHED
    assert again.guest.pk == child.pk


def test_fuzzy_candidate_without_exact_contact_goes_to_review():
    first = guest_resolve(jean(), source=SRC).guest
    result = guest_resolve(
        jean(first_name="Jaen", last_name="Martinn", email="jm1980@other.example", phone=""),
        source=SRC,
    )
    assert result.decision == Decision.REVIEW
    assert result.review_with == [first.pk]
    assert "birth_date" in result.reasons


def test_homonym_with_other_birth_date_and_contacts_is_created():
    guest_resolve(jean(), source=SRC)
    result = guest_resolve(
        jean(email="jmartin@corp.example", phone="+33698765432", birth_date=dt.date(1955, 2, 2)),
        source=SRC,
    )
    assert result.decision == Decision.CREATED
    assert PossibleDuplicate.objects.count() == 0


def test_review_pairs_are_never_duplicated_on_rerun():
    guest_resolve(jean(), source=SRC)
    other = jean(last_name="Dupont")
    assert guest_resolve(other, source=SRC).decision == Decision.REVIEW
    # The other guest now exists and matches itself; the pair with the first stays single.
    again = guest_resolve(other, source=SRC)
    assert again.decision == Decision.MATCHED
    assert PossibleDuplicate.objects.count() == 1


# --- External ids -------------------------------------------------------------------------


def test_known_external_id_resolves_to_its_guest_and_writes_nothing_new():
    first = guest_resolve(
        jean(external_id="X1"), source=Guest.Source.IMPORT, source_detail="crm"
    ).guest
    assert GuestExternalRef.objects.get().guest == first
    counts = (Guest.objects.count(), AuditEntry.objects.count(), TimelineEvent.objects.count())
    result = guest_resolve(
        jean(external_id="X1", email="", phone=""), source=Guest.Source.IMPORT, source_detail="crm"
    )
    assert result.decision == Decision.MATCHED
    assert result.reasons == ["external_id"]
    assert result.guest.pk == first.pk
    assert counts == (
        Guest.objects.count(),
        AuditEntry.objects.count(),
        TimelineEvent.objects.count(),
    )
    # Another source with the same id is another reference.
    other = guest_resolve(
        PersonData(first_name="Zed", last_name="Zulu", external_id="X1"),
        source=Guest.Source.IMPORT,
        source_detail="other",
    )
    assert other.decision == Decision.CREATED


# --- Bulk ---------------------------------------------------------------------------------


def test_bulk_resolves_same_new_person_twice_in_one_batch_to_one_guest():
    results = guest_resolve_many(
        [jean(), jean(email=" Jean.Martin@example.com", phone=""), PersonData(email="bad")],
        source=SRC,
    )
    assert [r.decision for r in results] == ["created", "matched", "rejected"]
    assert results[0].guest.pk == results[1].guest.pk
    assert Guest.objects.count() == 1
    assert GuestEmail.objects.count() == 1


def test_bulk_review_between_two_new_people_of_the_batch():
    results = guest_resolve_many([jean(), jean(last_name="Dupont")], source=SRC)
    assert [r.decision for r in results] == ["created", "review"]
    assert results[1].review_with == [results[0].guest.pk]
    assert PossibleDuplicate.objects.get().guest_a_id == results[0].guest.pk


def _people(n: int, offset: int = 0) -> list[PersonData]:
    return [
        PersonData(
            first_name=f"Name{i}",
            last_name=f"Family{i}",
            email=f"p{i}@bulk.example",
            phone=f"+3361{i:07d}",
            birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=i),
            external_id=f"E{i}",
        )
        for i in range(offset, offset + n)
    ]


def test_bulk_runs_a_fixed_number_of_queries_per_batch():
    partner = PartnerFactory()
    kwargs = {"source": Guest.Source.IMPORT, "source_detail": "q", "partner": partner}
    guest_resolve_many(_people(3), **kwargs)  # some existing guests for the matched path
    # The active linkage model is read once per process and interval, not per batch.
    store.linkage_model_cached()
    with capture_queries() as small:
        guest_resolve_many(_people(3, 0) + _people(3, 100), **kwargs)
    with capture_queries() as large:
        guest_resolve_many(_people(3, 0) + _people(40, 200), **kwargs)
    assert_same_num_queries(small, large)
    assert_at_most(large, 30)


def test_bulk_batches_split_work_but_keep_results_in_order():
    people = _people(25)
    results = guest_resolve_many(people, source=SRC, batch_size=7)
    assert [r.decision for r in results] == ["created"] * 25
    assert [r.guest.first_name for r in results] == [p.first_name for p in people]
    again = guest_resolve_many(people, source=SRC, batch_size=10)
    assert [r.guest.pk for r in again] == [r.guest.pk for r in results]
    assert {r.decision for r in again} == {"matched"}


def test_bulk_validates_ahead_in_a_thread_and_keeps_the_callers_language():
    """Several batches: the next ones are validated in a second thread. Rejections keep their
    place in the results and their messages come in the caller's language."""
    people = _people(6)
    people[1] = PersonData(first_name="Bad", email="not-an-email")
    people[5] = PersonData(first_name="Worse", phone="12")
    with translation.override("fr"):
        results = guest_resolve_many(people, source=SRC, batch_size=2)
    assert [r.decision for r in results] == [
        "created", "rejected", "created", "created", "created", "rejected"
    ]  # fmt: skip
    assert "n'est pas une adresse" in results[1].errors["email"][0]
    assert "n'est pas un numéro" in results[5].errors["phone"][0]
    assert [r.guest.first_name for i, r in enumerate(results) if i not in (1, 5)] == [
        p.first_name for i, p in enumerate(people) if i not in (1, 5)
    ]


# --- Candidates and keys ------------------------------------------------------------------


def test_skeleton_collides_on_spelling_variants():
    assert name_skeleton("muller") == name_skeleton("mueller")
    assert name_skeleton("schmidt") == name_skeleton("schmitt")
    assert name_skeleton("philippe") == name_skeleton("filipe")
    assert name_skeleton("martin") != name_skeleton("bernard")


def test_guest_candidates_for_a_person_and_for_a_guest():
    first = guest_resolve(jean(), source=SRC).guest
    other = guest_resolve(
        jean(first_name="Jaen", email="x@y.example", phone="", birth_date=dt.date(1980, 5, 17)),
        source=SRC,
    ).guest
    candidates = guest_candidates(
        PersonData(
            first_name="Jean",
            last_name="Martin",
            email="jean.martin@example.com",
            birth_date=dt.date(1980, 5, 17),
        )
    )
    assert candidates[0].guest_id == first.pk
    assert "email" in candidates[0].reasons
    assert {c.guest_id for c in candidates} == {first.pk, other.pk}
    # Invalid fields are ignored, not raised.
    assert guest_candidates(
        PersonData(
            first_name="Jean", last_name="Martin", email="bad@", birth_date=dt.date(1980, 5, 17)
        )
    )
    from_guest = guest_candidates(first)
    assert [c.guest_id for c in from_guest] == [other.pk]


def test_match_keys_refresh_follows_edits_and_status():
    guest = guest_resolve(jean(), source=SRC).guest
    Guest.objects.filter(pk=guest.pk).update(first_name="Paul", name_folded="paul martin")
    match_keys_refresh([guest.pk])
    keys = set(MatchKey.objects.filter(guest=guest).values_list("key", flat=True))
    assert "n:" + " ".join(sorted([name_skeleton("paul"), name_skeleton("martin")])) in keys
    assert "n:" + " ".join(sorted([name_skeleton("jean"), name_skeleton("martin")])) not in keys
    Guest.objects.filter(pk=guest.pk).update(status=Guest.Status.ERASED)
    match_keys_refresh([guest.pk])
    assert not MatchKey.objects.filter(guest=guest).exists()


def test_phone_only_person_matches_by_phone():
    first = guest_resolve(PersonData(phone="+41 44 668 18 00"), source=SRC).guest
    result = guest_resolve(
        PersonData(phone="044 668 18 00", country="CH", first_name="Ueli"), source=SRC
    )
    assert result.decision == Decision.MATCHED
    assert result.guest.pk == first.pk
    assert GuestPhone.objects.count() == 1
    first.refresh_from_db()
    assert first.first_name == "Ueli"


# --- Concurrency (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_resolutions_of_one_new_email_create_one_guest():
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[object] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                guest_resolve(
                    PersonData(
                        first_name="Anna",
                        last_name="Keller",
                        email=f" ANNA.keller@race.example{' ' * i}",
                    ),
                    source=Guest.Source.SIGNUP,
                )
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Guest.objects.count() == 1
    assert sorted(r.decision for r in results) == ["created"] + ["matched"] * (threads_count - 1)
    assert len({r.guest.pk for r in results}) == 1
    assert GuestEmail.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_resolutions_of_a_new_child_on_a_known_family_email_create_one_child():
    # The email is known (the parent's), so the lock must cover known contacts too whenever the
    # person may be created.
    parent = guest_resolve(jean(), source=Guest.Source.DESK).guest
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    results: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                guest_resolve(
                    jean(first_name="Lucie", birth_date=dt.date(2012, 3, 1), phone=""),
                    source=Guest.Source.BOOKING,
                )
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Guest.objects.count() == 2
    # A household (the family rule): the child is created once, never queued with the parent.
    assert sorted(r.decision for r in results) == ["created"] + ["matched"] * (threads_count - 1)
    child = next(r.guest for r in results if r.decision == "created")
    assert {r.guest.pk for r in results} == {child.pk} != {parent.pk}
    assert not PossibleDuplicate.objects.exists()


# --- The benchmark script must keep working (not timed) -----------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_resolution_benchmark_builds_and_measures_on_a_small_database():
    from benchmarks.resolution import benchmark

    lines: list[str] = []
    figures = benchmark(
        guests=2000,
        import_size=200,
        lookups=20,
        searches=10,
        search_baseline=3,
        bulk_baseline=10,
        batch_size=100,
        log=lines.append,
    )
    assert Guest.objects.count() >= 2000 + 100  # the new half of the import was created
    assert MatchKey.objects.count() > 2000
    assert figures["exact"]["email"]["right"] == figures["exact"]["email"]["n"] == 20
    assert figures["exact"]["phone"]["right"] == figures["exact"]["phone"]["n"] == 20
    assert figures["search"]["found"] >= 8
    assert figures["bulk"]["n"] == 200
    assert sum(figures["bulk"]["decisions"].values()) == 200
    assert any("people/s" in line for line in lines)


# --- Keep every person (issue 14) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "kept"),
    [
        ({"phone": "12"}, "phone", {"emails": 1, "phones": 0, "birth_date": True}),
        ({"birth_date": "1980-02-31"}, "birth_date", {"emails": 1, "phones": 1, "birth_date": False}),
        ({"country": "Atlantis"}, "country", {"emails": 1, "phones": 1, "birth_date": True}),
        ({"email": "jean@"}, "email", {"emails": 0, "phones": 1, "birth_date": True}),
        ({"language": "klingon"}, "language", {"emails": 1, "phones": 1, "birth_date": True}),
    ],
)  # fmt: skip
def test_keep_partial_keeps_the_person_without_the_unreadable_field(data, field, kept):
    result = guest_resolve(jean(**data), source=Guest.Source.IMPORT, keep_partial=True)
    assert result.decision == Decision.CREATED
    assert result.errors == {}
    [warning] = result.warnings
    assert (warning.field, warning.code) == (field, "left_out")
    assert warning.message.startswith("Left out: “")
    guest = result.guest
    assert {
        "emails": guest.emails.count(),
        "phones": guest.phones.count(),
        "birth_date": guest.birth_date is not None,
    } == kept
    audit = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.CREATE)
    assert audit.details["fields_left_out"] == [field]
    # Without keep_partial (a form: someone is there to correct it) the field still refuses.
    assert guest_resolve(jean(external_id="other", **data), source=SRC).decision == "rejected"


def test_keep_partial_refuses_only_when_nothing_identifying_remains():
    result = guest_resolve(
        PersonData(email="jean@", phone="12", country="FR"), source=SRC, keep_partial=True
    )
    assert result.decision == Decision.REJECTED
    assert set(result.errors) == {"email", "phone", "__all__"}
    assert result.warnings == []
    assert Guest.objects.count() == 0
    # The external id is the caller's key: one that cannot be stored still refuses.
    too_long = guest_resolve(jean(external_id="x" * 200), source=SRC, keep_partial=True)
    assert list(too_long.errors) == ["external_id"]


def test_keep_partial_warnings_keep_their_place_in_bulk_and_the_callers_language():
    people = _people(4)
    people[1] = PersonData(first_name="Bad", last_name="Phone", phone="12")
    with translation.override("fr"):
        results = guest_resolve_many(people, source=SRC, batch_size=2, keep_partial=True)
    assert [r.decision for r in results] == ["created"] * 4
    assert [len(r.warnings) for r in results] == [0, 1, 0, 0]
    assert results[1].warnings[0].message.startswith("Laissé de côté : « 12 »")


def test_a_national_phone_with_nothing_to_read_it_is_kept_as_typed():
    person = PersonData(first_name="An", last_name="Peeters", phone="0470 12 34 56")
    result = guest_resolve(person, source=SRC)
    [warning] = result.warnings
    assert (warning.field, warning.code, warning.value) == ("phone", "phone_as_typed", "0470123456")
    guest = result.guest
    # Not stored as a phone (not E.164: never guessed), kept for matching by its digits.
    assert not guest.phones.exists()
    keys = set(guest.match_keys.values_list("key", flat=True))
    assert {"pt:0470123456", "p:123456"} <= keys
    audit = AuditEntry.objects.get(guest=guest, action=AuditEntry.Action.CREATE)
    assert audit.details["phones_as_typed"] == ["0470123456"]
    # Sending the person again changes nothing: the digits as typed are an exact contact.
    audits, guests = AuditEntry.objects.count(), Guest.objects.count()
    again = guest_resolve(person, source=SRC)
    assert (again.decision, again.guest.pk) == (Decision.MATCHED, guest.pk)
    assert (AuditEntry.objects.count(), Guest.objects.count()) == (audits, guests)
    # Kept through a refresh of the blocking keys (after an edit, a merge).
    match_keys_refresh([guest.pk])
    assert guest.match_keys.filter(key="pt:0470123456").exists()
    # The same number written with its country code meets it through its digits.
    later = guest_resolve(
        PersonData(first_name="An", last_name="Peters", phone="+32 470 12 34 56"), source=SRC
    )
    assert later.decision == Decision.REVIEW
    assert "phone_fragment" in later.reasons
    assert AuditEntry.objects.count() > audits


def test_a_known_phone_of_the_candidate_guest_reads_a_national_number():
    known = guest_resolve(
        PersonData(first_name="An", last_name="Peeters", email="an@mail.example",
                   phone="+32 470 12 34 56"),
        source=SRC,
    ).guest  # fmt: skip
    # Same email, the phone typed nationally with no country: read as the guest's own phone.
    result = guest_resolve(
        PersonData(first_name="An", last_name="Peeters", email="an@mail.example",
                   phone="0470 12 34 56"),
        source=SRC,
    )  # fmt: skip
    assert (result.decision, result.guest.pk) == (Decision.MATCHED, known.pk)
    assert result.warnings == []
    assert list(known.phones.values_list("phone", flat=True)) == ["+32470123456"]
    # No email in common: the guest whose phone ends with the same digits is asked too, and
    # the phone read through it is an exact match.
    by_phone = guest_resolve(
        PersonData(first_name="An", last_name="Peeters", phone="0470 12 34 56"), source=SRC
    )
    assert (by_phone.decision, by_phone.guest.pk) == (Decision.MATCHED, known.pk)
    assert by_phone.reasons[:1] == ["phone"]


def test_the_email_domain_reads_a_national_phone_and_is_audited():
    result = guest_resolve(
        PersonData(first_name="Mette", last_name="Holm", email="mette@jubii.dk", phone="20123456"),
        source=SRC,
    )
    assert result.warnings == []
    assert list(result.guest.phones.values_list("phone", flat=True)) == ["+4520123456"]
    audit = AuditEntry.objects.get(guest=result.guest, action=AuditEntry.Action.CREATE)
    assert audit.details["phones_read_by"] == {"+4520123456": "email_domain"}


# --- Validation in forked processes, deadlock retry -----------------------------------------


def test_bulk_validates_in_forked_processes_with_the_same_results():
    """validation_processes: batches validated ahead by forked processes give the same results,
    in the same order, with messages in the caller's language, as the validating thread."""
    people = _people(7)
    people[2] = PersonData(email="not-an-email")
    people[6] = PersonData(first_name="Kept", last_name="Anyway", phone="12")
    with translation.override("fr"):
        forked = guest_resolve_many(
            people, source=SRC, batch_size=2, validation_processes=2, keep_partial=True
        )
    assert [r.decision for r in forked] == [
        "created", "created", "rejected", "created", "created", "created", "created"
    ]  # fmt: skip
    assert "n'est pas une adresse" in forked[2].errors["email"][0]
    assert forked[6].warnings[0].message.startswith("Laissé de côté")
    again = guest_resolve_many(people, source=SRC, batch_size=3, validation_processes=1)
    assert [r.guest.pk for r in again if r.guest] == [
        r.guest.pk for i, r in enumerate(forked) if i not in (2, 6)
    ]


def test_a_batch_that_meets_a_deadlock_is_retried(monkeypatch):
    from django.db import OperationalError

    from destination.services import resolution

    class Deadlock(Exception):
        sqlstate = "40P01"

    real = resolution._resolve_batch
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from Deadlock()
        return real(*args, **kwargs)

    monkeypatch.setattr(resolution, "_resolve_batch", flaky)
    monkeypatch.setattr(resolution.time, "sleep", lambda _s: None)
    [result] = guest_resolve_many([jean()], source=SRC)
    assert result.decision == Decision.CREATED and len(calls) == 2
    # Another error is not retried.
    calls.clear()

    def broken(*args, **kwargs):
        calls.append(1)
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(resolution, "_resolve_batch", broken)
    with pytest.raises(OperationalError):
        guest_resolve_many([jean(email="other@example.com")], source=SRC)
    assert len(calls) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_imports_of_overlapping_files_create_each_person_once(tmp_path):
    """Two import commands at once (two processes, each validating in a forked process) on
    files that share half their people: every person once, no deadlock left unhandled."""
    import os
    import subprocess
    import sys

    from django.db.models import Count

    header = "external_id,first_name,last_name,email,phone,country,birth_date,language\n"

    def line(i: int) -> str:
        return f"X{i},Name{i},Family{i},p{i}@race.example,+3361{i:07d},FR,,fr\n"

    shared = list(range(0, 300))
    files = []
    for name, own in (("a", range(1000, 1300)), ("b", range(2000, 2300))):
        rows = [line(i) for i in [*shared, *own]]
        if name == "b":
            rows.reverse()  # the shared people in the other order
        path = tmp_path / f"{name}.csv"
        path.write_text(header + "".join(rows), encoding="utf-8")
        files.append(path)
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "destination.settings.test"}
    commands = [
        [sys.executable, "manage.py", "import_guests", str(path), "--source", "race",
         "--batch-size", "50", "--validation-processes", "1"]
        for path in files
    ]  # fmt: skip
    running = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for c in commands]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in running]
    assert [p.returncode for p in running] == [0, 0], outputs
    assert Guest.objects.count() == 900
    assert GuestEmail.objects.count() == 900
    assert GuestExternalRef.objects.filter(source="race").count() == 900
    # Each shared person resolved once: by the first import, matched by the second.
    assert not Guest.objects.values("name_folded").annotate(n=Count("id")).filter(n__gt=1).exists()
