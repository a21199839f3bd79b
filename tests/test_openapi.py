"""The service API matches its OpenAPI document, fuzzed with schemathesis:
no 500, every status and body as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.support.web import AUTH


@pytest.fixture
def api_schema(make_app, owner):
    app = make_app()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_service_api_matches_its_document(case):
    # Which well-formed requests a service accepts is its business (an address
    # email-validator refuses, an unknown event type): the document promises
    # no 500 and that every answer has a documented status, type and shape.
    case.call_and_validate(
        headers=AUTH,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            unsupported_method,
        ],
    )


def test_document_lists_every_api_route(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "openapi.openapi_json":
            continue
        path = rule.rule.removeprefix("/api/v1")
        for conv in rule.arguments:
            path = path.replace(f"<int:{conv}>", f"{{{conv}}}").replace(f"<{conv}>", f"{{{conv}}}")
        routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
