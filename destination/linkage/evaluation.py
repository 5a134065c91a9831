"""Quality figures of a resolution against labelled truth, the same for every resolver.

A resolver's output is described as record clusters (records it would keep as one guest) and
review edges (pairs of records it would show a person). Against the truth (the entity of each
record) this gives, over record pairs:

- automatic-merge precision: of the pairs put in one cluster, the share that are one person;
- automatic-merge recall: of the true pairs, the share put in one cluster;
- recall of automatic + review: true pairs in one cluster, or whose two clusters a review
  suggestion joins;
- review precision: of the suggestions (review edges between two clusters), the share that join
  one person, overall and in the better-scored half;
- hard pairs merged: households, twins and homonyms (pairs of different people who look alike)
  put in one cluster, by kind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations


@dataclass
class Figures:
    records: int
    true_pairs: int
    auto_pairs: int
    auto_right: int
    found: int
    review_edges: int
    review_right: int
    review_top_half_precision: float
    hard_merged: dict[str, int] = field(default_factory=dict)

    @property
    def auto_precision(self) -> float:
        return self.auto_right / self.auto_pairs if self.auto_pairs else 1.0

    @property
    def auto_recall(self) -> float:
        return self.auto_right / self.true_pairs if self.true_pairs else 1.0

    @property
    def recall_with_review(self) -> float:
        return self.found / self.true_pairs if self.true_pairs else 1.0

    @property
    def review_precision(self) -> float:
        return self.review_right / self.review_edges if self.review_edges else 1.0

    def as_dict(self) -> dict[str, float | int | dict[str, int]]:
        return {
            "records": self.records,
            "true_pairs": self.true_pairs,
            "auto_precision": round(self.auto_precision, 4),
            "auto_recall": round(self.auto_recall, 4),
            "recall_with_review": round(self.recall_with_review, 4),
            "review_edges": self.review_edges,
            "review_precision": round(self.review_precision, 4),
            "review_top_half_precision": round(self.review_top_half_precision, 4),
            "hard_merged": dict(self.hard_merged),
        }

    def report(self) -> str:
        return (
            f"records={self.records} true pairs={self.true_pairs}\n"
            f"automatic-merge precision = {self.auto_precision:.4f} "
            f"({self.auto_right}/{self.auto_pairs})\n"
            f"automatic-merge recall    = {self.auto_recall:.4f} "
            f"({self.auto_right}/{self.true_pairs})\n"
            f"recall automatic + review = {self.recall_with_review:.4f} "
            f"({self.found}/{self.true_pairs})\n"
            f"review precision          = {self.review_precision:.4f} "
            f"({self.review_right}/{self.review_edges}), top half "
            f"{self.review_top_half_precision:.4f}\n"
            f"hard pairs merged: {dict(self.hard_merged)}"
        )


def figures_compute(
    *,
    entity_of: Mapping[int, int],
    cluster_of: Mapping[int, int],
    review_edges: Iterable[tuple[int, int, float]],
    hard_kind_of: Mapping[tuple[int, int], str],
) -> Figures:
    """``entity_of`` and ``cluster_of`` map every record id to its true entity and to the
    cluster the resolver put it in; ``review_edges`` are (record, record, score) suggestions;
    ``hard_kind_of`` maps look-alike entity pairs (smaller id first) to their kind."""
    members: dict[int, list[int]] = defaultdict(list)
    for record, cluster in cluster_of.items():
        members[cluster].append(record)
    by_entity: dict[int, list[int]] = defaultdict(list)
    for record, entity in entity_of.items():
        by_entity[entity].append(record)

    auto_pairs = auto_right = 0
    hard_merged: Counter[str] = Counter()
    for ids in members.values():
        n = len(ids)
        auto_pairs += n * (n - 1) // 2
        entities = Counter(entity_of[r] for r in ids)
        auto_right += sum(c * (c - 1) // 2 for c in entities.values())
        for a, b in combinations(sorted(entities), 2):
            kind = hard_kind_of.get((a, b))
            if kind:
                hard_merged[kind] += 1

    edges = sorted(review_edges, key=lambda e: -e[2])
    joined: set[tuple[int, int]] = set()
    review_right = 0
    right_flags: list[bool] = []
    for a, b, _score in edges:
        ca, cb = cluster_of[a], cluster_of[b]
        if ca == cb:
            continue
        joined.add((min(ca, cb), max(ca, cb)))
        right = entity_of[a] == entity_of[b]
        review_right += right
        right_flags.append(right)
    half = right_flags[: max(1, len(right_flags) // 2)] if right_flags else []
    top_half = sum(half) / len(half) if half else 1.0

    true_pairs = found = 0
    for ids in by_entity.values():
        for a, b in combinations(ids, 2):
            true_pairs += 1
            ca, cb = cluster_of[a], cluster_of[b]
            if ca == cb or (min(ca, cb), max(ca, cb)) in joined:
                found += 1
    return Figures(
        records=len(entity_of),
        true_pairs=true_pairs,
        auto_pairs=auto_pairs,
        auto_right=auto_right,
        found=found,
        review_edges=len(right_flags),
        review_right=review_right,
        review_top_half_precision=top_half,
        hard_merged={k: hard_merged.get(k, 0) for k in ("household", "twin", "homonym")},
    )
