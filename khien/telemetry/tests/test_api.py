"""The intake (source keys) and the read API (user tokens, scoped by visible_to)."""
import orjson
import pytest
from rest_framework.test import APIClient

from khien.telemetry import services
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import intake_counts, sample_lines

pytestmark = pytest.mark.django_db
INTAKE = "/api/telemetry/alerts"


def source_client(key=None, **headers):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}", **headers)
    return client


def post_ndjson(client, lines):
    return client.post(INTAKE, data=b"\n".join(lines) + b"\n", content_type="application/x-ndjson")


def post_json(client, records):
    return client.post(INTAKE, data=orjson.dumps(records), content_type="application/json")


def test_ndjson_batch_is_accepted_with_counts(make_source):
    source, key = make_source(format="suricata")
    lines = sample_lines("suricata_eve.ndjson") + sample_lines("suricata_broken.ndjson")[:1]
    response = post_ndjson(source_client(key), lines)
    assert response.status_code == 202, response.content
    assert intake_counts(response) == {"accepted": 4, "duplicates": 0, "rejected": 1}
    # The rejected record is named by its place in the batch (the fifth line).
    assert [r["position"] for r in response.json()["rejected_records"]] == [5]
    again = post_ndjson(source_client(key), lines)
    # The broken record is rejected again (a retry log must not look clean), still kept once as a dead letter.
    assert intake_counts(again) == {"accepted": 0, "duplicates": 4, "rejected": 1}
    assert Event.objects.count() == 4 and DeadLetter.objects.count() == 1


def test_an_empty_array_or_body_is_refused_saying_which(make_source):
    _source, key = make_source(format="ecs")
    for body, content_type in ((b"[]", "application/json"), (b" [ ] ", "application/json"), (b"", "application/json"),
                               (b"\n \n", "application/x-ndjson")):
        answer = source_client(key, HTTP_ACCEPT_LANGUAGE="vi").post(INTAKE, data=body, content_type=content_type)
        assert answer.status_code == 400, (body, answer.content)
    answer = source_client(key).post(INTAKE, data=b"[]", content_type="application/json", HTTP_ACCEPT_LANGUAGE="vi")
    assert answer.status_code == 400 and answer.json()["detail"] == "Lô gửi lên là một mảng rỗng: không có bản ghi nào để lưu."
    answer = source_client(key).post(INTAKE, data=b"", content_type="application/json", HTTP_ACCEPT_LANGUAGE="vi")
    assert answer.status_code == 400 and answer.json()["detail"] == "Nội dung yêu cầu trống."
    assert not Event.objects.exists() and not DeadLetter.objects.exists()


def test_json_array_and_cef_text(make_source):
    source, key = make_source(format="ecs")
    records = [orjson.loads(line) for line in sample_lines("ecs_alerts.ndjson")]
    response = post_json(source_client(key, HTTP_X_KHIEN_SOURCE=source.name), records)
    assert response.status_code == 202 and response.json()["accepted"] == 3
    cef, cef_key = make_source(format="cef")
    response = source_client(cef_key).post(INTAKE + "/", data=b"\n".join(sample_lines("cef_alerts.log")),
                                           content_type="text/plain")
    assert response.status_code == 202 and response.json()["accepted"] == 3


