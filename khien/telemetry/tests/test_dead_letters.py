"""Dead letters read again once their source is corrected (format, time zone), or discarded; who may do it."""
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.intel.models import Tlp
from khien.telemetry import services
from khien.telemetry.models import Alert, AlertSource, DeadLetter, Event, IndicatorHit

from .test_api import post_ndjson, source_client
from .test_matching import ecs, intel  # noqa: F401 - the intel fixture: indicators the ministry may see

pytestmark = pytest.mark.django_db

BROKEN = b'{"@timestamp": "2026-12-05T01:00:00Z", "event": '  # cut in the middle: unreadable in any format


def wrong_format_source(world, make_source, intel):
    """A ministry SOC registered as Suricata that sends ECS records (one hitting an indicator) and one broken line."""
    source, key = make_source(world.ministry, "suricata")
    lines = [ecs(intel.values[Tlp.GREEN], n=0), ecs("192.0.2.10", n=1), ecs("192.0.2.11", n=2), BROKEN]
    answer = post_ndjson(source_client(key), lines)
    assert answer.status_code == 202 and answer.json()["rejected"] == 4
    return source


def test_records_refused_for_a_wrong_format_are_stored_once_it_is_corrected(world, intel, make_source, as_user):
    source = wrong_format_source(world, make_source, intel)
    client = as_user(world.admin)
    page = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert 'id="dead-letters-form"' in page and page.count('name="ids"') == 4
    # Reading them again with the wrong format changes nothing but the reasons.
    client.post(reverse("telemetry:source_dead_letters", args=[source.name]), {"action": "reprocess_all"})
    assert DeadLetter.objects.filter(source=source).count() == 4 and not Event.objects.exists()

    settings = client.post(reverse("telemetry:source_settings", args=[source.name]),
                           {"enabled": "on", "format": "ecs", "time_zone": "UTC"})
    assert settings.status_code == 302
    before = AuditEntry.objects.count()
    answer = client.post(reverse("telemetry:source_dead_letters", args=[source.name]), {"action": "reprocess_all"},
                         follow=True)
    text = answer.content.decode()
    assert answer.status_code == 200 and "3" in text and "Đọc lại" in text
    # The three ECS records are events now: folded into alerts, matched against the indicators, counted.
    assert Event.objects.filter(source=source).count() == 3
    assert Alert.objects.filter(source=source).count() == 3
    assert IndicatorHit.objects.filter(organization=world.ministry).count() == 1
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (3, 4)  # `rejected` stays: what was refused when it came
    left = DeadLetter.objects.get(source=source)
    assert left.raw == BROKEN.decode().strip() and "JSON" in left.reason
    entry = AuditEntry.objects.filter(object_type="telemetry.deadletter").order_by("seq").last()
    assert AuditEntry.objects.count() == before + 1 and entry.actor_email == world.admin.email
    assert entry.after["reprocessed"]["stored"] == 3 and entry.after["reprocessed"]["failing"] == 1
    # The records are stored once: reading again, or the sender sending them again, adds nothing.
    again = services.do_reprocess_dead_letters(source, acting_user=world.admin)
    assert (again.stored, again.duplicates, again.failing) == (0, 0, 1)
    assert Event.objects.filter(source=source).count() == 3


