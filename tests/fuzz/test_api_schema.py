"""Schemathesis against the partner API's own OpenAPI schema (served by django-ninja at
/api/v1/openapi.json): whatever a client sends, no server error, and every documented response
matches its schema. Runs in the suite (and so in CI) with few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from destination.wsgi import application
from partners.api_keys import partner_api_key_create
from tests.factories import GuestFactory, PartnerFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# Our checks: 400 (control characters) and 413 (size) come from the middleware, before the API.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI app is called directly, so each request's end would close the database
    connection, and with it the test's transaction (PostgreSQL). Django's test client does the
    same disconnection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(db) -> str:
    partner = PartnerFactory(slug="fuzz-partner")
    GuestFactory.create_batch(3)  # ids 1..3 exist, most generated ids do not
    return partner_api_key_create(partner=partner, name="fuzz")[1]


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, api_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
def test_api_without_a_valid_key_is_refused(case) -> None:
    response = case.call(headers={"Authorization": "Bearer nope.nope"})
    assert 400 <= response.status_code < 500  # 401 mostly; 405 for methods the path lacks
