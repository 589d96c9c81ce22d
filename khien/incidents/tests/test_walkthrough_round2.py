"""Defects of a second walk through the incident pages: an error said three times, deadline notices whose body
repeats their title, a closed incident offering what it refuses, and a number of people affected bounded only by the
database."""
import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone, translation
from django.utils.html import escape

from khien.core.errors import Refused
from khien.core.models import AuditEntry, Notification
from khien.incidents import jobs, notices, observables, services
from khien.incidents.models import (
    PEOPLE_AFFECTED_MAX,
    PEOPLE_AFFECTED_TOO_MANY,
    EventKind,
    Incident,
    IncidentEvent,
    Status,
    Task,
)
from khien.intel import services as intel_services
from khien.intel.models import StixObject, Tlp

from .conftest import walk
from .test_views import local_input, report_form

pytestmark = pytest.mark.django_db

GENERIC = "Chưa lưu dữ liệu nào"  # “Nothing was saved: correct what is shown in red.”, said in the form


@pytest.fixture
def feed(world):
    return intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                               acting_user=world.coordinator)


def _top(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- 1. An error is said once at the top (naming the field) and once at the field ---------------------------------


def test_a_refused_task_due_time_is_said_at_the_top_and_at_the_field_only(world, report, as_user):
    incident = report()
    client = as_user(world.analyst)
    past = timezone.now() - dt.timedelta(days=5)
    response = client.post(f"/incidents/{incident.pk}/tasks/", {"title": "Kiểm tra", "due_at": local_input(past)})
    assert response.status_code == 400
    error = response.context["task_form"].errors["due_at"][0]
    top = _top(response)
    assert len(top) == 1 and top[0].startswith("Chưa thêm được nhiệm vụ: Hạn: ") and error in top[0]
    page = response.content.decode()
    assert page.count(escape(error)) == 2  # the top message and the field, not a third time
    assert GENERIC not in page
    assert not Task.objects.filter(incident=incident, title="Kiểm tra").exists()


def test_a_task_edit_refused_is_said_once_at_the_top(world, report, as_user):
    incident = report()
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    client = as_user(world.analyst)
    prefix = f"t{task.pk.hex[:8]}"
    response = client.post(f"/incidents/{incident.pk}/tasks/{task.pk}/edit/",
                           {f"{prefix}-due_at": local_input(timezone.now() - dt.timedelta(days=400))})
    assert response.status_code == 400
    error = response.context["tasks"][0]["edit_form"].errors["due_at"][0]
    assert len(_top(response)) == 1 and "Hạn: " in _top(response)[0]
    page = response.content.decode()
    assert page.count(escape(error)) == 2 and GENERIC not in page


def test_a_refusal_of_a_form_is_said_once_not_again_in_the_form(world, report, feed, as_user):
    """A refusal that concerns no field (a value on a warning list) was said at the top, then again in the form
    under the generic banner."""
    incident = report(observables=[("ipv4", "10.3.19.97")], tlp="green")  # no stricter than the TLP:GREEN share
    observable = incident.observables.get()
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/observables/share/", {
        "share-observables": [str(observable.pk)], "share-tlp": "green", "share-collection": str(feed.pk)})
    assert response.status_code == 409
    message = observables.warning_listed_message(observables.warning_listed([observable]))
    page = response.content.decode()
    assert page.count(escape(message)) == 1 and GENERIC not in page
    assert len(_top(response)) == 1 and message in _top(response)[0]


def test_a_form_error_of_no_field_is_at_the_top_once(world, report, as_user):
    """The evidence form sent empty: its problem (no file, no note) is at the top of the page, where the page comes
    back, and not repeated under a generic banner in the form."""
    incident = report()
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/evidence/", {"note": "  "})
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count("Hãy đính kèm tệp hoặc viết ghi chú.") == 1 and GENERIC not in page
    assert len(_top(response)) == 1


def test_a_reopening_without_a_reason_names_the_field_once(world, report, as_user):
    incident = walk(report(), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED],
                    world.analyst)
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/transition/", {"status": "in_response"})
    assert response.status_code == 400
    top = _top(response)
    assert len(top) == 1 and "Lý do mở lại: " in top[0]
    error = top[0].split("Lý do mở lại: ", 1)[1]
    assert response.content.decode().count(escape(error)) == 2  # the top and the field
    assert Incident.objects.get(pk=incident.pk).status == Status.CLOSED


# --- 2. A deadline notice says more than its title --------------------------------------------------------------


