"""Standard response tasks per incident category (`data/tasks.yaml`): loaded with the other content files, planned
at triage, added by the button "Add the standard tasks" (page and API) — never twice on one incident."""
import copy
import datetime as dt
import io

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.incidents import content, services
from khien.incidents.models import (
    EventKind,
    IncidentEvent,
    Status,
    Task,
    TaskParty,
    TaskStatus,
    TaskTemplates,
    Taxonomy,
)

from .conftest import walk

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def _file():
    return yaml.safe_load((content.DATA_DIR / "tasks.yaml").read_text())


def _taxonomy():
    return yaml.safe_load((content.DATA_DIR / "rsit.yaml").read_text())


def state():
    return (Task.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.exclude(action="login").count())


def tasks_section(response) -> str:
    page = response.content.decode()
    start = page.index('id="tasks"')
    return page[start:page.index("</section>", start)]


def codes(incident):
    return set(incident.tasks.exclude(template_code="").values_list("template_code", flat=True))


# --- The content file -------------------------------------------------------------------------------------


def test_the_task_file_is_loaded_once_by_load_content():
    out = io.StringIO()
    call_command("load_content", stdout=out)
    assert "incident_task_templates: 1" in out.getvalue()
    entries = AuditEntry.objects.count()
    out = io.StringIO()
    call_command("load_content", stdout=out)  # idempotent
    assert "incident_task_templates: 0" in out.getvalue()
    assert AuditEntry.objects.count() == entries and TaskTemplates.objects.count() == 1
    assert TaskTemplates.current().version == "2026-1"


def test_every_task_has_both_languages_a_party_and_a_due_offset(incident_content):
    templates = TaskTemplates.current()
    for code, task in templates.data["tasks"].items():
        assert task["title_vi"] and task["title_en"] and task["description_vi"] and task["description_en"], code
        assert task["party"] in TaskParty.values and task["due_hours"] > 0, code
    used = {code for codes_ in templates.data["categories"].values() for code in codes_}
    assert used == set(templates.data["tasks"])  # no task defined and never used


@pytest.mark.parametrize("category, expected", [
    # Ransomware and other malware: isolate, preserve memory, find patient zero, backups, credentials, NCSC.
    ("infected-system", {"isolate-hosts", "preserve-evidence", "identify-entry-point", "check-backups",
                         "reset-credentials", "report-ncsc"}),
    ("brute-force", {"block-sources", "analyse-logs", "harden-logins", "report-ncsc"}),
    ("ddos", {"analyse-traffic", "contact-isp", "coordinate-isps", "activate-continuity", "restore-service"}),
    ("scanner", {"analyse-logs", "block-sources", "review-exposure"}),
    ("phishing", {"block-phishing", "warn-users", "identify-victims", "takedown", "report-ncsc"}),
    ("data-leak", {"contain-access", "assess-data", "personal-data-notice", "report-ncsc"}),
    ("vulnerable-system", {"verify-vulnerability", "patch-vulnerability", "rescan"}),
    ("system-compromise", {"isolate-hosts", "review-accounts", "reset-credentials", "eradicate-restore"}),
    ("undetermined", {"initial-assessment"}),
])
def test_the_main_categories_have_their_tasks(incident_content, category, expected):
    templates = TaskTemplates.current()
    found = [entry["code"] for entry in templates.for_category(Taxonomy.current(), category)]
    assert expected <= set(found)
    assert len(found) == len(set(found))  # a code listed for the class and the type is there once


def test_a_category_without_tasks_has_none(incident_content):
    assert TaskTemplates.current().for_category(Taxonomy.current(), "test") == []


def _bad(change):
    data = copy.deepcopy(_file())
    change(data)
    return data


@pytest.mark.parametrize("data, words", [
    (_bad(lambda d: d["tasks"]["isolate-hosts"].update(party="everyone")), "party"),
    (_bad(lambda d: d["tasks"]["isolate-hosts"].pop("title_en")), "title_en"),
    (_bad(lambda d: d["tasks"]["isolate-hosts"].update(due_hours=0)), "due_hours"),
    (_bad(lambda d: d["tasks"]["isolate-hosts"].update(due_hours=True)), "due_hours"),
    (_bad(lambda d: d["tasks"]["isolate-hosts"].update(colour="red")), "unknown keys"),
    (_bad(lambda d: d["categories"].update(ransomware=["isolate-hosts"])), "not a class or type"),
    (_bad(lambda d: d["categories"]["phishing"].append("pray")), "unknown tasks"),
    (_bad(lambda d: d["categories"]["phishing"].append("takedown")), "twice"),
    (_bad(lambda d: d.pop("categories")), "missing"),
])
def test_bad_task_files_are_refused_before_anything_is_stored(data, words):
    with pytest.raises(content.ContentError, match=words):
        content.check_task_templates(data, "tasks.yaml", taxonomy=_taxonomy())


# --- Triage plans them ---------------------------------------------------------------------------------------


