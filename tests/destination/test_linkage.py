"""The linkage model: features, the family rules, the Python scorer against Splink, the store."""

from __future__ import annotations

import datetime as dt
import logging
import math

import pytest

from destination.linkage.features import features_for, name_canon, name_nick, phone_canon
from destination.linkage.model import (
    MIN_BASE_RECORDS,
    Thresholds,
    decide,
    predict,
    prior_for_base,
)
from destination.linkage.scorer import Scorer
from destination.linkage.store import _default, linkage_model_current, linkage_model_save
from tests.destination.data.linkage_people import TEST_SEED, build


@pytest.fixture(autouse=True)
def _quiet_splink():
    logging.getLogger("splink").setLevel(logging.ERROR)


def _row(uid: int, **fields) -> dict:
    return features_for(unique_id=uid, **fields)


def test_names_fold_accents_and_transliterations():
    assert name_canon("Müller") == name_canon("Mueller") == name_canon("MULLER")
    assert name_canon("Søren") == name_canon("Soeren") == name_canon("Soren")
    assert name_canon("de Jong") == name_canon("DeJong")
    assert name_canon("Weiß") == name_canon("Weiss")
    assert name_canon("") is None
    assert name_nick(name_canon("Bill")) == name_nick(name_canon("William")) == "william"


def test_national_phone_read_with_the_best_evidence_or_kept_as_typed():
    # The email's country domain says Belgium.
    row = _row(1, phone="0471 23 45 67", email="an@skynet.be")
    assert row["phone"] == "+32471234567"
    # The language says Italian.
    assert _row(2, phone="347 123 4567", language="it")["phone"] == "+393471234567"
    # Nothing says: kept as its digits, matched by its last 8 digits, never guessed.
    row = _row(3, phone="06 12 34 56 78", email="x@gmail.com")
    assert row["phone"] == "0612345678"
    assert row["phone_last8"] == _row(4, phone="+33612345678")["phone_last8"]
    assert phone_canon("12") is None


