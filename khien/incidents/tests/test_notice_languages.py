"""Incident notifications read in their reader's language, whoever acted and in whichever language: they are kept
as texts (`core.texts.Text`) and written again in the reader's language on the notifications page and in the API
(Accept-Language), and e-mailed in the language the person chose (`User.language`). Names the content files give in
both languages (organizations, severities, report stages, standard tasks) follow the reader too; what people wrote
(the incident's title, a reason) is shown as written."""
import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from khien.core.models import Notification
from khien.incidents import deadlines, jobs, notices, services
from khien.incidents.models import EventKind, IncidentEvent, Status, Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_restored():
    """The test client's requests (a switch to English) activate their language in this thread: the next tests
    start in the language they had."""
    with translation.override(translation.get_language()):
        yield

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
TITLE = "Mã độc trên máy chủ thư điện tử"  # the report's title (fixture `report`): as written in both languages


def _who(user) -> str:
    return user.full_name or user.email


def _when(value) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")  # the date first, as the pages write it


def _read(client, api, user, kind) -> dict:
    """The person's latest notification of `kind` as they read it: the page in Vietnamese (the default), the API in
    each language, then the page after switching to English; and as stored."""
    notice = Notification.objects.filter(recipient=user, kind=kind).order_by("-created_at").first()
    assert notice is not None, f"{user.email} has no {kind} notification"
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "vi", "next": "/"})  # as a second reading may follow a first
    read = {"page_vi": client.get(reverse("core:notifications")).content.decode()}
    for language in ("vi", "en"):
        [item] = [n for n in api(user).get("/api/notifications/", HTTP_ACCEPT_LANGUAGE=language).json()["results"]
                  if n["id"] == str(notice.pk)]
        read[f"api_{language}"] = (item["title"], item["body"])
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    read["page_en"] = client.get(reverse("core:notifications")).content.decode()
    read["stored"] = (notice.title, notice.body)
    return read


def _assert_reads(read, vi: tuple[str, str], en: tuple[str, str]):
    assert read["api_vi"] == vi
    assert read["api_en"] == en
    assert read["stored"] == vi  # stored (and e-mailed by default) in the platform's language
    for page, shown, other in (("page_vi", vi, en), ("page_en", en, vi)):
        assert escape(shown[0]) in read[page] and escape(shown[1]) in read[page]
        assert escape(other[0]) not in read[page]


def test_an_assignment_made_in_english_reads_in_each_readers_language(world, report, client, api):
    incident = report(severity="high")
    with translation.override("en"):  # the coordinator reads Khiên in English
        services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    ref = incident.reference
    # With when the triage and the containment are due (new texts: asserted in English, the lead compiles the
    # catalogue; the Vietnamese reading starts the same).
    triage = _when(deadlines.incident_sla_due_at(incident, "triage"))
    contain = _when(deadlines.incident_sla_due_at(incident, "contain"))
    read = _read(client, api, world.responder, "incidents.assigned")
    assert read["api_en"] == (f"{ref} assigned to your organization: {TITLE}",
                              "Severity: High. Reporting organization: Organization MIN.\n"
                              f"Triage is due by {triage}.\nContainment is due by {contain}.")
    assert read["api_vi"][0] == f"{ref} được giao cho tổ chức của bạn: {TITLE}"
    assert read["api_vi"][1].startswith(f"Mức độ nghiêm trọng: Cao. Tổ chức báo cáo: Tổ chức MIN.\n"
                                        f"Hạn phân loại: {triage}.\n")
    assert read["stored"] == read["api_vi"]
    # The reporting organization's side: the responder organization's name in the reader's language.
    read = _read(client, api, world.analyst, "incidents.responder_assigned")
    assert read["api_vi"][0] == f"{ref}: Tổ chức RESP được phân công ứng cứu"
    assert read["api_en"] == (f"{ref}: Organization RESP assigned as responder",
                              f"{TITLE}\nAssigned by {_who(world.coordinator)}.")


def test_a_status_change_reads_in_each_readers_language(world, report, client, api):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    with translation.override("en"):
        services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, reason="Đã xác minh")
    who = _who(world.analyst)  # who took the step, as the other notices say it
    _assert_reads(_read(client, api, world.responder, "incidents.status"),
                  (f"{incident.reference}: Mới → Đã phân loại", f"{TITLE}\nNgười thay đổi: {who}.\nĐã xác minh"),
                  (f"{incident.reference}: New → Triaged", f"{TITLE}\nChanged by {who}.\nĐã xác minh"))


def test_a_task_given_reads_in_each_readers_language(world, report, client, api):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    due = timezone.now() + dt.timedelta(days=1)
    with translation.override("en"):
        services.do_add_task(incident, {"title": "Cô lập máy chủ", "owner": world.responder, "due_at": due},
                             acting_user=world.analyst)
    ref, who = incident.reference, _who(world.analyst)
    _assert_reads(_read(client, api, world.responder, "incidents.task"),
                  (f"{ref}: việc giao cho bạn — Cô lập máy chủ", f"{TITLE}\nNgười gửi: {who}.\nHạn: {_when(due)}."),
                  (f"{ref}: a task for you — Cô lập máy chủ", f"{TITLE}\nGiven by {who}.\nDue at {_when(due)}."))