def test_the_api_reads_again_or_discards_chosen_dead_letters(world, intel, make_source, api):
    source = wrong_format_source(world, make_source, intel)
    url = f"/api/telemetry/sources/{source.name}/"
    admin = api(world.admin)
    assert admin.patch(url, {"format": "ecs"}, format="json").json()["format"] == "ecs"
    letters = list(DeadLetter.objects.filter(source=source).order_by("id"))
    chosen = [letters[0].pk, letters[1].pk]
    # An id that is not one of this source's dead letters refuses the whole request: nothing is read.
    other_source, other_key = make_source(world.ministry, "ecs")
    post_ndjson(source_client(other_key), [BROKEN])
    foreign = DeadLetter.objects.get(source=other_source).pk
    refused = admin.post(url + "dead-letters/reprocess/", {"ids": [*chosen, foreign]}, format="json")
    assert refused.status_code == 400 and str(foreign) in refused.json()["detail"]
    assert not Event.objects.exists() and DeadLetter.objects.filter(source=source).count() == 4
    for bad in ({"ids": []}, {"ids": ["x"]}, {"ids": "1"}, {"ids": [2**63]}, {}, {"all": False},
                {"ids": chosen, "all": True}, {"id": chosen}):
        for action in ("reprocess", "discard"):
            answer = admin.post(url + f"dead-letters/{action}/", bad, format="json")
            assert answer.status_code == 400, (bad, answer.content)
    # An unreadable body is refused, never read as "all" (it discarded every dead letter).
    broken = admin.post(url + "dead-letters/discard/", b"--BB\r\n\x0cX--BB--\r\n",
                        content_type="multipart/form-data; boundary=BB")
    assert broken.status_code == 400
    assert not Event.objects.exists() and DeadLetter.objects.filter(source=source).count() == 4

    done = admin.post(url + "dead-letters/reprocess/", {"ids": chosen}, format="json")
    assert done.status_code == 200
    assert done.json() == {"stored": 2, "duplicates": 0, "failing": 0, "cut": 0, "remaining": 0}
    assert DeadLetter.objects.filter(source=source).count() == 2

    # Denials: another organization does not see the source; a read-only role may not change it.
    for client, status in ((api(world.other_admin), 404), (api(world.auditor), 403), (api(world.trainee), 403)):
        assert client.post(url + "dead-letters/reprocess/", {"all": True}, format="json").status_code == status
        assert client.post(url + "dead-letters/discard/", {"all": True}, format="json").status_code == status
    assert DeadLetter.objects.filter(source=source).count() == 2

    gone = admin.post(url + "dead-letters/discard/", {"ids": [letters[3].pk]}, format="json")
    assert gone.status_code == 200 and gone.json() == {"discarded": 1}
    assert list(DeadLetter.objects.filter(source=source).values_list("pk", flat=True)) == [letters[2].pk]
    assert AuditEntry.objects.filter(object_type="telemetry.deadletter", action="delete").count() == 1
    rest = admin.post(url + "dead-letters/reprocess/", {"all": True}, format="json").json()
    assert rest["stored"] == 1 and not DeadLetter.objects.filter(source=source).exists()


def test_a_disabled_source_or_a_shortened_record_is_not_read_again(world, make_source, api):
    source, key = make_source(world.ministry, "wazuh")
    huge = b'{"rule": {"id": "1"}, "data": "' + b"x" * (services.RAW_DEAD_LETTER_LIMIT + 10)  # unreadable, cut
    services.ingest_batch(source, [huge])
    assert len(DeadLetter.objects.get(source=source).raw) == services.RAW_DEAD_LETTER_LIMIT
    result = services.do_reprocess_dead_letters(source, acting_user=world.admin)
    assert (result.cut, result.failing, result.stored) == (1, 0, 0) and DeadLetter.objects.filter(source=source).exists()
    url = f"/api/telemetry/sources/{source.name}/"
    admin = api(world.admin)
    admin.patch(url, {"enabled": False}, format="json")
    refused = admin.post(url + "dead-letters/reprocess/", {"all": True}, format="json")
    assert refused.status_code == 403 and DeadLetter.objects.filter(source=source).count() == 1


