"""The linkage model: features, the family rules, the Python scorer against Splink, the store."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from destination.linkage.features import features_for, name_canon, name_nick, phone_canon
from destination.linkage.model import Thresholds, decide, predict
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
    assert linkage_model_cached().version == 2  # a new version is seen at once in-process


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