def test_a_standard_task_given_names_the_task_in_the_readers_language(world, report, api):
    """A standard task still as the task file wrote it is named in each language; edited, as written."""
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_add_standard_tasks(incident, acting_user=world.analyst)
    task = Task.objects.get(incident=incident, template_code="report-ncsc")
    services.do_update_task(task, {"owner": world.admin}, acting_user=world.analyst)
    [item] = [n for n in api(world.admin).get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
              if n["kind"] == "incidents.task"]
    assert item["title"] == (f"{incident.reference}: a task for you — "
                             "Send the detailed incident notification to the national coordinator (NCSC)")
    [item] = [n for n in api(world.admin).get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="vi").json()["results"]
              if n["kind"] == "incidents.task"]
    assert item["title"].endswith("— Gửi thông báo chi tiết sự cố cho Cơ quan điều phối quốc gia (NCSC)")


def test_a_raised_severity_reads_in_each_readers_language_and_is_mailed_in_the_chosen_one(
        world, report, client, api, django_capture_on_commit_callbacks):
    incident = report(severity="medium")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_triage(incident, {}, acting_user=world.analyst)
    # Contained: no deadline left for the raise to move (the moved deadlines are test_workflow_notices.py's).
    services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst)
    services.do_transition(incident, Status.CONTAINED, acting_user=world.analyst)
    world.responder.language = "en"  # chose English with the switch
    world.responder.save(update_fields=["language"])
    mail.outbox.clear()
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        services.do_reclassify(incident, {"severity": "critical"}, acting_user=world.coordinator,
                               reason="Lây lan sang 40 máy")
    ref, who = incident.reference, _who(world.coordinator)
    vi = (f"{ref}: mức độ nâng lên Nghiêm trọng (trước đó: Trung bình)",
          f"{TITLE}\nNgười nâng: {who}.\nLây lan sang 40 máy")
    en = (f"{ref}: severity raised to Critical (was Medium)", f"{TITLE}\nRaised by {who}.\nLây lan sang 40 máy")
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address[world.responder.email].subject == f"[Khiên] {en[0]}"
    assert en[1] in by_address[world.responder.email].body
    assert by_address[world.admin.email].subject == f"[Khiên] {vi[0]}"  # chose nothing: the platform's language
    assert vi[1] in by_address[world.admin.email].body
    _assert_reads(_read(client, api, world.analyst, "incidents.severity"), vi, en)


def test_deadline_notices_read_in_each_readers_language_and_are_mailed_in_the_chosen_one(
        world, report, client, api, settings, django_capture_on_commit_callbacks):
    settings.KHIEN_INCIDENT_DEADLINE_LEAD_HOURS = 2
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))  # triage due T0 + 4 h
    ref, due = incident.reference, _when(T0 + dt.timedelta(hours=4))
    world.analyst.language = "en"
    world.analyst.save(update_fields=["language"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.check_deadlines(T0 + dt.timedelta(hours=2, minutes=30))  # due soon
    soon_vi = f"{ref}: thời hạn phân loại là {due}."
    soon_en = f"{ref}: triage is due by {due}."
    # The body does not repeat the title: the incident, and what to do (the e-mail adds the link).
    to_do = {}
    for language in ("vi", "en"):
        with translation.override(language):
            to_do[language] = f"{TITLE}\n{notices.TO_DO['sla:triage']}"
    _assert_reads(_read(client, api, world.admin, "incidents.deadline_soon"), (soon_vi, to_do["vi"]),
                  (soon_en, to_do["en"]))
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address[world.analyst.email].subject == f"[Khiên] {soon_en}"
    assert by_address[world.admin.email].subject == f"[Khiên] {soon_vi}"

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.check_deadlines(T0 + dt.timedelta(hours=5))  # missed: escalated
    missed_vi = f"{ref}: đã không đáp ứng SLA phân loại (hạn {due})."
    missed_en = f"{ref}: the triage SLA was missed (due {due})."
    _assert_reads(_read(client, api, world.admin, "incidents.escalation"),
                  (f"Chuyển cấp: {missed_vi}", to_do["vi"]), (f"Escalation: {missed_en}", to_do["en"]))
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects[world.analyst.email] == f"[Khiên] Escalation: {missed_en}"
    assert subjects[world.coordinator.email] == f"[Khiên] Chuyển cấp: {missed_vi}"
    # The journal's escalation line stays in the platform's language.
    assert IncidentEvent.objects.get(incident=incident, kind=EventKind.ESCALATION).text == missed_vi


def test_a_report_stage_overdue_names_the_stage_in_the_readers_language(world, report, api):
    late = report(now=T0, severity="low", detected_at=T0 - dt.timedelta(hours=30))
    services.do_transition(late, Status.TRIAGED, acting_user=world.analyst, now=T0 + dt.timedelta(minutes=10))
    jobs.check_deadlines(T0 + dt.timedelta(hours=43))  # the initial report was late, the detailed one is overdue
    notice = Notification.objects.filter(recipient=world.admin, kind="incidents.escalation").latest("created_at")
    titles = {language: [n for n in api(world.admin).get("/api/notifications/", HTTP_ACCEPT_LANGUAGE=language)
                         .json()["results"] if n["id"] == str(notice.pk)][0] for language in ("vi", "en")}
    assert f"{late.reference}: the report “Detailed notification” is overdue" in titles["en"]["body"]
    assert f"{late.reference}: the initial report was given late" in titles["en"]["body"]
    assert "“Thông báo chi tiết” đã quá hạn" in titles["vi"]["body"]
    assert titles["en"]["title"] == f"Escalation: {late.reference} missed 2 deadlines"