def test_the_page_refuses_an_empty_choice_and_hides_the_buttons_from_readers(world, intel, make_source, as_user):
    source = wrong_format_source(world, make_source, intel)
    client = as_user(world.admin)
    url = reverse("telemetry:source_dead_letters", args=[source.name])
    for data in ({"action": "discard"}, {"action": "reprocess"}, {"action": "explode", "ids": ["1"]}):
        answer = client.post(url, data)
        assert answer.status_code == 400 and 'role="alert"' in answer.content.decode()
    assert DeadLetter.objects.filter(source=source).count() == 4
    reader = as_user(world.auditor)
    page = reader.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert 'id="dead-letters-form"' not in page and 'name="ids"' not in page
    assert reader.post(url, {"action": "reprocess_all"}).status_code == 403
    assert as_user(world.other_admin).post(url, {"action": "reprocess_all"}).status_code == 404
    assert DeadLetter.objects.filter(source=source).count() == 4 and not Event.objects.exists()


def test_the_cli_reads_again_with_progress_and_discards(world, intel, make_source):
    source = wrong_format_source(world, make_source, intel)
    services.do_update_source(source, {"format": "ecs"}, acting_user=None)
    out, err = io.StringIO(), io.StringIO()
    call_command("telemetry", "reprocess", source.name, stdout=out, stderr=err)
    assert out.getvalue().strip() == "stored 3 duplicates 0 still failing 1 cut 0"
    assert "4 / 4 dead letters read again" in err.getvalue()
    out = io.StringIO()
    call_command("telemetry", "discard", source.name, stdout=out)
    assert out.getvalue().strip() == "deleted 1 dead letters" and not DeadLetter.objects.filter(source=source).exists()
    with pytest.raises(CommandError, match="“nope”"):  # in the platform's language, naming the source asked for
        call_command("telemetry", "reprocess", "nope")
    assert AlertSource.objects.get(pk=source.pk).format == "ecs"


def test_every_reason_of_the_broken_samples_reads_in_vietnamese(world, make_source, as_user):
    """The reasons are stored in English (the API's, stable); the pages show them in the reader's language."""
    from django.utils import translation

    from khien.telemetry.parsers import reason_text

    from .conftest import sample_lines

    for format, sample in (("wazuh", "wazuh_broken.ndjson"), ("suricata", "suricata_broken.ndjson"),
                           ("ecs", "ecs_broken.ndjson"), ("cef", "cef_broken.log")):
        source, _key = make_source(world.ministry, format)
        services.ingest_batch(source, sample_lines(sample) + [b"\x00", b"[1]"])
    reasons = set(DeadLetter.objects.values_list("reason", flat=True))
    assert len(reasons) >= 15
    with translation.override("vi"):
        untranslated = {reason for reason in reasons if reason_text(reason) == reason}
        assert reason_text("invalid IP address in src_ip: 999.1.1.1") == "địa chỉ IP không hợp lệ trong src_ip: 999.1.1.1"
        assert reason_text("not valid JSON: unexpected end of data: line 1 column 196 (char 195)") == \
            "không phải JSON hợp lệ (ký tự thứ 196 của bản ghi)"  # the decoder's English words left out
    assert not untranslated
    with translation.override("en"):
        assert all(reason_text(reason) == reason or reason.startswith("not valid JSON") for reason in reasons)
    source = DeadLetter.objects.filter(reason__startswith="missing").first().source
    page = as_user(world.admin).get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert "thiếu " in page