def test_family_rules_are_hard_constraints():
    scorer = _default().scorer()
    counts = {"jean": 10, "jeanne": 10, "louis": 10, "louise": 10}
    scorer.first_name_counts = counts
    parent = _row(1, first_name="Jean", last_name="Martin", email="famille.martin@orange.fr",
                  birth_date=dt.date(1970, 3, 4))  # fmt: skip
    child = _row(2, first_name="Louise", last_name="Martin", email="famille.martin@orange.fr",
                 birth_date=dt.date(2010, 6, 7))  # fmt: skip
    assert scorer.score(parent, child).constraint == "household"
    # The child named after the parent, on the family address: a household too.
    junior = _row(7, first_name="Jean", last_name="Martin", email="famille.martin@orange.fr",
                  birth_date=dt.date(2004, 9, 1))  # fmt: skip
    assert scorer.score(parent, junior).constraint == "household"
    twin_a = _row(3, first_name="Louis", last_name="Dubois", birth_date=dt.date(2001, 2, 3),
                  email="dubois.twins@free.fr")  # fmt: skip
    twin_b = _row(4, first_name="Louise", last_name="Dubois", birth_date=dt.date(2001, 2, 3),
                  email="dubois.twins@free.fr")  # fmt: skip
    thresholds = Thresholds(auto_match_weight=-100, review_match_weight=-200)
    # Louis and Louise, one letter apart, both real names, on one address and birth date:
    # twins or one name mistyped; a person says, never the machine, whatever the weight.
    score = scorer.score(twin_a, twin_b)
    assert score.constraint == "name_typo"
    assert decide(_pair(score), thresholds) == "review"
    # Twins whose names are nothing alike: two people, never merged nor suggested, with or
    # without a shared address.
    other = _row(8, first_name="Camille", last_name="Dubois", birth_date=dt.date(2001, 2, 3))
    score = scorer.score(twin_a, other)
    assert score.constraint == "twins"
    assert decide(_pair(score), thresholds) == "none"
    shared = _row(9, first_name="Camille", last_name="Dubois", birth_date=dt.date(2001, 2, 3),
                  email="dubois.twins@free.fr")  # fmt: skip
    assert scorer.score(twin_a, shared).constraint == "household"
    # A typo on one side is not a twin: the misspelt name is not a known first name.
    typo = _row(5, first_name="Lousi", last_name="Dubois", birth_date=dt.date(2001, 2, 3),
                email="dubois.twins@free.fr")  # fmt: skip
    assert scorer.score(twin_a, typo).constraint is None
    # Two edits on the family address (Cjdaic for Cedric): perhaps one person, for a person.
    cedric = _row(10, first_name="Cedric", last_name="Roux", email="famille.roux@free.fr",
                  birth_date=dt.date(1980, 1, 2))  # fmt: skip
    mangled = _row(11, first_name="Cjdaic", last_name="Roux", email="famille.roux@free.fr",
                   birth_date=dt.date(1980, 1, 2))  # fmt: skip
    score = scorer.score(cedric, mangled)
    assert score.constraint == "name_typo"
    assert decide(_pair(score), thresholds) == "review"
    # Twins named with a name and its nickname, both known: a person decides.
    counts.update({"william": 10, "liam": 10})
    will = _row(13, first_name="William", last_name="Hughes", birth_date=dt.date(2009, 5, 6))
    liam = _row(14, first_name="Liam", last_name="Hughes", birth_date=dt.date(2009, 5, 6))
    score = scorer.score(will, liam)
    assert score.constraint == "name_typo"
    assert decide(_pair(score), thresholds) == "review"
    # The family address's local part at another provider is the same address.
    moved = _row(12, first_name="Camille", last_name="Dubois", birth_date=dt.date(2001, 2, 3),
                 email="dubois.twins@gmail.com")  # fmt: skip
    assert scorer.score(twin_a, moved).constraint == "household"
    # A household member written the other way round: the two names that do not match
    # crosswise (Benoît, Noémi) are told apart as if written the right way.
    noemi = _row(15, first_name="Noémi", last_name="Blanchard", phone="+33653197454",
                 email="blanchard.family@hotmail.com", birth_date=dt.date(1980, 10, 8))  # fmt: skip
    benoit = _row(16, first_name="Blanchard", last_name="Benoît", phone="+33653197454",
                  email="blanchard.family@hotmail.com")  # fmt: skip
    score = scorer.score(noemi, benoit)
    assert score.levels["first_name"] == "one name crosswise"
    assert score.constraint == "household"
    # ...while a typo in the name written crosswise is still one person.
    noemi_again = _row(17, first_name="Blanchard", last_name="Noemy", phone="+33653197454")
    assert scorer.score(noemi, noemi_again).constraint is None
    # The same person again, accents dropped and names swapped: no constraint, a merge.
    same = _row(6, first_name="Martin", last_name="Jean", email=" FAMILLE.MARTIN@orange.fr",
                birth_date=dt.date(1970, 3, 4))  # fmt: skip
    score = scorer.score(parent, same)
    assert score.constraint is None
    assert score.match_weight >= _default().thresholds.auto_match_weight
    assert score.reasons[0]["weight"] > 0


def _pair(score):
    from destination.linkage.model import Pair

    return Pair(1, 2, score.match_weight, score.levels, score.constraint)


