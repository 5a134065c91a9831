"""The model's comparisons: each level written once in SQL (for Splink) and once in Python (for
the real-time scorer), side by side so they cannot drift apart unnoticed.

Levels are tried in order; the first that holds decides. ``tests/destination/test_linkage.py``
checks that Splink's scores and the Python scorer's agree pair by pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import JaroWinkler

Row = dict[str, Any]


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    test: Callable[[Row, Row], bool]
    is_null: bool = False
    tf_column: str | None = None
    # A level whose weight is fixed at 0 (m = u, never trained): see LAST_NAME.
    neutral: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str
    description: str
    levels: tuple[Level, ...]

    def level_index(self, left: Row, right: Row) -> int:
        for index, level in enumerate(self.levels):
            if level.test(left, right):
                return index
        return len(self.levels) - 1


def _null(*columns: str) -> Level:
    sql = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in columns)
    return Level(
        "null",
        sql,
        lambda a, b: any(a[c] is None or b[c] is None for c in columns),
        is_null=True,
    )


ONE_SIDE_ONLY = "known on one side only"


def _both_null(column: str) -> Level:
    return Level(
        "null",
        f'"{column}_l" IS NULL AND "{column}_r" IS NULL',
        lambda a, b: a[column] is None and b[column] is None,
        is_null=True,
    )


def _one_side(column: str) -> Level:
    # Splink's null level weighs nothing: it supposes a field missing as often from a person's
    # second record as from a stranger's. Whether that holds is the base's to say: this level's
    # m and u are trained like any other, so a base whose records of one person know the same
    # fields learns it, and one whose channels fill different fields learns about 0.
    return Level(
        ONE_SIDE_ONLY,
        f'"{column}_l" IS NULL OR "{column}_r" IS NULL',
        lambda a, b: a[column] is None or b[column] is None,
    )


def _exact(column: str, label: str, tf: str | None = None) -> Level:
    return Level(
        label,
        f'"{column}_l" = "{column}_r"',
        lambda a, b: a[column] == b[column],
        tf_column=tf,
    )


def _jw(column: str, threshold: float) -> Level:
    return Level(
        f"Jaro-Winkler >= {threshold}",
        f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {threshold}',
        lambda a, b: JaroWinkler.similarity(a[column], b[column]) >= threshold,
    )


def _jw_ok(a: str | None, b: str | None, threshold: float) -> bool:
    return a is not None and b is not None and JaroWinkler.similarity(a, b) >= threshold


def _swapped(mine: str, other: str, *, neutral: bool = False) -> Level:
    # First and last names swapped, allowing a typo in either.
    return Level(
        "first and last names swapped",
        f'jaro_winkler_similarity("{mine}_l", "{other}_r") >= 0.88 AND '
        f'jaro_winkler_similarity("{other}_l", "{mine}_r") >= 0.88',
        lambda a, b: _jw_ok(a[mine], b[other], 0.88) and _jw_ok(a[other], b[mine], 0.88),
        neutral=neutral,
    )


def _crosswise(mine: str, other: str, *, neutral: bool = False) -> Level:
    # Swapped with a heavier typo in one of them ("Martin oNel" for "Noel Martin"): one name
    # found exactly crosswise, the other still alike.
    return Level(
        "one name crosswise",
        f'("{mine}_l" = "{other}_r" AND jaro_winkler_similarity("{other}_l", "{mine}_r") >= 0.7)'
        f' OR ("{other}_l" = "{mine}_r" AND jaro_winkler_similarity("{mine}_l", "{other}_r")'
        " >= 0.7)",
        lambda a, b: (
            (a[mine] is not None and a[mine] == b[other] and _jw_ok(a[other], b[mine], 0.7))
            or (a[other] is not None and a[other] == b[mine] and _jw_ok(a[mine], b[other], 0.7))
        ),
        neutral=neutral,
    )


_ELSE = Level("all other", "ELSE", lambda a, b: True)

FIRST_NAME = Comparison(
    "first_name",
    "First name (term-frequency adjusted)",
    (
        _null("first_canon"),
        # One level for "the same name" (case and accents aside), term-frequency adjusted
        # against its own u: Splink adjusts a level by the u of the level that is an exact
        # match on the adjustment column, so a second, narrower level on the same column
        # (accents kept) would be adjusted by a u a hundred times too small.
        _exact("first_canon", "same without accents", tf="first_canon"),
        _exact("first_nick", "known nickname"),
        _swapped("first_canon", "last_canon"),
        _crosswise("first_canon", "last_canon"),
        _jw("first_canon", 0.92),
        _jw("first_canon", 0.8),
        _ELSE,
    ),
)
LAST_NAME = Comparison(
    "last_name",
    "Last name (term-frequency adjusted)",
    (
        _null("last_canon"),
        _exact("last_canon", "same without accents", tf="last_canon"),
        # The first name's "swapped" level already weighs both names agreeing crosswise (its u
        # is the chance of both): weighing it again here would count the evidence twice.
        _swapped("last_canon", "first_canon", neutral=True),
        _crosswise("last_canon", "first_canon", neutral=True),
        _jw("last_canon", 0.92),
        _jw("last_canon", 0.8),
        _ELSE,
    ),
)


def _hamming_one(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


BIRTH_DATE = Comparison(
    "birth_date",
    "Birth date",
    (
        _both_null("birth_date"),
        _one_side("birth_date"),
        _exact("birth_date", "exact"),
        Level(
            "day and month swapped",
            '"birth_swapped_l" = "birth_date_r"',
            lambda a, b: a["birth_swapped"] == b["birth_date"],
        ),
        Level(
            "one digit off",
            'hamming("birth_date_l", "birth_date_r") = 1',
            lambda a, b: _hamming_one(a["birth_date"], b["birth_date"]),
        ),
        _exact("birth_year", "same year"),
        _ELSE,
    ),
)
EMAIL = Comparison(
    "email",
    "Email",
    (
        _null("email"),
        _exact("email", "exact"),
        # Two namesakes often make their address of their names (jean.martin at two
        # providers): such a local part repeats what the name comparisons already weigh, so
        # weighing it again would count one fact twice. Its weight is fixed at 0.
        Level(
            "same local part, made of the names",
            '"email_local_l" = "email_local_r" AND "email_named_l" = 1',
            lambda a, b: a["email_local"] == b["email_local"] and a["email_named"] == 1,
            neutral=True,
        ),
        _exact("email_local", "same local part"),
        _exact("email_domain", "same domain"),
        _ELSE,
    ),
)
PHONE = Comparison(
    "phone",
    "Phone",
    (
        _both_null("phone_last8"),
        _one_side("phone_last8"),
        _exact("phone", "exact"),
        _exact("phone_last8", "same last 8 digits"),
        _ELSE,
    ),
)
COUNTRY = Comparison("country", "Country", (_null("country"), _exact("country", "exact"), _ELSE))

# The language is not compared: it follows the country and the names' origin, so agreeing
# on it again (a Dane speaking Danish) counted the same evidence twice and lifted namesakes.
COMPARISONS: tuple[Comparison, ...] = (
    FIRST_NAME,
    LAST_NAME,
    BIRTH_DATE,
    EMAIL,
    PHONE,
    COUNTRY,
)


def pair_levels(left: Row, right: Row) -> dict[str, str]:
    """Each comparison's level for two feature rows (the Python twin of Splink's SQL)."""
    return {c.name: c.levels[c.level_index(left, right)].label for c in COMPARISONS}


# A name rarer than this counts as this frequent: a name seen once or twice in the base (a
# typo, a swapped record's surname read as a first name) must not weigh like a fingerprint,
# and two namesakes of a small country share their rare names with each other.
TF_MINIMUM_U = 0.001


def splink_comparisons() -> list[Any]:
    import splink.comparison_library as cl  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    out = []
    for comparison in COMPARISONS:
        levels: list[Any] = []
        for level in comparison.levels:
            spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label}
            if level.is_null:
                spec["is_null_level"] = True
            if level.neutral:
                spec.update(m_probability=0.01, u_probability=0.01,
                            fix_m_probability=True, fix_u_probability=True)  # fmt: skip
            if level.tf_column:
                spec["tf_adjustment_column"] = level.tf_column
                spec["tf_adjustment_weight"] = 1.0
                spec["tf_minimum_u_value"] = TF_MINIMUM_U
            levels.append(spec)
        out.append(
            cl.CustomComparison(
                levels,
                output_column_name=comparison.name,
                comparison_description=comparison.description,
            )
        )
    return out


# Pairs scored in a whole-base run: each rule finds the duplicates that a change of one field
# would hide from the others. The real-time resolver finds its candidates with its own match
# keys, which cover the same fields.
BLOCKING_RULES_SQL = (
    'l."email" = r."email"',
    'l."phone_last8" = r."phone_last8"',
    'l."email_local" = r."email_local"',
    # A name mistyped on one side: the other name and the first letters of the mistyped one.
    'l."last_canon" = r."last_canon" AND substr(l."first_canon", 1, 2) = substr(r."first_canon", 1, 2)',
    'l."first_canon" = r."first_canon" AND substr(l."last_canon", 1, 2) = substr(r."last_canon", 1, 2)',
    'l."first_nick" = r."first_nick" AND l."last_canon" = r."last_canon"',
    # A typo in the first letters: the other name and the last letters of the mistyped one.
    'l."last_canon" = r."last_canon" AND substr(l."first_canon", -3) = substr(r."first_canon", -3)',
    'l."first_canon" = r."first_canon" AND substr(l."last_canon", -3) = substr(r."last_canon", -3)',
    # First and last names swapped (a typo in either allowed): one name found crosswise and
    # the first or last letters of the other, as above. One name crosswise alone paired every
    # Thomas with every Mr Thomas: 97 M of the 136 M pairs of a 1,000,000-guest base, for 1,639
    # true pairs found first; these four make 2 M of 41 M and find all but 10 of them.
    'l."first_canon" = r."last_canon" AND substr(l."last_canon", 1, 2) = substr(r."first_canon", 1, 2)',
    'l."first_canon" = r."last_canon" AND substr(l."last_canon", -3) = substr(r."first_canon", -3)',
    'l."last_canon" = r."first_canon" AND substr(l."first_canon", 1, 2) = substr(r."last_canon", 1, 2)',
    'l."last_canon" = r."first_canon" AND substr(l."first_canon", -3) = substr(r."last_canon", -3)',
    # Both names changed (a typo, a swap) but the birth date is kept.
    'l."birth_date" = r."birth_date" AND substr(l."last_canon", 1, 1) = substr(r."last_canon", 1, 1)',
    'l."birth_date" = r."birth_date" AND substr(l."first_canon", 1, 1) = substr(r."last_canon", 1, 1)',
)
