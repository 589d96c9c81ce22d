"""The 24-hour incident path as a hospital's on-call officer (phone) and a response company's responder walk it:
who seals evidence, the reporting organization's tasks nobody holds, who gives the final report, the late-report
field, the PDF, the timeline's people, the report form on a phone and the demo's late report."""
import datetime as dt
import io

import pytest
from django.conf import settings
from django.utils import timezone, translation

from khien.conftest import _org, _user
from khien.core.errors import Forbidden
from khien.core.models import Notification
from khien.core.roles import Role
from khien.incidents import services
from khien.incidents.models import Status, Task, TaskParty, TaskStatus
from khien.incidents.worklist import waiting_work

from .conftest import walk

pytestmark = pytest.mark.django_db

SHA = "ab" * 32
IMAGE = {"name": "disk-HIS-01.E01", "sha256": SHA, "size": 165568, "location": "Kho IR Lạc Hân"}


def english(as_user, user):
    """The client of `user`, who chose English (new texts are asserted in English: the lead compiles the catalogue)."""
    client = as_user(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


# 1. Whoever holds the evidence seals it: the reporting side, and the organization that added the item.

def test_the_responder_seals_the_evidence_her_organization_added(world, incident, as_user):
    image = services.do_add_external_evidence(incident, acting_user=world.responder, **IMAGE)
    assert services.may_seal(world.responder, image)
    page = as_user(world.responder).get(f"/incidents/{incident.pk}/").content.decode()
    assert f'/evidence/{image.pk}/seal/' in page
    assert services.do_seal_evidence(image, acting_user=world.responder).is_sealed


def test_others_may_not_seal_and_the_page_says_who_may(world, incident, as_user):
    note = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="Nhật ký tường lửa")
    image = services.do_add_external_evidence(incident, acting_user=world.responder, **IMAGE)
    other_team = _org("RESP2", "responder")
    other = _user("responder@resp2.test.vn", other_team, Role.RESPONDER)
    services.do_assign_responder(incident, other_team, acting_user=world.coordinator)
    # The responder does not seal what the reporting side added; another team does not seal hers.
    assert not services.may_seal(world.responder, note)
    assert not services.may_seal(other, image)
    assert not services.may_seal(world.auditor, image)  # an auditor of the ministry above reads only
    assert services.may_seal(world.dept_analyst, image) and services.may_seal(world.coordinator, image)
    for user, item in ((world.responder, note), (other, image), (world.auditor, image)):
        with pytest.raises(Forbidden):
            services.do_seal_evidence(item, acting_user=user)
    page = english(as_user, other).get(f"/incidents/{incident.pk}/").content.decode()
    assert f'/evidence/{image.pk}/seal/' not in page
    assert ("Only the reporting organization (Organization MIN-D1), the national coordinator or Organization RESP "
            "(the organization that added this evidence) can seal this evidence.") in page
    page = english(as_user, world.responder).get(f"/incidents/{incident.pk}/").content.decode()
    assert ("Only the reporting organization (Organization MIN-D1) or the national coordinator can seal this "
            "evidence.") in page


# 2. The reporting organization's tasks that nobody holds reach its members.

def test_the_reporting_organizations_unowned_tasks_reach_its_members(world, incident):
    Notification.objects.all().delete()
    walk(incident, [Status.TRIAGED], world.coordinator)
    ours = Task.objects.filter(incident=incident, party=TaskParty.REPORTER, owner=None)
    assert ours.exists()
    told = Notification.objects.filter(recipient=world.dept_analyst, kind="incidents.tasks_for_reporter")
    assert told.count() == 1  # one notice listing them, not one per task
    body = told.get().shown_body
    first = ours.order_by("due_at").first()
    assert first.title[:40] in body
    with translation.override("vi"):
        [item] = [i for i in waiting_work(world.dept_analyst) if "reporter_open=1" in i.url]
    assert item.count == ours.count()
    assert item.label.startswith(f"Tổ chức của bạn có {ours.count()} việc chưa ai phụ trách, hạn sớm nhất ")
    # The assigned responder's line counts its own organization's tasks, not the reporting organization's.
    [theirs] = [i for i in waiting_work(world.responder) if "reporter_open=1" in i.url]
    assert theirs.count == Task.objects.filter(incident=incident, party=TaskParty.RESPONDER, owner=None).count()
    assert not [i for i in waiting_work(world.auditor) if "reporter_open=1" in i.url]
    assert not [i for i in waiting_work(world.other_admin) if "reporter_open=1" in i.url]


def test_the_task_list_shows_exactly_those(world, incident, as_user):
    walk(incident, [Status.TRIAGED], world.coordinator)
    Task.objects.filter(incident=incident, party=TaskParty.REPORTER).update(status=TaskStatus.OPEN)
    one = Task.objects.filter(incident=incident, party=TaskParty.REPORTER).first()
    one.owner = world.dept_analyst
    one.save()
    page = as_user(world.dept_analyst).get("/incidents/tasks/?reporter_open=1")
    shown = {row["task"].pk for row in page.context["rows"]}
    assert shown == set(Task.objects.filter(incident=incident, party=TaskParty.REPORTER, owner=None)
                        .values_list("pk", flat=True))


# 3. The final report before closing: said to whoever can give it.

