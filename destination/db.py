"""Generic database plumbing for set-based writers: identity resolution's batches, and any bulk
writer that follows (newsletters' recipient snapshots).

- ``binary_cursor()``: a PostgreSQL cursor that binds parameters server-side, in binary (``%b``).
- ``insert_rows()`` / ``insert_rows_returning()``: many plain rows in one ``INSERT ... SELECT *
  FROM unnest(arrays)`` on PostgreSQL; ``bulk_create`` elsewhere (SQLite in tests).
- ``any_text()`` / ``any_id()``: ``field IN (values)`` written ``field = ANY(array)`` on
  PostgreSQL, one parameter instead of thousands of placeholders.

Nothing here knows a model of the product: callers pass the model and the field names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.db.models import F, Lookup

__all__ = [
    "AnyId",
    "AnyOf",
    "any_id",
    "any_text",
    "binary_cursor",
    "insert_rows",
    "insert_rows_returning",
]


@contextmanager
def binary_cursor() -> Iterator[Any]:
    """A PostgreSQL cursor that sends the parameters apart from the query, in binary (``%b``).

    Django's own cursor binds client-side: it quotes every element of an array parameter in
    Python, which was the largest single cost of a resolution batch (three times slower than
    binary for thousands of values). Wrapped by Django, so query logging and execute wrappers
    see it; on the same connection, so in the same transaction. PostgreSQL only."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    try:
        if connection.queries_logged:
            yield connection.make_debug_cursor(raw)
        else:
            yield connection.make_cursor(raw)
    finally:
        raw.close()


def _unnest_insert_sql(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> tuple[str, list[list[Any]]]:
    """``INSERT INTO table (columns) SELECT * FROM unnest(%b::type[], ...)`` and its arrays,
    one per column (JSON fields dumped to text, as Django stores them)."""
    meta = model._meta
    columns, casts, is_json = [], [], []
    for name in fields:
        field = meta.get_field(name)
        columns.append(connection.ops.quote_name(field.column))  # type: ignore[union-attr]
        casts.append(f"%b::{field.cast_db_type(connection)}[]")  # type: ignore[union-attr]
        is_json.append(isinstance(field, models.JSONField))
    arrays = [
        [json.dumps(v, cls=DjangoJSONEncoder) for v in column] if json_column else list(column)
        for column, json_column in zip(zip(*rows, strict=True), is_json, strict=True)
    ]
    table = connection.ops.quote_name(meta.db_table)
    # Identifiers come from model metadata and are quoted; values are parameters.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)})"  # noqa: S608
    return sql, arrays


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    ignore_conflicts: bool = True,
) -> None:
    """Insert plain rows (values in ``fields`` order, fields named by attname, e.g.
    ``guest_id``), by default skipping those that break a unique constraint. On PostgreSQL one
    ``INSERT ... SELECT * FROM unnest(arrays)`` statement: several times faster than
    ``bulk_create`` for thousands of small rows (no model instances, no per-value field
    preparation). Elsewhere ``bulk_create``. Signals are not sent, ``save()`` is not called."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows],
            ignore_conflicts=ignore_conflicts,
        )
        return
    sql, arrays = _unnest_insert_sql(model, fields, rows)
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    with binary_cursor() as cursor:
        cursor.execute(sql, arrays)


def insert_rows_returning(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Like ``insert_rows`` (no conflict handling), returning the ``returning`` columns of the
    inserted rows, in no guaranteed order: return a unique column (a uuid) to match them back.
    PostgreSQL only: elsewhere use ``bulk_create``, which sets primary keys itself."""
    if not rows:
        return []
    sql, arrays = _unnest_insert_sql(model, fields, rows)
    meta = model._meta
    back = ", ".join(connection.ops.quote_name(meta.get_field(n).column) for n in returning)  # type: ignore[union-attr]
    with binary_cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {back}", arrays)
        return [tuple(row) for row in cursor.fetchall()]


class AnyOf(Lookup):
    """``field IN (values)`` written ``field = ANY(%s)`` on PostgreSQL: one array parameter
    instead of thousands of placeholders, which the driver and the planner handle much faster
    for a batch. Elsewhere a plain ``IN``; an empty list matches nothing."""

    lookup_name = "any_of"
    prepare_rhs = False
    array_type = "text"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::{self.array_type}[])", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


class AnyId(AnyOf):
    array_type = "bigint"


def any_text(field_name: str, values: Iterable[str]) -> AnyOf:
    """A filter expression: ``qs.filter(any_text("email", emails))``."""
    return AnyOf(F(field_name), sorted(values))


def any_id(field_name: str, values: Iterable[int]) -> AnyId:
    """A filter expression: ``qs.filter(any_id("guest_id", ids))``."""
    return AnyId(F(field_name), sorted(values))
