"""The OpenAPI schema lists the error answers callers meet, and the answers the server gives match it."""
import uuid

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from khien.incidents.tests.conftest import incident_content, report  # noqa: F401 (fixtures)

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
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
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


def as_json_schema(node):
    """OpenAPI 3.0's `nullable: true` in JSON Schema's words (jsonschema does not know it)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def check(schema, path, method, response):
    """The answer's body validates against the schema the operation declares for its status."""
    declared = schema["paths"][path][method]["responses"][str(response.status_code)]
    body_schema = declared["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), as_json_schema({**body_schema, "components": schema["components"]}))


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
    no_collection = api(world.admin).get("/api/intel/exchange/export/?collection=LPT1")
    assert no_collection.status_code == 404
    check(schema, "/api/intel/exchange/export/", "get", no_collection)
    source = "/api/telemetry/sources/{name}/dead-letters/discard/"
    nothing_chosen = api(world.admin).post("/api/telemetry/sources/none/dead-letters/discard/", {}, format="json")
    assert nothing_chosen.status_code == 404
    check(schema, source, "post", nothing_chosen)



def test_answers_before_any_view_are_those_of_the_protocol(schema, world, api):
    """An address no view takes (a malformed id) answers the API's JSON 404, in the caller's language; under
    /taxii2/ a TAXII error; a page stays a page."""
    client = api(world.coordinator)
    for url in ("/api/incidents/0.5/", "/api/telemetry/alert-groups/not-an-id/", "/api/nothing-here/",
                f"/api/incidents/{uuid.uuid4()}/evidence/{'0' * 36}/custody/"):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", url
        assert response.json() == {"detail": "Không tìm thấy."}, url
    check(schema, "/api/incidents/{id}/", "get", client.get("/api/incidents/0.5/"))
    taxii = client.get("/taxii2/nothing-here/")
    assert taxii.status_code == 404 and taxii["Content-Type"].startswith("application/taxii+json")
    assert taxii.json()["http_status"] == "404"
    assert client.get("/nothing-here/")["Content-Type"].startswith("text/html")


def test_a_missing_object_is_not_found_in_the_callers_language(world, api):
    """Django's own 404 said "No Incident matches the given query." (English, naming the model)."""
    client = api(world.coordinator)
    for url in (f"/api/incidents/{uuid.uuid4()}/", f"/api/incidents/{uuid.uuid4()}/journal/",
                f"{ORGS}{uuid.uuid4()}/"):
        response = client.get(url)
        assert response.status_code == 404 and response.json() == {"detail": "Không tìm thấy."}, url


def test_declared_refusals_and_list_bodies_match_the_schema(schema, world, api, report):
    paths = schema["paths"]
    for path, method in (("/api/incidents/{id}/assign/", "post"), ("/api/incidents/{id}/observables/", "post"),
                         ("/api/incidents/{id}/observables/{observable_id}/", "delete"),
                         ("/api/telemetry/alert-groups/{id}/incident/", "post"),
                         ("/api/telemetry/alert-groups/{id}/suppress/", "post"),
                         ("/api/telemetry/campaigns/{id}/{action}/", "post"),
                         ("/api/telemetry/suppressions/{id}/lift/", "post")):
        declared = paths[path][method]["responses"]["409"]
        assert declared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, path
    assert "422" in paths["/api/intel/collections/{id}/objects/"]["post"]["responses"]
    # A list body answers one object of errors per item: declared so.
    incident = report()
    url = f"/api/incidents/{incident.pk}/observables/"
    response = api(world.analyst).post(url, [{}, {"value": "203.0.113.9"}], format="json")
    assert response.status_code == 400 and isinstance(response.json(), list)
    check(schema, "/api/incidents/{id}/observables/", "post", response)


def test_optional_emails_may_be_blank_in_the_schema(schema, world, api):
    contact = schema["components"]["schemas"]["Organization"]["properties"]["contact_email"]
    jsonschema.validate("", contact)
    jsonschema.validate("soc@min.test.vn", contact)
    body = api(world.admin).get(f"{ORGS}{world.department.pk}/")
    assert body.json()["contact_email"] == ""
    check(schema, "/api/registry/organizations/{id}/", "get", body)


def test_the_notification_list_documents_its_unread_filter(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/notifications/"]["get"]["parameters"]}
    assert parameters["unread"]["schema"]["type"] == "boolean"


def test_without_credentials_only_the_schema_and_its_documentation_answer(world, api):
    """docs/api.md: every endpoint answers 401 without credentials, except the schema and its interactive
    documentation, which describe the endpoints and hold no data."""
    from pathlib import Path

    anonymous = api()
    for path in ("/api/schema/", "/api/docs/"):
        assert anonymous.get(path).status_code == 200, path
    schema = anonymous.get("/api/schema/").content.decode()
    assert world.ministry.name not in schema and world.admin.email not in schema
    for path in ("/api/me/", "/api/audit/", f"/api/registry/organizations/{world.ministry.pk}/"):
        response = anonymous.get(path)
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token", path
    guide = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    rule = guide[guide.index("Without credentials every endpoint answers"):][:400]
    assert "/api/schema/" in rule and "/api/docs/" in rule
