"""The Fellegi-Sunter model: Splink settings, training from the guest base, prediction.

Training is unsupervised, from the destination's own data: u probabilities by random sampling
(how often two random guests agree by chance), m probabilities by expectation-maximisation on
two blocked samples (pairs sharing a birth date, pairs sharing a name: each estimates the
comparisons it does not block on), the prior from deterministic rules. Thresholds are not
learnt from the base: they are chosen on the labelled tuning sets
(``training.thresholds_on_labelled``).

The backend is a parameter (``db_api_for``): DuckDB in process by default, Spark for a base that
outgrows one machine. Both run the same Splink settings and the same code below. Every DuckDB
connection comes from ``duckdb_connect``: bounded threads, memory and temporary files, so a
whole-base run can neither take the machine nor fill its disk.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from destination.linkage.comparisons import BLOCKING_RULES_SQL, pair_levels, splink_comparisons
from destination.linkage.features import COLUMNS
from destination.linkage.scorer import NEVER, Scorer, constraint_for

MODEL_FORMAT = 1
# Training pairs for u: enough for stable rare levels, small enough for a quick retrain.
U_MAX_PAIRS = 2_000_000
EM_MAX_PAIRS = 1_000_000
# Deterministic rules for the prior: pairs that are almost surely one person.
_PRIOR_RULES = (
    'l."email" = r."email" AND l."first_canon" = r."first_canon"',
    'l."phone" = r."phone" AND l."first_canon" = r."first_canon"',
    'l."first_canon" = r."first_canon" AND l."last_canon" = r."last_canon" '
    'AND l."birth_date" = r."birth_date"',
)
_PRIOR_RULES_RECALL = 0.8
# EM blocks: each estimates m for the comparisons that do not use its columns.
# Pairs sharing a birth date estimate the names and contacts; pairs sharing a first name and
# an email estimate the birth date. A block on the name alone would be dominated by common
# namesakes (Jean Martin), one on the email alone by households: both teach EM a wrong class.
_EM_RULES = (
    'l."birth_date" = r."birth_date"',
    'l."first_canon" = r."first_canon" AND l."email" = r."email"',
)


def settings_build() -> Any:
    from splink import SettingsCreator  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=splink_comparisons(),
        blocking_rules_to_generate_predictions=list[Any](BLOCKING_RULES_SQL),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
        em_convergence=0.0001,
    )


# DuckDB's limits for the batch jobs (dedupe_guests, linkage_train, benchmarks/dedupe.py); each
# can be overridden by its environment variable (README, "Configuration").
DUCKDB_THREADS = 2
DUCKDB_MEMORY_LIMIT = "4GB"
DUCKDB_MAX_TEMP_SIZE = "20GB"
DUCKDB_TEMP_ROOT = Path(__file__).resolve().parents[2] / ".tmp" / "duckdb"
_connections = itertools.count(1)


def duckdb_connect(
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    max_temp_directory_size: str | None = None,
) -> Any:
    """An in-memory DuckDB connection with the batch jobs' limits: ``threads``, ``memory_limit``
    (beyond it DuckDB spills to disk), ``temp_directory`` (where it spills: a folder of its own
    per connection under ``.tmp/duckdb/``, removed by DuckDB when the connection closes) and
    ``max_temp_directory_size`` (beyond it the query fails rather than fill the disk).
    Arguments win over the environment (``LINKAGE_DUCKDB_THREADS``,
    ``LINKAGE_DUCKDB_MEMORY_LIMIT``, ``LINKAGE_DUCKDB_TEMP_DIR``,
    ``LINKAGE_DUCKDB_MAX_TEMP_SIZE``), which wins over the defaults above."""
    import duckdb  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    threads = threads or int(os.environ.get("LINKAGE_DUCKDB_THREADS") or DUCKDB_THREADS)
    memory_limit = (
        memory_limit or os.environ.get("LINKAGE_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
    )
    max_temp = (
        max_temp_directory_size
        or os.environ.get("LINKAGE_DUCKDB_MAX_TEMP_SIZE")
        or DUCKDB_MAX_TEMP_SIZE
    )
    if temp_directory is None:
        root = Path(os.environ.get("LINKAGE_DUCKDB_TEMP_DIR") or DUCKDB_TEMP_ROOT)
        # One folder per connection: two jobs never share (nor delete) each other's files, and
        # the benchmark can measure its own spill.
        temp_directory = root / f"{os.getpid()}-{next(_connections)}"
    Path(temp_directory).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        ":memory:",
        config={
            "threads": int(threads),
            "memory_limit": str(memory_limit),
            "temp_directory": str(temp_directory),
            "max_temp_directory_size": str(max_temp),
        },
    )


def db_api_for(backend: str = "duckdb", **options: Any) -> Any:
    """The Splink database API: ``duckdb`` (in process; ``connection=`` a DuckDB connection,
    by default ``duckdb_connect()``) or ``spark`` (``spark_session=`` a live SparkSession)."""
    if backend == "duckdb":
        from splink import DuckDBAPI  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

        options.setdefault("connection", None)
        if options["connection"] is None:
            options["connection"] = duckdb_connect()
        return _spare_connection_bounded(DuckDBAPI(**options), options["connection"])
    if backend == "spark":
        from splink import SparkAPI  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

        return _spare_connection_bounded(SparkAPI(**options), duckdb_connect())
    raise ValueError(f"unknown linkage backend {backend!r}")


def _spare_connection_bounded(db_api: Any, connection: Any) -> Any:
    """Splink's base class opens a DuckDB connection of its own for local work, with DuckDB's
    defaults (every core, 80 % of the memory, 90 % of the disk): it is closed and replaced by
    one of ours. The DuckDB backend never uses it (its ``duckdb_con`` is the connection
    given), so there it is the same connection."""
    db_api._ddb_con.close()
    db_api._ddb_con = connection
    return db_api


def _arrow(rows: Sequence[dict[str, Any]]) -> Any:
    import pyarrow as pa  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    schema = pa.schema(
        [
            (c, pa.int64() if c in {"unique_id", "birth_year", "email_named"} else pa.string())
            for c in COLUMNS
        ]
    )
    return pa.Table.from_pylist([{c: row[c] for c in COLUMNS} for row in rows], schema=schema)


def register(db_api: Any, table: Any, name: str = "guests") -> Any:
    """Register the feature rows (a list of dicts, an Arrow table, or the name of a table
    already in the backend) with Splink."""
    if isinstance(table, list):
        table = _arrow(table)
    return db_api.register(table, table_name=name)


@dataclass
class TrainedModel:
    settings: dict[str, Any]
    tf_tables: dict[str, dict[str, float]]
    first_name_counts: dict[str, int]
    records: int

    def scorer(self) -> Scorer:
        return Scorer(self.settings, self.tf_tables, self.first_name_counts)


def _first_name_counts(db_api: Any, sdf: Any) -> dict[str, int]:
    rel = db_api.duckdb_con.sql(
        f"SELECT first_canon, count(*) FROM {sdf.physical_name} "  # noqa: S608
        "WHERE first_canon IS NOT NULL GROUP BY 1 HAVING count(*) >= 2"
    )
    return {name: int(n) for name, n in rel.fetchall()}


def _tf_table(linker: Any, column: str) -> dict[str, float]:
    tf = linker.table_management.compute_tf_table(column).as_record_list()
    return {row[column]: float(row[f"tf_{column}"]) for row in tf if row[column] is not None}


def _tf_register(db_api: Any, linker: Any, tf_tables: dict[str, dict[str, float]]) -> None:
    """Score with the trained base's term frequencies, as the real-time scorer does, rather
    than with those of the rows at hand."""
    import pyarrow as pa  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    for column, table in tf_tables.items():
        arrow = pa.table({column: list(table), f"tf_{column}": [float(v) for v in table.values()]})
        sdf = db_api.register(arrow, table_name=f"tf_lookup_{column}")
        linker.table_management.register_term_frequency_lookup(sdf, column)


def model_train(
    rows: Sequence[dict[str, Any]] | Any, *, backend: str = "duckdb", seed: int = 14, **options
) -> TrainedModel:
    """Train on feature rows (``features.features_for``) or on a table already registered in the
    backend's connection. Returns the trained settings and the lookups the scorer needs."""
    from splink import Linker  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    db_api = db_api_for(backend, **options)
    sdf = register(db_api, rows)
    linker = Linker(sdf, settings_build(), log_level=None)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        list(_PRIOR_RULES), recall=_PRIOR_RULES_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for rule in _EM_RULES:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
        )
    settings = _swapped_u_independent(_probabilities_floor(linker.misc.save_model_to_json()))
    if backend == "duckdb":
        counts = _first_name_counts(db_api, sdf)
        count_sql = f"SELECT count(*) FROM {sdf.physical_name}"  # noqa: S608
        records = int(db_api.duckdb_con.sql(count_sql).fetchall()[0][0])
    else:  # pragma: no cover - needs a Spark session
        counts = {
            r["first_canon"]: int(r["n"])
            for r in linker.misc.query_sql(
                f"SELECT first_canon, count(*) AS n FROM {sdf.physical_name} "  # noqa: S608
                "WHERE first_canon IS NOT NULL GROUP BY 1 HAVING count(*) >= 2",
                output_type="pandas",
            ).to_dict("records")
        }
        records = int(sum(counts.values()))
    return TrainedModel(
        settings=settings,
        tf_tables={c: _tf_table(linker, c) for c in ("first_canon", "last_canon")},
        first_name_counts=counts,
        records=records,
    )


