"""The intake as senders really post to it (a SOC operator's walkthrough): a JSON array without a Content-Type (which
Django's development server turns into text/plain), bodies compressed with gzip or deflate as Logstash and Fluent Bit
send them, a compression bomb, an unknown encoding; and the limits written for people."""
import gzip
import zlib

import orjson
import pytest
from django.utils import translation
from rest_framework.test import APIClient

from khien.telemetry.batches import byte_size, split_body
from khien.telemetry.models import DeadLetter, Event

from .conftest import intake_counts, sample_lines

pytestmark = pytest.mark.django_db
INTAKE = "/api/telemetry/alerts"
BULK = "/api/telemetry/elastic/_bulk"


def client_of(key, **headers):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}", **headers)
    return client


def wazuh_array() -> bytes:
    return b"[" + b",".join(sample_lines("wazuh_alerts.ndjson")) + b"]"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", ""])
def test_a_json_array_without_a_type_or_as_text_plain_is_read_as_an_array(make_source, content_type):
    """curl --data-binary without -H, through `khien run` (wsgiref: CONTENT_TYPE text/plain) or a server that leaves
    it empty: the array's records, not one dead letter of the whole body."""
    _source, key = make_source(format="wazuh")
    body = b"\n  " + orjson.dumps([orjson.loads(line) for line in sample_lines("wazuh_alerts.ndjson")],
                                  option=orjson.OPT_INDENT_2)  # pretty-printed: several lines
    response = client_of(key).generic("POST", INTAKE, body, content_type=content_type)
    assert response.status_code == 202, response.content
    count = len(sample_lines("wazuh_alerts.ndjson"))
    assert intake_counts(response) == {"accepted": count, "duplicates": 0, "rejected": 0}
    assert Event.objects.count() == count and not DeadLetter.objects.exists()


def test_cef_lines_as_text_plain_still_read_line_by_line(make_source):
    _source, key = make_source(format="cef")
    lines = sample_lines("cef_alerts.log")
    response = client_of(key).generic("POST", INTAKE, b"\n".join(lines), content_type="text/plain")
    assert response.status_code == 202 and response.json()["accepted"] == len(lines)
    # A line that starts with "[" but is not a JSON array (a log prefix before the CEF header) is a line too.
    prefixed = b"[fw-01] " + lines[1].replace(b"Eicar_test_file", b"Eicar_prefixed")
    assert split_body(prefixed + b"\n" + lines[0], "text/plain") == [prefixed, lines[0]]
    response = client_of(key).generic("POST", INTAKE, prefixed, content_type="text/plain")
    assert response.status_code == 202 and response.json()["accepted"] == 1


def test_an_empty_array_as_text_plain_is_refused_as_an_empty_batch(make_source):
    _source, key = make_source(format="wazuh")
    with translation.override("en"):
        response = client_of(key, HTTP_ACCEPT_LANGUAGE="en").generic("POST", INTAKE, b" [ ] ",
                                                                     content_type="text/plain")
    assert response.status_code == 400 and response.json()["detail"] == "The batch is an empty array: there is no record to store."
    assert not DeadLetter.objects.exists()


def test_the_415_names_text_plain_for_cef(make_source):
    _source, key = make_source(format="cef")
    response = client_of(key, HTTP_ACCEPT_LANGUAGE="en").generic("POST", INTAKE, b"x", content_type="application/xml")
    assert response.status_code == 415
    assert "CEF lines (text/plain)" in response.json()["detail"]


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("GZIP", lambda data: gzip.compress(data[:len(data) // 2]) + gzip.compress(data[len(data) // 2:])),  # 2 members
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, without zlib's header
])
def test_a_compressed_body_is_decompressed(make_source, encoding, compress):
    _source, key = make_source(format="wazuh")
    response = client_of(key, HTTP_CONTENT_ENCODING=encoding).post(
        INTAKE, data=compress(wazuh_array()), content_type="application/json")
    assert response.status_code == 202, response.content
    count = len(sample_lines("wazuh_alerts.ndjson"))
    assert response.json()["accepted"] == count and not DeadLetter.objects.exists()


def test_a_gzip_bulk_body_as_logstash_sends_it(make_source):
    import base64

    source, key = make_source(format="suricata")
    lines = sample_lines("suricata_eve.ndjson")
    body = b"".join(b'{"index":{"_index":"alerts"}}\n' + line + b"\n" for line in lines)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{source.name}:{key}".encode()).decode(),
                       HTTP_CONTENT_ENCODING="gzip")
    response = client.post(BULK, data=gzip.compress(body), content_type="application/x-ndjson")
    assert response.status_code == 200 and response.json()["errors"] is False
    assert Event.objects.count() == len(lines) and not DeadLetter.objects.exists()