def test_a_field_known_on_one_side_only_weighs_what_the_base_taught():
    """Splink's null level weighs nothing; "known on one side only" is a level of its own for
    the birth date and the phone, its m and u trained like any other, so the base says whether
    a second record of a person leaves out what the first held as often as a stranger's does.
    Both sides unknown still weighs nothing, and a birth date known on one side is no
    "born on another day" for the family rules."""
    model = _default()
    scorer = model.scorer()
    base = {"first_name": "Ruben", "last_name": "Zorrinos", "country": "ES"}
    neither = scorer.score(_row(1, **base), _row(2, **base))
    one_phone = scorer.score(_row(1, **base, phone="+34612345678"), _row(2, **base))
    one_birth = scorer.score(_row(1, **base, birth_date=dt.date(1960, 11, 7)), _row(2, **base))
    assert neither.levels["phone"] == neither.levels["birth_date"] == "null"
    assert neither.weights["phone"] == neither.weights["birth_date"] == 0.0
    assert one_phone.levels["phone"] == one_birth.levels["birth_date"] == "known on one side only"
    # Trained on the shipped file: its people's records mostly keep the same gaps.
    levels = {
        c["output_column_name"]: {lv["label_for_charts"]: lv for lv in c["comparison_levels"]}
        for c in model.settings["comparisons"]
    }
    for name, score in (("phone", one_phone), ("birth_date", one_birth)):
        level = levels[name]["known on one side only"]
        assert not level.get("is_null_level")
        assert level["m_probability"] < level["u_probability"]
        assert score.weights[name] < 0
        assert score.match_weight < neither.match_weight
    # The family rules read it as "nothing to compare", not as another birth date.
    parent = _row(3, first_name="Jean", last_name="Roux", email="famille.roux@free.fr",
                  birth_date=dt.date(1970, 3, 4))  # fmt: skip
    mistyped = _row(4, first_name="Jaen", last_name="Roux", email="famille.roux@free.fr")
    assert scorer.score(parent, mistyped).constraint != "household"


def test_the_prior_is_rescaled_to_the_base_at_hand():
    """A person has about as many records in a base of any size, so the chance that two random
    records are one person falls as 1 / n: scored on a base a hundred times larger than its
    training base, a pair weighs log2(100) bits less, and a threshold keeps its probability."""
    model = _default()
    assert model.trained_records and model.trained_records > 4000
    n = model.trained_records
    lam = model.settings["probability_two_random_records_match"]
    larger = prior_for_base(model.settings, trained_records=n, records=100 * (n - 1) + 1)
    assert larger["probability_two_random_records_match"] == pytest.approx(lam / 100)
    assert model.settings["probability_two_random_records_match"] == lam  # not changed in place
    # Unknown training size (a version stored before it was recorded): unchanged.
    assert prior_for_base(model.settings, trained_records=None, records=10) is model.settings
    # A base smaller than any the thresholds were chosen on counts as the smallest of those.
    tiny = prior_for_base(model.settings, trained_records=n, records=3)
    assert tiny["probability_two_random_records_match"] == pytest.approx(
        lam * (n - 1) / (MIN_BASE_RECORDS - 1)
    )
    pair = (_row(1, first_name="Ana", last_name="Zorrinos"), _row(2, first_name="Ana",
                                                                 last_name="Zorrinos"))  # fmt: skip
    here = Scorer(model.settings, model.tf_tables).score(*pair).match_weight
    there = Scorer(larger, model.tf_tables).score(*pair).match_weight
    assert here - there == pytest.approx(math.log2(100), abs=0.01)


def test_python_scorer_gives_splinks_weights_pair_by_pair():
    """The real-time scorer and Splink's SQL are two implementations of one model: on every
    pair Splink scores in a sample of the labelled file, they agree to the bit."""
    model = _default()
    data = build(seed=TEST_SEED, entities=800)
    rows = [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]
    by_id = {r["unique_id"]: r for r in rows}
    pairs = predict(
        rows,
        settings=model.settings,
        first_name_counts=model.first_name_counts,
        tf_tables=model.tf_tables,
        min_match_weight=-40,
    )
    assert len(pairs) > 500
    scorer = model.scorer()
    worst = max(
        abs(scorer.score(by_id[p.left], by_id[p.right]).match_weight - p.match_weight)
        for p in pairs
    )
    assert worst < 1e-6


