"""Resolution quality on a labelled data set: precision of automatic merges and recall of
automatic merges plus review, printed and asserted.

Every record knows the real person behind it. A guest belongs to the person whose record
created it; a MATCHED decision is right when the guest belongs to the record's person. A record
is a true duplicate when its person already had a guest when it arrived; it is found when it was
MATCHED to one of that person's guests or sent to REVIEW with one of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from destination.linkage import store
from destination.linkage.realtime import Side, verdict_for
from destination.models import Guest, GuestEmail, GuestPhone, PossibleDuplicate
from destination.services.resolution import Decision, guest_resolve_many
from tests.destination.data.resolution_people import Record, build

pytestmark = pytest.mark.django_db


MIN_PRECISION = 0.995
MIN_RECALL = 0.95
# The resolver decides with the linkage model (issue 14): its review threshold keeps the queue
# precise (0.80 on this set, against 0.23 with the hand-set rules) and leaves out candidates
# that agree on a name and a name-made email only. This floor keeps what the resolver reaches
# with the shipped model (0.935); ``test_resolution_recall_target_on_labelled_people`` asserts
# MIN_RECALL and fails (strictly expected) until it is met.
MIN_RECALL_NOW = 0.93
MIN_REVIEW_PRECISION = 0.7


def _fuzzy_auto_pairs() -> list[tuple[int, int]]:
    """The queued pairs that share no email or phone and that the active model, on the two
    guests as stored, would merge automatically: what automatic fuzzy merges would add (the
    resolver keeps them to review)."""
    model = store.linkage_model_cached()
    scorer = model.scorer()
    emails: dict[int, list[str]] = defaultdict(list)
    phones: dict[int, list[str]] = defaultdict(list)
    for gid, email in GuestEmail.objects.order_by("-is_primary", "id").values_list(
        "guest_id", "email_normalized"
    ):
        emails[gid].append(email)
    for gid, phone in GuestPhone.objects.order_by("-is_primary", "id").values_list(
        "guest_id", "phone"
    ):
        phones[gid].append(str(phone))
    guests = Guest.objects.in_bulk()

    def side(gid: int) -> Side:
        g = guests[gid]
        return Side(g.first_name, g.last_name, tuple(emails[gid]), tuple(phones[gid]),
                    str(g.country or ""), g.birth_date)  # fmt: skip

    out = []
    for a, b in PossibleDuplicate.objects.values_list("guest_a", "guest_b"):
        if set(emails[a]) & set(emails[b]) or set(phones[a]) & set(phones[b]):
            continue
        verdict = verdict_for(side(a), side(b), scorer=scorer, thresholds=model.thresholds)
        if verdict.decision == "auto":
            out.append((a, b))
    return out


def _evaluate(records: list[Record], results: list, state: dict) -> None:
    owner: dict[int, int] = state["owner"]
    guests_of: dict[int, set[int]] = state["guests_of"]
    for record, result in zip(records, results, strict=True):
        kind = record.kind
        known = bool(guests_of.get(record.person))
        stats = state["by_kind"][kind]
        stats[result.decision] += 1
        if result.decision == Decision.REJECTED:
            state["rejected"].append((record, result.errors))
            continue
        guest_id = result.guest.pk
        if result.decision == Decision.MATCHED:
            state["matched"] += 1
            if owner.get(guest_id) == record.person:
                state["matched_right"] += 1
            else:
                state["wrong_merges"].append((record, owner.get(guest_id)))
        else:
            owner[guest_id] = record.person
        if known:
            state["duplicates"] += 1
            found = (
                result.decision == Decision.MATCHED and owner.get(guest_id) == record.person
            ) or (
                result.decision == Decision.REVIEW
                and any(g in guests_of[record.person] for g in result.review_with)
            )
            if found:
                state["found"] += 1
                stats["found"] += 1
            else:
                state["missed"].append((record, result))
            stats["duplicates"] += 1
        guests_of.setdefault(record.person, set()).add(guest_id)


_LABELLED: dict[str, Any] = {}


def _labelled_figures() -> dict[str, Any]:
    """Resolve the labelled set once per test session (the recall target test reuses it)."""
    if not _LABELLED:
        _LABELLED.update(_labelled_run())
    return _LABELLED


def test_resolution_precision_and_recall_on_labelled_people():
    _LABELLED.clear()
    figures = _labelled_figures()
    print("\n" + str(figures["report"]))
    assert not figures["rejected"], figures["report"]
    assert figures["precision"] >= MIN_PRECISION, figures["report"]
    assert figures["recall"] >= MIN_RECALL_NOW, figures["report"]
    assert figures["review_precision"] >= MIN_REVIEW_PRECISION, figures["report"]


@pytest.mark.xfail(strict=True, reason="recall of automatic + review is 0.935 for a 0.95 target")
def test_resolution_recall_target_on_labelled_people():
    figures = _labelled_figures()
    assert figures["recall"] >= MIN_RECALL, figures["report"]


def _labelled_run() -> dict[str, Any]:
    base, incoming = build()
    assert len(base) + len(incoming) >= 1000
    state: dict = {
        "owner": {},
        "guests_of": {},
        "by_kind": defaultdict(Counter),
        "matched": 0,
        "matched_right": 0,
        "duplicates": 0,
        "found": 0,
        "wrong_merges": [],
        "missed": [],
        "rejected": [],
    }
    # Several batches, so both in-batch and across-batch resolution are measured.
    for records in (base, incoming):
        results = guest_resolve_many(
            [r.data for r in records], source=Guest.Source.IMPORT, source_detail="quality",
            batch_size=250,
        )  # fmt: skip
        _evaluate(records, results, state)

    precision = state["matched_right"] / state["matched"]
    recall = state["found"] / state["duplicates"]
    owner = state["owner"]
    pairs = list(PossibleDuplicate.objects.values_list("guest_a", "guest_b"))
    review_right = sum(1 for a, b in pairs if owner.get(a) == owner.get(b) is not None)
    fuzzy_auto = _fuzzy_auto_pairs()
    fuzzy_right = sum(1 for a, b in fuzzy_auto if owner.get(a) == owner.get(b) is not None)
    lines = [
        f"records={len(base) + len(incoming)} matched={state['matched']} "
        f"true duplicates={state['duplicates']}",
        f"precision of automatic merges = {precision:.4f} "
        f"({state['matched_right']}/{state['matched']})",
        f"recall of automatic + review = {recall:.4f} ({state['found']}/{state['duplicates']})",
        f"review queue: {len(pairs)} pairs, precision "
        f"{review_right / len(pairs) if pairs else 1.0:.4f} ({review_right}/{len(pairs)})",
        f"queued pairs without a shared contact the model calls automatic: {len(fuzzy_auto)}, "
        f"{fuzzy_right} right",
        "per kind: "
        + "; ".join(
            f"{kind}: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items()))
            for kind, c in sorted(state["by_kind"].items())
        ),
    ]
    lines += [f"WRONG MERGE {r.kind} {r.data} -> person {p}" for r, p in state["wrong_merges"]]
    lines += [f"MISSED {r.kind} {r.data} -> {res.decision}" for r, res in state["missed"][:30]]
    report = "\n".join(lines)
    if state["rejected"]:
        report += f"\nREJECTED {state['rejected'][:5]}"
    return {
        "precision": precision,
        "recall": recall,
        "review_precision": review_right / len(pairs) if pairs else 1.0,
        "rejected": len(state["rejected"]),
        "report": report,
    }


# --- The realistic labelled file: the real-time resolver's figures ---------------------------


def _records_to_people(records) -> list:
    from destination.services.resolution import PersonData

    return [PersonData(**r.as_dict()) for r in records]


def test_current_resolver_on_linkage_people():
    """The real-time resolver on the multilingual file of ``linkage_people`` (households,
    twins, homonyms), fed in arrival order in batches: its automatic merges must stay precise.
    Its recall is reported, not asserted. The suite runs 1,000 people;
    ``LINKAGE_ENTITIES=3000`` gives the README's "before" column (about 2 minutes)."""
    import os

    from destination.linkage.evaluation import figures_compute
    from destination.models import PossibleDuplicate
    from tests.destination.data.linkage_people import build

    data = build(entities=int(os.environ.get("LINKAGE_ENTITIES", "1000")))
    records = data.records
    results = []
    for start in range(0, len(records), 500):
        chunk = records[start : start + 500]
        results += guest_resolve_many(
            _records_to_people(chunk), source=Guest.Source.IMPORT, source_detail="linkage",
            batch_size=250,
        )  # fmt: skip
    cluster_of: dict[int, int] = {}
    creator: dict[int, int] = {}
    rejected = 0
    for record, result in zip(records, results, strict=True):
        if result.decision == Decision.REJECTED:
            rejected += 1
            cluster_of[record.record_id] = -record.record_id
            continue
        cluster_of[record.record_id] = result.guest.pk
        creator.setdefault(result.guest.pk, record.record_id)
    edges = [
        (creator[a], creator[b], score)
        for a, b, score in PossibleDuplicate.objects.values_list("guest_a", "guest_b", "score")
        if a in creator and b in creator
    ]
    figures = figures_compute(
        entity_of=data.entity_of(),
        cluster_of=cluster_of,
        review_edges=edges,
        hard_kind_of=data.hard_kind_of(),
    )
    entity_of, hard_kind_of = data.entity_of(), data.hard_kind_of()
    fuzzy_auto = [(creator[a], creator[b]) for a, b in _fuzzy_auto_pairs()]
    fuzzy_right = sum(1 for a, b in fuzzy_auto if entity_of[a] == entity_of[b])
    fuzzy_hard = Counter(
        hard_kind_of.get((min(ea, eb), max(ea, eb)), "other")
        for ea, eb in ((entity_of[a], entity_of[b]) for a, b in fuzzy_auto)
        if ea != eb
    )
    print(
        f"\ncurrent resolver, rejected={rejected}\n{figures.report()}\n"
        f"queued pairs without a shared contact the model calls automatic: {len(fuzzy_auto)}, "
        f"{fuzzy_right} right, wrong by kind {dict(fuzzy_hard)}"
    )
    assert figures.auto_precision >= MIN_PRECISION, figures.report()