T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


def test_a_deadline_soon_notice_does_not_repeat_its_title(world, report, settings, django_capture_on_commit_callbacks):
    settings.KHIEN_INCIDENT_DEADLINE_LEAD_HOURS = 2
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))  # triage due T0 + 4 h
    with django_capture_on_commit_callbacks(execute=True):
        jobs.check_deadlines(T0 + dt.timedelta(hours=2, minutes=30))
    note = Notification.objects.get(kind="incidents.deadline_soon", recipient=world.analyst)
    title, body = note.shown_title, note.shown_body
    assert incident.reference in title and title not in body
    lines = body.splitlines()
    assert lines[0] == incident.title  # what is due: the incident
    with translation.override("vi"):
        assert str(notices.TO_DO["sla:triage"]) in lines  # what to do
    sent = [m for m in mail.outbox if world.analyst.email in m.to]
    assert sent and sent[-1].body.count(title) == 1 and f"/incidents/{incident.pk}/" in sent[-1].body


def test_an_escalation_of_one_deadline_does_not_repeat_it(world, report):
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))
    jobs.check_deadlines(T0 + dt.timedelta(hours=5))  # the triage SLA missed
    note = Notification.objects.filter(kind="incidents.escalation", recipient=world.analyst).get()
    missed = note.shown_title.split(": ", 1)[1]  # “Escalation: SC-…: the triage SLA was missed …”
    assert incident.reference in missed and missed not in note.shown_body
    assert note.shown_body.splitlines()[0] == incident.title and len(note.shown_body.splitlines()) == 2


def test_several_deadlines_are_listed_with_what_to_do_once_each(world, report):
    # Detected 30 h before the report: the initial report was late (nothing left to do) and triage is missed.
    incident = report(now=T0, severity="critical", detected_at=T0 - dt.timedelta(hours=30))
    jobs.check_deadlines(T0 + dt.timedelta(hours=2))
    note = Notification.objects.filter(kind="incidents.escalation", recipient=world.analyst).get()
    body = note.shown_body.splitlines()
    assert body[0] == incident.title
    assert sum(1 for line in body if incident.reference in line) == 2  # each missed deadline, once
    with translation.override("vi"):
        assert body[-1] == str(notices.TO_DO["sla:triage"])
    assert not any(line == str(notices.TO_DO["stage"]) for line in body)


def test_a_responder_is_told_only_what_is_theirs_to_do(world, report):
    """Triage is the coordinator's and the reports the reporting organization's: the responder's copy of a
    deadline notice asked them to do both."""
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    jobs.check_deadlines(T0 + dt.timedelta(hours=5))  # the triage SLA missed
    ours = Notification.objects.get(kind="incidents.escalation", recipient=world.analyst)
    theirs = Notification.objects.get(kind="incidents.escalation", recipient=world.responder)
    with translation.override("vi"):
        triage = str(notices.TO_DO["sla:triage"])
    assert triage in ours.shown_body.splitlines() and triage not in theirs.shown_body
    assert theirs.shown_body.splitlines()[0] == incident.title


# --- 3. A closed incident: comments yes, sharing no ---------------------------------------------------------------


@pytest.fixture
def closed(world, report):
    incident = report(observables=[("domain", "c2.example-demo.vn")])
    return walk(incident, [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED],
                world.analyst)


def test_a_closed_incident_offers_comments_but_not_sharing(world, closed, feed, as_user):
    page = as_user(world.analyst).get(f"/incidents/{closed.pk}/").content.decode()
    assert 'id="share-form"' not in page and "observables/share/" not in page
    assert 'id="comment-form"' in page and 'id="closed-comments"' in page


def test_an_open_incident_offers_sharing_without_the_closed_note(world, report, feed, as_user):
    incident = report(observables=[("domain", "c2.example-demo.vn")])
    page = as_user(world.analyst).get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="share-form"' in page and 'id="comment-form"' in page and 'id="closed-comments"' not in page