def test_a_compression_bomb_is_refused_with_413_and_nothing_stored(make_source, settings):
    settings.KHIEN_INGEST_MAX_BYTES = 1024 * 1024
    _source, key = make_source(format="wazuh")
    bomb = gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 100 * 1024  # small as sent: only the decompressed size gives it away
    response = client_of(key, HTTP_CONTENT_ENCODING="gzip", HTTP_ACCEPT_LANGUAGE="vi").post(
        INTAKE, data=bomb, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large" and "1 MiB" in response.json()["detail"]
    with translation.override("en"):
        response = client_of(key, HTTP_CONTENT_ENCODING="gzip", HTTP_ACCEPT_LANGUAGE="en").post(
            INTAKE, data=bomb, content_type="application/json")
    assert response.json()["detail"] == ("The batch is too large once decompressed (at most 1 MiB); nothing was "
                                         "stored.")
    assert not Event.objects.exists() and not DeadLetter.objects.exists()


def test_an_unknown_or_broken_encoding_is_refused_whole(make_source):
    _source, key = make_source(format="wazuh")
    with translation.override("en"):
        response = client_of(key, HTTP_CONTENT_ENCODING="br", HTTP_ACCEPT_LANGUAGE="en").post(
            INTAKE, data=b"\x0b\x02\x80[]\x03", content_type="application/json")
        assert response.status_code == 415, response.content
        assert response.json()["detail"] == ("The Content-Encoding “br” is not supported: send the body "
                                             "uncompressed, or compressed with gzip or deflate.")
        truncated = gzip.compress(wazuh_array())[:-20]
        response = client_of(key, HTTP_CONTENT_ENCODING="gzip", HTTP_ACCEPT_LANGUAGE="en").post(
            INTAKE, data=truncated, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["detail"] == "The body is not valid gzip data; nothing was stored."
    # An uncompressed body that says it is gzip: refused too, not a dead letter of binary garbage.
    response = client_of(key, HTTP_CONTENT_ENCODING="gzip").post(INTAKE, data=wazuh_array(),
                                                                 content_type="application/json")
    assert response.status_code == 400
    assert not Event.objects.exists() and not DeadLetter.objects.exists()


def test_the_limits_are_written_for_people(make_source, settings):
    _source, key = make_source(format="wazuh")
    settings.KHIEN_INGEST_MAX_BATCH = 5000
    records = [{"n": n} for n in range(5001)]
    for language, expected in (("vi", "5.000"), ("en", "(at most 5,000)")):
        with translation.override(language):
            response = client_of(key, HTTP_ACCEPT_LANGUAGE=language).post(
                INTAKE, data=orjson.dumps(records), content_type="application/json")
        assert response.status_code == 413 and expected in response.json()["detail"], response.json()
        assert "5000" not in response.json()["detail"]
    settings.KHIEN_INGEST_MAX_BYTES = 20 * 1024 * 1024
    response = client_of(key, HTTP_ACCEPT_LANGUAGE="en").generic(
        "POST", INTAKE, b"[" + b" " * (20 * 1024 * 1024) + b"]", content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"] == "The batch is too large (at most 20 MiB); nothing was stored."
    with translation.override("vi"):
        assert byte_size(20 * 1024 * 1024) == "20 MiB" and byte_size(1536 * 1024) == "1,5 MiB"
        assert byte_size(512 * 1024) == "512 KiB"
    with translation.override("en"):
        assert byte_size(1536 * 1024) == "1.5 MiB" and byte_size(900) == "900 bytes"
