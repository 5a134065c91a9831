"""The model's verdict on one person and one candidate guest, for the real-time resolver.

A guest may have several emails and phones; the model compares one of each. The person is
compared with every combination of the guest's contact points (a few at most) and the best
score counts, as a person at a desk would look for the address they share. No DuckDB: the
stored parameters are applied by ``Scorer``, with the same features and the same family rules
as the whole-base job, so a booking, an import and ``dedupe_guests`` decide alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from typing import Any

from destination.linkage.features import features_for
from destination.linkage.model import Pair, Thresholds, decide
from destination.linkage.scorer import (
    HOUSEHOLD,
    NAME_TYPO,
    TWINS,
    PairScore,
    Scorer,
    reason_codes,
)

# Contact points compared per side: the primary ones first.
MAX_CONTACTS = 3


@dataclass(frozen=True)
class Side:
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    country: str = ""
    birth_date: dt.date | None = None
    language: str = ""

    def rows(self, uid: int) -> list[dict[str, Any]]:
        emails = list(self.emails[:MAX_CONTACTS]) or [""]
        phones = list(self.phones[:MAX_CONTACTS]) or [""]
        return [
            features_for(
                unique_id=uid,
                first_name=self.first_name,
                last_name=self.last_name,
                email=email,
                phone=phone,
                country=self.country,
                birth_date=self.birth_date,
                language=self.language,
            )
            for email, phone in product(emails, phones)
        ]


@dataclass(frozen=True)
class Verdict:
    decision: str  # "auto", "review" or "none"
    score: PairScore

    @property
    def reasons(self) -> list[str]:
        return reason_codes(self.score.levels, self.score.weights)


_CONSTRAINT_RANK = {HOUSEHOLD: 3, TWINS: 2, NAME_TYPO: 1, None: 0}


def verdict_for(
    person: Side, candidate: Side, *, scorer: Scorer, thresholds: Thresholds
) -> Verdict:
    scores = [scorer.score(a, b) for a, b in product(person.rows(1), candidate.rows(2))]
    # A family rule on any combination holds for the pair (a shared family address is no less
    # a household because another address differs); otherwise the best combination counts.
    best = max(scores, key=lambda s: (_CONSTRAINT_RANK[s.constraint], s.match_weight))
    pair = Pair(1, 2, best.match_weight, best.levels, best.constraint)
    return Verdict(decide(pair, thresholds), best)


def verdicts_for(
    person: Side, candidates: Iterable[tuple[int, Side]], *, scorer: Scorer, thresholds: Thresholds
) -> list[tuple[int, Verdict]]:
    """Each candidate's verdict, the most probable first."""
    out = [
        (gid, verdict_for(person, c, scorer=scorer, thresholds=thresholds)) for gid, c in candidates
    ]
    out.sort(key=lambda item: -item[1].score.match_weight)
    return out
