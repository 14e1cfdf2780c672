"""schemathesis against the service's own OpenAPI schema: no input makes it answer 5xx, and every answer
(status code, body) is one the schema documents.

Driven through schemathesis' Python API (each operation as a Hypothesis strategy), not its pytest plugin: the
plugin reads pytest internals that pytest 9.2 removed (``Function._nodeid``), and pyproject's addopts keep it
unloaded (``-p no:schemathesis``), so a pytest release cannot break this test that way again.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from schemathesis.core.result import Err, Ok

from docgraph.embedded import EmbeddedService

pytestmark = [pytest.mark.fuzz, pytest.mark.serve]

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 30


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _fuzz(operation: Operation) -> int:
    """Run ``operation``'s examples against the service; the number of calls made."""
    calls = 0

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def exercise(case: schemathesis.Case[Operation]) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(checks=CHECKS)

    exercise()
    return calls


def test_no_5xx_and_every_answer_documented(service: EmbeddedService) -> None:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)], "the schema's operations are all valid"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 8, [op.label for op in operations]  # the /v1 routes and the health routes
    failures: dict[str, str] = {}
    calls: dict[str, int] = {}
    for operation in operations:
        try:
            calls[operation.label] = _fuzz(operation)
        except Exception as exc:  # noqa: BLE001 - every operation runs; all failures are reported together
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())
    assert all(n > 0 for n in calls.values()), calls  # every operation was really called
