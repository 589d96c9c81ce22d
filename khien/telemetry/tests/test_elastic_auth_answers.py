"""How the intakes refuse a sender's credentials.

The Elasticsearch-compatible intake (/api/telemetry/elastic/) refuses as Elasticsearch itself does (401 with a
`security_exception` error and `WWW-Authenticate: Basic realm="security" charset="UTF-8"`; 403 for a disabled
source): the shippers written for Elasticsearch know that answer (newer rsyslog suspends and retries on it; Logstash,
Fluent Bit, Filebeat log it as an authentication failure), and the operator finds the reason it gives — in the
caller's language. A refused bulk request also names each of its actions as refused (`errors`, `items`), as
Elasticsearch names the documents it could not index: rsyslog before mid-2025, which reads only the items, gives
them back to the shipped file's retry ruleset, which sends them again (test_rsyslog.py). The JSON intake
(/api/telemetry/alerts) keeps its own answers. Both take a source key written
`Authorization: Bearer <key>` (Fluent Bit and many tools write Bearer) as they take `Token <key>`.
(The real rsyslog, refused then given the right key, is in test_rsyslog.py.)"""
import base64

import pytest
from rest_framework.test import APIClient

from khien.telemetry import services
from khien.telemetry.models import DeadLetter, Event

from .conftest import sample_lines
from .test_elastic import BULK, bulk_body

pytestmark = pytest.mark.django_db
INTAKE = "/api/telemetry/alerts"
ES_CHALLENGE = 'Basic realm="security" charset="UTF-8"'


def client_with(authorization=None, language="en"):
    client = APIClient()
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    client.credentials(**headers)
    return client


def basic(name, key):
    return "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()


def post_bulk(client):
    return client.post(BULK, data=bulk_body(*sample_lines("suricata_eve.ndjson")), content_type="application/x-ndjson")


def post_intake(client, lines):
    return client.post(INTAKE, data=b"\n".join(lines) + b"\n", content_type="application/x-ndjson")


def assert_security_exception(response, status, reason):
    """The body Elasticsearch gives a refused request: the reason in the error and in its root cause."""
    body = response.json()
    assert response.status_code == status and body["status"] == status, body
    assert body["error"]["type"] == "security_exception" and body["error"]["reason"] == reason
    assert [cause["type"] for cause in body["error"]["root_cause"]] == ["security_exception"]
    assert body["error"]["root_cause"][0]["reason"] == reason
    assert "detail" not in body
    assert response["X-Elastic-Product"] == "Elasticsearch"


@pytest.mark.parametrize("who", ["wrong key", "wrong name", "the key replaced by a new one", "wrong Token key"])
def test_a_refused_key_is_answered_as_elasticsearch_answers_a_bad_password(make_source, world, who):
    source, key = make_source(format="suricata")
    authorization = {"wrong key": basic(source.name, "khs_not-the-key"),
                     "wrong name": basic("no-such-source", key),
                     "the key replaced by a new one": basic(source.name, key),
                     "wrong Token key": "Token khs_not-the-key"}[who]
    if who == "the key replaced by a new one":
        services.do_rotate_source_key(source, acting_user=world.coordinator)
    response = post_bulk(client_with(authorization))
    assert_security_exception(response, 401, "Invalid source key.")
    assert response["WWW-Authenticate"] == ES_CHALLENGE
    assert response.json()["error"]["header"] == {"WWW-Authenticate": ES_CHALLENGE}
    assert_items_refused(response, 401, "Invalid source key.", count=len(sample_lines("suricata_eve.ndjson")))
    assert not Event.objects.exists() and not DeadLetter.objects.exists()


def assert_items_refused(response, status, reason, count, action="index", index="alerts"):
    body = response.json()
    assert body["errors"] is True and len(body["items"]) == count
    assert all(item == {action: {"_index": index, "status": status,
                                 "error": {"type": "security_exception", "reason": reason}}}
               for item in body["items"]), body["items"]


def test_each_action_of_a_refused_bulk_request_is_named_refused(make_source):
    """In the body's order, with the index in the path or in the action, whatever the action; an unreadable body
    or a check before sending names none."""
    source, _key = make_source(format="suricata")
    client = client_with(basic(source.name, "khs_not-the-key"))
    lines = sample_lines("suricata_eve.ndjson")[:2]
    body = bulk_body(*lines, action="create", meta={}) + b'{"delete":{"_index":"x","_id":"1"}}\n'
    response = client.put("/api/telemetry/elastic/alerts-2026/_bulk", data=body, content_type="application/x-ndjson")
    assert_security_exception(response, 401, "Invalid source key.")
    assert [next(iter(item)) for item in response.json()["items"]] == ["create", "create", "delete"]
    assert [next(iter(item.values()))["_index"] for item in response.json()["items"]] == ["alerts-2026"] * 2 + ["x"]
    unreadable = client.post(BULK, data=b"not a bulk body\n", content_type="application/x-ndjson")
    assert_security_exception(unreadable, 401, "Invalid source key.")
    assert "items" not in unreadable.json()
    assert "items" not in client.get("/api/telemetry/elastic/").json()


