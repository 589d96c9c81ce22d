"""A dead letter says where its record was in what was sent: its place in the batch (1-based), or its line number
in a file replayed with `khien ingest` — apart from the reason (reasons stay grouped), on the dead letters page
and in the API. A JetStream message is one record of its own: no position."""
import io

import orjson
import pytest
from django.core.management import call_command
from django.urls import reverse

from khien.telemetry import services
from khien.telemetry.batches import FileBatch, file_batches
from khien.telemetry.models import DeadLetter

from .conftest import sample_lines
from .test_api import INTAKE, post_json, post_ndjson, source_client
from .test_nats import jetstream  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

GOOD = sample_lines("ecs_alerts.ndjson")  # three readable ECS records
# What the pages say a dead letter's position is: true whichever way the record came (the letter does not say).
POSITION_NOTE = "Position: the line in a file replayed on the server, or the place in a batch sent to Khiên."


def positions(source) -> dict[str, int | None]:
    return dict(DeadLetter.objects.filter(source=source).values_list("raw", "position"))


def test_an_http_batch_names_the_place_of_each_bad_record(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    # NDJSON: the 2nd, 5th and 6th records are bad (a blank line is not a record).
    lines = [GOOD[0], b"{broken one", GOOD[1], GOOD[2], b"[5]", b"[6]"]
    body = b"\n".join(lines[:2]) + b"\n\n" + b"\n".join(lines[2:]) + b"\n"
    answer = source_client(key).post(INTAKE, data=body, content_type="application/x-ndjson")
    assert answer.status_code == 202 and answer.json()["rejected"] == 3
    assert positions(source) == {"{broken one": 2, "[5]": 5, "[6]": 6}
    # Not in the reason: the same fault has one reason wherever it was (the reasons stay grouped).
    reasons = set(DeadLetter.objects.filter(source=source, position__in=[5, 6]).values_list("reason", flat=True))
    assert reasons == {"record is not a JSON object"}


def test_a_json_array_names_the_item(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    records = [orjson.loads(GOOD[0]), 7, orjson.loads(GOOD[1]), "text", 7]
    answer = post_json(source_client(key), records)
    assert answer.status_code == 202 and answer.json()["rejected"] == 3
    # The same bad record twice is kept once, where it first was.
    assert positions(source) == {"7": 2, "text": 4}


def test_equal_records_are_told_apart_and_the_good_ones_pay_nothing(world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    bad = b"{broken"
    batch = services.prepare_batch(source, [GOOD[0], bad, GOOD[1], bytes(bad), b"{other", GOOD[2]])
    assert sorted(letter.position for letter in batch.dead.values()) == [2, 5]  # the second copy is a duplicate
    good = services.prepare_batch(source, list(GOOD))
    assert not good.dead and len(good.events) == 3


def test_the_dead_letters_page_and_api_show_the_position(world, make_source, as_user, api):
    source, key = make_source(world.ministry, "ecs")
    post_ndjson(source_client(key), [GOOD[0], GOOD[1], b"{broken"])
    DeadLetter.objects.create(source=source, organization=world.ministry, digest="x" * 64, reason="old", raw="old")
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    letter = DeadLetter.objects.get(source=source, position=3)
    for url in (reverse("telemetry:source_dead_letters", args=[source.name]),
                reverse("telemetry:source", args=[source.name])):
        page = client.get(url).content.decode()
        row = page[page.index(f'data-dead-letter="{letter.pk}"'):]
        row = row[:row.index("</tr>")]
        assert "Position 3" in row
        assert page.count("data-position=") == 1  # the letter kept before positions were recorded says none
        assert POSITION_NOTE in page
    client.cookies["khien_language"] = "vi"
    page = client.get(reverse("telemetry:source_dead_letters", args=[source.name])).content.decode()
    assert 'data-position="3"' in page
    rows = api(world.admin).get("/api/telemetry/dead-letters/", {"source": source.name}).json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert sorted((r["raw"], r["position"]) for r in rows) == [("old", None), ("{broken", 3)]
    # Another organization sees neither the letters nor their positions.
    other = api(world.other_admin).get("/api/telemetry/dead-letters/").json()
    assert (other["results"] if isinstance(other, dict) else other) == []


def test_reading_again_keeps_the_position(world, make_source):
    source, key = make_source(world.ministry, "ecs")
    post_ndjson(source_client(key), [GOOD[0], b"{broken"])
    services.do_reprocess_dead_letters(source, acting_user=world.admin)
    assert positions(source) == {"{broken": 2}


def test_file_batches_know_their_line_numbers():
    text = b"\n\n a\nb\n\n\nc\n  \nd\ne\n"  # records on lines 3, 4, 7, 9 and 10
    batches = list(file_batches(io.BytesIO(text), 2))
    assert [list(b) for b in batches] == [[b"a", b"b"], [b"c", b"d"], [b"e"]]
    assert [b.position(i) for b in batches for i in range(len(b))] == [3, 4, 7, 9, 10]
    with_bom = list(file_batches(io.BytesIO(b"\xef\xbb\xbfa\n\nb"), 10))
    assert [with_bom[0].position(i) for i in range(2)] == [1, 3]
    array = list(file_batches(io.BytesIO(b' [1, 2, 3, 4, 5]'), 2))
    assert [b.position(i) for b in array for i in range(len(b))] == [1, 2, 3, 4, 5]
    assert isinstance(array[0], FileBatch)


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_a_replayed_file_names_the_line(make_source, tmp_path):
    source, _key = make_source(format="ecs", name="siem-min")
    path = tmp_path / "replay.ndjson"
    # Line 4 and line 8 are broken; blank lines count; batches of 2 records.
    path.write_bytes(b"\n".join([GOOD[0], b"", GOOD[1], b"{broken", GOOD[2], b"", b"", b"[8]"]) + b"\n")
    out = io.StringIO()
    call_command("ingest", str(path), "--source", "siem-min", "--batch", "2", "--quiet", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == "accepted 3 duplicates 0 rejected 2"
    assert positions(source) == {"{broken": 4, "[8]": 8}
    array = tmp_path / "replay.json"
    array.write_bytes(orjson.dumps(["x", orjson.loads(GOOD[0]), "y"]))
    call_command("ingest", str(array), "--source", "siem-min", "--batch", "2", "--quiet", stdout=io.StringIO(),
                 stderr=io.StringIO())
    assert positions(source)["x"] == 1 and positions(source)["y"] == 3


@pytest.mark.nats
def test_a_jetstream_message_is_a_record_of_its_own(jetstream, make_source):
    from khien.telemetry import nats as transport

    source, key = make_source(format="ecs")
    transport.ensure_stream(jetstream)
    transport.publish(source, [GOOD[0], b"{broken", GOOD[1]], key=key, link=jetstream)
    stats = transport.Worker(jetstream, batch=100).run(idle_exit=True)
    assert (stats.accepted, stats.rejected) == (2, 1)
    # Kept with its reason, but no place in a batch: the worker's fetch is not a batch its sender made.
    letter = DeadLetter.objects.get(source=source)
    assert letter.raw == "{broken" and letter.position is None


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_the_pages_do_not_call_a_replayed_files_line_a_place_in_a_batch(world, make_source, as_user, tmp_path):
    source, _key = make_source(world.ministry, format="ecs", name="siem-replay")
    path = tmp_path / "replay.ndjson"
    path.write_bytes(b"\n".join([GOOD[0], b"", b"", b"", b"{broken"]) + b"\n")  # line 5, the 2nd record
    call_command("ingest", str(path), "--source", source.name, "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    for url in (reverse("telemetry:source_dead_letters", args=[source.name]),
                reverse("telemetry:source", args=[source.name])):
        page = client.get(url).content.decode()
        assert 'data-position="5"' in page and "Position 5" in page and POSITION_NOTE in page
        assert "of the batch" not in page
