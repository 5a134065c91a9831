"""The whole-base clean-up, without the database: pairs -> decisions -> clusters -> queue.

``plan_build`` takes feature rows and a stored model and returns what the job would do: the
clusters to merge automatically and the suggestions for the review queue, one per pair of
clusters (the best-scored pair), ordered by match probability. The management command
``dedupe_guests`` reads the rows from PostgreSQL and applies the plan through the merge
service; the quality test and the benchmark run the same function on generated truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from destination.linkage.model import Pair, Thresholds, clusters_connect, decide, predict
from destination.linkage.scorer import reason_codes
from destination.models import Guest, PossibleDuplicate
from destination.services import GuestError
from destination.services.merge import guest_merge


@dataclass
class Plan:
    cluster_of: dict[int, int]  # every id -> its cluster (the smallest id in it)
    auto_pairs: list[Pair] = field(default_factory=list)
    review: list[Pair] = field(default_factory=list)  # best pair per pair of clusters
    scored_pairs: int = 0

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
    **options: Any,
) -> Plan:
    pairs = predict(
        rows,
        settings=settings,
        first_name_counts=first_name_counts,
        min_match_weight=thresholds.review_match_weight,
        tf_tables=tf_tables,
        backend=backend,
        **options,
    )
    return plan_from_pairs([r["unique_id"] for r in rows], pairs, thresholds=thresholds)


def plan_from_pairs(ids: Sequence[int], pairs: Sequence[Pair], *, thresholds: Thresholds) -> Plan:
    """The plan from scored pairs (any scored below the review threshold are ignored): the
    threshold search scores once and plans at each candidate threshold."""
    pairs = [p for p in pairs if p.match_weight >= thresholds.review_match_weight]
    auto = [p for p in pairs if decide(p, thresholds) == "auto"]
    cluster_of = clusters_connect(ids, ((p.left, p.right) for p in auto))
    # A cluster must not join two people the family rules keep apart (A-B and B-C automatic,
    # A-C a household): such a cluster is not merged; its pairs go to review instead.
    members: dict[int, set[int]] = {}
    for node, cluster in cluster_of.items():
        members.setdefault(cluster, set()).add(node)
    broken = {
        cluster_of[p.left]
        for p in pairs
        if p.constraint is not None and cluster_of[p.left] == cluster_of[p.right]
    }
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
    return Plan(cluster_of=cluster_of, auto_pairs=auto, review=review, scored_pairs=len(pairs))


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
