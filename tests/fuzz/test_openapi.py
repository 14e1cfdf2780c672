"""schemathesis against the service's own OpenAPI schema: no input makes it answer 5xx, and every answer
(status code, body) is one the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from docgraph.embedded import EmbeddedService

pytestmark = [pytest.mark.fuzz, pytest.mark.serve]


@pytest.fixture(scope="session")
def api_schema(service: EmbeddedService) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_every_answer_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