def test_triage_creates_the_tasks_of_the_category(world, report):
    incident = report(category="infected-system")
    at = timezone.now().replace(microsecond=0)
    incident = services.do_triage(incident, {}, acting_user=world.analyst, now=at)
    expected = TaskTemplates.current().for_category(incident.taxonomy, "infected-system")
    tasks = {t.template_code: t for t in incident.tasks.all()}
    assert set(tasks) == {entry["code"] for entry in expected}
    for entry in expected:
        task = tasks[entry["code"]]
        # Stored in the platform's language (Vietnamese), due `due_hours` after triage, the party kept.
        assert (task.title, task.description) == (entry["title_vi"], entry["description_vi"])
        assert task.due_at == at + dt.timedelta(hours=entry["due_hours"])
        assert (task.party, task.status, task.owner, task.created_by) == (
            entry["party"], TaskStatus.OPEN, None, world.analyst)
    line = incident.events.get(kind=EventKind.TASK)
    assert line.data["action"] == "standard" and sorted(line.data["codes"]) == sorted(tasks)
    assert line.actor == world.analyst and line.data["version"] == "2026-1"
    assert AuditEntry.objects.filter(object_type="incidents.task", action="create").count() == len(tasks)


def test_triage_of_a_category_without_tasks_adds_none(world, report):
    incident = services.do_triage(report(category="test"), {}, acting_user=world.analyst)
    assert incident.status == Status.TRIAGED and not incident.tasks.exists()
    assert not incident.events.filter(kind=EventKind.TASK).exists()


def test_triage_without_the_task_file_loaded_still_triages(world, report):
    incident = report()
    TaskTemplates.objects.all().delete()
    incident = services.do_triage(incident, {}, acting_user=world.analyst)
    assert incident.status == Status.TRIAGED and not incident.tasks.exists()


# --- The button: idempotent -------------------------------------------------------------------------------


def test_the_button_adds_nothing_twice_and_only_what_a_new_category_brings(world, report):
    incident = report(category="infected-system")
    services.do_triage(incident, {}, acting_user=world.analyst)
    first = codes(incident)
    before = state()
    assert services.do_add_standard_tasks(incident, acting_user=world.analyst) == []
    assert state() == before  # nothing written, not even a journal line
    # A cancelled standard task stays the incident's own: not added again.
    cancelled = incident.tasks.get(template_code="check-backups")
    services.do_set_task_status(cancelled, TaskStatus.CANCELLED, acting_user=world.analyst)
    assert services.do_add_standard_tasks(incident, acting_user=world.analyst) == []
    # The category corrected: only the new category's tasks come, the shared ones (report-ncsc) are not repeated.
    services.do_reclassify(incident, {"category": "phishing"}, acting_user=world.analyst, reason="Thư giả mạo")
    added = services.do_add_standard_tasks(incident, acting_user=world.analyst)
    phishing = {e["code"] for e in TaskTemplates.current().for_category(incident.taxonomy, "phishing")}
    assert {t.template_code for t in added} == phishing - first
    assert codes(incident) == first | phishing
    assert incident.tasks.filter(template_code="report-ncsc").count() == 1


def test_the_button_before_triage_counts_from_now(world, report):
    incident = report(category="ddos")
    now = timezone.now().replace(microsecond=0)
    added = services.do_add_standard_tasks(incident, acting_user=world.analyst, now=now)
    contact = next(t for t in added if t.template_code == "contact-isp")
    assert contact.due_at == now + dt.timedelta(hours=2)
    services.do_triage(incident, {}, acting_user=world.analyst)
    assert len(codes(incident)) == len(added)  # triage finds them there


