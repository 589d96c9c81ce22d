"""Defects found walking through the incident pages as their (Vietnamese) users do: sharing observables as STIX
(warning lists, duplicates, the text written into the indicator), the standard tasks that belong after resolving or
that a platform action does, the words of the content files, the audit log's labels, the task form's error, the
responder's "To do", and an incident named in a drop-down."""
import datetime as dt
import re

import pytest
from django.utils import timezone, translation

from khien.core import audit
from khien.core.errors import Refused
from khien.core.models import AuditEntry
from khien.incidents import content, journal, observables, services
from khien.incidents.models import (
    CustodyEvent,
    EventKind,
    Evidence,
    Incident,
    IncidentEvent,
    Observable,
    ResponderAssignment,
    Status,
    Task,
    TaskStatus,
)
from khien.incidents.worklist import waiting_work
from khien.intel import services as intel_services
from khien.intel.models import StixObject, Tlp

from .conftest import walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(world):
    return intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                               acting_user=world.coordinator)


def _indicators(value):
    return StixObject.objects.filter(stix_type="indicator", indicator_values__value=value)


# --- 1. Sharing observables as STIX ---------------------------------------------------------------------------


def test_a_warning_listed_value_is_not_shared_unless_confirmed(world, report, feed):
    incident = report(observables=[("ipv4", "10.3.19.97"), ("domain", "c2.example-demo.vn")], tlp="green")
    chosen = list(incident.observables.all())
    counts = StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()
    with translation.override("en"), pytest.raises(Refused) as refused:
        observables.do_share_observables(incident, chosen, tlp=Tlp.GREEN, collection=feed, acting_user=world.analyst)
    assert refused.value.code == "warning_listed" and refused.value.status == 409
    assert "10.3.19.97" in refused.value.message and "c2.example-demo.vn" not in refused.value.message
    assert "RFC 1918" in refused.value.message  # names the list, as people read it
    assert (StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()) == counts
    assert not incident.observables.filter(shared_at__isnull=False).exists()
    # Confirmed: shared, and the journal keeps that it was confirmed.
    result = observables.do_share_observables(incident, chosen, tlp=Tlp.GREEN, collection=feed,
                                              acting_user=world.analyst, confirm_warninglisted=True)
    assert result.total == 2 and _indicators("10.3.19.97").count() == 1
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.OBSERVABLE, data__action="shared")
    assert event.data["warning_listed_confirmed"] is True


def test_a_warning_listed_value_through_the_page_and_the_api(world, report, feed, as_user, api):
    incident = report(observables=[("ipv4", "10.3.19.97")], tlp="green")  # no stricter than the TLP:GREEN share
    observable = incident.observables.get()
    client = as_user(world.analyst)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'name="share-confirm_warninglisted"' in page  # offered: the incident has a warning-listed value
    data = {"share-observables": [str(observable.pk)], "share-tlp": "green", "share-collection": str(feed.pk)}
    response = client.post(f"/incidents/{incident.pk}/observables/share/", data)
    assert response.status_code == 409
    assert "10.3.19.97" in response.content.decode() and not _indicators("10.3.19.97").exists()
    response = api(world.analyst).post(f"/api/incidents/{incident.pk}/observables/share/", {
        "observables": [str(observable.pk)], "tlp": "green", "collection": str(feed.pk)}, format="json")
    assert response.status_code == 409 and not _indicators("10.3.19.97").exists()
    response = client.post(f"/incidents/{incident.pk}/observables/share/",
                           {**data, "share-confirm_warninglisted": "on"})
    assert response.status_code == 302 and _indicators("10.3.19.97").count() == 1


