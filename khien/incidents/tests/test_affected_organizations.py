"""Organizations whose information systems an incident names follow it (as TheHive shares a case with them).

A national incident (opened by the coordinator from a telemetry campaign, or reported naming other organizations'
systems) used to reach the organizations whose systems it names only by e-mail: the incident's view path was the
reporting organization's line and the assigned responders. Now such an organization (and the organizations above
it, as the scoping rules say, never across the coordination boundary) opens the incident: its page, the list (marked
"affected"), the PDF and the API; it sees its own systems in full and the others' only counted, the status, the
deadlines, the responders and the journal, and it comments. It does not take workflow steps, triage, reclassify,
assign, correct the report, give a report stage, nor see the evidence, the observables or the tasks (those stay with
the reporting side, the assigned responders and the coordinator). TLP:RED and TLP:AMBER+STRICT incidents stay with
the reporting side (there are no named recipients for incidents).
"""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.core.scoping import forget_memberships

pytestmark = pytest.mark.django_db

API = "/api/incidents/"
OWN_NAME = "Cổng dịch vụ công của đơn vị"
OTHER_NAME = "Hệ thống thư điện tử của tỉnh"
EVIDENCE_NAME = "nhat-ky-may-chu-ncsc.log"
OBSERVABLE = "203.0.113.77"
TASK_TITLE = "Thu thập nhật ký tường lửa quốc gia"


def _national(world, systems, owners, tlp="amber", title="Chiến dịch quét cổng quốc gia"):
    from khien.incidents import services

    now = timezone.now()
    return services.do_report_incident({
        "organization": world.ncsc, "title": title, "detected_at": now - dt.timedelta(hours=2),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": True, "description": "Chiến dịch trên nhiều tổ chức.", "tlp": tlp,
    }, acting_user=world.coordinator, systems=systems, system_owners=owners, observables=[("ipv4", OBSERVABLE)])


@pytest.fixture
def national(world, make_system, incident_content):
    """The coordinator's national incident naming a system of MIN-D1 (the ministry's unit) and one of PROV; with
    evidence, an observable and a task of the reporting side; and an organization it does not concern."""
    from khien.incidents import services

    w = world
    w.own_system = make_system(world.department, name=OWN_NAME, code="SYS-D1-PORTAL")
    w.other_system = make_system(world.province, name=OTHER_NAME, code="SYS-PROV-MAIL")
    w.incident = _national(world, [w.own_system, w.other_system], [world.department, world.province])
    w.evidence = services.do_add_evidence(w.incident, acting_user=world.coordinator,
                                          uploaded=SimpleUploadedFile(EVIDENCE_NAME, b"log lines"), note="")
    services.do_add_task(w.incident, {"title": TASK_TITLE}, acting_user=world.coordinator)
    w.unrelated_org = _org("OTHER", "ministry")
    w.unrelated = _user("analyst@other.test.vn", w.unrelated_org, Role.ORG_ANALYST)
    return w


def _page(client, user, url):
    client.force_login(user)
    return client.get(url)


def _detail(w):
    return reverse("incidents:incident_detail", args=[w.incident.pk])


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


# --- grants ---------------------------------------------------------------------------------------------------------


def test_affected_analyst_opens_the_page_with_own_systems_and_others_counted(client, national):
    w = national
    response = _page(client, w.dept_analyst, _detail(w))
    assert response.status_code == 200
    html = response.content.decode()
    assert w.incident.reference in html and OWN_NAME in html and "SYS-D1-PORTAL" in html
    assert OTHER_NAME not in html and "SYS-PROV-MAIL" not in html
    assert 'id="systems-not-shown"' in html and response.context["systems_not_shown"] == 1
    assert response.context["affected_only"] is True
    # The reporting side's evidence, observables and tasks are not shown to it.
    assert EVIDENCE_NAME not in html and OBSERVABLE not in html and TASK_TITLE not in html
    # No step, no form of the reporting side; the comment form is there.
    assert 'id="comment-form"' in html
    for form in ('id="triage-form"', 'id="classify-form"', 'id="assign-form"', 'id="evidence-form"', 'id="task-form"',
                 'id="observable-form"', 'id="correct-report"', 'id="stage-form"'):
        assert form not in html, form


