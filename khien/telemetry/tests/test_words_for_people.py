"""What people read on the monitoring pages, the hits notice and the events CSV: words, not codes; what a slow
download and the dashboard's "no live monitoring source" figure mean."""
import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from khien.core.models import Notification
from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.tests.conftest import indicator
from khien.telemetry import jobs, services
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)
from .conftest import as_read


def test_the_hits_notice_names_each_value_s_kind_in_the_reader_s_language(world, intel, make_source, reads_in):
    """"evil-update.top (domain): 1" read as a code; each reader reads the kind in words, in their language."""
    sha = "cd" * 32
    intel_services.do_add_objects(intel.collection, [indicator(sha, tlp=Tlp.GREEN,
                                                               pattern=f"[file:hashes.'SHA-256' = '{sha}']")],
                                  acting_user=world.coordinator)
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], domain="evil-update.top", sha256=sha)])
    Notification.objects.all().delete()
    reads_in(world.admin, "en")
    jobs.notify_hits(timezone.now())
    _title, english = as_read(Notification.objects.get(kind="telemetry.hits", recipient=world.admin))
    assert f"{intel.values[Tlp.GREEN]} (IPv4 address): 1" in english
    assert "evil-update.top (Domain name): 1" in english and f"{sha} (SHA-256): 1" in english
    assert "(ipv4)" not in english and "(domain)" not in english
    _title, vietnamese = as_read(Notification.objects.get(kind="telemetry.hits", recipient=world.analyst))
    with translation.override("vi"):
        assert f"evil-update.top ({gettext('Domain name')}): 1" in vietnamese
    assert "(domain)" not in vietnamese


@pytest.fixture
def stored(world, make_source):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs("203.0.113.7", category="malware"), ecs("203.0.113.8", category="web", n=1),
                                   ecs("203.0.113.9", category="someothertool", n=2)])
    return source


def _csv(client, query="") -> list[list[str]]:
    response = client.get(reverse("telemetry:events_export") + "?format=csv" + query)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_events_csv_gives_categories_in_words_in_the_reader_s_language(world, stored, as_user):
    """The CSV is for people (its headers are translated): its categories are the page's words; a category
    another tool made up stays as it came; NDJSON, for programs, keeps the codes."""
    client = as_user(world.analyst)
    rows = _csv(client)  # the platform's language: Vietnamese
    with translation.override("vi"):
        assert rows[0][3] == gettext("Category")
        assert sorted(r[3] for r in rows[1:]) == sorted([gettext("malware"), gettext("web"), "someothertool"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    rows = _csv(client)
    assert rows[0][3] == "Category" and sorted(r[3] for r in rows[1:]) == ["malware", "someothertool", "web"]
    body = b"".join(client.get(reverse("telemetry:events_export") + "?format=ndjson").streaming_content).decode()
    assert '"category":"malware"' in body.replace(" ", "")


def test_the_events_csv_in_vietnamese_has_no_english_category_codes(world, stored, as_user):
    rows = _csv(as_user(world.analyst), "&ip=203.0.113.7")
    assert rows[1][3] != "malware" and rows[1][3] == "mã độc"


def test_the_export_links_say_a_large_file_takes_time(world, stored, as_user):
    """Without JavaScript, a note gives the expected time; with it, telemetry.js (loaded here) shows "Preparing
    the file…" in a live region while the download starts."""
    page = as_user(world.analyst).get(reverse("telemetry:events")).content.decode()
    bar = page.split('id="event-export"')[1].split("</p>")[0]
    assert 'id="event-export-time"' in bar and 'id="event-export-status" role="status"' in bar
    assert bar.count("data-export") == 2 and 'data-busy="' in bar
    assert "khien/telemetry.js" in page
    # No events, no export bar (and no message about one).
    empty = as_user(world.analyst).get(reverse("telemetry:events") + "?ip=198.51.100.250").content.decode()
    assert 'id="event-export"' not in empty


def test_the_dashboard_says_what_no_live_monitoring_source_counts(world, as_user, settings):
    settings.KHIEN_SOURCE_SILENT_SECONDS = 7200
    client = as_user(world.admin)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(reverse("telemetry:dashboard")).content.decode()
    note = page.split('id="kpi-systems-note"')[1].split("</p>")[0]
    assert "silent for more than 120 minutes" in note and "declared in the registry" in note
