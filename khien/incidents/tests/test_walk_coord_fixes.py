"""Fixes from the coordinator's walkthrough (English, phone width) of the incident page:

- an observable's indicator is shown as its latest version the reader may see: a revoked indicator is marked
  “revoked”, never shown through an earlier active version, and a version the reader may not see does not leak;
- a standard task whose platform action already happened (a responder assigned, the detailed notification or the
  final report given, observables shared as STIX) is created done, with the journal line of the automatic completion;
- the PDF report prints a journal text whole (over several rows, as long as it is), cut only past 20,000 characters
  at a word with a marker saying how much is left and where to read it;
- the English and the Vietnamese PDF are named apart (SC-…-en.pdf, SC-…-vi.pdf).
"""
import io
import re

import pytest
from django.utils import translation
from django.utils.translation import ngettext
from pypdf import PdfReader

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.incidents import exports, journal, observables, services
from khien.incidents.models import EventKind, IncidentEvent, Status, TaskStatus, TaskTemplates
from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.services_versions import do_revoke_object
from khien.intel.tests.conftest import indicator

from .conftest import walk

pytestmark = pytest.mark.django_db

needs_fonts = pytest.mark.skipif(not exports.pdf_available(), reason="run scripts/vendor_assets.py for the PDF fonts")
DOMAIN = "hoadon-dientu.demo-khien.vn"


@pytest.fixture
def own_feed(world):
    return intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                               acting_user=world.coordinator)


def _domain_indicator(name, **extra):
    return indicator(DOMAIN, kind="domain-name", name=name, **extra)


# --- 1. Observables: the latest version of each indicator ------------------------------------------------------


def test_walk_coord_a_revoked_indicator_is_marked_not_shown_as_current(world, report, own_feed, as_user, api):
    obj = _domain_indicator("Tên miền thu thập thông tin đăng nhập", tlp=Tlp.GREEN)
    intel_services.do_add_objects(own_feed, [obj], acting_user=world.analyst)
    incident = report(observables=[("domain", DOMAIN)])
    [found] = observables.lookup(world.analyst, incident.observables.all())
    assert [(i.stix_id, i.revoked) for i in found.indicators] == [(obj["id"], False)]

    do_revoke_object(obj["id"], acting_user=world.analyst, reason="nhầm")
    # The active earlier version still names the value: it must not stand for the indicator any more.
    for reader in (world.analyst, world.coordinator, world.other_admin):  # producer, coordinator, a GREEN reader
        [found] = observables.lookup(reader, incident.observables.all())
        assert [(i.stix_id, i.revoked) for i in found.indicators] == [(obj["id"], True)], reader

    with translation.override("en"):
        page = as_user(world.analyst).get(f"/incidents/{incident.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    cell = page.split('class="obs-matches"', 1)[1].split("</td>", 1)[0]
    assert "Tên miền thu thập thông tin đăng nhập" in cell and "revoked" in cell and cell.count("obs-indicator") == 1
    data = api(world.analyst).get(f"/api/incidents/{incident.pk}/observables/").json()
    assert [(i["id"], i["revoked"]) for i in data[0]["indicators"]] == [(obj["id"], True)]


def test_walk_coord_a_later_version_the_reader_may_not_see_does_not_leak(world, report, own_feed):
    """Version 1 TLP:GREEN (every signed-in organization), version 2 TLP:RED (its producer and the coordinator):
    another organization's reader sees version 1 as it was, nothing of version 2 (its name, its revocation)."""
    stix_id = f"indicator--{'4' * 8}-4444-4444-8444-{'4' * 12}"
    intel_services.do_add_objects(own_feed, [_domain_indicator(
        "phiên bản công khai", tlp=Tlp.GREEN, stix_id=stix_id)], acting_user=world.analyst)
    intel_services.do_add_objects(own_feed, [_domain_indicator(
        "phiên bản mật", tlp=Tlp.RED, stix_id=stix_id, modified="2026-03-01T00:00:00.000Z", revoked=True)],
        acting_user=world.analyst)
    incident = report(observables=[("domain", DOMAIN)])
    # The producer sees the latest version: revoked, with its own name.
    [mine] = observables.lookup(world.analyst, incident.observables.all())
    assert [(i.data["name"], i.revoked) for i in mine.indicators] == [("phiên bản mật", True)]
    # A stranger who reads GREEN only: version 1, active, as it was published to it.
    stranger = _user("analyst@str.test.vn", _org("STR", "enterprise"), Role.ORG_ANALYST)
    [theirs] = observables.lookup(stranger, incident.observables.all())
    assert [(i.data["name"], i.revoked, i.tlp) for i in theirs.indicators] == [("phiên bản công khai", False, Tlp.GREEN)]


def test_walk_coord_an_indicator_whose_latest_version_no_longer_names_the_value_drops(world, report, own_feed):
    stix_id = f"indicator--{'5' * 8}-5555-4555-8555-{'5' * 12}"
    intel_services.do_add_objects(own_feed, [_domain_indicator("cũ", tlp=Tlp.GREEN, stix_id=stix_id)],
                                  acting_user=world.analyst)
    intel_services.do_add_objects(own_feed, [indicator("other.demo-khien.vn", kind="domain-name", name="mới",
                                                       tlp=Tlp.GREEN, stix_id=stix_id,
                                                       modified="2026-03-01T00:00:00.000Z")],
                                  acting_user=world.analyst)
    incident = report(observables=[("domain", DOMAIN)])
    [found] = observables.lookup(world.analyst, incident.observables.all())
    assert found.indicators == []


# --- 2. Standard tasks whose action already happened -------------------------------------------------------------


def _auto_tasks() -> dict[str, str]:
    """{task code: done_when} of the current task file."""
    return {code: entry["done_when"] for code, entry in TaskTemplates.current().data["tasks"].items()
            if entry.get("done_when")}


def _done_lines(incident) -> dict[str, str]:
    """{task code: `because`} of the journal lines that marked a task done by a platform action."""
    by_id = {str(t.pk): t.template_code for t in incident.tasks.all()}
    return {by_id[e.data["task_id"]]: e.data["because"]
            for e in IncidentEvent.objects.filter(incident=incident, kind=EventKind.TASK, data__status="done")
            if e.data.get("because")}


def test_walk_coord_the_button_after_a_responder_is_assigned(world, report, coordinator_client):
    """The coordinator's walk: a New incident, IR responder assigned, then “Add the standard tasks” (the page)."""
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    response = coordinator_client.post(f"/incidents/{incident.pk}/tasks/standard/")
    assert response.status_code == 302 and response["Location"].endswith("#tasks")
    tasks = {t.template_code: t.status for t in incident.tasks.all()}
    assert tasks["assign-responders"] == TaskStatus.DONE
    assert tasks["report-ncsc"] == tasks["share-iocs"] == tasks["lessons-learned"] == TaskStatus.OPEN
    assert _done_lines(incident) == {"assign-responders": "responder_assigned"}
    # The journal says why, as when the responder is assigned after the task exists.
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.TASK, data__because="responder_assigned")
    with translation.override("en"):
        assert "done on the platform: a responder organization was assigned" in journal.headline(event, {})