def test_the_ministry_above_the_affected_unit_opens_it_too_and_the_province_sees_its_own(client, national):
    w = national
    html = _page(client, w.analyst, _detail(w)).content.decode()
    assert OWN_NAME in html and OTHER_NAME not in html
    html = _page(client, w.other_admin, _detail(w)).content.decode()
    assert OTHER_NAME in html and OWN_NAME not in html and "SYS-D1-PORTAL" not in html


def test_the_reporting_side_sees_every_system_and_is_told_who_follows(coordinator_client, national):
    w = national
    response = coordinator_client.get(_detail(w))
    html = response.content.decode()
    assert OWN_NAME in html and OTHER_NAME in html and EVIDENCE_NAME in html
    assert response.context["affected_only"] is False and response.context["systems_not_shown"] == 0
    assert 'id="affected-follow"' in html


def test_the_list_shows_the_incident_marked_affected(client, national, report):
    w = national
    own = report(org=w.department, user=w.dept_analyst, title="Sự cố riêng của đơn vị")
    response = _page(client, w.dept_analyst, reverse("incidents:incident_list"))
    rows = {row["incident"].pk: row for row in response.context["rows"]}
    assert rows[w.incident.pk]["affected_only"] is True and rows[own.pk]["affected_only"] is False
    html = response.content.decode()
    assert html.count('class="badge affected"') == 1
    # An organization it does not concern does not see it.
    html = _page(client, w.unrelated, reverse("incidents:incident_list")).content.decode()
    assert w.incident.reference not in html


