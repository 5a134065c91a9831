"""The whole-base clean-up, without the database: pairs -> decisions -> clusters -> queue.

``plan_build`` takes feature rows and a stored model and returns what the job would do: the
clusters to merge automatically and the suggestions for the review queue, one per pair of
clusters (the best-scored pair), ordered by match probability. The management command
``dedupe_guests`` reads the rows from PostgreSQL and applies the plan through the merge
service; the quality test and the benchmark run the same function on generated truth.

Clusters are connected components of the automatic pairs, so merges chain: A-B and B-C put A
and C in one guest though A and C were never compared as a pair above the review threshold (or
at all: they may share no blocking key). A cluster is therefore checked as a whole: every two
of its members must pass the family rules, or it is not merged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from destination.linkage.comparisons import pair_levels
from destination.linkage.model import (
    Pair,
    Thresholds,
    clusters_connect,
    decide,
    predict,
    prior_for_base,
)
from destination.linkage.scorer import constraint_for, reason_codes
from destination.models import Guest, PossibleDuplicate
from destination.services import GuestError
from destination.services.merge import guest_merge


@dataclass
class Plan:
    cluster_of: dict[int, int]  # every id -> its cluster (the smallest id in it)
    auto_pairs: list[Pair] = field(default_factory=list)
    review: list[Pair] = field(default_factory=list)  # best pair per pair of clusters
    scored_pairs: int = 0
    broken: int = 0  # clusters not merged: two of their members are kept apart by the rules

    def merges(self) -> dict[int, list[int]]:
        """Cluster -> the other ids to merge into it (clusters of one left out)."""
        out: dict[int, list[int]] = {}
        for node, cluster in self.cluster_of.items():
            if node != cluster:
                out.setdefault(cluster, []).append(node)
        return out

    def review_edges(self) -> list[tuple[int, int, float]]:
        return [(p.left, p.right, p.match_probability) for p in self.review]


def plan_build(
    rows: Sequence[dict[str, Any]],
    *,
    settings: dict[str, Any],
    first_name_counts: dict[str, int],
    thresholds: Thresholds,
    tf_tables: dict[str, dict[str, float]] | None = None,
    backend: str = "duckdb",
    timings: dict[str, float] | None = None,
    trained_records: int | None = None,
    **options: Any,
) -> Plan:
    """Score the rows' blocked pairs, then plan. ``timings``, when given, receives the seconds
    of each phase (blocking and scoring with each pair's family rules; clustering with the
    clusters' family rules). ``trained_records``, the size of the model's training base,
    rescales its prior to the rows' (``model.prior_for_base``)."""
    started = time.monotonic()
    pairs = predict(
        rows,
        settings=prior_for_base(settings, trained_records=trained_records, records=len(rows)),
        first_name_counts=first_name_counts,
        min_match_weight=thresholds.review_match_weight,
        tf_tables=tf_tables,
        backend=backend,
        **options,
    )
    scored = time.monotonic()
    plan = plan_from_pairs(
        [r["unique_id"] for r in rows],
        pairs,
        thresholds=thresholds,
        rows={r["unique_id"]: r for r in rows},
        first_name_counts=first_name_counts,
    )
    if timings is not None:
        timings["blocking+scoring"] = scored - started
        timings["clustering"] = time.monotonic() - scored
    return plan


def clusters_broken(
    cluster_of: Mapping[int, int],
    rows: Mapping[int, dict[str, Any]],
    first_name_counts: dict[str, int],
) -> dict[int, tuple[int, int, str]]:
    """Clusters of three or more in which two members are kept apart by the family rules
    (compared directly, whether or not the pair was scored): cluster -> that pair and its rule.
    A cluster of two is its own scored pair, already checked."""
    members: dict[int, list[int]] = {}
    for node, cluster in cluster_of.items():
        members.setdefault(cluster, []).append(node)
    out: dict[int, tuple[int, int, str]] = {}
    for cluster, ids in members.items():
        if len(ids) < 3:
            continue
        for a, b in combinations(sorted(ids), 2):
            left, right = rows[a], rows[b]
            rule = constraint_for(left, right, pair_levels(left, right), first_name_counts)
            if rule is not None:
                out[cluster] = (a, b, rule)
                break
    return out


def plan_from_pairs(
    ids: Sequence[int],
    pairs: Sequence[Pair],
    *,
    thresholds: Thresholds,
    rows: Mapping[int, dict[str, Any]] | None = None,
    first_name_counts: dict[str, int] | None = None,
) -> Plan:
    """The plan from scored pairs (any scored below the review threshold are ignored): the
    threshold search scores once and plans at each candidate threshold. With the feature
    ``rows`` (id -> row), every two members of a cluster are checked against the family rules,
    not only the pairs that were scored."""
    pairs = [p for p in pairs if p.match_weight >= thresholds.review_match_weight]
    auto = [p for p in pairs if decide(p, thresholds) == "auto"]
    cluster_of = clusters_connect(ids, ((p.left, p.right) for p in auto))
    # A cluster must not join two people the family rules keep apart (A-B and B-C automatic,
    # A-C a household): such a cluster is not merged; its pairs go to review instead.
    broken = {
        cluster_of[p.left]
        for p in pairs
        if p.constraint is not None and cluster_of[p.left] == cluster_of[p.right]
    }
    if rows is not None:
        broken |= set(clusters_broken(cluster_of, rows, first_name_counts or {}))
    if broken:
        keep = [p for p in auto if cluster_of[p.left] not in broken]
        cluster_of = clusters_connect(cluster_of, ((p.left, p.right) for p in keep))
        auto = keep
    best: dict[tuple[int, int], Pair] = {}
    for p in pairs:
        if decide(p, thresholds) == "none":
            continue
        a, b = cluster_of[p.left], cluster_of[p.right]
        if a == b:
            continue
        key = (min(a, b), max(a, b))
        if key not in best or p.match_weight > best[key].match_weight:
            best[key] = p
    review = sorted(best.values(), key=lambda p: -p.match_weight)
    return Plan(
        cluster_of=cluster_of,
        auto_pairs=auto,
        review=review,
        scored_pairs=len(pairs),
        broken=len(broken),
    )


@dataclass
class ApplyReport:
    merged: int = 0
    skipped: list[tuple[int, int, str]] = field(default_factory=list)
    suggested: int = 0
    already_known: int = 0


def plan_apply(
    plan: Plan,
    *,
    detected_by: str,
    actor: Any = None,
    progress: Any = None,
) -> ApplyReport:
    """Apply a plan: each automatic cluster is merged into its oldest guest through the merge
    service (one transaction per merge, recorded, undoable, consent never widened), and each
    suggestion becomes an open possible duplicate, unless the pair is already known (open,
    merged, or dismissed by a person: a dismissal is never asked again)."""

    report = ApplyReport()
    clusters = list(plan.merges().items())
    for survivor_id, others in progress(clusters) if progress else clusters:
        for merged_id in sorted(others):
            survivor = Guest.objects.get(pk=survivor_id)
            merged = Guest.objects.get(pk=merged_id)
            try:
                guest_merge(survivor=survivor, merged=merged, actor=actor)
            except GuestError as exc:
                report.skipped.append((survivor_id, merged_id, str(exc)))
                continue
            report.merged += 1
    # Suggestions between guests that still exist (the survivor of a merged cluster stands for
    # its members).
    pairs: dict[tuple[int, int], Pair] = {}
    for p in plan.review:
        a, b = plan.cluster_of[p.left], plan.cluster_of[p.right]
        key = (min(a, b), max(a, b))
        pairs.setdefault(key, p)
    known = set(
        PossibleDuplicate.objects.filter(
            guest_a__in=[a for a, _b in pairs], guest_b__in=[b for _a, b in pairs]
        ).values_list("guest_a", "guest_b")
    )

    new = [
        PossibleDuplicate(
            guest_a_id=a,
            guest_b_id=b,
            score=round(p.match_probability, 6),
            reasons=reason_codes(p.levels),
            detected_by=detected_by,
        )
        for (a, b), p in pairs.items()
        if (a, b) not in known
    ]
    report.already_known = len(pairs) - len(new)
    PossibleDuplicate.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    report.suggested = len(new)
    return report