def test_who_may_add_the_standard_tasks(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    before = state()
    for user in (world.auditor, world.trainee, world.responder):  # read-only, or not assigned yet
        with pytest.raises(Forbidden):
            services.do_add_standard_tasks(incident, acting_user=user)
    with pytest.raises(Forbidden):  # another organization does not see it
        services.do_add_standard_tasks(incident, acting_user=world.other_admin)
    assert state() == before
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    assert services.do_add_standard_tasks(incident, acting_user=world.responder)  # an assigned responder may


def test_the_button_is_refused_when_closed_or_not_loaded(world, report):
    incident = report(reports_given=True)
    incident = walk(incident, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    incident.tasks.all().delete()
    other = report()
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_add_standard_tasks(incident, acting_user=world.analyst)
    assert (exc.value.status, exc.value.code) == (409, "closed")
    TaskTemplates.objects.all().delete()
    with pytest.raises(Refused) as exc:
        services.do_add_standard_tasks(other, acting_user=world.analyst)
    assert (exc.value.status, exc.value.code) == (409, "content_missing")
    assert state() == before


# --- The page ----------------------------------------------------------------------------------------------


def test_the_page_button_adds_them_once(world, as_user, report):
    incident = report(org=world.department, user=world.dept_analyst, category="phishing")
    base = f"/incidents/{incident.pk}/"
    client = as_user(world.dept_analyst)
    page = client.get(base).content.decode()
    n = len(TaskTemplates.current().for_category(incident.taxonomy, "phishing"))
    assert 'id="standard-tasks"' in page
    assert client.post(base + "tasks/standard/").status_code == 302
    assert incident.tasks.count() == n
    page = client.get(base).content.decode()
    assert 'id="standard-tasks"' not in page  # nothing left to add
    assert "Chặn thư, tên miền và đường dẫn lừa đảo tại cổng thư và proxy" in page
    assert page.count('class="badge task-party"') == n  # who is expected to do each
    assert client.post(base + "tasks/standard/").status_code == 302  # again: nothing added, no error
    assert incident.tasks.count() == n
    before = state()
    assert as_user(world.auditor).post(base + "tasks/standard/").status_code == 403
    assert as_user(world.other_admin).post(base + "tasks/standard/").status_code == 404
    assert state() == before


def test_the_page_shows_a_standard_task_in_the_page_language(world, as_user, report):
    incident = report(org=world.department, user=world.dept_analyst, category="phishing")
    services.do_triage(incident, {}, acting_user=world.dept_analyst)
    client = as_user(world.dept_analyst)
    client.cookies["khien_language"] = "en"
    page = tasks_section(client.get(f"/incidents/{incident.pk}/"))
    assert "Block the phishing messages, domains and links at the mail gateway and proxy" in page
    assert "Chặn thư, tên miền" not in page
    # Edited, the description is shown as written, in whatever language it was written.
    task = incident.tasks.get(template_code="block-phishing")
    services.do_update_task(task, {"description": "Đã chặn 3 tên miền"}, acting_user=world.dept_analyst)
    page = tasks_section(client.get(f"/incidents/{incident.pk}/"))
    assert "Đã chặn 3 tên miền" in page
    assert "Remove the phishing messages from the mailboxes" not in page


def test_the_journal_names_standard_tasks_in_the_page_language_too(world, as_user, report):
    # The walkthrough read English tasks in the task table and the same tasks in Vietnamese in the journal.
    incident = report(org=world.department, user=world.dept_analyst, category="phishing")
    services.do_triage(incident, {}, acting_user=world.dept_analyst)
    task = incident.tasks.get(template_code="block-phishing")
    services.do_update_task(task, {"owner": world.dept_analyst.email, "description": "Đã chặn 3 tên miền"},
                            acting_user=world.dept_analyst)
    client = as_user(world.dept_analyst)
    client.cookies["khien_language"] = "en"
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    journal = page[page.index('id="journal"'):]
    assert "Block the phishing messages, domains and links at the mail gateway and proxy" in journal
    assert "Chặn thư, tên miền" not in journal
    assert "Description changed" in journal  # a change of the description says so (its text is in the audit log)
    client.cookies["khien_language"] = "vi"
    journal = client.get(f"/incidents/{incident.pk}/").content.decode().split('id="journal"')[1]
    assert "Chặn thư, tên miền" in journal


def test_triage_through_the_page_plans_the_tasks(world, as_user, report):
    incident = report(org=world.department, user=world.dept_analyst, category="undetermined")
    client = as_user(world.dept_analyst)
    response = client.post(f"/incidents/{incident.pk}/triage/", {"triage-category": "ddos", "triage-severity": "high",
                                                                 "triage-tlp": "amber"})
    assert response.status_code == 302
    assert "coordinate-isps" in codes(incident) and "initial-assessment" not in codes(incident)


# --- The API ---------------------------------------------------------------------------------------------


def test_standard_tasks_over_the_api(world, api, report):
    incident = report(org=world.department, user=world.dept_analyst, category="data-leak")
    url = f"{URL}{incident.pk}/tasks/standard/"
    auditor, other, analyst = api(world.auditor), api(world.other_admin), api(world.dept_analyst)
    before = state()
    assert auditor.post(url, format="json").status_code == 403
    assert other.post(url, format="json").status_code == 404
    assert state() == before
    response = analyst.post(url, format="json")
    assert response.status_code == 201
    rows = {row["template_code"]: row for row in response.json()}
    assert rows["personal-data-notice"]["party"] == "reporter"
    assert rows["contain-access"]["party"] == "responder" and rows["contain-access"]["description"]
    again = analyst.post(url, format="json")
    assert again.status_code == 200 and again.json() == []
    listed = analyst.get(f"{URL}{incident.pk}/tasks/").json()
    assert {row["template_code"] for row in listed} == set(rows)


def test_standard_tasks_over_the_api_on_a_closed_incident(world, api, report):
    incident = report(reports_given=True)
    incident = walk(incident, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    incident.tasks.all().delete()
    response = api(world.analyst).post(f"{URL}{incident.pk}/tasks/standard/", format="json")
    assert response.status_code == 409 and response.json()["code"] == "closed"
    assert not incident.tasks.exists()