# EM can push a level's m towards 0 (a level never seen among matches): below float precision
# Splink refuses to load the model again. A floor keeps such a level a strong "no".
# A level never seen among the sampled non-matches (u = 0) would weigh infinitely: u is floored
# at about one in the number of sampled pairs, m at one in a thousand matches.
FLOORS = {"m_probability": 1e-3, "u_probability": 1e-6}


def _probabilities_floor(settings: dict[str, Any]) -> dict[str, Any]:
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            for key, floor in FLOORS.items():
                # A level EM never saw has no estimate: it gets the floor, explicitly, so
                # Splink and the Python scorer read the same value.
                if level.get(key) is None or level[key] < floor:
                    level[key] = floor
    return settings


SWAPPED_LEVEL = "first and last names swapped"


def _swapped_u_independent(settings: dict[str, Any]) -> dict[str, Any]:
    """Two strangers agree crosswise on both names about as rarely as they agree on both names
    the right way round: the swapped level's u is the product of the two names' exact-level
    u, as the model assumes for independent fields. Sampled pairs almost never show a swap
    between strangers, so the sampled u was the floor, not a measure, and cost a swapped
    record three to four bits against the same record written the right way round."""
    by_name = {c["output_column_name"]: c for c in settings["comparisons"]}
    exact_u = []
    for name in ("first_name", "last_name"):
        levels = by_name[name]["comparison_levels"]
        exact_u.append(next(lv["u_probability"] for lv in levels if lv.get("tf_adjustment_column")))
    for level in by_name["first_name"]["comparison_levels"]:
        if level.get("label_for_charts") == SWAPPED_LEVEL:
            level["u_probability"] = max(exact_u[0] * exact_u[1], FLOORS["u_probability"] / 100)
    return settings


