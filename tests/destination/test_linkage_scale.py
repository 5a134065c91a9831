"""DuckDB's limits for the batch jobs: every connection the whole-base clean-up and the training
open has the configured threads, memory, temporary folder and spill cap."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import duckdb
import pytest
from django.core.management import call_command

from destination.linkage.features import features_for
from destination.linkage.model import DUCKDB_TEMP_ROOT, duckdb_connect, model_train, predict
from destination.linkage.store import _default
from tests.destination.data.linkage_people import TEST_SEED, build
from tests.destination.test_linkage_dedupe import _dirty_base

_SETTINGS = (
    "SELECT current_setting('threads'), current_setting('memory_limit'), "
    "current_setting('temp_directory'), current_setting('max_temp_directory_size')"
)


@pytest.fixture(autouse=True)
def _quiet_splink():
    logging.getLogger("splink").setLevel(logging.ERROR)


def _settings(con: Any) -> tuple[Any, ...]:
    return tuple(con.execute(_SETTINGS).fetchall()[0])


def _as_duckdb_says(**config: Any) -> tuple[str, ...]:
    """How DuckDB itself prints these settings (it rounds "4GB" to "3.7 GiB")."""
    con = duckdb.connect(":memory:", config=config)
    names = ", ".join(f"current_setting('{k}')" for k in config)
    return tuple(con.execute(f"SELECT {names}").fetchall()[0])


def test_defaults_bound_threads_memory_and_spill_under_the_project(monkeypatch):
    for name in ("THREADS", "MEMORY_LIMIT", "TEMP_DIR", "MAX_TEMP_SIZE"):
        monkeypatch.delenv(f"LINKAGE_DUCKDB_{name}", raising=False)
    threads, memory, temp, max_temp = _settings(duckdb_connect())
    assert int(threads) == 2
    assert (memory, max_temp) == _as_duckdb_says(memory_limit="4GB", max_temp_directory_size="20GB")
    assert Path(temp).parent == DUCKDB_TEMP_ROOT
    assert Path(__file__).resolve().parents[2] / ".tmp" / "duckdb" == DUCKDB_TEMP_ROOT
    # Two connections never share a folder (nor remove each other's files).
    assert _settings(duckdb_connect())[2] != temp


def test_environment_overrides_and_the_spill_cap_holds(monkeypatch, tmp_path):
    monkeypatch.setenv("LINKAGE_DUCKDB_THREADS", "1")
    monkeypatch.setenv("LINKAGE_DUCKDB_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("LINKAGE_DUCKDB_TEMP_DIR", str(tmp_path))
    monkeypatch.setenv("LINKAGE_DUCKDB_MAX_TEMP_SIZE", "16MB")
    con = duckdb_connect()
    threads, memory, temp, max_temp = _settings(con)
    assert int(threads) == 1
    assert (memory, max_temp) == _as_duckdb_says(
        memory_limit="64MB", max_temp_directory_size="16MB"
    )
    assert Path(temp).parent == tmp_path
    # A query that needs more than memory and the spill cap together fails; it does not fill
    # the disk.
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(
            "SELECT count(DISTINCT md5(i::VARCHAR) || i::VARCHAR) FROM range(20000000) t(i)"
        ).fetchall()


@pytest.fixture
def connections(monkeypatch, tmp_path):
    """Every DuckDB connection opened (by our code or by Splink), and the limits set."""
    monkeypatch.setenv("LINKAGE_DUCKDB_THREADS", "1")
    monkeypatch.setenv("LINKAGE_DUCKDB_MEMORY_LIMIT", "3GiB")
    monkeypatch.setenv("LINKAGE_DUCKDB_TEMP_DIR", str(tmp_path))
    monkeypatch.setenv("LINKAGE_DUCKDB_MAX_TEMP_SIZE", "7GiB")
    # How DuckDB prints them, asked before connect is watched.
    expected = (
        "1",
        *_as_duckdb_says(memory_limit="3GiB"),
        *_as_duckdb_says(max_temp_directory_size="7GiB"),
    )
    opened: list[duckdb.DuckDBPyConnection] = []
    real = duckdb.connect

    def connect(*args, **kwargs):
        con = real(*args, **kwargs)
        opened.append(con)
        return con

    monkeypatch.setattr(duckdb, "connect", connect)

    def check() -> int:
        used = 0
        for con in opened:
            try:
                threads, memory, temp, max_temp = _settings(con)
            except duckdb.ConnectionException:  # closed unused (Splink's spare connection)
                continue
            assert (str(threads), memory, max_temp) == expected
            assert Path(temp).parent == tmp_path
            used += 1
        assert used, "no DuckDB connection was opened"
        return used

    return check


@pytest.mark.django_db
def test_dedupe_guests_runs_on_the_limited_connection(connections):
    _dirty_base(entities=200)
    out = io.StringIO()
    call_command("dedupe_guests", "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue()
    assert connections() >= 1


def test_training_and_prediction_run_on_the_limited_connection(connections):
    """What ``linkage_train`` and the threshold choice (``training.py``) call."""
    data = build(seed=TEST_SEED, entities=1000)
    rows = [features_for(unique_id=r.record_id, **r.as_dict()) for r in data.records]
    trained = model_train(rows)
    assert trained.records == len(rows)
    model = _default()
    pairs = predict(
        rows,
        settings=model.settings,
        first_name_counts=model.first_name_counts,
        tf_tables=model.tf_tables,
        min_match_weight=0,
    )
    assert pairs
    assert connections() >= 2