def test_deleting_dead_letters_is_confirmed_and_the_log_says_which(world, intel, make_source, as_user):
    source = wrong_format_source(world, make_source, intel)
    client = as_user(world.admin)
    page = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    for value in ("discard", "discard_all"):
        button = page[page.index(f'value="{value}"'):]
        assert button.index("data-confirm=") < button.index(">")  # the browser asks before deleting
    letters = list(DeadLetter.objects.filter(source=source).order_by("id"))
    answer = client.post(reverse("telemetry:source_dead_letters", args=[source.name]),
                         {"action": "discard", "ids": [letters[3].pk, letters[0].pk], "confirmed": "1"})
    assert answer.status_code == 302
    entry = AuditEntry.objects.get(object_type="telemetry.deadletter", action="delete")
    assert entry.after["discarded"] == 2
    assert {(d["digest"], d["reason"]) for d in entry.after["letters"]} == {
        (letters[0].digest, letters[0].reason), (letters[3].digest, letters[3].reason)}
    # Bounded: a large discard names the first DISCARD_AUDIT_LISTED.
    services.ingest_batch(source, [b"{broken %d" % i for i in range(services.DISCARD_AUDIT_LISTED + 5)])
    client.post(reverse("telemetry:source_dead_letters", args=[source.name]), {"action": "discard_all", "confirmed": "1"})
    entry = AuditEntry.objects.filter(object_type="telemetry.deadletter", action="delete").order_by("seq").last()
    assert entry.after["discarded"] == services.DISCARD_AUDIT_LISTED + 7
    assert len(entry.after["letters"]) == services.DISCARD_AUDIT_LISTED
    assert not DeadLetter.objects.filter(source=source).exists()


def test_the_dead_letters_page_pages_searches_and_acts(world, make_source, as_user, api):
    source, _key = make_source(world.ministry, "ecs")
    long_tail = "z" * 400
    services.ingest_batch(source, [b'{"broken": %d, "tail": "%s"' % (i, long_tail.encode()) for i in range(55)])
    services.ingest_batch(source, [b"[1]", b"[2]"])  # "record is not a JSON object"
    assert DeadLetter.objects.filter(source=source).count() == 57
    client = as_user(world.admin)
    url = reverse("telemetry:source_dead_letters", args=[source.name])
    first = client.get(url)
    text = first.content.decode()
    assert first.status_code == 200 and text.count('data-dead-letter="') == 50
    newest = DeadLetter.objects.filter(source=source).order_by("-received_at", "-id").first()
    assert text.index(f'data-dead-letter="{newest.pk}"') == text.index('data-dead-letter="')  # newest first
    assert long_tail in text  # the whole record, folded
    assert 'value="discard_all"' in text and 'data-confirm' in text
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('data-dead-letter="') == 7
    # Searched by the reason as the reader reads it (Vietnamese here) or as stored (English).
    with translation_vi():
        from khien.telemetry.parsers import reason_text
        shown = reason_text("record is not a JSON object")
    for text in (shown[:12], "NOT A JSON obj"):
        found = client.get(url, {"reason": text}).content.decode()
        assert found.count('data-dead-letter="') == 2, text
    api_rows = api(world.admin).get("/api/telemetry/dead-letters/", {"source": source.name, "reason": "JSON obj"})
    rows = api_rows.json()
    assert api_rows.status_code == 200 and len(rows["results"] if isinstance(rows, dict) else rows) == 2
    # Deleting the ones chosen on the page, back to the same search.
    chosen = list(DeadLetter.objects.filter(source=source, reason="record is not a JSON object").values_list("pk", flat=True))
    done = client.post(f"{url}?reason=JSON+object", {"action": "discard", "ids": chosen, "back": "list", "confirmed": "1"})
    assert done.status_code == 302 and done["Location"] == f"{url}?reason=JSON+object"
    assert DeadLetter.objects.filter(source=source).count() == 55
    refused = client.post(url + "?reason=x", {"action": "discard", "back": "list"})
    assert refused.status_code == 400 and 'id="dead-letter-table"' in refused.content.decode()
    # Another organization does not see them; a reader sees them without the buttons.
    assert as_user(world.other_admin).get(url).status_code == 404
    assert as_user(world.other_admin).post(url, {"action": "discard_all", "back": "list"}).status_code == 404
    reader = as_user(world.auditor).get(url).content.decode()
    assert 'name="ids"' not in reader and 'value="discard_all"' not in reader
    assert as_user(world.admin).post(url, {"action": "discard_all", "back": "list", "confirmed": "1"}).status_code == 302
    assert not DeadLetter.objects.filter(source=source).exists()


def translation_vi():
    from django.utils import translation

    return translation.override("vi")