def test_the_reason_is_in_the_callers_language(make_source):
    source, _key = make_source(format="suricata")
    response = post_bulk(client_with(basic(source.name, "khs_not-the-key"), language="vi"))
    assert_security_exception(response, 401, "Khóa nguồn cảnh báo không hợp lệ.")


def test_no_credentials_and_the_checks_before_sending_are_refused_alike(make_source):
    assert_security_exception(post_bulk(client_with()), 401, "Authentication credentials were not provided.")
    source, _key = make_source(format="suricata")
    health = client_with(basic(source.name, "khs_not-the-key")).get("/api/telemetry/elastic/_cat/health")
    assert_security_exception(health, 401, "Invalid source key.")
    assert health["WWW-Authenticate"] == ES_CHALLENGE


def test_a_disabled_source_is_refused_as_elasticsearch_refuses_an_unauthorized_user(make_source, world):
    source, key = make_source(format="suricata")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    response = post_bulk(client_with(basic(source.name, key)))
    body = response.json()
    assert_security_exception(response, 403, body["error"]["reason"])
    assert "is disabled by its organization" in body["error"]["reason"] and source.name in body["error"]["reason"]
    assert body["code"] == "source_disabled"  # the code programs read, as on the JSON intake
    assert_items_refused(response, 403, body["error"]["reason"], count=len(sample_lines("suricata_eve.ndjson")))
    assert not Event.objects.exists()


def test_the_json_intake_keeps_its_own_answers(make_source, world):
    source, key = make_source(format="wazuh")
    wrong = post_intake(client_with("Token khs_not-the-key"), sample_lines("wazuh_alerts.ndjson"))
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid source key."}
    assert wrong["WWW-Authenticate"] == "Token"
    none = post_intake(client_with(), sample_lines("wazuh_alerts.ndjson"))
    assert none.status_code == 401 and none.json() == {"detail": "Authentication credentials were not provided."}
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    disabled = post_intake(client_with(f"Token {key}"), sample_lines("wazuh_alerts.ndjson"))
    assert disabled.status_code == 403 and disabled.json()["code"] == "source_disabled"
    assert "error" not in disabled.json()


def test_a_source_key_written_bearer_is_taken_as_token(make_source):
    source, key = make_source(format="wazuh")
    response = post_intake(client_with(f"Bearer {key}"), sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 202, response.content
    assert Event.objects.filter(source=source).count() == len(sample_lines("wazuh_alerts.ndjson"))
    suricata, suricata_key = make_source(format="suricata")
    bulk = post_bulk(client_with(f"bearer {suricata_key}"))  # the scheme's name is read ignoring case
    assert bulk.status_code == 200 and bulk.json()["errors"] is False


def test_a_wrong_bearer_key_is_refused_as_a_wrong_token_key(make_source, world):
    source, key = make_source(format="wazuh")
    lines = sample_lines("wazuh_alerts.ndjson")
    bearer = post_intake(client_with("Bearer khs_not-the-key"), lines)
    token = post_intake(client_with("Token khs_not-the-key"), lines)
    assert (bearer.status_code, bearer.json()) == (token.status_code, token.json()) == (401, {"detail":
                                                                                              "Invalid source key."})
    assert post_intake(client_with("Bearer"), lines).status_code == 401  # a malformed header is refused
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    disabled = post_intake(client_with(f"Bearer {key}"), lines)
    assert disabled.status_code == 403 and disabled.json()["code"] == "source_disabled"
    assert not Event.objects.exists()


def test_a_bulk_request_refused_while_khien_is_busy_names_each_action_refused_too(make_source, settings):
    """Flow control (429 with Retry-After, which Elasticsearch's clients retry) keeps its body, and names each
    action refused with 429, as Elasticsearch does when its write queue is full: rsyslog 8.2302, which reads only
    the items, gives them to the shipped file's retry ruleset instead of writing the batch to its errorfile."""
    source, key = make_source(format="suricata")
    settings.KHIEN_INGEST_MAX_INFLIGHT = 1
    settings.KHIEN_INGEST_RETRY_AFTER = 3
    assert services.intake_gate.try_enter()
    try:
        busy = post_bulk(client_with(basic(source.name, key)))
    finally:
        services.intake_gate.leave()
    body = busy.json()
    assert busy.status_code == 429 and busy["Retry-After"] == "3"
    assert body["code"] == "busy" and body["detail"] and body["status"] == 429 and body["errors"] is True
    assert len(body["items"]) == len(sample_lines("suricata_eve.ndjson"))
    assert all(item == {"index": {"_index": "alerts", "status": 429, "error": {
        "type": "es_rejected_execution_exception", "reason": body["detail"]}}} for item in body["items"])
    assert not Event.objects.exists()