# The smallest base the thresholds are chosen on: the labelled tuning sets of 3,000 people
# (``training.tuning_sets``) hold about 4,000 records.
MIN_BASE_RECORDS = 4000


def prior_for_base(
    settings: dict[str, Any], *, trained_records: int | None, records: int
) -> dict[str, Any]:
    """The settings with the prior of a base of ``records`` records. The prior (the chance that
    two random records are one person) falls as a base grows, since a person has about as many
    records in a base of any size: about 2k / n for k records per person in n. A model trained
    on ``trained_records`` records scores another base with its prior rescaled by
    (trained - 1) / (records - 1), so that a match weight, and the thresholds on it, mean the
    same probability on the base at hand as on the one the model was trained on. A base
    smaller than ``MIN_BASE_RECORDS`` is scored as one of that size: the thresholds were never
    chosen on a smaller one, and a base of a few dozen guests would make every look-alike a
    likely match. Unchanged when the training base's size is not known."""
    if not trained_records or trained_records < 2:
        return settings
    lam = settings["probability_two_random_records_match"]
    records = max(records, MIN_BASE_RECORDS)
    rescaled = min(lam * (trained_records - 1) / (records - 1), 0.5)
    return {**settings, "probability_two_random_records_match": rescaled}


@dataclass(frozen=True)
class Pair:
    left: int
    right: int
    match_weight: float
    levels: dict[str, str]
    constraint: str | None

    @property
    def match_probability(self) -> float:
        return 1.0 / (1.0 + 2.0 ** (-self.match_weight)) if self.match_weight > -1000 else 0.0