@pytest.mark.parametrize("header", [None, "Token khs_not-a-real-key", "Token", "Bearer abc"])
def test_bad_source_key_is_401_and_stores_nothing(make_source, header):
    make_source(format="wazuh")
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = post_ndjson(client, sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 401
    assert Event.objects.count() == 0 and DeadLetter.objects.count() == 0


def test_a_user_token_cannot_post_alerts(make_source, api, world):
    make_source(format="wazuh")
    response = post_ndjson(api(world.coordinator), sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 401 and Event.objects.count() == 0


def test_a_source_key_cannot_read(make_source):
    _source, key = make_source(format="wazuh")
    assert source_client(key).get("/api/telemetry/events/").status_code == 401


def test_disabled_source_is_403_saying_so(make_source, world):
    source, key = make_source(format="wazuh")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    response = post_ndjson(source_client(key), sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 403 and response.json()["code"] == "source_disabled"


def test_source_of_a_cannot_post_as_b(make_source, world):
    a, key_a = make_source(org=world.ministry, format="wazuh")
    b, _key_b = make_source(org=world.province, format="wazuh")
    response = post_ndjson(source_client(key_a, HTTP_X_KHIEN_SOURCE=b.name), sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 403
    assert Event.objects.count() == 0
    # Without the header, A's key posts as A: the records land in A's organization, whatever they claim.
    post_json(source_client(key_a), [{**orjson.loads(sample_lines("wazuh_alerts.ndjson")[0]), "source": b.name}])
    assert list(Event.objects.values_list("source_id", "organization_id")) == [(a.id, world.ministry.id)]
    assert AlertSource.objects.get(pk=b.pk).accepted == 0


def test_oversized_batch_is_413(make_source, settings):
    settings.KHIEN_INGEST_MAX_BATCH = 3
    _source, key = make_source(format="wazuh")
    response = post_ndjson(source_client(key), sample_lines("wazuh_alerts.ndjson"))
    assert response.status_code == 413 and Event.objects.count() == 0
    settings.KHIEN_INGEST_MAX_BYTES = 100
    response = post_ndjson(source_client(key), sample_lines("wazuh_alerts.ndjson")[:1])
    assert response.status_code == 413 and Event.objects.count() == 0


@pytest.mark.parametrize("body,content_type,status", [
    (b'[{"timestamp": "2026-11-24T00:00:00Z", "rule": {"id": "1"}', "application/json", 400),  # truncated
    (b'{"timestamp": "2026-11-24T00:00:00Z", "rule": {"id": "1"}}', "application/json", 400),  # not an array
    (b"", "application/json", 400),
    (b"\xff\xfe[]", "application/json", 400),
    (b"<alerts/>", "application/xml", 415),
    (b"\n \n\r\n", "application/x-ndjson", 400),  # only blank lines: empty
    (b"\xef\xbb\xbf\n", "text/plain", 400),  # a byte order mark alone: empty
])
def test_malformed_body_is_refused_whole(make_source, body, content_type, status):
    source, key = make_source(format="wazuh")
    response = source_client(key).post(INTAKE, data=body, content_type=content_type)
    assert response.status_code == status
    assert "detail" in response.json()
    assert Event.objects.count() == 0 and DeadLetter.objects.count() == 0
    assert AlertSource.objects.get(pk=source.pk).rejected == 0


def test_busy_intake_answers_429_with_retry_after(make_source, settings):
    settings.KHIEN_INGEST_MAX_INFLIGHT = 1
    settings.KHIEN_INGEST_RETRY_AFTER = 7
    _source, key = make_source(format="wazuh")
    assert services.intake_gate.try_enter()  # one batch in flight in this process
    try:
        response = post_ndjson(source_client(key), sample_lines("wazuh_alerts.ndjson"))
    finally:
        services.intake_gate.leave()
    assert response.status_code == 429 and response["Retry-After"] == "7"
    assert Event.objects.count() == 0
    assert post_ndjson(source_client(key), sample_lines("wazuh_alerts.ndjson")).status_code == 202


@pytest.fixture
def posted(make_source, world):
    """Wazuh alerts from the ministry's department, Suricata alerts from the province."""
    dept, dept_key = make_source(org=world.department, format="wazuh")
    prov, prov_key = make_source(org=world.province, format="suricata")
    assert post_ndjson(source_client(dept_key), sample_lines("wazuh_alerts.ndjson")).status_code == 202
    assert post_ndjson(source_client(prov_key), sample_lines("suricata_eve.ndjson")).status_code == 202
    return dept, prov


def listed(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_sources_filtered_by_format(posted, api, world):
    """`?format=` is the sources' filter (DRF once took it as its renderer switch and answered 404)."""
    dept, prov = posted
    client = api(world.coordinator)
    assert [s["name"] for s in listed(client, "/api/telemetry/sources/?format=suricata")["results"]] == [prov.name]
    assert [s["name"] for s in listed(client, "/api/telemetry/sources/?format=wazuh")["results"]] == [dept.name]
    assert listed(client, "/api/telemetry/sources/?format=cef")["count"] == 0
    assert client.get("/api/telemetry/sources/?format=xml").status_code == 400


def test_events_visible_only_to_their_subtree_and_the_coordinator(posted, api, world):
    dept, prov = posted
    url = "/api/telemetry/events/"
    assert listed(api(world.coordinator), url)["count"] == 8
    for user in (world.admin, world.analyst, world.auditor, world.dept_analyst):  # ministry tree
        body = listed(api(user), url)
        assert body["count"] == 4 and {e["source"] for e in body["results"]} == {dept.name}
    body = listed(api(world.other_admin), url)
    assert body["count"] == 4 and {e["organization"] for e in body["results"]} == {"PROV"}
    assert all(isinstance(e["raw"], dict) and e["raw"] for e in body["results"])  # the record itself, as JSON
    assert listed(api(world.responder), url)["count"] == 0
    assert listed(api(world.nobody), url)["count"] == 0
    assert APIClient().get(url).status_code == 401
    # The same scoping for sources, aggregated alerts and dead letters.
    assert [s["name"] for s in listed(api(world.admin), "/api/telemetry/sources/")["results"]] == [dept.name]
    assert listed(api(world.other_admin), "/api/telemetry/alert-groups/")["count"] == 4
    assert listed(api(world.admin), "/api/telemetry/alert-groups/")["count"] == 3  # two sshd repeats folded
    assert listed(api(world.responder), "/api/telemetry/dead-letters/")["count"] == 0
    hourly = listed(api(world.admin), "/api/telemetry/hourly/?organization=MIN-D1")["results"]
    assert sum(row["count"] for row in hourly) == 4 and {row["organization"] for row in hourly} == {"MIN-D1"}
    # Another organization's code: refused as one nobody has (as the events list does).
    assert api(world.other_admin).get("/api/telemetry/hourly/?organization=MIN").status_code == 400


def test_event_filters(posted, api, world):
    dept, prov = posted
    client = api(world.coordinator)
    url = "/api/telemetry/events/"
    assert listed(client, f"{url}?source={prov.name}")["count"] == 4
    assert listed(client, f"{url}?organization=MIN")["count"] == 4  # the department's events, under MIN
    assert listed(client, f"{url}?organization=PROV-C1")["count"] == 0
    assert listed(client, f"{url}?ip=203.0.113.45")["count"] == 2
    assert listed(client, f"{url}?ip=2001:db8:0:0::15")["count"] == 1
    assert listed(client, f"{url}?domain=bad.example")["count"] == 2  # subdomains
    assert listed(client, f"{url}?severity=8")["count"] == 1
    assert listed(client, f"{url}?severity_min=7")["count"] == 3
    assert listed(client, f"{url}?since=2026-11-24T14:10:00Z&until=2026-11-24T14:20:00Z")["count"] == 2
    body = listed(client, f"{url}?limit=2")
    assert body["count"] == 8 and len(body["results"]) == 2 and body["next"]
    assert client.get(f"{url}?ip=not-an-ip").status_code == 400
    assert client.get(f"{url}?since=yesterday").status_code == 400
    for off_scale in ("-1", "11", "99999999999999999999"):  # severities are 0–10
        for path in (url, "/api/telemetry/alert-groups/", "/api/telemetry/hourly/"):
            answer = client.get(f"{path}?severity_min={off_scale}")
            assert answer.status_code == 400 and "severity_min" in answer.json(), (path, off_scale)
    # A user outside the tree filtering for it is refused as for a code that does not exist: nothing tells them
    # that it does (test_walk_watch_desk_polling).
    outside = api(world.other_admin)
    assert outside.get(f"{url}?organization=MIN").json() == outside.get(f"{url}?organization=NOPE").json()
    assert outside.get(f"{url}?organization=MIN").status_code == 400


def test_register_source_over_the_api(api, world):
    response = api(world.admin).post("/api/telemetry/sources/", {"organization": "MIN-D1", "name": "suricata-d1",
                                                                  "format": "suricata"}, format="json")
    assert response.status_code == 201, response.content
    key = response.json()["key"]
    assert key.startswith("khs_") and services.source_for_key(key).name == "suricata-d1"
    # An organization outside the caller's tree is unknown to them, as a code nobody has (400, not 403).
    response = api(world.other_admin).post("/api/telemetry/sources/", {"organization": "MIN", "name": "x",
                                                                        "format": "cef"}, format="json")
    assert response.status_code == 400 and "organization" in response.json()
    response = api(world.admin).post("/api/telemetry/sources/", {"organization": "MIN", "name": "y",
                                                                  "format": "syslog"}, format="json")
    assert response.status_code == 400
    assert AlertSource.objects.count() == 1
    assert "key" not in api(world.admin).get("/api/telemetry/sources/").json()["results"][0]


def test_hostile_lines_are_dead_letters_and_a_bad_array_is_400(make_source):
    _source, key = make_source(format="wazuh")
    lines = [b'{"timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "a\\u0000"}}', b"\xff\xfe", b"{" * 5000,
             b'{"timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "5712"}, "data": {"srcip": "fe80::1%25"}}']
    response = post_ndjson(source_client(key), lines)
    assert response.status_code == 202 and intake_counts(response) == {"accepted": 1, "duplicates": 0, "rejected": 3}
    response = source_client(key).post(INTAKE, data=b'[{"rule": "\\ud800"}]', content_type="application/json")
    assert response.status_code == 400
    assert Event.objects.get().src_ip == "fe80::1"  # the sensor-local IPv6 zone is dropped
    assert DeadLetter.objects.count() == 3


def nested(levels: int) -> bytes:
    """A Wazuh alert whose `data` is nested `levels` deep: orjson reads up to 1,024 levels, writes up to 255."""
    inner = b"1"
    for _level in range(levels):
        inner = b'{"a": ' + inner + b"}"
    return b'{"timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "5712"}, "data": ' + inner + b"}"


def test_a_record_nested_too_deeply_is_a_dead_letter_and_the_batch_is_stored(make_source):
    """It made the whole batch fail with a 500 at every resend (a shipper retrying forever)."""
    _source, key = make_source(format="wazuh")
    good = sample_lines("wazuh_alerts.ndjson")
    batch = good + [nested(1000), nested(300)]
    first = post_ndjson(source_client(key), batch)
    assert first.status_code == 202 and intake_counts(first) == {"accepted": len(good), "duplicates": 0, "rejected": 2}
    assert intake_counts(post_ndjson(source_client(key), batch)) == {"accepted": 0, "duplicates": len(good), "rejected": 2}
    as_array = source_client(key).post(INTAKE, data=b"[" + b",".join(batch) + b"]", content_type="application/json")
    assert as_array.status_code == 202 and as_array.json()["accepted"] == 0
    again = source_client(key).post(INTAKE, data=b"[" + b",".join(batch) + b"]", content_type="application/json")
    assert again.json()["duplicates"] == len(good) and again.json()["rejected"] == 2
    assert Event.objects.count() == len(good)
    assert set(DeadLetter.objects.values_list("reason", flat=True)) == {"record is nested too deeply"}


def test_a_byte_order_mark_is_not_part_of_the_first_record(make_source):
    _source, key = make_source(format="wazuh")
    good = sample_lines("wazuh_alerts.ndjson")
    lines = post_ndjson(source_client(key), [b"\xef\xbb\xbf" + good[0], *good[1:]])
    assert lines.status_code == 202 and intake_counts(lines) == {"accepted": len(good), "duplicates": 0, "rejected": 0}
    array = source_client(key).post(INTAKE, data=b"\xef\xbb\xbf[" + b",".join(good) + b"]",
                                    content_type="application/json")
    assert array.status_code == 202 and array.json()["duplicates"] == len(good)


def test_address_search_looks_in_every_day_asked_for(make_source, api, world):
    """The address indexes lead with the event's UTC day (migration 0009): the search must still find an
    address on every day, at the day boundaries, with and without a time range, in another time zone."""
    from .test_ingest import wazuh

    source, _ = make_source(format="wazuh")
    times = ["2026-11-20T23:59:59.999Z", "2026-11-21T00:00:00Z", "2026-11-23T10:00:00Z"]
    services.ingest_batch(source, [wazuh(at=t, srcip="198.51.100.7") for t in times] +
                          [wazuh(at="2026-11-22T10:00:00Z", srcip="198.51.100.8")])
    assert sorted(Event.objects.values_list("day", flat=True)) == [20777, 20778, 20779, 20780]
    client, url = api(world.coordinator), "/api/telemetry/events/?ip=198.51.100.7"
    assert listed(client, url)["count"] == 3
    assert listed(client, url + "&since=2026-11-21T00:00:00Z")["count"] == 2
    assert listed(client, url + "&until=2026-11-21T00:00:00Z")["count"] == 1  # until is exclusive
    assert listed(client, url + "&since=2026-11-21T06:59:59.999%2B07:00")["count"] == 3  # = 20 Nov 23:59:59.999 UTC
    assert listed(client, url + "&since=2026-11-24T00:00:00Z")["count"] == 0
    assert listed(client, "/api/telemetry/events/?ip=198.51.100.8&since=2020-01-01T00:00:00Z")["count"] == 1


def test_migration_0009_files_existing_events_under_their_day(make_source):
    import importlib

    from .test_ingest import wazuh

    migration = importlib.import_module("khien.telemetry.migrations.0009_event_day_address_indexes")
    source, _ = make_source(format="wazuh")
    services.ingest_batch(source, [wazuh(at=t) for t in ("2026-11-20T23:59:59.999Z", "2026-11-21T00:00:00Z")])
    Event.objects.update(day=None)  # rows stored before the column existed

    class Editor:  # the schema editor's one method the migration uses
        from django.db import connection

        def execute(self, sql):
            with self.connection.cursor() as cursor:
                cursor.execute(sql)

    migration.fill_days(None, Editor())
    assert sorted(Event.objects.values_list("day", flat=True)) == [20777, 20778]