def test_the_responder_is_told_the_reporting_organization_gives_the_final_report(world, incident, as_user):
    incident = walk(incident, [Status.TRIAGED], world.coordinator)
    incident = services.do_submit_stage(incident, "notification", {"services_disrupted": "HIS", "people_affected": 0},
                                        acting_user=world.dept_analyst)
    for status in (Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED):
        incident = services.do_transition(incident, status, acting_user=world.responder, cancel_open_tasks=True)
    page = as_user(world.responder).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Hãy gửi" not in page
    page = english(as_user, world.responder).get(f"/incidents/{incident.pk}/").content.decode()
    assert "The reporting organization must give “Final report” before the incident is closed." in page
    page = english(as_user, world.dept_analyst).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Give “Final report” before closing the incident." in page


# 4 and 10. The late-reason field keeps what is typed; less than an hour left is said.

def test_the_late_field_keeps_the_typed_reason_across_requests(world, incident_content, as_user):
    page = as_user(world.dept_analyst).get("/incidents/new/").content.decode()
    assert 'hx-sync="this:replace"' in page
    late = timezone.localtime(timezone.now() - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")
    answer = as_user(world.dept_analyst).get("/incidents/new/late/", {"detected_at": late}).content.decode()
    assert 'hx-preserve' in answer and 'id="id_late_reason"' in answer


def test_less_than_an_hour_left_is_said(world, incident_content, as_user):
    detected = timezone.localtime(timezone.now() - dt.timedelta(hours=23, minutes=50))
    soon = detected.strftime("%Y-%m-%dT%H:%M")
    client = english(as_user, world.dept_analyst)
    answer = client.get("/incidents/new/late/", {"detected_at": soon}).content.decode()
    due = (detected.replace(second=0, microsecond=0) + dt.timedelta(hours=24)).strftime("%d/%m/%Y %H:%M")
    assert "minutes left: the initial report is due at " + due in answer
    for hours in (2, 30):  # early: nothing to say; late: the late warning instead
        early = timezone.localtime(timezone.now() - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
        answer = client.get("/incidents/new/late/", {"detected_at": early}).content.decode()
        assert "left:" not in answer


# 5. The PDF names the person and prints sizes as the page does.

def test_the_pdf_names_the_person_and_writes_sizes_readably(world, incident):
    from pypdf import PdfReader

    from khien.incidents import exports
    if not exports.pdf_available():
        pytest.skip("no PDF fonts")
    services.do_add_external_evidence(incident, acting_user=world.responder, **IMAGE)
    world.dept_analyst.full_name = "Nguyễn Văn An"
    world.dept_analyst.save()
    content = exports.incident_pdf(incident, world.dept_analyst, language="vi")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "bởi Nguyễn Văn An" in text and "analyst@d1.test.vn" not in text.split("\n")[2]
    # Decimal units, as disk makers and courts read them (`evidence.size_label`), and the exact count of bytes.
    assert "165568 B" not in text and "165,6 kB" in text and "165.568" in text


# 6. The timeline's milestones name who took the step.

def test_the_timeline_names_who_took_each_step(world, incident, as_user):
    walk(incident, [Status.TRIAGED], world.coordinator)
    page = as_user(world.dept_analyst).get(f"/incidents/{incident.pk}/")
    rows = {e["what"]: e for e in page.context["timeline"]}
    world.coordinator.full_name = "Trần Điều Phối"
    world.coordinator.save()
    page = as_user(world.dept_analyst).get(f"/incidents/{incident.pk}/")
    rows = {e["what"]: e for e in page.context["timeline"]}
    assert rows["Đã báo cáo"]["by"] == world.dept_analyst.full_name
    assert rows["Đã phân loại"]["by"] == "Trần Điều Phối"
    assert rows["Phát hiện"]["by"] is None
    timeline = page.content.decode().split('id="incident-timeline"')[1].split("</table>")[0]
    assert "Trần Điều Phối" in timeline


# 7. The report form and the list on a phone.

def test_the_systems_show_code_name_and_level_without_the_repeated_owner(world, make_system, incident_content, as_user):
    make_system(world.department, name="Hệ thống quản lý bệnh viện – Tổ chức MIN-D1", code="HT-D1-1",
                proposed_level=3)
    make_system(world.department, name="Hệ thống bệnh án điện tử", code="HT-D1-2", proposed_level=2,
                approved_level=3)
    page = english(as_user, world.dept_analyst).get("/incidents/new/").content.decode()
    assert "HT-D1-1 — Hệ thống quản lý bệnh viện · Level 3 (proposed)" in page
    assert "HT-D1-2 — Hệ thống bệnh án điện tử · Level 3<" in page
    assert "bệnh viện – Tổ chức MIN-D1" not in page


def test_the_list_filters_fold_and_the_responder_filter_is_for_responders(world, incident, as_user):
    page = as_user(world.dept_analyst).get("/incidents/").content.decode()
    assert '<details class="filters-box" id="incident-filters">' in page
    assert "awaiting_us" not in page
    page = as_user(world.dept_analyst).get("/incidents/?status=new").content.decode()
    assert '<details class="filters-box" id="incident-filters" open>' in page
    assert 'name="awaiting_us"' in as_user(world.responder).get("/incidents/").content.decode()