def test_sharing_again_does_not_duplicate_the_indicator(world, report, feed, as_user, api):
    incident = report(observables=[("domain", "c2.example-demo.vn")])
    observable = incident.observables.get()
    first = observables.do_share_observables(incident, [observable], tlp=Tlp.AMBER, collection=feed,
                                             acting_user=world.analyst)
    assert first.total == 1
    again = observables.do_share_observables(incident, [observable], tlp=Tlp.AMBER, collection=feed,
                                             acting_user=world.admin)  # same organization, another person
    assert again.total == 0 and [o.pk for o in again.already_shared] == [observable.pk]
    assert _indicators("c2.example-demo.vn").count() == 1
    # The page says so; the API shares nothing new either.
    client = as_user(world.analyst)
    response = client.post(f"/incidents/{incident.pk}/observables/share/", {
        "share-observables": [str(observable.pk)], "share-tlp": "amber", "share-collection": str(feed.pk)},
        follow=True)
    assert "c2.example-demo.vn" in " ".join(str(m) for m in response.context["messages"])
    response = api(world.analyst).post(f"/api/incidents/{incident.pk}/observables/share/", {
        "observables": [str(observable.pk)], "tlp": "amber", "collection": str(feed.pk)}, format="json")
    # Nothing shared, nothing created: 200, the value listed as skipped with why.
    assert response.status_code == 200 and _indicators("c2.example-demo.vn").count() == 1
    assert response.json()["shared"] == []
    assert [(o["value"], o["reason"]) for o in response.json()["skipped"]] == [("c2.example-demo.vn", "already_shared")]
    # Once the indicator is revoked, sharing it again makes a new one.
    StixObject.objects.filter(stix_id=Observable.objects.get(pk=observable.pk).shared_stix_id).update(revoked=True)
    assert observables.do_share_observables(incident, [observable], tlp=Tlp.AMBER, collection=feed,
                                            acting_user=world.analyst).total == 1


def test_the_indicator_text_is_vietnamese_then_english(world, report, feed):
    incident = report(observables=[("domain", "c2.example-demo.vn")], tlp="green")  # no stricter than the TLP:GREEN share
    with translation.override("en"):
        observables.do_share_observables(incident, list(incident.observables.all()), tlp=Tlp.GREEN,
                                         collection=feed, acting_user=world.analyst)
    description = _indicators("c2.example-demo.vn").get().data["description"]
    assert description.startswith(f"Ghi nhận trong sự cố {incident.reference}")
    assert description.index("Ghi nhận") < description.index(f"Observed in incident {incident.reference}")


# --- 2. Standard tasks after resolving, and done by a platform action -----------------------------------------


def test_tasks_that_belong_after_resolving_do_not_hold_it_up(world, report):
    incident = report()
    incident = walk(incident, [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED], world.analyst)
    services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư", "people_affected": 0},
                             acting_user=world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    for task in Task.objects.filter(incident=incident).exclude(template_code="lessons-learned"):
        if task.status in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS):
            services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.analyst)
    lessons = Task.objects.get(incident=incident, template_code="lessons-learned")
    assert lessons.status == TaskStatus.OPEN
    assert services.open_tasks_problem(incident, Status.RESOLVED) is None
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst)  # not refused
    lessons.refresh_from_db()
    assert incident.status == Status.RESOLVED and lessons.status == TaskStatus.OPEN  # left open, not cancelled
    # Closing still asks about it… and the final report (given once resolved) does it.
    assert services.open_tasks_problem(incident, Status.CLOSED) is not None
    services.do_submit_stage(incident, "final", {"root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"},
                             acting_user=world.analyst)
    lessons.refresh_from_db()
    assert lessons.status == TaskStatus.DONE
    services.do_transition(incident, Status.CLOSED, acting_user=world.analyst)