def test_sharing_a_closed_incidents_observables_is_refused_everywhere(world, closed, feed, as_user, api):
    observable = closed.observables.get()
    page, client = as_user(world.analyst), api(world.analyst)  # (a token is audited when made)
    counts = StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()
    with pytest.raises(Refused) as refused:
        observables.do_share_observables(closed, [observable], tlp=Tlp.GREEN, collection=feed,
                                         acting_user=world.analyst)
    assert refused.value.code == "closed" and refused.value.status == 409
    response = page.post(f"/incidents/{closed.pk}/observables/share/", {
        "share-observables": [str(observable.pk)], "share-tlp": "green", "share-collection": str(feed.pk)})
    assert response.status_code == 409
    response = client.post(f"/api/incidents/{closed.pk}/observables/share/", {
        "observables": [str(observable.pk)], "tlp": "green", "collection": str(feed.pk)}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "closed"
    assert (StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()) == counts
    assert closed.observables.get().shared_at is None


def test_a_comment_on_a_closed_incident_is_added_on_the_page_and_the_api(world, closed, as_user, api):
    response = as_user(world.analyst).post(f"/incidents/{closed.pk}/comments/", {"text": "Đã chuyển hồ sơ cho cơ quan điều tra."})
    assert response.status_code == 302
    response = api(world.coordinator).post(f"/api/incidents/{closed.pk}/journal/",
                                           {"text": "Đề nghị báo cáo kết quả điều tra."}, format="json")
    assert response.status_code == 201
    texts = set(IncidentEvent.objects.filter(incident=closed, kind=EventKind.COMMENT).values_list("text", flat=True))
    assert texts == {"Đã chuyển hồ sơ cho cơ quan điều tra.", "Đề nghị báo cáo kết quả điều tra."}
    assert Incident.objects.get(pk=closed.pk).status == Status.CLOSED


# --- 4. The number of people affected has a realistic bound, said in words ---------------------------------------


TOO_MANY = PEOPLE_AFFECTED_MAX + 1


def test_the_report_form_bounds_the_people_affected(world, as_user, incident_content):
    client = as_user(world.analyst)
    for value in (str(TOO_MANY), "9223372036854775808", "99999999999999999999999"):
        before = Incident.objects.count()
        response = client.post("/incidents/new/", report_form(world, people_affected=value))
        assert response.status_code == 400, value
        page = response.content.decode()
        with translation.override("vi"):
            assert escape(str(PEOPLE_AFFECTED_TOO_MANY)) in page
        assert "9223372036854775807" not in page and "2147483647" not in page
        assert Incident.objects.count() == before
    page = client.get("/incidents/new/").content.decode()
    assert f'max="{PEOPLE_AFFECTED_MAX}"' in page
    response = client.post("/incidents/new/", report_form(world, people_affected=str(PEOPLE_AFFECTED_MAX)))
    assert response.status_code == 302
    assert Incident.objects.get(title=report_form(world)["title"]).people_affected == PEOPLE_AFFECTED_MAX


def test_the_api_bounds_the_people_affected(world, api, incident_content):
    from .test_api import body

    client = api(world.analyst)
    for value in (TOO_MANY, 9223372036854775807, 10 ** 30):
        before = Incident.objects.count()
        response = client.post("/api/incidents/", body(people_affected=value), format="json")
        assert response.status_code == 400, value
        with translation.override("vi"):
            assert response.json()["people_affected"] == [str(PEOPLE_AFFECTED_TOO_MANY)]
        assert Incident.objects.count() == before
    assert client.post("/api/incidents/", body(people_affected=-1), format="json").status_code == 400
    assert client.post("/api/incidents/", body(people_affected=PEOPLE_AFFECTED_MAX), format="json").status_code == 201


def test_the_detailed_notification_bounds_the_people_affected(world, report, as_user, api):
    incident = report()
    client = as_user(world.analyst)
    response = client.post(f"/incidents/{incident.pk}/stages/notification/", {
        "stage-services_disrupted": "Thư điện tử", "stage-people_affected": str(TOO_MANY)})
    assert response.status_code == 400
    with translation.override("vi"):
        assert escape(str(PEOPLE_AFFECTED_TOO_MANY)) in response.content.decode()
    response = api(world.analyst).post(f"/api/incidents/{incident.pk}/stage/", {
        "stage": "notification", "services_disrupted": "Thư điện tử", "people_affected": TOO_MANY}, format="json")
    assert response.status_code == 400 and "people_affected" in response.json()
    # The service refuses it too (importers and the CLI go through it), with the same words.
    with pytest.raises(Exception) as refused:
        services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử",
                                                            "people_affected": TOO_MANY}, acting_user=world.analyst)
    with translation.override("vi"):
        assert refused.value.message_dict["people_affected"] == [str(PEOPLE_AFFECTED_TOO_MANY)]
    assert Incident.objects.get(pk=incident.pk).notified_at is None
