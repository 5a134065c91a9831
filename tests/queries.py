"""The one way the suite counts SQL queries.

Every check prints the statements it saw when the count is wrong, numbered, so a failing budget
names the query that appeared (zulip's test_classes does the same)::

    with assert_num_queries(2):
        guest_access(...)

    with capture_queries() as few:
        page_render(rows=3)
    with capture_queries() as many:
        page_render(rows=12)
    assert_same_num_queries(few, many)  # no query per row
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext


class QueryLog:
    """The statements run inside a ``capture_queries()`` block (complete once the block ends)."""

    def __init__(self, context: CaptureQueriesContext) -> None:
        self._context = context

    def __len__(self) -> int:
        return len(self._context.captured_queries)

    @property
    def statements(self) -> list[str]:
        return [query["sql"] for query in self._context.captured_queries]

    def __str__(self) -> str:
        return "\n".join(f"{n}. {sql}" for n, sql in enumerate(self.statements, start=1))


@contextmanager
def capture_queries(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[QueryLog]:
    with CaptureQueriesContext(connections[using]) as context:
        yield QueryLog(context)


@contextmanager
def assert_num_queries(expected: int, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[QueryLog]:
    """Exactly ``expected`` queries inside the block."""
    with capture_queries(using=using) as log:
        yield log
    if len(log) != expected:
        raise AssertionError(f"expected {expected} queries, ran {len(log)}:\n{log}")


@contextmanager
def assert_max_num_queries(limit: int, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[QueryLog]:
    """At most ``limit`` queries inside the block."""
    with capture_queries(using=using) as log:
        yield log
    if len(log) > limit:
        raise AssertionError(f"expected at most {limit} queries, ran {len(log)}:\n{log}")


def assert_same_num_queries(first: QueryLog, second: QueryLog) -> None:
    """The N+1 guard: the same work on more rows runs the same number of queries."""
    if len(first) != len(second):
        raise AssertionError(
            f"{len(first)} queries, then {len(second)}:\n--- first\n{first}\n--- second\n{second}"
        )


def assert_at_most(log: QueryLog, limit: int) -> None:
    """A budget checked on queries captured earlier (``assert_max_num_queries`` as a block)."""
    if len(log) > limit:
        raise AssertionError(f"expected at most {limit} queries, ran {len(log)}:\n{log}")