def predict(
    rows: Sequence[dict[str, Any]],
    *,
    settings: dict[str, Any],
    first_name_counts: dict[str, int],
    min_match_weight: float,
    tf_tables: dict[str, dict[str, float]] | None = None,
    backend: str = "duckdb",
    **options: Any,
) -> list[Pair]:
    """Block, score and constrain every pair of the rows scoring at least ``min_match_weight``.
    The family rules are applied to each pair after Splink's scoring."""
    from splink import Linker  # noqa: PLC0415  heavy: loaded by the batch jobs only, never by a web request

    db_api = db_api_for(backend, **options)
    sdf = register(db_api, list(rows))
    linker = Linker(sdf, settings, log_level=None)
    if tf_tables:
        _tf_register(db_api, linker, tf_tables)
    predictions = linker.inference.predict(threshold_match_weight=min_match_weight)
    by_id = {row["unique_id"]: row for row in rows}
    pairs: list[Pair] = []
    for rec in predictions.as_record_list():
        left, right = by_id[rec["unique_id_l"]], by_id[rec["unique_id_r"]]
        # Splink 5 returns each comparison's weight, not its level: the levels (for the family
        # rules and the reasons) come from the Python twin of each level's SQL.
        levels = pair_levels(left, right)
        pairs.append(
            Pair(
                left=rec["unique_id_l"],
                right=rec["unique_id_r"],
                match_weight=float(rec["match_weight"]),
                levels=levels,
                constraint=constraint_for(left, right, levels, first_name_counts),
            )
        )
    return pairs


def clusters_connect(ids: Iterable[int], edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Connected components (union-find): every id -> the smallest id of its cluster. The same
    result as Splink's ``cluster_pairwise_predictions_at_threshold`` on the kept edges; done
    here because the edges are filtered by the family rules after Splink scored them."""
    parent: dict[int, int] = {i: i for i in ids}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in parent}


@dataclass(frozen=True)
class Thresholds:
    auto_match_weight: float
    review_match_weight: float

    def as_dict(self) -> dict[str, float]:
        return {
            "auto_match_weight": self.auto_match_weight,
            "review_match_weight": self.review_match_weight,
            "auto_match_probability": 1 / (1 + 2 ** (-self.auto_match_weight)),
            "review_match_probability": 1 / (1 + 2 ** (-self.review_match_weight)),
        }


def decide(pair: Pair, thresholds: Thresholds) -> str:
    """ "auto", "review" or "none" for one scored pair: households and twins are never merged
    nor suggested, a possibly mistyped first name never merged automatically."""
    if pair.constraint in NEVER or pair.match_weight < thresholds.review_match_weight:
        return "none"
    if pair.match_weight >= thresholds.auto_match_weight and pair.constraint is None:
        return "auto"
    return "review"


def counts_summary(pairs: Sequence[Pair], thresholds: Thresholds) -> Counter[str]:
    return Counter(decide(p, thresholds) for p in pairs)