def test_walk_coord_every_auto_task_is_created_done_when_its_action_happened(world, report, own_feed):
    """Each action of a `done_when` in the task file has happened before the tasks are added: each such task is
    created done, with the journal line of the automatic completion; the others stay open."""
    incident = report(category="test")  # a category without standard tasks
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    observables.do_add_observables(incident, [("domain", "c2.demo-khien.vn")], acting_user=world.analyst)
    observables.do_share_observables(incident, list(incident.observables.all()), tlp=incident.tlp,
                                     collection=own_feed, acting_user=world.analyst)
    incident = walk(incident, [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED],
                    world.coordinator)  # the detailed notification and the final report are given on the way
    assert incident.notified_at and incident.final_report_at and not incident.tasks.exists()
    incident, _changes = services.do_reclassify(incident, {"category": "infected-system"}, acting_user=world.analyst,
                                                reason="mã độc")
    auto = _auto_tasks()
    assert set(auto.values()) == {"stage:notification", "stage:final", "responder_assigned", "observables_shared"}
    services.do_add_standard_tasks(incident, acting_user=world.coordinator)
    statuses = {t.template_code: t.status for t in incident.tasks.all()}
    assert set(auto) <= set(statuses)  # every auto-completing task belongs to the category
    assert {code: statuses[code] for code in auto} == {code: TaskStatus.DONE for code in auto}
    assert all(status == TaskStatus.OPEN for code, status in statuses.items() if code not in auto)
    assert _done_lines(incident) == auto