def test_the_api_gives_own_systems_and_counts_the_others(api, national):
    w = national
    client = api(w.dept_analyst)
    response = client.get(f"{API}{w.incident.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["systems"] == ["SYS-D1-PORTAL"] and body["systems_not_shown"] == 1 and body["affected_only"] is True
    assert body["observables"] == []
    text = response.content.decode()
    assert "SYS-PROV-MAIL" not in text and OBSERVABLE not in text
    listed = client.get(API).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    row = next(r for r in rows if r["id"] == str(w.incident.pk))
    assert row["systems"] == ["SYS-D1-PORTAL"] and row["affected_only"] is True
    assert "SYS-PROV-MAIL" not in client.get(API).content.decode()
    # Evidence, observables and tasks stay with the participants.
    assert client.get(f"{API}{w.incident.pk}/evidence/").json() == []
    assert client.get(f"{API}{w.incident.pk}/observables/").json() == []
    assert client.get(f"{API}{w.incident.pk}/tasks/").json() == []
    journal = client.get(f"{API}{w.incident.pk}/journal/")
    assert journal.status_code == 200 and {e["kind"] for e in journal.json()} == {"reported"}
    assert EVIDENCE_NAME not in journal.content.decode() and TASK_TITLE not in journal.content.decode()
    # The coordinator reads everything, as before.
    full = api(w.coordinator).get(f"{API}{w.incident.pk}/").json()
    assert sorted(full["systems"]) == ["SYS-D1-PORTAL", "SYS-PROV-MAIL"] and full["systems_not_shown"] == 0
    assert full["affected_only"] is False


def test_the_pdf_names_own_systems_only(client, national):
    from khien.incidents import exports

    if not exports.pdf_available():
        pytest.skip("run scripts/vendor_assets.py for the PDF fonts")
    w = national
    response = _page(client, w.dept_analyst, reverse("incidents:incident_pdf", args=[w.incident.pk]) + "?lang=vi")
    assert response.status_code == 200
    text = _pdf_text(response.content)
    assert "SYS-D1-PORTAL" in text and OWN_NAME in text
    assert "SYS-PROV-MAIL" not in text and OTHER_NAME not in text
    assert EVIDENCE_NAME not in text and OBSERVABLE not in text and TASK_TITLE not in text
    full = _pdf_text(exports.incident_pdf(w.incident, w.coordinator, language="vi"))
    assert "SYS-PROV-MAIL" in full and EVIDENCE_NAME in full


def test_the_affected_analyst_comments_on_the_page_and_through_the_api(client, api, national):
    from khien.core.models import AuditEntry
    from khien.incidents.models import IncidentEvent

    w = national
    client.force_login(w.dept_analyst)
    response = client.post(reverse("incidents:incident_comment", args=[w.incident.pk]),
                           {"text": "Đơn vị đã cô lập cổng dịch vụ công."})
    assert response.status_code == 302
    comment = IncidentEvent.objects.get(incident=w.incident, kind="comment", actor=w.dept_analyst)
    assert AuditEntry.objects.filter(object_id=str(comment.pk), action="create").exists()
    assert "Đơn vị đã cô lập cổng dịch vụ công." in client.get(_detail(w)).content.decode()
    response = api(w.other_admin).post(f"{API}{w.incident.pk}/journal/", {"text": "Tỉnh đã đổi mật khẩu."},
                                       format="json")
    assert response.status_code == 201
    # The reporting side reads them.
    texts = [e["text"] for e in api(w.coordinator).get(f"{API}{w.incident.pk}/journal/").json()]
    assert "Đơn vị đã cô lập cổng dịch vụ công." in texts and "Tỉnh đã đổi mật khẩu." in texts


def test_an_auditor_of_the_affected_line_reads_but_does_not_comment(client, api, national):
    from khien.incidents.models import IncidentEvent

    w = national
    assert _page(client, w.auditor, _detail(w)).status_code == 200
    assert 'id="comment-form"' not in client.get(_detail(w)).content.decode()
    response = client.post(reverse("incidents:incident_comment", args=[w.incident.pk]), {"text": "x"})
    assert response.status_code == 403
    assert api(w.auditor).post(f"{API}{w.incident.pk}/journal/", {"text": "x"}, format="json").status_code == 403
    assert not IncidentEvent.objects.filter(kind="comment").exists()


# --- denials --------------------------------------------------------------------------------------------------------


def test_the_affected_organization_takes_no_step_of_the_reporting_side(client, api, national):
    from khien.incidents.models import Evidence, Incident, IncidentEvent, Observable, Task

    w = national
    pk = w.incident.pk
    before = (Incident.objects.filter(pk=pk).values().get(), IncidentEvent.objects.count(), Task.objects.count(),
              Evidence.objects.count(), Observable.objects.count(), w.incident.assignments.count())
    client.force_login(w.dept_analyst)
    posts = {
        "incident_transition": {"status": "triaged"},
        "incident_triage": {"triage-category": "infected-system", "triage-severity": "low", "triage-tlp": "green"},
        "incident_classify": {"cls-category": "infected-system", "cls-severity": "low", "cls-tlp": "green"},
        "incident_assign": {"responder": str(w.responder_org.pk)},
        "incident_task_add": {"title": "Việc của đơn vị"},
        "incident_tasks_standard": {},
        "evidence_add": {"file": SimpleUploadedFile("x.txt", b"x")},
        "evidence_external_add": {"ext-name": "disk.E01", "ext-sha256": "a" * 64, "ext-size": "10",
                                  "ext-location": "Kho"},
        "observable_add": {"obs-observables": "198.51.100.1"},
    }
    for name, data in posts.items():
        response = client.post(reverse(f"incidents:{name}", args=[pk]), data)
        assert response.status_code in (403, 404), (name, response.status_code)
    assert client.get(reverse("incidents:incident_correct", args=[pk])).status_code == 403
    assert client.post(reverse("incidents:incident_stage", args=[pk, "notification"]), {}).status_code == 403
    assert client.post(reverse("incidents:evidence_seal", args=[pk, w.evidence.pk])).status_code in (403, 404)
    assert client.post(reverse("incidents:evidence_custody", args=[pk, w.evidence.pk]),
                       {}).status_code in (403, 404)
    # The evidence file is not theirs to download, by the page or the API.
    assert client.get(reverse("incidents:evidence_download", args=[w.evidence.pk])).status_code == 404
    caller = api(w.dept_analyst)
    assert caller.get(f"{API}{pk}/evidence/{w.evidence.pk}/download/").status_code == 404
    for path, body in (("transition/", {"status": "triaged"}), ("classification/", {"severity": "low"}),
                       ("assign/", {"responder": "RESP"}), ("tasks/", {"title": "x"}),
                       ("observables/", {"value": "198.51.100.1"}), ("stage/", {"stage": "notification"})):
        assert caller.post(f"{API}{pk}/{path}", body, format="json").status_code == 403, path
    assert caller.patch(f"{API}{pk}/", {"title": "Đổi tên"}, format="json").status_code == 403
    after = (Incident.objects.filter(pk=pk).values().get(), IncidentEvent.objects.count(), Task.objects.count(),
             Evidence.objects.count(), Observable.objects.count(), w.incident.assignments.count())
    assert after == before


def test_an_unrelated_organization_still_gets_404(client, api, national):
    w = national
    pk = w.incident.pk
    assert _page(client, w.unrelated, _detail(w)).status_code == 404
    assert client.get(reverse("incidents:incident_pdf", args=[pk])).status_code == 404
    assert client.post(reverse("incidents:incident_comment", args=[pk]), {"text": "x"}).status_code == 404
    assert api(w.unrelated).get(f"{API}{pk}/").status_code == 404
    assert api(w.unrelated).post(f"{API}{pk}/journal/", {"text": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("tlp", ["red", "amber_strict"])
def test_a_red_or_strict_incident_stays_with_the_reporting_side(client, api, national, tlp):
    w = national
    secret = _national(w, [w.own_system, w.other_system], [w.department, w.province], tlp=tlp, title="Sự cố mật")
    for user in (w.dept_analyst, w.analyst, w.other_admin):
        assert _page(client, user, reverse("incidents:incident_detail", args=[secret.pk])).status_code == 404
        assert secret.reference not in client.get(reverse("incidents:incident_list")).content.decode()
        assert api(user).get(f"{API}{secret.pk}/").status_code == 404
        assert api(user).post(f"{API}{secret.pk}/journal/", {"text": "x"}, format="json").status_code == 404
    # The coordinator's page says the affected organizations do not see it.
    client.force_login(w.coordinator)
    from khien.incidents import services

    assert services.affected_organizations_see(secret) is False
    assert services.affected_organizations_see(w.incident) is True


def test_the_coordination_boundary_holds(client, api, world, make_system, incident_content):
    """NCSC under the ministry (as in the demo): a national incident about NCSC's own unit's system and a province's
    system is the province's to follow, not the ministry's (its people do not reach NCSC's subtree)."""
    world.ncsc.parent = world.ministry
    world.ncsc.path = world.ncsc.compute_path()
    world.ncsc.save()
    for person in vars(world).values():
        if hasattr(person, "memberships"):
            forget_memberships(person)
    unit = _org("NCSC-U1", "agency", parent=world.ncsc)
    ncsc_system = make_system(unit, name="Hệ thống giám sát quốc gia", code="SYS-NCSC-MON")
    prov_system = make_system(world.province, name=OTHER_NAME, code="SYS-PROV-MAIL")
    incident = _national(world, [ncsc_system, prov_system], [unit, world.province])
    url = reverse("incidents:incident_detail", args=[incident.pk])
    for person in (world.admin, world.analyst, world.auditor):
        assert _page(client, person, url).status_code == 404
        assert api(person).get(f"{API}{incident.pk}/").status_code == 404
    response = _page(client, world.other_admin, url)
    html = response.content.decode()
    assert response.status_code == 200 and OTHER_NAME in html and "SYS-NCSC-MON" not in html
    # A national incident about the ministry's own unit's system: the ministry follows it (the unit is its own).
    dept_system = make_system(world.department, name=OWN_NAME, code="SYS-D1-PORTAL")
    about_unit = _national(world, [dept_system, ncsc_system], [world.department, unit], title="Chiến dịch khác")
    response = _page(client, world.analyst, reverse("incidents:incident_detail", args=[about_unit.pk]))
    html = response.content.decode()
    assert response.status_code == 200 and OWN_NAME in html and "SYS-NCSC-MON" not in html


def test_a_journal_line_naming_other_organizations_systems_is_not_shown_whole(client, api, national):
    """The platform's line when a campaign's new organizations' systems join the incident names their codes; the
    reporting side's correction of the systems may too: an affected reader reads that the systems changed."""
    from khien.incidents.models import EventKind
    from khien.incidents.services import _event

    w = national
    _event(w.incident, EventKind.CORRECTED, None, text="Thêm hệ thống SYS-PROV-MAIL của PROV.",
           data={"fields": ["systems"]})
    html = _page(client, w.dept_analyst, _detail(w)).content.decode()
    assert "SYS-PROV-MAIL" not in html
    assert "SYS-PROV-MAIL" not in api(w.dept_analyst).get(f"{API}{w.incident.pk}/journal/").content.decode()
    assert "SYS-PROV-MAIL" in api(w.coordinator).get(f"{API}{w.incident.pk}/journal/").content.decode()


def test_the_organizations_named_are_told_of_their_own_systems_only(national):
    """Walkthrough: a ministry's critical alerts went into the coordinator's national incident and the ministry was
    told nothing. Each organization whose systems it names now hears of it at once (urgent), of its own systems
    only — not of who else was hit; the reporting side hears as before, not twice."""
    from khien.core.models import Notification

    w = national
    told = Notification.objects.filter(kind="incidents.systems_named")
    unit = told.get(recipient=w.dept_analyst)
    text = f"{unit.title} {unit.body}"
    assert w.incident.reference in text and "SYS-D1-PORTAL" in text and OWN_NAME in text
    assert "SYS-PROV-MAIL" not in text and OTHER_NAME not in text and "PROV" not in unit.title
    province = told.get(recipient=w.other_admin)
    assert "SYS-PROV-MAIL" in province.body and "SYS-D1-PORTAL" not in province.body
    # Read-only people and those who read it whole (the coordinator, the ministry above the unit) are not told so.
    assert not told.filter(recipient__in=[w.coordinator, w.auditor, w.unrelated]).exists()


def test_a_red_incident_tells_no_organization_it_is_not_shown_to(world, make_system, incident_content):
    from khien.core.models import Notification

    system = make_system(world.department, name=OWN_NAME, code="SYS-D1-RED")
    _national(world, [system], [world.department], tlp="red")
    assert not Notification.objects.filter(kind="incidents.systems_named").exists()


def test_an_affected_organizations_comment_is_not_read_by_the_other_organizations_named(national, client):
    """Walkthrough: a province's comment on the national incident ("we checked our 5 systems…") showed on a bank's
    page. Each affected organization's comments stay with the reporting side and its own line; the reporting side's
    reach every organization named."""
    from khien.incidents import services
    from khien.incidents.models import IncidentEvent

    w = national
    services.do_add_comment(w.incident, "Đơn vị đã chặn tên miền trên DNS nội bộ.", acting_user=w.dept_analyst)
    services.do_add_comment(w.incident, "Tỉnh đã kiểm tra hệ thống thư.", acting_user=w.other_admin)
    services.do_add_comment(w.incident, "Điều phối: chặn ở biên quốc gia.", acting_user=w.coordinator)

    def comments(user):
        return set(IncidentEvent.objects.visible_to(user).filter(incident=w.incident, kind="comment")
                   .values_list("text", flat=True))

    assert comments(w.dept_analyst) == {"Đơn vị đã chặn tên miền trên DNS nội bộ.", "Điều phối: chặn ở biên quốc gia."}
    assert comments(w.analyst) == comments(w.dept_analyst)  # the ministry above the unit reads its unit's
    assert comments(w.other_admin) == {"Tỉnh đã kiểm tra hệ thống thư.", "Điều phối: chặn ở biên quốc gia."}
    assert len(comments(w.coordinator)) == 3
    page = _page(client, w.other_admin, _detail(w)).content.decode()
    assert "Tỉnh đã kiểm tra hệ thống thư." in page and "DNS nội bộ" not in page
    assert 'id="affected-comment-readers"' in page
