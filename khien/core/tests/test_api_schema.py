"""The OpenAPI schema lists the error answers callers meet, and the answers the server gives match it."""
import uuid

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

ORGS = "/api/registry/organizations/"
# The SOC intake answers only its sources; it documents its own errors (429, 413 …).
INTAKE_PATHS = ("/api/telemetry/alerts/", "/api/telemetry/elastic")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def test_every_operation_lists_the_errors_a_caller_can_meet(schema):
    missing = []
    for path, method, operation in operations(schema):
        codes = set(operation["responses"])
        expected = {"401", "403"}
        if method in {"POST", "PUT", "PATCH"}:
            expected.add("400")
        if "{" in path and not path.startswith(INTAKE_PATHS):
            expected.add("404")
        if not expected <= codes:
            missing.append((method, path, sorted(expected - codes)))
    assert missing == []
    # An index name in the Elasticsearch path is never "not found".
    assert "404" not in schema["paths"]["/api/telemetry/elastic/{index}/_bulk/"]["post"]["responses"]
    # Answers an operation declares itself are kept (the bundle's 422 with every error).
    assert "422" in schema["paths"]["/api/intel/exchange/import/"]["post"]["responses"]


def check(schema, path, method, response):
    """The answer's body validates against the schema the operation declares for its status."""
    declared = schema["paths"][path][method]["responses"][str(response.status_code)]
    body_schema = declared["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**body_schema, "components": schema["components"]})


def test_error_answers_match_the_schema(schema, world, api):
    org_path = "/api/registry/organizations/{id}/"
    anonymous = api().get(f"{ORGS}{world.department.pk}/")
    assert anonymous.status_code == 401
    check(schema, org_path, "get", anonymous)

    # Another organization's data does not exist for the caller.
    hidden = api(world.other_admin).get(f"{ORGS}{world.department.pk}/")
    assert hidden.status_code == 404
    check(schema, org_path, "get", hidden)
    check(schema, org_path, "get", api(world.admin).get(f"{ORGS}{uuid.uuid4()}/"))

    forbidden = api(world.auditor).patch(f"{ORGS}{world.department.pk}/", {"name_vi": "X"}, format="json")
    assert forbidden.status_code == 403
    check(schema, org_path, "patch", forbidden)

    invalid = api(world.admin).patch(f"{ORGS}{world.department.pk}/", {"hotline": "\u0007"}, format="json")
    assert invalid.status_code == 400
    check(schema, org_path, "patch", invalid)
    not_an_object = api(world.admin).post("/api/intel/collections/", ["a", "list"], format="json")
    assert not_an_object.status_code == 400
    check(schema, "/api/intel/collections/", "post", not_an_object)