def test_a_platform_action_marks_its_standard_task_done(world, report, feed):
    incident = walk(report(observables=[("domain", "c2.example-demo.vn")], tlp="green"), [Status.TRIAGED],
                    world.analyst)
    tasks = {t.template_code: t for t in Task.objects.filter(incident=incident)}
    assert {"report-ncsc", "assign-responders", "share-iocs"} <= set(tasks)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư", "people_affected": 0},
                             acting_user=world.analyst)
    observables.do_share_observables(incident, list(incident.observables.all()), tlp=Tlp.GREEN, collection=feed,
                                     acting_user=world.analyst)
    for code, because in (("assign-responders", "responder_assigned"), ("report-ncsc", "stage:notification"),
                          ("share-iocs", "observables_shared")):
        task = Task.objects.get(pk=tasks[code].pk)
        assert task.status == TaskStatus.DONE, code
        event = IncidentEvent.objects.get(incident=incident, kind=EventKind.TASK, data__task_id=str(task.pk),
                                          data__status=TaskStatus.DONE)
        assert event.data["because"] == because
        assert AuditEntry.objects.filter(object_id=str(task.pk), action="update").exists()  # audited
    with translation.override("en"):
        event = IncidentEvent.objects.get(incident=incident, kind=EventKind.TASK, data__because="stage:notification")
        assert "done on the platform" in journal.detail(event, {"notification": "Detailed notification"})
        assert "Detailed notification" in journal.detail(event, {"notification": "Detailed notification"})
    # Another assignment later finds nothing open to do again.
    assert services._complete_standard_tasks(incident, "responder_assigned", world.coordinator) == []


def test_the_task_file_is_checked_for_after_and_done_when(incident_content):
    import yaml

    taxonomy = yaml.safe_load((content.DATA_DIR / "rsit.yaml").read_bytes())
    policy = yaml.safe_load((content.DATA_DIR / "reporting.yaml").read_bytes())
    data = yaml.safe_load((content.DATA_DIR / "tasks.yaml").read_bytes())
    content.check_task_templates(data, taxonomy=taxonomy, policy=policy)
    assert data["tasks"]["lessons-learned"]["after"] == "resolved"
    for key, bad in (("after", "closed"), ("done_when", "stage:nonexistent"), ("done_when", "clicked")):
        broken = yaml.safe_load((content.DATA_DIR / "tasks.yaml").read_bytes())
        broken["tasks"]["report-ncsc"][key] = bad
        with pytest.raises(content.ContentError):
            content.check_task_templates(broken, taxonomy=taxonomy, policy=policy)


# --- 3. Words of the content files -------------------------------------------------------------------------


def test_content_words_match_the_page(incident_content):
    policy = (content.DATA_DIR / "reporting.yaml").read_text(encoding="utf-8")
    tasks = (content.DATA_DIR / "tasks.yaml").read_text(encoding="utf-8")
    assert "(cảnh báo sớm)" not in policy  # the early warnings are a module of their own
    assert "Chỉ dấu kỹ thuật" not in tasks and "chỉ dấu" not in tasks.lower()
    assert "mục Dấu hiệu kỹ thuật" in tasks


# --- 4. The audit log's labels, and the custody step's text -----------------------------------------------


def test_every_incident_model_field_has_a_label():
    """A field without its own verbose_name shows its English attribute name (“Assigned by”, “Deadline notices”)
    in the audit log's before/after, whatever the reader's language."""
    from django.apps import apps

    missing = []
    for model in apps.get_app_config("incidents").get_models():
        for field in model._meta.concrete_fields:
            if field.name == "id":
                continue
            if isinstance(field.verbose_name, str) and field.verbose_name == field.name.replace("_", " "):
                missing.append(f"{model.__name__}.{field.name}")
    assert missing == []


def test_the_audit_log_labels_an_assignment_through_the_catalogue(world, report):
    incident = report()
    assignment = services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    entry = AuditEntry.objects.filter(object_id=str(assignment.pk)).latest("seq")
    with translation.override("en"):
        labels = {row["field"]: str(row["label"]) for row in audit.changes(entry, world.coordinator)}
    assert labels["assigned_by_id"] == "Assigned by" and labels["at"] == "Assigned at"
    assert not isinstance(ResponderAssignment._meta.get_field("assigned_by").verbose_name, str)  # translated


