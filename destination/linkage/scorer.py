"""Score a pair of people with a trained model, in pure Python, as Splink would.

The real-time resolver scores a handful of candidates per request: starting DuckDB for that
would cost more than the lookup. ``Scorer`` reads the stored model (Splink's settings with its
trained m and u probabilities, the surname term frequencies, the thresholds) and computes the
same match weight as Splink's SQL: the prior, plus log2(m/u) of each comparison's level, plus
the term-frequency adjustment of the surname.

The family rules are applied after scoring, as hard constraints, the same way in both paths
(``constraint_for``): a household (a shared email or phone, and first names clearly different,
or birth dates) and twins (same surname and birth date, first names clearly different) are
never merged nor suggested; two first names that may be one mistyped (Chatal and Charlotte on
the family address, no birth date to tell) are a person's decision, never merged automatically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import OSA

from destination.linkage.comparisons import COMPARISONS, ONE_SIDE_ONLY, TF_MINIMUM_U, Row

M_U_CLAMP_MIN = 1e-300  # as Splink clamps m and u before taking logs

HOUSEHOLD = "household"
TWINS = "twins"
NAME_TYPO = "name_typo"
# Never merged nor suggested: the family rules say these are two people.
NEVER = frozenset({HOUSEHOLD, TWINS})

# First-name levels that say "the same first name, written differently".
_SAME_FIRST = frozenset({"same without accents", "known nickname"})
_CLOSE_FIRST = _SAME_FIRST | {
    "first and last names swapped",
    "one name crosswise",
    "Jaro-Winkler >= 0.92",
}
# Levels that say "not known on both sides": nothing to compare.
_UNKNOWN = frozenset({"null", ONE_SIDE_ONLY})
# Birth-date levels that say "the same date, mistyped".
_SAME_BIRTH = frozenset({"exact", "day and month swapped", "one digit off"})
_SWAPPED = frozenset({"first and last names swapped", "one name crosswise"})
_SAME_LAST = frozenset({"same without accents", "Jaro-Winkler >= 0.92"})
# An address shared: the same email, or its local part at two providers when it is not made
# of the names (famille.faure, dubois.twins: a family's, wherever it is hosted).
_SHARED_EMAIL = frozenset({"exact", "same local part"})
MAX_TYPO_EDITS = 2
# A first name seen this many times in the trained base is a real name, not a typo: two real,
# different first names on one surname and birth date are twins, not a misspelling.
KNOWN_NAME_MIN_COUNT = 3


@dataclass
class PairScore:
    match_weight: float
    match_probability: float
    levels: dict[str, str]  # comparison -> level label
    weights: dict[str, float]  # comparison -> its contribution (bits)
    constraint: str | None = None

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """What agreed and what disagreed, with its weight, strongest first: the queue shows
        these so a person sees why two guests were suggested."""
        return [
            {"field": name, "level": self.levels[name], "weight": round(weight, 2)}
            for name, weight in sorted(self.weights.items(), key=lambda kv: -abs(kv[1]))
            if self.levels[name] != "null"
        ]


def settings_match_comparisons(settings: dict[str, Any]) -> bool:
    """Whether stored settings were trained with the comparisons and levels of this code: a
    version trained before a level was added cannot be scored by it (nor by Splink's SQL in
    the same way), and is set aside until ``linkage_train`` stores a new one."""
    by_name = {c.get("output_column_name"): c for c in settings.get("comparisons", [])}
    for comparison in COMPARISONS:
        stored = by_name.get(comparison.name)
        if stored is None or [lv.get("label_for_charts") for lv in stored["comparison_levels"]] != [
            lv.label for lv in comparison.levels
        ]:
            return False
    return True


@dataclass
class Scorer:
    settings: dict[str, Any]
    tf_tables: dict[str, dict[str, float]] = field(default_factory=dict)
    first_name_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lam = self.settings["probability_two_random_records_match"]
        self.prior = math.log2(lam / (1 - lam))
        if not settings_match_comparisons(self.settings):
            raise ValueError("stored model does not match this code's comparisons")
        by_name = {c["output_column_name"]: c for c in self.settings["comparisons"]}
        self._weights: list[list[float]] = []
        self._tf: list[list[tuple[str, float, float] | None]] = []
        for comparison in COMPARISONS:
            levels = by_name[comparison.name]["comparison_levels"]
            weights: list[float] = []
            tfs: list[tuple[str, float, float] | None] = []
            exact_u = {
                lv["tf_adjustment_column"]: lv["u_probability"]
                for lv in levels
                if lv.get("tf_adjustment_column") and "u_probability" in lv
            }
            for lv in levels:
                if lv.get("is_null_level"):
                    weights.append(0.0)
                    tfs.append(None)
                    continue
                m = max(lv.get("m_probability", M_U_CLAMP_MIN), M_U_CLAMP_MIN)
                u = max(lv.get("u_probability", M_U_CLAMP_MIN), M_U_CLAMP_MIN)
                weights.append(math.log2(m / u))
                column = lv.get("tf_adjustment_column")
                tfs.append(
                    (column, math.log2(exact_u[column]), lv.get("tf_adjustment_weight", 1.0))
                    if column
                    else None
                )
            self._weights.append(weights)
            self._tf.append(tfs)

    def _tf_value(self, column: str, left: Row, right: Row) -> float | None:
        # As Splink: the larger frequency of the two values; a value the trained base never
        # saw has none, and with neither known there is no adjustment.
        table = self.tf_tables.get(column, {})
        values = [v for v in (table.get(left[column]), table.get(right[column])) if v is not None]
        return max(*values, TF_MINIMUM_U) if values else None

    def score(self, left: Row, right: Row) -> PairScore:
        total = self.prior
        levels: dict[str, str] = {}
        weights: dict[str, float] = {}
        for i, comparison in enumerate(COMPARISONS):
            index = comparison.level_index(left, right)
            weight = self._weights[i][index]
            tf = self._tf[i][index]
            if tf is not None:
                column, log2_u_exact, tf_weight = tf
                value = self._tf_value(column, left, right)
                if value is not None:
                    weight += tf_weight * (log2_u_exact - math.log2(value))
            levels[comparison.name] = comparison.levels[index].label
            weights[comparison.name] = weight
            total += weight
        probability = 1.0 / (1.0 + 2.0 ** (-total)) if total > -1000 else 0.0
        score = PairScore(total, probability, levels, weights)
        score.constraint = constraint_for(left, right, levels, self.first_name_counts)
        return score


def _far_apart(first_level: str, left: Row, right: Row) -> bool:
    """Two first names no typo explains: not alike by the close name levels and more than two
    edits apart (a typo is one or two: Lousi for Louis, Cjdaic for Cedric; Jesper is not Jens)."""
    if first_level in _CLOSE_FIRST:
        return False
    return _more_than_a_typo(left["first_canon"], right["first_canon"])


def _more_than_a_typo(a: str | None, b: str | None) -> bool:
    return int(OSA.distance(a or "", b or "")) > MAX_TYPO_EDITS


def _crossed_far_apart(left: Row, right: Row) -> bool:
    """Of two records whose names match crosswise on one name only, whether the other two
    names are more than a typo apart."""
    pairs = [
        (left["first_canon"], right["last_canon"], left["last_canon"], right["first_canon"]),
        (left["last_canon"], right["first_canon"], left["first_canon"], right["last_canon"]),
    ]
    for same_a, same_b, other_a, other_b in pairs:
        if same_a is not None and same_a == same_b:
            return _more_than_a_typo(other_a, other_b)
    return False


def constraint_for(
    left: Row, right: Row, levels: dict[str, str], first_name_counts: dict[str, int]
) -> str | None:
    """The family rules, applied after scoring (see the module docstring)."""
    first = levels["first_name"]
    birth = levels["birth_date"]
    shared_contact = levels["email"] in _SHARED_EMAIL or levels["phone"] in {
        "exact",
        "same last 8 digits",
    }
    # A parent and the child named after them: one address, one name, birth dates far apart.
    if shared_contact and birth == "all other":
        return HOUSEHOLD
    # Both names known to the base (Louis and Louise): no typo, or not certainly one.
    both_real = (
        first_name_counts.get(left["first_canon"], 0) >= KNOWN_NAME_MIN_COUNT
        and first_name_counts.get(right["first_canon"], 0) >= KNOWN_NAME_MIN_COUNT
    )
    # Twins named with a name and its nickname (William and Liam, both names the base knows),
    # one surname and birth date: the same person written with a nickname looks exactly alike,
    # so a person decides (seen at 1,000,000 guests).
    if (
        first == "known nickname"
        and both_real
        and birth == "exact"
        and levels["last_name"] in _SAME_LAST
    ):
        return NAME_TYPO
    if first in _SAME_FIRST or first == "null":
        return None
    if first in _SWAPPED:
        # Written the other way round: the names to tell apart are the two that do not match
        # crosswise (Blanchard Benoît for Noémi Blanchard: Benoît and Noémi).
        if first == "one name crosswise" and _crossed_far_apart(left, right):
            far = True
        else:
            return None
    else:
        far = _far_apart(first, left, right)
    typo = first in _CLOSE_FIRST and not both_real  # Lousi for Louis: one person
    if shared_contact:
        # Two first names on one address: two people when nothing alike or born on other
        # days; one person when one is plainly mistyped; otherwise a person says.
        if far or (birth not in _UNKNOWN and birth not in _SAME_BIRTH):
            return HOUSEHOLD
        return None if typo else NAME_TYPO
    if birth == "exact" and levels["last_name"] in _SAME_LAST:
        if far:
            return TWINS
        return None if typo else NAME_TYPO
    return None


# Levels -> the reason codes the review queue already shows (resolution.REASON_LABELS).
_REASON_CODES: dict[tuple[str, str], str] = {
    ("email", "exact"): "email",
    ("email", "same local part"): "email_local",
    ("email", "same local part, made of the names"): "email_local",
    ("phone", "exact"): "phone",
    ("phone", "same last 8 digits"): "phone_fragment",
    ("birth_date", "exact"): "birth_date",
    ("birth_date", "all other"): "birth_date_differs",
    ("first_name", "all other"): "first_name_differs",
    ("last_name", "all other"): "last_name_differs",
    ("country", "exact"): "country",
}
_NAME_AGREES = frozenset(
    {
        "exact",
        "same without accents",
        "known nickname",
        "first and last names swapped",
        "one name crosswise",
    }
)


def reason_codes(levels: dict[str, str], weights: dict[str, float] | None = None) -> list[str]:
    """The queue's reason codes for a scored pair, the heaviest first when weights are known."""
    order = sorted(levels, key=lambda n: -abs((weights or {}).get(n, 0.0)))
    codes: list[str] = []
    for name in order:
        level = levels[name]
        code = _REASON_CODES.get((name, level))
        if (
            code is None
            and name in {"first_name", "last_name"}
            and (level in _NAME_AGREES or level.startswith("Jaro"))
        ):
            code = "name"
        if code and code not in codes:
            codes.append(code)
    return codes