def test_walk_coord_triage_after_the_notification_creates_its_task_done(world, report):
    incident = report()
    incident = services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử",
                                                                   "people_affected": 0}, acting_user=world.analyst)
    services.do_triage(incident, {}, acting_user=world.coordinator)
    statuses = {t.template_code: t.status for t in incident.tasks.all()}
    assert statuses["report-ncsc"] == TaskStatus.DONE
    assert statuses["assign-responders"] == statuses["share-iocs"] == TaskStatus.OPEN  # not happened yet
    assert _done_lines(incident) == {"report-ncsc": "stage:notification"}


def test_walk_coord_an_unassigned_responder_no_longer_counts(world, report):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_unassign_responder(incident, world.responder_org, acting_user=world.coordinator, reason="nhầm")
    assert not services.standard_action_done(incident, "responder_assigned")
    services.do_add_standard_tasks(incident, acting_user=world.coordinator)
    assert incident.tasks.get(template_code="assign-responders").status == TaskStatus.OPEN


# --- 3 and 4. The PDF report -------------------------------------------------------------------------------------


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def _alerts_text(n: int) -> list[tuple[str, str]]:
    return [(f"alert-{i}", f"ET MALWARE Beacon {i:03d} từ máy trạm KT-{i:03d} tới 203.0.113.{i % 250}, ×1, "
                           f"06/12/2026 10:{i % 60:02d}") for i in range(n)]


@needs_fonts
@pytest.mark.parametrize("language", ["vi", "en"])
def test_walk_coord_the_pdf_prints_a_long_journal_text_whole(world, report, language):
    incident = report()
    services.do_journal_alerts(incident, _alerts_text(125), acting_user=world.analyst)  # ~11,000 characters
    text = _pdf_text(exports.incident_pdf(incident, world.analyst, language=language))
    assert "Beacon 000" in text and "Beacon 124" in text  # the first and the last alert, and every one between
    assert all(f"Beacon {i:03d}" in text for i in range(125))
    assert "more characters" not in text and "ký tự nữa" not in text
    # A comment as long as the platform accepts (20,000 characters) is printed whole too.
    services.do_add_comment(incident, ("Nhật ký máy chủ cho thấy kết nối lạ. " * 560)[:19990] + " KẾT-THÚC",
                            acting_user=world.analyst)
    text = _pdf_text(exports.incident_pdf(incident, world.analyst, language=language))
    assert "KẾT-THÚC" in text


@needs_fonts
@pytest.mark.parametrize("language", ["en", "vi"])
def test_walk_coord_a_huge_journal_text_is_cut_at_a_word_with_a_marker(world, report, language):
    """400 alerts at once (~36,000 characters): the first 20,000 characters, ending with a whole word, then how many
    characters are left in the reader's language."""
    incident = report()
    alerts = _alerts_text(400)
    event = services.do_journal_alerts(incident, alerts, acting_user=world.analyst)
    with translation.override(language):
        cut = exports.whole_or_cut(event.text)
    assert len(event.text) > exports.PDF_TEXT_MAX
    head, _sep, rest = cut.rpartition(" … (")
    assert event.text.startswith(head) and event.text[len(head)] in " \n"  # cut between two words
    assert int(re.search(r"(\d+)", rest).group(1)) == len(event.text) - len(head)
    text = _pdf_text(exports.incident_pdf(incident, world.analyst, language=language))
    with translation.override(language):  # the marker in the report's language
        marker = ngettext("… (%(n)s more character: see the incident page)",
                          "… (%(n)s more characters: see the incident page)", 2) % {"n": 2}
    pattern = re.escape(marker).replace("2", r"(\d+)")
    found = re.search(pattern, text)
    assert found and int(found.group(1)) == len(event.text) - len(head), text[-600:]
    if language == "en":
        assert "more characters: see the incident page" in text
    assert "Beacon 000" in text and "Beacon 399" not in text


@needs_fonts
def test_walk_coord_the_two_pdfs_are_named_apart(world, report, as_user):
    incident = report()
    client = as_user(world.analyst)
    names = {}
    for language in ("vi", "en"):
        response = client.get(f"/incidents/{incident.pk}/report.pdf?lang={language}")
        assert response.status_code == 200
        names[language] = response["Content-Disposition"]
    assert names == {"vi": f'attachment; filename="{incident.reference}-vi.pdf"',
                     "en": f'attachment; filename="{incident.reference}-en.pdf"'}
    # No language asked: the Vietnamese report, named so.
    assert client.get(f"/incidents/{incident.pk}/report.pdf")["Content-Disposition"].endswith('-vi.pdf"')