def test_the_audit_log_names_severity_and_category_in_the_incidents_own_policy_and_taxonomy(world, report):
    """Severity and category are codes whose labels live in the policy and taxonomy versions, not in field
    choices: the audit log read them as “critical”, “ddos”."""
    incident = report()
    entry = AuditEntry.objects.filter(object_id=str(incident.pk)).earliest("seq")
    for language in ("vi", "en"):
        with translation.override(language):
            rows = {row["field"]: row for row in audit.changes(entry, world.coordinator)}
            assert rows["severity"]["after_name"] == incident.severity_label()
            assert rows["category"]["after_name"] == incident.category_label()
            assert rows["severity"]["after"] == incident.severity  # the code still shown beside it
    with translation.override("vi"):
        assert rows["severity"]["after_name"] != incident.severity
    # A code the version does not know (an edited log, an older file) reads as itself: no label invented.
    assert Incident.audit_value_label("category", "no-such-type", {"taxonomy_id": incident.taxonomy_id}) is None
    assert Incident.audit_value_label("title", "x", {}) is None


def test_a_custody_step_reads_in_vietnam_time_and_the_readers_language(world, report):
    incident = report()
    evidence = services.do_add_evidence(incident, acting_user=world.analyst, note="Ghi chú")
    at = dt.datetime(2026, 12, 6, 1, 2, tzinfo=dt.timezone.utc)
    step = CustodyEvent(evidence=evidence, action="transferred", at=at)
    with translation.override("en"):
        english = str(step)
    with translation.override("vi"):
        vietnamese = str(step)
    assert "06/12/2026 08:02" in english and "06/12/2026 08:02" in vietnamese  # Asia/Ho_Chi_Minh
    assert "Transferred" in english and "transferred" not in vietnamese
    assert not re.search(r"\d{4}-\d\d-\d\d", english)
    assert isinstance(evidence, Evidence)


# --- 5. A failed task form says so at the top of the page ------------------------------------------------------


def test_a_refused_task_says_so_in_a_banner(world, report, as_user):
    incident = report()
    client = as_user(world.analyst)
    past = timezone.localtime(timezone.now() - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/incidents/{incident.pk}/tasks/", {"title": "Kiểm tra", "due_at": past})
    assert response.status_code == 400
    banner = " ".join(str(m) for m in response.context["messages"])
    assert banner  # a message at the top of the page, naming the problem
    assert "id=\"task-form\"" in response.content.decode()
    assert not Task.objects.filter(incident=incident, title="Kiểm tra").exists()


# --- 6. The responder's "To do" ------------------------------------------------------------------------------


def test_an_incident_assigned_to_the_responders_organization_waits_for_it(world, report, as_user):
    incident = report(title="Sự cố nghiêm trọng giao cho RESP", severity="critical")
    other = report(title="Sự cố khác không giao")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    found = [i for i in waiting_work(world.responder) if "awaiting_us=1" in i.url]
    assert found and found[0].count == 1
    page = as_user(world.responder).get(found[0].url).content.decode()
    assert "Sự cố nghiêm trọng giao cho RESP" in page and other.title not in page
    # Once the response has started, it no longer waits.
    incident = walk(incident, [Status.TRIAGED], world.analyst)
    services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.responder)
    assert [i for i in waiting_work(world.responder) if "awaiting_us=1" in i.url][0].count == 0
    # Nobody else counts it.
    assert [i for i in waiting_work(world.analyst) if "awaiting_us=1" in i.url][0].count == 0


# --- 7. An incident in a drop-down ------------------------------------------------------------------------------


def test_an_incident_in_a_drop_down_is_never_cut_inside_a_word(world, report):
    title = "Tấn công từ chối dịch vụ phân tán vào cổng thông tin điện tử của Bộ trong thời gian diễn ra kỳ thi " \
            "tuyển sinh quốc gia làm gián đoạn dịch vụ tra cứu điểm thi"
    incident = report(title=title)
    label = incident.choice_label(limit=80)
    assert label.startswith(f"{incident.reference} — ")
    shown = label.split(" — ", 1)[1].rsplit(" (", 1)[0]
    assert shown.endswith("…") and len(shown) <= 80
    assert title.startswith(shown[:-1]) and title[len(shown) - 1] == " "  # ends at a word boundary
    from khien.incidents.models import shorten

    assert shorten("ngắn", 80) == "ngắn"
    assert isinstance(incident, Incident)
