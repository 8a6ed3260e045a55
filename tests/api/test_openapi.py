"""Schemathesis over the OpenAPI spec, against the app itself (ASGI): generated requests, valid
and invalid, to every operation. No answer is a 5xx, and every answer has a documented status
code, content type and body schema.

(schemathesis' pytest plugin, `from_fixture(...).parametrize()`, fails on pytest 9 -- it reads
`request.node._nodeid` -- so each operation is run through its Hypothesis strategy here.)
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from kg.config import Settings
from tests.api.conftest import AUTH

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = sorted((method.upper(), path) for path, item in create_app(Settings()).openapi()["paths"].items()
                    for method in item)
MAX_EXAMPLES = 25  # per operation and mode: the whole run stays within a few minutes


@pytest.fixture(scope="session")
def api_schema(client, app):
    # the session's app with its store and models already up (the client fixture)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_every_operation_answers_within_its_spec(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # no invalid input exists in the spec's terms (no parameters, or only free strings)
        assert mode == GenerationMode.NEGATIVE
