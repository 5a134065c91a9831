"""The query-count helpers fail with the statements they saw."""

import re

import pytest

from destination.models import Guest
from tests.queries import (
    assert_at_most,
    assert_max_num_queries,
    assert_num_queries,
    assert_same_num_queries,
    capture_queries,
)

pytestmark = pytest.mark.django_db


def test_an_exact_count_that_is_wrong_prints_each_statement():
    with pytest.raises(AssertionError) as failure, assert_num_queries(1):
        list(Guest.objects.filter(first_name="Ana"))
        list(Guest.objects.filter(first_name="Léa"))
    message = str(failure.value)
    assert message.startswith("expected 1 queries, ran 2:")
    assert "1. SELECT" in message and "2. SELECT" in message
    assert "Ana" in message and "Léa" in message


def test_a_right_count_passes_and_keeps_the_statements():
    with assert_num_queries(1) as log:
        list(Guest.objects.all())
    assert len(log) == 1
    assert log.statements[0].startswith("SELECT")


def test_a_budget_fails_only_above_its_limit():
    with assert_max_num_queries(2):
        list(Guest.objects.all())
    with pytest.raises(AssertionError, match="at most 0 queries, ran 1"), assert_max_num_queries(0):
        list(Guest.objects.all())
    with capture_queries() as log:
        list(Guest.objects.all())
    assert_at_most(log, 1)
    with pytest.raises(AssertionError, match=re.escape("at most 0 queries, ran 1:\n1. SELECT")):
        assert_at_most(log, 0)


def test_the_n_plus_one_guard_compares_two_captures():
    with capture_queries() as one:
        list(Guest.objects.all())
    with capture_queries() as two:
        list(Guest.objects.all())
        list(Guest.objects.all())
    assert_same_num_queries(one, one)
    with pytest.raises(AssertionError, match=re.escape("1 queries, then 2:\n--- first\n1. SELECT")):
        assert_same_num_queries(one, two)