@pytest.mark.django_db
def test_model_versions_are_stored_and_the_latest_is_current():
    from destination.linkage.model import TrainedModel
    from destination.linkage.store import linkage_model_cached

    assert linkage_model_current().version == 0  # the shipped default
    assert linkage_model_cached().version == 0
    default = _default()
    trained = TrainedModel(default.settings, default.tf_tables, default.first_name_counts, 10)
    first = linkage_model_save(
        trained=trained, thresholds=Thresholds(12, 6), training_data={"source": "test"}
    )
    second = linkage_model_save(
        trained=trained, thresholds=Thresholds(13, 7), training_data={"source": "test"}
    )
    assert (first.version, second.version) == (1, 2)
    current = linkage_model_current()
    assert current.version == 2
    assert current.label == "linkage:v2"
    assert current.thresholds == Thresholds(13, 7)
    assert current.trained_records == 10  # its base's size, for the prior of a whole-base run
    assert linkage_model_cached().version == 2  # a new version is seen at once in-process


@pytest.mark.django_db
def test_a_version_trained_with_other_comparisons_is_set_aside(caplog):
    """After an upgrade that adds a comparison level, a version stored before it cannot be
    scored: it is set aside with a warning (resolution goes on with the newest version that
    matches, else the shipped model), never a failed booking."""
    import copy

    from destination.linkage.model import TrainedModel
    from destination.linkage.store import linkage_model_cached
    from destination.services.resolution import Decision, PersonData, guest_resolve

    default = _default()
    good = TrainedModel(default.settings, default.tf_tables, default.first_name_counts, 5000)
    first = linkage_model_save(trained=good, thresholds=Thresholds(12, 6), training_data={})
    old_settings = copy.deepcopy(default.settings)
    for comparison in old_settings["comparisons"]:
        if comparison["output_column_name"] == "phone":
            comparison["comparison_levels"] = [
                lv
                for lv in comparison["comparison_levels"]
                if lv["label_for_charts"] != "known on one side only"
            ]
    old = TrainedModel(old_settings, default.tf_tables, default.first_name_counts, 5000)
    linkage_model_save(trained=old, thresholds=Thresholds(12, 6), training_data={})
    with caplog.at_level(logging.WARNING, logger="destination.linkage.store"):
        assert linkage_model_current().version == first.version
    assert "set aside" in caplog.text
    assert linkage_model_cached().version == first.version
    person = PersonData(first_name="Ana", last_name="Zorrinos", email="ana.z@mail.example")
    assert guest_resolve(person, source="desk").decision == Decision.CREATED
    assert guest_resolve(person, source="desk").decision == Decision.MATCHED


def test_realtime_verdict_uses_every_contact_point_and_the_family_rules():
    from destination.linkage.realtime import Side, verdict_for, verdicts_for

    model = _default()
    scorer, thresholds = model.scorer(), model.thresholds
    guest = Side(
        first_name="Søren", last_name="Jørgensen", emails=("soren.j@mail.dk", "skiløber@jubii.dk"),
        phones=("+4520123456",), country="DK", birth_date=dt.date(1980, 5, 17),
    )  # fmt: skip
    # Written again at a desk: transliterated, the second email, a national phone.
    again = Side(first_name="Soeren", last_name="Joergensen", emails=("SKILØBER@jubii.dk",),
                 phones=("20 12 34 56",), country="DK")  # fmt: skip
    verdict = verdict_for(again, guest, scorer=scorer, thresholds=thresholds)
    assert verdict.decision == "auto"
    assert verdict.score.levels["email"] == "exact"
    assert "email" in verdict.reasons and "phone" in verdict.reasons
    # A child on the family's second address: a household, never merged nor suggested.
    child = Side(first_name="Freja", last_name="Jørgensen", emails=("skiløber@jubii.dk",),
                 birth_date=dt.date(2012, 1, 3))  # fmt: skip
    assert verdict_for(child, guest, scorer=scorer, thresholds=thresholds).decision == "none"
    homonym = Side(first_name="Søren", last_name="Jørgensen", emails=("sj@stofanet.dk",),
                   birth_date=dt.date(1961, 2, 2))  # fmt: skip
    ranked = verdicts_for(again, [(7, homonym), (8, guest)], scorer=scorer, thresholds=thresholds)
    assert [gid for gid, _v in ranked] == [8, 7]
    assert ranked[1][1].decision == "none"
