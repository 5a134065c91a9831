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
    auto = [p for p in pairs if decide(p, thresholds) == "auto"]
    cluster_of = clusters_connect((r["unique_id"] for r in rows), ((p.left, p.right) for p in auto))
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
