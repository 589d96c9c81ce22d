"""The Elasticsearch-compatible intake: bulk bodies as Elasticsearch clients send them, answered as Elasticsearch
does; the same limits, dead letters, idempotency and flow control as the native intake; denials change nothing.
(The real client, rsyslog's omelasticsearch, is in test_rsyslog.py.)"""
import base64

import orjson
import pytest
from rest_framework.test import APIClient

from khien.telemetry import services
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines

pytestmark = pytest.mark.django_db
BULK = "/api/telemetry/elastic/_bulk"


def basic(name, key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{name}:{key}".encode()).decode())
    return client


def bulk_body(*documents, action="index", meta=None) -> bytes:
    lines = []
    for document in documents:
        lines.append(orjson.dumps({action: meta if meta is not None else {"_index": "alerts"}}))
        lines.append(document if isinstance(document, bytes) else orjson.dumps(document))
    return b"\n".join(lines) + b"\n"


def post(client, body, url=BULK):
    return client.post(url, data=body, content_type="application/x-ndjson")


def test_a_bulk_body_is_ingested_and_answered_as_elasticsearch_does(make_source):
    source, key = make_source(format="suricata")
    lines = sample_lines("suricata_eve.ndjson") + sample_lines("suricata_broken.ndjson")[:1]
    body = bulk_body(*lines) + b'{"delete":{"_index":"alerts","_id":"1"}}\n'
    response = post(basic(source.name, key), body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["errors"] is True and len(answer["items"]) == 6
    # The broken record is refused as Elasticsearch refuses a document it cannot map (400, its reason), so the
    # shipper's error counters see it; it is kept as a dead letter all the same: never lost.
    assert [item["index"]["status"] for item in answer["items"][:5]] == [201] * 4 + [400]
    assert answer["items"][4]["index"]["error"]["type"] == "mapper_parsing_exception"
    assert answer["items"][4]["index"]["error"]["reason"]
    assert answer["items"][5]["delete"]["status"] == 400
    assert Event.objects.filter(source=source).count() == 4 and DeadLetter.objects.filter(source=source).count() == 1
    # Sent again (a client retrying after a timeout): stored once; the broken record refused again.
    again = post(basic(source.name, key), bulk_body(*lines)).json()
    assert [item["index"]["status"] for item in again["items"]] == [201] * 4 + [400] and again["errors"] is True
    assert Event.objects.count() == 4
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 2)  # the broken record refused at each sending, kept once


def test_index_in_the_path_create_actions_and_api_key_authentication(make_source):
    source, key = make_source(format="wazuh")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="ApiKey " + base64.b64encode(f"{source.name}:{key}".encode()).decode())
    response = post(client, bulk_body(*sample_lines("wazuh_alerts.ndjson"), action="create", meta={}),
                    url="/api/telemetry/elastic/wazuh-alerts-4.x/_bulk")
    assert response.status_code == 200
    assert {item["create"]["_index"] for item in response.json()["items"]} == {"wazuh-alerts-4.x"}
    assert Event.objects.filter(source=source).count() == 4


def test_cef_lines_are_read_from_the_documents_message(make_source):
    source, key = make_source(format="cef")
    lines = [line.decode() for line in sample_lines("cef_alerts.log")]
    documents = [{"message": lines[0], "host": {"name": "fw-01"}}, {"msg": lines[1]},
                 {"event": {"original": lines[2]}, "host": {"name": "fw-01"}}]  # ECS: event.original, nested
    documents.append({"host": {"name": "fw-01"}})  # no CEF line: a dead letter
    response = post(basic(source.name, key), bulk_body(*documents))
    assert response.status_code == 200
    assert Event.objects.filter(source=source).count() == 3 and DeadLetter.objects.filter(source=source).count() == 1


def test_the_checks_clients_make_before_sending(make_source):
    source, key = make_source(format="ecs")
    client = basic(source.name, key)
    health = client.get("/api/telemetry/elastic/_cat/health")
    assert health.status_code == 200 and health.content == b"green\n"
    root = client.get("/api/telemetry/elastic/")
    assert root.status_code == 200 and root.json()["version"]["number"].startswith("8.")
    assert client.get("/api/telemetry/elastic").status_code == 200  # without the slash too
    assert APIClient().get("/api/telemetry/elastic/_cat/health").status_code == 401


@pytest.mark.parametrize("who", ["wrong key", "wrong name", "other source's name", "no credentials", "garbage"])
def test_bad_credentials_are_refused_and_store_nothing(make_source, who):
    source, key = make_source(format="suricata")
    other, _other_key = make_source(format="suricata")
    client = {
        "wrong key": basic(source.name, "khs_not-the-key"),
        "wrong name": basic("no-such-source", key),
        "other source's name": basic(other.name, key),
        "no credentials": APIClient(),
        "garbage": APIClient(),
    }[who]
    if who == "garbage":
        client.credentials(HTTP_AUTHORIZATION="Basic !!!not-base64")
    response = post(client, bulk_body(*sample_lines("suricata_eve.ndjson")))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert not Event.objects.exists() and not DeadLetter.objects.exists()


def test_a_disabled_source_is_refused(make_source, world):
    source, key = make_source(format="suricata")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    assert post(basic(source.name, key), bulk_body(*sample_lines("suricata_eve.ndjson"))).status_code == 403
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [
    b"not json\n",
    b'{"index":{}}\n',  # an action without its document
    b'{"upsert":{}}\n{"a":1}\n',  # not an action
    b'["index"]\n{"a":1}\n',
    None,  # an empty body
])
def test_an_unreadable_bulk_body_is_refused_whole(make_source, body):
    source, key = make_source(format="suricata")
    good = bulk_body(*sample_lines("suricata_eve.ndjson")[:1])
    response = post(basic(source.name, key), b"" if body is None else good + body)
    assert response.status_code == 400 and "detail" in response.json()
    assert not Event.objects.exists() and not DeadLetter.objects.exists()
    assert AlertSource.objects.get(pk=source.pk).accepted == 0


def test_limits_and_flow_control_are_those_of_the_intake(make_source, settings):
    source, key = make_source(format="suricata")
    settings.KHIEN_INGEST_MAX_BATCH = 2
    assert post(basic(source.name, key), bulk_body(*sample_lines("suricata_eve.ndjson"))).status_code == 413
    settings.KHIEN_INGEST_MAX_BATCH = 5000
    settings.KHIEN_INGEST_MAX_BYTES = 100
    assert post(basic(source.name, key), bulk_body(*sample_lines("suricata_eve.ndjson"))).status_code == 413
    settings.KHIEN_INGEST_MAX_BYTES = 20 * 1024 * 1024
    settings.KHIEN_INGEST_MAX_INFLIGHT = 1
    settings.KHIEN_INGEST_RETRY_AFTER = 3
    assert services.intake_gate.try_enter()
    try:
        busy = post(basic(source.name, key), bulk_body(*sample_lines("suricata_eve.ndjson")))
    finally:
        services.intake_gate.leave()
    assert busy.status_code == 429 and busy["Retry-After"] == "3"  # Elasticsearch clients retry a 429
    assert not Event.objects.exists()
