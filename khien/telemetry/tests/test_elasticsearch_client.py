"""The Elasticsearch-compatible intake taken by Elasticsearch's own Python client (elasticsearch-py: the
library of many SIEM exporters and scripts), against the real platform (live server): its product check, its
`compatible-with` media types, its bulk helpers (which send with PUT), its errors."""
import orjson
import pytest
from elasticsearch import AuthenticationException, Elasticsearch, helpers

from khien.telemetry.models import DeadLetter, Event

from .conftest import sample_lines

pytestmark = pytest.mark.django_db(transaction=True)


def client(live_server, name, key) -> Elasticsearch:
    return Elasticsearch(f"{live_server.url}/api/telemetry/elastic", basic_auth=(name, key), request_timeout=30)


def documents(sample: str) -> list[dict]:
    return [orjson.loads(line) for line in sample_lines(sample)]


def test_the_client_connects_and_its_bulk_helper_stores_each_alert_once(live_server, make_source):
    source, key = make_source(format="ecs")
    es = client(live_server, source.name, key)
    assert es.ping() and es.info()["version"]["number"].startswith("8.")
    assert "green" in str(es.cat.health())
    assert es.cluster.health()["status"] == "green"  # Vector's health check asks the same

    alerts = documents("ecs_alerts.ndjson")
    taken, errors = helpers.bulk(es, ({"_index": "alerts", "_source": doc} for doc in alerts), chunk_size=2)
    assert (taken, errors) == (len(alerts), [])
    assert Event.objects.filter(source=source).count() == len(alerts)
    # The exporter retrying the same documents (after a timeout, a restart): stored once.
    assert helpers.bulk(es, ({"_index": "alerts", "_source": doc} for doc in alerts))[0] == len(alerts)
    assert Event.objects.filter(source=source).count() == len(alerts)
    source.refresh_from_db()
    assert source.accepted == len(alerts)


def test_an_index_in_the_path_and_a_broken_record_kept_as_a_dead_letter(live_server, make_source):
    source, key = make_source(format="suricata")
    es = client(live_server, source.name, key)
    good, broken = documents("suricata_eve.ndjson"), documents("suricata_broken.ndjson")[:1]
    taken, errors = helpers.bulk(es, good + broken, index="suricata-alerts", raise_on_error=False)
    # The real client sees the broken record refused (400, as Elasticsearch refuses a document it cannot map);
    # it is not lost but kept with its reason for the operator.
    assert taken == len(good) and len(errors) == 1 and errors[0]["index"]["status"] == 400
    assert Event.objects.filter(source=source).count() == len(good)
    assert DeadLetter.objects.filter(source=source).count() == 1


def test_a_wrong_key_is_refused_and_stores_nothing(live_server, make_source):
    source, _key = make_source(format="ecs")
    es = client(live_server, source.name, "not-the-key")
    with pytest.raises(AuthenticationException):
        helpers.bulk(es, ({"_index": "alerts", "_source": doc} for doc in documents("ecs_alerts.ndjson")))
    assert not Event.objects.exists() and not DeadLetter.objects.exists()
