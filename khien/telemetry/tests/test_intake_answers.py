"""What the intake answers about the records it could not read, so that the sender knows which ones to fix:
`POST /api/telemetry/alerts` names each rejected record's place in the batch and its reason (at most
REJECTED_LISTED of them, with a flag when more were cut); the Elasticsearch-compatible `_bulk` answers such a
document as Elasticsearch answers one it cannot index (item status 400 with an `error`, `errors: true`), so that
the shipper counts it as failed instead of as stored."""
import orjson
import pytest
from elasticsearch import Elasticsearch, helpers

from khien.telemetry.api.views import REJECTED_LISTED
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines
from .test_api import INTAKE, post_json, source_client
from .test_elastic import BULK, basic, bulk_body, post

pytestmark = pytest.mark.django_db

GOOD = sample_lines("ecs_alerts.ndjson")  # three readable ECS records


def ndjson(client, lines, **extra):
    return client.post(INTAKE, data=b"\n".join(lines) + b"\n", content_type="application/x-ndjson", **extra)


# --- POST /api/telemetry/alerts ---------------------------------------------------------------------------


def test_the_answer_names_each_rejected_record_by_its_place_and_reason(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    lines = [GOOD[0], b"{broken one", GOOD[1], GOOD[2], b"[5]"]
    response = ndjson(source_client(key), lines)
    assert response.status_code == 202
    answer = response.json()
    # The counts as before, then the records to fix.
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (3, 0, 2)
    assert [(r["position"], r["reason"]) for r in answer["rejected_records"]] == [
        (2, DeadLetter.objects.get(source=source, raw="{broken one").reason),
        (5, "record is not a JSON object")]
    assert answer["rejected_records_truncated"] is False
    # The reason as the pages show it, in the sender's language (Vietnamese unless told).
    assert answer["rejected_records"][1]["reason_text"] == "bản ghi không phải là một đối tượng JSON"
    # The places are those of the dead letters, which keep the records.
    assert dict(DeadLetter.objects.filter(source=source).values_list("position", "raw")) == {2: "{broken one", 5: "[5]"}


def test_reasons_in_english_for_a_sender_that_asks_for_it(world, make_source):
    _source, key = make_source(world.ministry, "ecs")
    client = source_client(key)
    client.cookies["khien_language"] = "en"
    answer = post_json(client, [orjson.loads(GOOD[0]), 7]).json()
    assert answer["rejected_records"] == [{"position": 2, "reason": "record is not a JSON object",
                                           "reason_text": "record is not a JSON object"}]


def test_the_same_bad_record_twice_is_named_at_both_places(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    answer = post_json(source_client(key), [7, orjson.loads(GOOD[0]), "text", 7]).json()
    assert answer["rejected"] == 3
    # Kept once as a dead letter, but each place is a line the sender must fix.
    assert [r["position"] for r in answer["rejected_records"]] == [1, 3, 4]
    assert DeadLetter.objects.filter(source=source).count() == 2
    # Sent again: rejected again, at the same places (the sender's retry log keeps showing them).
    again = post_json(source_client(key), [7, orjson.loads(GOOD[0]), "text", 7]).json()
    assert [r["position"] for r in again["rejected_records"]] == [1, 3, 4] and again["duplicates"] == 1


def test_at_most_so_many_are_named_and_the_answer_says_more_were_cut(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    lines = [GOOD[0]] + [b'["bad %d"]' % n for n in range(REJECTED_LISTED + 5)]
    answer = ndjson(source_client(key), lines).json()
    assert answer["rejected"] == REJECTED_LISTED + 5 and answer["accepted"] == 1
    assert len(answer["rejected_records"]) == REJECTED_LISTED and answer["rejected_records_truncated"] is True
    assert [r["position"] for r in answer["rejected_records"]][:3] == [2, 3, 4]
    assert DeadLetter.objects.filter(source=source).count() == REJECTED_LISTED + 5  # every one kept all the same


def test_a_clean_batch_names_none(world, make_source):
    _source, key = make_source(world.ministry, "ecs")
    answer = ndjson(source_client(key), GOOD).json()
    assert answer == {"accepted": 3, "duplicates": 0, "rejected": 0, "rejected_records": [],
                      "rejected_records_truncated": False}


def test_a_wrong_key_or_another_sources_name_learns_nothing_and_stores_nothing(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    other, _other_key = make_source(world.province, "ecs")
    response = ndjson(source_client("khs_not-a-key"), [b"[1]"])
    assert response.status_code == 401 and "rejected_records" not in response.json()
    response = ndjson(source_client(key, HTTP_X_KHIEN_SOURCE=other.name), [b"[1]"])
    assert response.status_code == 403 and "rejected_records" not in response.json()
    assert not DeadLetter.objects.exists() and not Event.objects.exists()
    assert AlertSource.objects.get(pk=source.pk).rejected == 0


# --- The Elasticsearch-compatible _bulk ----------------------------------------------------------------------


def test_an_unreadable_document_is_answered_as_elasticsearch_answers_one_it_cannot_index(make_source):
    source, key = make_source(format="suricata")
    good = sample_lines("suricata_eve.ndjson")
    broken = sample_lines("suricata_broken.ndjson")[:1]
    response = post(basic(source.name, key), bulk_body(good[0], broken[0], *good[1:]))
    assert response.status_code == 200 and response["X-Elastic-Product"] == "Elasticsearch"
    answer = response.json()
    assert answer["errors"] is True
    statuses = [item["index"]["status"] for item in answer["items"]]
    assert statuses == [201, 400, 201, 201, 201]
    refused = answer["items"][1]["index"]
    letter = DeadLetter.objects.get(source=source)
    assert refused["_index"] == "alerts" and "result" not in refused
    assert refused["error"]["type"] == "mapper_parsing_exception"
    # The dead letter's reason, in the platform's language (what the shipper writes to its log).
    from django.utils import translation

    from khien.telemetry.parsers import reason_text
    with translation.override("vi"):
        assert refused["error"]["reason"] == reason_text(letter.reason)
    assert letter.position == 2 and Event.objects.filter(source=source).count() == 4
    # Sent again (a retry): the good ones are duplicates, taken as before; the broken one refused again.
    again = post(basic(source.name, key), bulk_body(good[0], broken[0], *good[1:])).json()
    assert again["errors"] is True
    assert [item["index"]["status"] for item in again["items"]] == [201, 400, 201, 201, 201]
    assert Event.objects.filter(source=source).count() == 4 and DeadLetter.objects.filter(source=source).count() == 1


def test_the_same_broken_document_twice_is_refused_at_both_places(make_source):
    source, key = make_source(format="cef")
    line = sample_lines("cef_alerts.log")[0].decode()
    documents = [{"host": {"name": "fw-01"}}, {"message": line}, {"host": {"name": "fw-01"}}]
    answer = post(basic(source.name, key), bulk_body(*documents) + b'{"delete":{"_id":"1"}}\n').json()
    assert [next(iter(item.values()))["status"] for item in answer["items"]] == [400, 201, 400, 400]
    assert [next(iter(item.values()))["error"]["type"] for item in answer["items"] if "error" in
            next(iter(item.values()))] == ["mapper_parsing_exception", "mapper_parsing_exception",
                                           "illegal_argument_exception"]


def test_a_clean_bulk_has_no_errors(make_source):
    source, key = make_source(format="suricata")
    answer = post(basic(source.name, key), bulk_body(*sample_lines("suricata_eve.ndjson"))).json()
    assert answer["errors"] is False
    assert {(item["index"]["result"], item["index"]["status"]) for item in answer["items"]} == {("created", 201)}


def test_a_bulk_with_a_wrong_key_stores_nothing(make_source):
    source, _key = make_source(format="suricata")
    response = post(basic(source.name, "khs_wrong"), bulk_body(*sample_lines("suricata_broken.ndjson")[:1]))
    # Refused as Elasticsearch refuses a bad password, each action listed as refused (rsyslog takes those back).
    assert response.status_code == 401
    assert {item["index"]["status"] for item in response.json()["items"]} == {401}
    assert not DeadLetter.objects.exists()
    assert BULK.endswith("_bulk")


@pytest.mark.django_db(transaction=True)
def test_elasticsearchs_own_client_counts_the_unreadable_document_as_failed(live_server, make_source):
    """elasticsearch-py's helpers: the failure is one item (not the whole request: nothing is sent again), with
    the status and reason a shipper logs."""
    source, key = make_source(format="suricata")
    es = Elasticsearch(f"{live_server.url}/api/telemetry/elastic", basic_auth=(source.name, key), request_timeout=30)
    good = [orjson.loads(line) for line in sample_lines("suricata_eve.ndjson")]
    broken = [orjson.loads(line) for line in sample_lines("suricata_broken.ndjson")[:1]]
    outcomes = list(helpers.streaming_bulk(es, good[:2] + broken + good[2:], index="suricata-alerts",
                                           raise_on_error=False, max_retries=0))
    assert [ok for ok, _item in outcomes] == [True, True, False] + [True] * (len(good) - 2)
    failed = outcomes[2][1]["index"]
    assert failed["status"] == 400 and failed["error"]["type"] == "mapper_parsing_exception"
    assert failed["error"]["reason"]
    taken, errors = helpers.bulk(es, good + broken, index="suricata-alerts", raise_on_error=False)
    assert taken == len(good) and len(errors) == 1 and errors[0]["index"]["status"] == 400
    with pytest.raises(helpers.BulkIndexError):  # the helpers' default: a failed item is an error to the program
        helpers.bulk(es, broken, index="suricata-alerts")
    assert Event.objects.filter(source=source).count() == len(good)
    assert DeadLetter.objects.filter(source=source).count() == 1