# The model's targets on the labelled file (README, "Identity resolution quality"); the set the
# thresholds were chosen on (TUNING_SEED) is not the one measured here (TEST_SEED).
MODEL_MIN_AUTO_PRECISION = 0.999
MODEL_MIN_AUTO_RECALL = 0.85
MODEL_MIN_REVIEW_PRECISION = 0.7
MODEL_MIN_REVIEW_TOP_HALF_PRECISION = 0.9
MODEL_MIN_RECALL_WITH_REVIEW = 0.99


def _model_figures():
    import logging

    from destination.linkage.training import shipped_model_figures

    logging.getLogger("splink").setLevel(logging.ERROR)
    return shipped_model_figures()


def test_linkage_model_on_linkage_people():
    """The shipped model over the whole labelled file (3,000 people, ~4,000 records): blocking,
    Splink's scores, the family rules, clustering and the review queue, as dedupe_guests runs
    them. No database needed: this is the plan, not its writes."""
    figures = _model_figures()
    print(f"\nlinkage model (shipped default)\n{figures.report()}")
    assert figures.records >= 4000
    assert figures.hard_merged == {"household": 0, "twin": 0, "homonym": 0}, figures.report()
    assert figures.auto_precision >= MODEL_MIN_AUTO_PRECISION, figures.report()
    assert figures.auto_recall >= MODEL_MIN_AUTO_RECALL, figures.report()
    assert figures.recall_with_review >= MODEL_MIN_RECALL_WITH_REVIEW, figures.report()
    assert figures.review_precision >= MODEL_MIN_REVIEW_PRECISION, figures.report()
    assert figures.review_top_half_precision >= MODEL_MIN_REVIEW_TOP_HALF_PRECISION
