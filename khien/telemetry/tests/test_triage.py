"""Alert triage: status, handler, note; reported as an incident in one action; denials change nothing."""
import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from khien.core import notifications
from khien.core.errors import Refused
from khien.core.models import AuditEntry
from khien.incidents.models import Incident
from khien.intel.models import Tlp
from khien.telemetry import services, triage
from khien.telemetry.models import Alert, AlertStatus, AlertSuppression
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)
from .conftest import as_read, kept_untranslated


@pytest.fixture
def source(world, make_source):
    return make_source(world.ministry, "ecs")[0]


@pytest.fixture
def two_alerts(source):
    services.ingest_batch(source, [ecs("192.0.2.10", rule="scan"), ecs("192.0.2.11", rule="brute")])
    return list(Alert.objects.order_by("rule_id"))


def _states(alerts):
    return [(a.status, a.assignee_id, a.triage_note) for a in Alert.objects.filter(pk__in=[a.pk for a in alerts])
            .order_by("rule_id")]


def test_new_alerts_are_new_and_taking_one_makes_the_user_its_handler(world, two_alerts):
    assert {a.status for a in two_alerts} == {AlertStatus.NEW}
    audits = AuditEntry.objects.count()
    triage.do_triage_alerts([two_alerts[0].pk], AlertStatus.ACKNOWLEDGED, acting_user=world.analyst,
                            note="Đang kiểm tra máy 10.0.0.1")
    taken = Alert.objects.get(pk=two_alerts[0].pk)
    assert taken.status == AlertStatus.ACKNOWLEDGED and taken.assignee == world.analyst
    assert taken.triaged_by == world.analyst and taken.triaged_at is not None
    assert taken.triage_note == "Đang kiểm tra máy 10.0.0.1"
    assert Alert.objects.get(pk=two_alerts[1].pk).status == AlertStatus.NEW
    assert AuditEntry.objects.count() == audits + 1
    # Back to new: nobody handles it any more; the note stays unless a new one is given.
    triage.do_triage_alerts([taken.pk], AlertStatus.NEW, acting_user=world.admin)
    taken.refresh_from_db()
    assert taken.status == AlertStatus.NEW and taken.assignee is None and taken.triage_note.startswith("Đang")


def test_several_alerts_at_once_one_audit_entry_each(world, two_alerts):
    audits = AuditEntry.objects.count()
    changed = triage.do_triage_alerts([str(a.pk) for a in two_alerts], AlertStatus.FALSE_POSITIVE,
                                      acting_user=world.admin, note="Máy quét nội bộ")
    assert len(changed) == 2
    assert _states(two_alerts) == [(AlertStatus.FALSE_POSITIVE, None, "Máy quét nội bộ")] * 2
    assert AuditEntry.objects.count() == audits + 2


@pytest.mark.parametrize("user_name", ["auditor", "trainee", "responder"])
def test_readers_cannot_triage(world, two_alerts, user_name):
    before = _states(two_alerts)
    with pytest.raises(Refused) as exc:
        triage.do_triage_alerts([a.pk for a in two_alerts], AlertStatus.RESOLVED, acting_user=getattr(world, user_name))
    # The auditor and the trainee see the ministry's alerts (403); the responder does not see them at all (404).
    assert exc.value.status == (404 if user_name == "responder" else 403)
    assert _states(two_alerts) == before


def test_another_organizations_alert_refuses_the_whole_call(world, two_alerts, make_source):
    theirs = make_source(world.province, "ecs")[0]
    services.ingest_batch(theirs, [ecs("192.0.2.99", rule="theirs")])
    foreign = Alert.objects.get(rule_id="theirs")
    before = _states(two_alerts)
    with pytest.raises(Refused) as exc:
        triage.do_triage_alerts([two_alerts[0].pk, foreign.pk], AlertStatus.RESOLVED, acting_user=world.analyst)
    assert exc.value.status == 404
    assert _states(two_alerts) == before and Alert.objects.get(pk=foreign.pk).status == AlertStatus.NEW


@pytest.mark.parametrize("status, ids, note, field", [
    ("escalated", None, None, "status"),      # only reporting the incident sets it
    ("closed", None, None, "status"),
    ("resolved", [], None, "alerts"),
    ("resolved", ["not-an-id"], None, "alerts"),
    ("resolved", [str(uuid.uuid4())] * 501, None, "alerts"),
    ("resolved", None, "x" * 2001, "note"),
])
def test_bad_input_is_refused(world, two_alerts, status, ids, note, field):
    before = _states(two_alerts)
    with pytest.raises(ValidationError) as exc:
        triage.do_triage_alerts(ids if ids is not None else [two_alerts[0].pk], status, acting_user=world.admin,
                                note=note)
    assert field in exc.value.message_dict
    assert _states(two_alerts) == before


def test_a_repeat_reopens_a_resolved_alert_but_not_a_false_positive(world, source):
    first = timezone.now() - dt.timedelta(minutes=20)
    services.ingest_batch(source, [ecs("192.0.2.10", rule="scan", when=first),
                                   ecs("192.0.2.11", rule="brute", when=first)])
    scan, brute = Alert.objects.get(rule_id="scan"), Alert.objects.get(rule_id="brute")
    triage.do_triage_alerts([scan.pk], AlertStatus.RESOLVED, acting_user=world.analyst)
    triage.do_triage_alerts([brute.pk], AlertStatus.FALSE_POSITIVE, note="lab scanner", acting_user=world.analyst)
    # An older record arriving late (replay) is no new activity: the resolved alert stays resolved.
    services.ingest_batch(source, [ecs("192.0.2.10", rule="scan", when=first - dt.timedelta(minutes=1), n=1)])
    scan.refresh_from_db()
    assert scan.count == 2 and scan.status == AlertStatus.RESOLVED
    later = first + dt.timedelta(minutes=5)
    services.ingest_batch(source, [ecs("192.0.2.10", rule="scan", when=later, n=2),
                                   ecs("192.0.2.11", rule="brute", when=later, n=2)])
    scan.refresh_from_db()
    brute.refresh_from_db()
    assert scan.count == 3 and scan.status == AlertStatus.NEW
    assert brute.count == 2 and brute.status == AlertStatus.FALSE_POSITIVE


@pytest.fixture
def content():
    from khien.incidents import content

    content.load_all()


def test_alert_reported_as_incident(world, content, intel, source, make_system):
    system = make_system(world.ministry)
    services.do_set_source_systems(source, [system], acting_user=world.admin)
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], rule="c2-beacon", severity=9)])
    alert = Alert.objects.get()
    incident = triage.do_alert_to_incident(alert, acting_user=world.analyst)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED and alert.incident == incident
    assert incident.organization == world.ministry and incident.created_by == world.analyst
    assert incident.detected_at == alert.first_seen and incident.severity == "critical"
    assert incident.category == "ids-alert"  # the events' category (intrusion_detection)
    assert list(incident.systems.all()) == [system]
    assert reverse("telemetry:alert", args=[alert.pk]) in incident.description  # the way back to the events
    values = set(incident.observables.values_list("value", flat=True))
    assert intel.values[Tlp.GREEN] in values and "10.0.0.1" in values
    # Once only; and its status is the incident's business now.
    with pytest.raises(Refused) as exc:
        triage.do_alert_to_incident(alert, acting_user=world.analyst)
    assert exc.value.status == 409
    with pytest.raises(Refused) as exc:
        triage.do_triage_alerts([alert.pk], AlertStatus.RESOLVED, acting_user=world.analyst)
    assert exc.value.status == 409
    assert Incident.objects.count() == 1


def _platform_title(rule: str, organization) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Alert “%(rule)s” at %(organization)s") % {"rule": rule, "organization": organization.name_vi}


def test_an_incident_from_an_alert_is_titled_in_the_platform_s_language(world, content, two_alerts, as_user, api):
    """The SOC tool's rule name (its own words, often English) is quoted in a title written in the platform's
    language, with the organization's name — whatever the reporter's language: the incident is everyone's record."""
    brute, scan = two_alerts
    expected = _platform_title("Rule brute", world.ministry)
    assert "Tổ chức MIN" in expected  # the organization's Vietnamese name
    # Proposed on the alert's page of an English reader; reported as proposed through the API in English.
    client = as_user(world.analyst)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(reverse("telemetry:alert", args=[brute.pk])).content.decode()
    assert f'value="{expected}"' in page
    answer = api(world.analyst).post(f"/api/telemetry/alert-groups/{brute.pk}/incident/", {}, format="json",
                                     HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 201
    incident = Incident.objects.get()
    assert incident.title == expected
    with translation.override(settings.LANGUAGE_CODE):  # and its description, for the same reason
        assert incident.description.startswith(gettext("Reported from a SOC alert of source %(source)s: %(rule)s "
                                                        "(rule %(rule_id)s), seen %(count)d times between %(first)s "
                                                        "and %(last)s. Observables: %(observables)s. Alert: %(url)s")
                                                .split("%(source)s")[0])
    # An alert without a rule name is titled by its rule id; the title is still the user's to change.
    Alert.objects.filter(pk=scan.pk).update(rule_name="")
    scan.refresh_from_db()
    assert triage.incident_defaults(scan)["title"] == _platform_title("scan", world.ministry)
    mine = triage.do_alert_to_incident(scan, acting_user=world.analyst, data={"title": "Rà quét từ bên ngoài"})
    assert mine.title == "Rà quét từ bên ngoài"


def test_reporting_takes_the_users_choices_and_refuses_bad_ones(world, content, two_alerts):
    alert = two_alerts[0]
    with pytest.raises(ValidationError) as exc:
        triage.do_alert_to_incident(alert, acting_user=world.analyst, data={"category": "no-such-type"})
    assert "category" in exc.value.message_dict
    alert.refresh_from_db()
    assert alert.status == AlertStatus.NEW and not Incident.objects.exists()
    incident = triage.do_alert_to_incident(alert, acting_user=world.analyst,
                                           data={"title": "Dò mật khẩu SSH", "category": "brute-force",
                                                 "severity": "medium", "tlp": "green"})
    assert (incident.title, incident.category, incident.severity, incident.tlp) == (
        "Dò mật khẩu SSH", "brute-force", "medium", "green")


@pytest.mark.parametrize("user_name", ["auditor", "trainee"])
def test_readers_cannot_report_an_alert(world, content, two_alerts, user_name):
    with pytest.raises(Refused) as exc:
        triage.do_alert_to_incident(two_alerts[0], acting_user=getattr(world, user_name))
    assert exc.value.status == 403
    assert not Incident.objects.exists() and Alert.objects.get(pk=two_alerts[0].pk).status == AlertStatus.NEW


# --- API ------------------------------------------------------------------------------------------


def test_api_triage_and_status_filter(world, two_alerts, api):
    url = reverse("telemetry-api:alert-groups-triage")
    client = api(world.analyst)
    response = client.post(url, {"alerts": [str(two_alerts[0].pk)], "status": "acknowledged", "note": "Đã nhận"},
                           format="json")
    assert response.status_code == 200
    assert response.json()[0]["status"] == "acknowledged" and response.json()[0]["assignee"] == world.analyst.email
    listed = client.get(reverse("telemetry-api:alert-groups"), {"status": "new"}).json()
    assert [a["rule_id"] for a in listed["results"]] == [two_alerts[1].rule_id]
    both = client.get(reverse("telemetry-api:alert-groups") + "?status=new&status=acknowledged").json()
    assert both["count"] == 2
    detail = client.get(reverse("telemetry-api:alert-group", args=[two_alerts[0].pk])).json()
    assert detail["triage_note"] == "Đã nhận" and detail["triaged_by"] == world.analyst.email


def test_api_triage_denials_change_nothing(world, two_alerts, api):
    url = reverse("telemetry-api:alert-groups-triage")
    ids = [str(a.pk) for a in two_alerts]
    before = _states(two_alerts)
    assert api(world.auditor).post(url, {"alerts": ids, "status": "resolved"}, format="json").status_code == 403
    assert api(world.other_admin).post(url, {"alerts": ids, "status": "resolved"}, format="json").status_code == 404
    bad = api(world.analyst).post(url, {"alerts": ids, "status": "closed"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    assert api(world.analyst).post(url, {"alerts": "x", "status": "resolved"}, format="json").status_code == 400
    assert api(world.analyst).post(url, ["not", "an", "object"], format="json").status_code == 400
    # Text declared on a plain (not model) serializer refuses control characters too.
    bell = api(world.analyst).post(url, {"alerts": ids, "status": "resolved", "note": "xong\u0007"}, format="json")
    assert bell.status_code == 400 and "note" in bell.json()
    assert _states(two_alerts) == before
    assert api(world.other_admin).get(reverse("telemetry-api:alert-group", args=[two_alerts[0].pk])).status_code == 404


def test_api_reports_an_incident_once(world, content, two_alerts, api):
    url = reverse("telemetry-api:alert-group-incident", args=[two_alerts[0].pk])
    assert api(world.trainee).post(url, {}, format="json").status_code == 403
    assert api(world.other_admin).post(url, {}, format="json").status_code == 404
    bad = api(world.analyst).post(url, {"severity": "apocalyptic"}, format="json")
    assert bad.status_code == 400 and "severity" in bad.json()
    assert not Incident.objects.exists()
    created = api(world.analyst).post(url, {"severity": "high"}, format="json")
    assert created.status_code == 201
    incident = Incident.objects.get()
    assert created.json()["reference"] == incident.reference and incident.severity == "high"
    assert api(world.analyst).post(url, {}, format="json").status_code == 409


# --- Pages ----------------------------------------------------------------------------------------


def test_alert_list_shows_open_alerts_first_and_triages_ticked_ones(world, two_alerts, as_user):
    client = as_user(world.analyst)
    page = client.get(reverse("telemetry:alerts")).content.decode()
    assert 'id="alert-bulk"' in page and page.count('name="alerts"') == 2
    response = client.post(reverse("telemetry:alerts_triage"), {
        "alerts": [str(two_alerts[0].pk)], "status": "false_positive", "note": "Máy quét nội bộ", "next_query": "status=open"})
    assert response.status_code == 302 and response["Location"].endswith("?status=open")
    assert Alert.objects.get(pk=two_alerts[0].pk).status == AlertStatus.FALSE_POSITIVE
    open_page = client.get(reverse("telemetry:alerts")).content.decode()
    assert "Rule scan" in open_page and "Rule brute" not in open_page  # two_alerts by rule id: brute, scan
    assert "Rule brute" in client.get(reverse("telemetry:alerts") + "?status=false_positive").content.decode()
    assert "Rule brute" in client.get(reverse("telemetry:alerts") + "?status=all").content.decode()
    # The way back is always the list itself, whatever is put in the form.
    crafted = client.post(reverse("telemetry:alerts_triage"), {
        "alerts": [str(two_alerts[1].pk)], "status": "acknowledged", "next_query": "x=1\r\nSet-Cookie: a=b"})
    assert crafted.status_code == 302 and crafted["Location"].startswith(reverse("telemetry:alerts") + "?x=1")
    assert "\n" not in crafted["Location"]
    # Nothing ticked: the error in the page's language, nothing changed.
    empty = client.post(reverse("telemetry:alerts_triage"), {"status": "resolved"})
    assert empty.status_code == 400 and "Hãy chọn ít nhất một cảnh báo." in empty.content.decode()
    assert Alert.objects.get(pk=two_alerts[1].pk).status == AlertStatus.ACKNOWLEDGED


def test_readers_see_alerts_without_triage_controls(world, two_alerts, as_user):
    client = as_user(world.auditor)
    page = client.get(reverse("telemetry:alerts")).content.decode()
    assert "Rule scan" in page and 'id="alert-bulk"' not in page
    detail = client.get(reverse("telemetry:alert", args=[two_alerts[0].pk])).content.decode()
    assert 'id="alert-triage"' not in detail and 'id="alert-incident"' not in detail
    forbidden = client.post(reverse("telemetry:alert_triage", args=[two_alerts[0].pk]), {"status": "resolved"})
    assert forbidden.status_code == 403
    foreign = as_user(world.other_admin).post(reverse("telemetry:alert_triage", args=[two_alerts[0].pk]),
                                              {"status": "resolved"})
    assert foreign.status_code == 404
    assert Alert.objects.get(pk=two_alerts[0].pk).status == AlertStatus.NEW


def test_alert_page_triage_and_report(world, content, two_alerts, as_user):
    client = as_user(world.analyst)
    alert = two_alerts[0]
    detail = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    assert 'id="alert-triage"' in detail and 'id="alert-incident"' in detail
    done = client.post(reverse("telemetry:alert_triage", args=[alert.pk]),
                       {"status": "acknowledged", "note": "Kiểm tra tường lửa"})
    assert done.status_code == 302
    detail = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    assert 'data-alert-status="acknowledged"' in detail and "Kiểm tra tường lửa" in detail
    bad = client.post(reverse("telemetry:alert_incident", args=[alert.pk]),
                      {"title": "", "category": "ids-alert", "severity": "high", "tlp": "amber"})
    assert bad.status_code == 400 and not Incident.objects.exists()
    reported = client.post(reverse("telemetry:alert_incident", args=[alert.pk]),
                           {"title": "Rà quét từ 192.0.2.10", "category": "scanner", "severity": "medium",
                            "tlp": "amber"})
    incident = Incident.objects.get()
    assert reported.status_code == 302 and reported["Location"] == reverse("incidents:incident_detail",
                                                                           args=[incident.pk])
    detail = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    assert incident.reference in detail and 'id="alert-incident"' not in detail and 'id="alert-triage"' not in detail


def test_the_alert_page_names_people_and_keeps_every_triage_note(world, two_alerts, as_user):
    """The handler and who set the status are named, not given as e-mail addresses; an earlier note is not lost
    when the next one is written (the history comes from the audit log)."""
    world.analyst.full_name = "Lê Minh Phân Tích"
    world.analyst.save()
    alert = two_alerts[0]
    triage.do_triage_alerts([alert.pk], AlertStatus.ACKNOWLEDGED, acting_user=world.analyst, note="Đang kiểm tra")
    triage.do_triage_alerts([alert.pk], AlertStatus.RESOLVED, acting_user=world.admin, note="Đã chặn địa chỉ")
    history = triage.triage_history(alert)
    assert [(h["status"], h["note"]) for h in history] == [("resolved", "Đã chặn địa chỉ"),
                                                          ("acknowledged", "Đang kiểm tra")]
    page = as_user(world.admin).get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    history_html = page.split('id="alert-history"')[1].split("</section>")[0]
    assert "Đang kiểm tra" in history_html and "Đã chặn địa chỉ" in history_html
    assert "Lê Minh Phân Tích" in history_html and world.analyst.email not in history_html
    assert triage.triage_history(two_alerts[1]) == []  # never triaged


def test_an_alert_reported_after_the_deadline_asks_why_as_any_late_report(world, content, two_alerts, as_user, api):
    """The 24-hour initial report counts from the alert's first sighting: reported later, the report gives the
    reason for the delay (page and API), as the incident form asks; on time, the question is not asked."""
    fresh, old = two_alerts
    Alert.objects.filter(pk=old.pk).update(first_seen=timezone.now() - dt.timedelta(days=2))
    client = as_user(world.analyst)
    assert 'name="late_reason"' not in client.get(reverse("telemetry:alert", args=[fresh.pk])).content.decode()
    assert 'name="late_reason"' in client.get(reverse("telemetry:alert", args=[old.pk])).content.decode()
    form = {"title": "Dò mật khẩu", "category": "brute-force", "severity": "medium", "tlp": "amber"}
    refused = client.post(reverse("telemetry:alert_incident", args=[old.pk]), form)
    assert refused.status_code == 400 and not Incident.objects.exists()
    assert "lý do báo cáo muộn" in refused.content.decode()
    assert api(world.analyst).post(f"/api/telemetry/alert-groups/{old.pk}/incident/", form,
                                   format="json").status_code == 400
    done = client.post(reverse("telemetry:alert_incident", args=[old.pk]),
                       {**form, "late_reason": "Cảnh báo chỉ được xem xét sau kỳ nghỉ."})
    assert done.status_code == 302
    assert Incident.objects.get().late_reason == "Cảnh báo chỉ được xem xét sau kỳ nghỉ."


# --- Suppressing repeats ----------------------------------------------------------------------------


def test_suppression_marks_the_alert_its_open_repeats_and_new_ones(world, source, settings):
    settings.KHIEN_ALERT_WINDOW_SECONDS = 600
    start = timezone.now() - dt.timedelta(hours=3)
    # The same scanner twice, more than a window apart (two alerts of one key), and another rule.
    services.ingest_batch(source, [ecs("192.0.2.50", rule="scan", when=start),
                                   ecs("192.0.2.50", rule="scan", when=start + dt.timedelta(hours=1), n=1),
                                   ecs("192.0.2.50", rule="other", when=start)])
    first, second = Alert.objects.filter(rule_id="scan").order_by("first_seen")
    audits = AuditEntry.objects.count()
    suppression = triage.do_suppress_alert(second, acting_user=world.analyst, reason="Máy quét nội bộ", days=30)
    assert suppression.expires_at - suppression.created_at == dt.timedelta(days=30)
    assert set(Alert.objects.filter(rule_id="scan").values_list("status", flat=True)) == {AlertStatus.FALSE_POSITIVE}
    assert Alert.objects.get(rule_id="other").status == AlertStatus.NEW
    assert AuditEntry.objects.count() == audits + 3  # the suppression and the two alerts
    # A new alert of the same key starts as a false positive; the same rule on another address does not.
    later = start + dt.timedelta(hours=2, minutes=30)
    services.ingest_batch(source, [ecs("192.0.2.50", rule="scan", when=later, n=2),
                                   ecs("192.0.2.51", rule="scan", when=later, n=3)])
    third = Alert.objects.get(rule_id="scan", first_seen__gte=later - dt.timedelta(seconds=1),
                              observables__contains="192.0.2.50")
    assert third.status == AlertStatus.FALSE_POSITIVE and third.suppression == suppression
    assert Alert.objects.get(rule_id="scan", observables__contains="192.0.2.51").status == AlertStatus.NEW
    # Lifted: the next new alert of that key is new again; what was marked stays.
    triage.do_lift_suppression(suppression, acting_user=world.admin)
    services.ingest_batch(source, [ecs("192.0.2.50", rule="scan", when=timezone.now() - dt.timedelta(minutes=1),
                                       n=4)])
    assert Alert.objects.filter(rule_id="scan", observables__contains="192.0.2.50", status=AlertStatus.NEW).count() == 1
    assert Alert.objects.get(pk=third.pk).status == AlertStatus.FALSE_POSITIVE
    with pytest.raises(Refused) as exc:
        triage.do_lift_suppression(suppression, acting_user=world.admin)
    assert exc.value.status == 409


def test_suppressing_keeps_the_earlier_note(world, two_alerts):
    """The suppression's reason follows the analyst's note: it used to replace it (kept only in the audit log)."""
    first, second = two_alerts
    triage.do_triage_alerts([first.pk], AlertStatus.ACKNOWLEDGED, acting_user=world.analyst,
                            note="Đã gọi quản trị mạng, chờ xác nhận.")
    triage.do_suppress_alert(first, acting_user=world.analyst, reason="Máy quét nội bộ", days=7)
    first.refresh_from_db()
    assert first.triage_note == "Đã gọi quản trị mạng, chờ xác nhận.\nMáy quét nội bộ"
    assert first.suppression.reason == "Máy quét nội bộ"
    triage.do_suppress_alert(second, acting_user=world.analyst, reason="Máy quét nội bộ", days=7)
    second.refresh_from_db()
    assert second.triage_note == "Máy quét nội bộ"  # no earlier note: the reason alone


def test_an_expired_suppression_no_longer_applies(world, source):
    services.ingest_batch(source, [ecs("192.0.2.60", rule="scan", when=timezone.now() - dt.timedelta(hours=5))])
    suppression = triage.do_suppress_alert(Alert.objects.get(), acting_user=world.analyst, reason="Giám sát", days=1)
    AlertSuppression.objects.filter(pk=suppression.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    services.ingest_batch(source, [ecs("192.0.2.60", rule="scan", when=timezone.now() - dt.timedelta(minutes=1))])
    assert Alert.objects.order_by("-first_seen").first().status == AlertStatus.NEW
    # Expired: the key may be suppressed again.
    triage.do_suppress_alert(Alert.objects.order_by("-first_seen").first(), acting_user=world.analyst,
                             reason="Giám sát", days=2)


@pytest.mark.parametrize("reason, days, field", [("", 30, "reason"), ("x" * 501, 30, "reason"),
                                                 ("ok", 0, "days"), ("ok", 366, "days"), ("ok", "30", "days"),
                                                 ("ok", True, "days")])
def test_suppression_bad_input(world, two_alerts, reason, days, field):
    with pytest.raises(ValidationError) as exc:
        triage.do_suppress_alert(two_alerts[0], acting_user=world.analyst, reason=reason, days=days)
    assert field in exc.value.message_dict
    assert not AlertSuppression.objects.exists() and _states(two_alerts)[0][0] == AlertStatus.NEW


def test_suppression_denials(world, content, two_alerts):
    with pytest.raises(Refused) as exc:
        triage.do_suppress_alert(two_alerts[0], acting_user=world.auditor, reason="x", days=1)
    assert exc.value.status == 403
    suppression = triage.do_suppress_alert(two_alerts[0], acting_user=world.analyst, reason="x", days=1)
    with pytest.raises(Refused) as exc:  # once per key while active
        triage.do_suppress_alert(two_alerts[0], acting_user=world.analyst, reason="y", days=1)
    assert exc.value.status == 409
    with pytest.raises(Refused) as exc:
        triage.do_lift_suppression(suppression, acting_user=world.trainee)
    assert exc.value.status == 403
    triage.do_alert_to_incident(two_alerts[1], acting_user=world.analyst)
    with pytest.raises(Refused) as exc:  # reported as an incident: handled there
        triage.do_suppress_alert(two_alerts[1], acting_user=world.analyst, reason="x", days=1)
    assert exc.value.status == 409
    assert AlertSuppression.objects.count() == 1 and AlertSuppression.objects.get().lifted_at is None


def test_suppression_api_and_pages(world, two_alerts, api, as_user):
    alert = two_alerts[0]
    url = reverse("telemetry-api:alert-group-suppress", args=[alert.pk])
    assert api(world.other_admin).post(url, {"reason": "x", "days": 3}, format="json").status_code == 404
    bad = api(world.analyst).post(url, {"reason": "x", "days": "many"}, format="json")
    assert bad.status_code == 400 and "days" in bad.json()
    created = api(world.analyst).post(url, {"reason": "Máy quét nội bộ", "days": 3}, format="json")
    assert created.status_code == 201 and created.json()["active"] is True
    listed = api(world.auditor).get(reverse("telemetry-api:suppressions"), {"active": "true"}).json()
    assert [s["id"] for s in listed["results"]] == [created.json()["id"]]
    assert api(world.other_admin).get(reverse("telemetry-api:suppressions")).json()["count"] == 0
    lift = reverse("telemetry-api:suppression-lift", args=[created.json()["id"]])
    assert api(world.other_admin).post(lift).status_code == 404
    assert api(world.auditor).post(lift).status_code == 403
    # The source's page lists it with a "lift" button for those who may change the source.
    page = as_user(world.admin).get(reverse("telemetry:source", args=[alert.source.name])).content.decode()
    assert "Máy quét nội bộ" in page and f'data-suppression="{created.json()["id"]}"' in page
    response = as_user(world.admin).post(reverse("telemetry:source_lift_suppression",
                                                 args=[alert.source.name, created.json()["id"]]))
    assert response.status_code == 302
    assert api(world.analyst).get(reverse("telemetry-api:suppressions"), {"active": "true"}).json()["count"] == 0
    # From the alert page: a bad form changes nothing; a good one suppresses.
    client = as_user(world.analyst)
    other = two_alerts[1]
    assert client.post(reverse("telemetry:alert_suppress", args=[other.pk]), {"reason": "", "days": 30}).status_code == 400
    assert client.post(reverse("telemetry:alert_suppress", args=[other.pk]),
                       {"reason": "Công cụ giám sát", "days": 30}).status_code == 302
    detail = client.get(reverse("telemetry:alert", args=[other.pk])).content.decode()
    assert 'id="alert-suppression"' in detail and 'id="alert-suppress"' not in detail


def test_no_report_form_before_the_incident_content_is_loaded(world, two_alerts, as_user):
    detail = as_user(world.analyst).get(reverse("telemetry:alert", args=[two_alerts[0].pk])).content.decode()
    assert 'id="alert-triage"' in detail and 'id="alert-incident"' not in detail


# --- Giving an alert to a colleague -------------------------------------------------------------------


def test_the_colleague_given_alerts_is_told_in_their_language(world, two_alerts, reads_in):
    from khien.core.models import Notification

    reads_in(world.analyst, "en")
    triage.do_triage_alerts([a.pk for a in two_alerts], AlertStatus.ACKNOWLEDGED, acting_user=world.admin,
                            assignee=world.analyst)
    told = Notification.objects.get(recipient=world.analyst, kind="telemetry.alert_assigned")
    assert as_read(told)[0] == f"{notifications.person_name(world.admin)} gave you 2 alerts to handle" and kept_untranslated(told)
    reads_in(world.admin, "vi")
    triage.do_triage_alerts([two_alerts[0].pk], AlertStatus.ACKNOWLEDGED, acting_user=world.analyst,
                            assignee=world.admin)
    told = Notification.objects.get(recipient=world.admin, kind="telemetry.alert_assigned")
    with translation.override("vi"):
        assert as_read(told)[0] == ngettext("%(who)s gave you an alert to handle", "%(who)s gave you %(n)d alerts to handle",
                                      1) % {"who": notifications.person_name(world.analyst), "n": 1}


def test_an_alert_given_to_a_colleague_who_is_notified(world, two_alerts):
    from khien.core.models import Notification

    # The ministry's administrator and analysts, and those of organizations above it, may handle its alerts;
    # the department's analyst (a unit below) and the auditor may not.
    handlers = set(triage.possible_handlers(two_alerts[0]))
    assert {world.admin, world.analyst} <= handlers
    assert not handlers & {world.dept_analyst, world.auditor, world.other_admin, world.coordinator}
    triage.do_triage_alerts([a.pk for a in two_alerts], AlertStatus.ACKNOWLEDGED, acting_user=world.admin,
                            assignee=world.analyst)
    assert _states(two_alerts) == [(AlertStatus.ACKNOWLEDGED, world.analyst.pk, "")] * 2
    told = Notification.objects.get(recipient=world.analyst, kind="telemetry.alert_assigned")
    assert world.admin.full_name in told.title and "Rule brute" in told.body
    # Taking it oneself notifies nobody.
    triage.do_triage_alerts([two_alerts[0].pk], AlertStatus.ACKNOWLEDGED, acting_user=world.analyst)
    assert Notification.objects.filter(kind="telemetry.alert_assigned").count() == 1


@pytest.mark.parametrize("who, status", [("auditor", "acknowledged"), ("other_admin", "acknowledged"),
                                         ("dept_analyst", "acknowledged"), ("analyst", "resolved")])
def test_a_handler_who_may_not_handle_is_refused(world, two_alerts, who, status):
    before = _states(two_alerts)
    with pytest.raises(ValidationError) as exc:
        triage.do_triage_alerts([two_alerts[0].pk], status, acting_user=world.admin, assignee=getattr(world, who))
    assert "assignee" in exc.value.message_dict
    assert _states(two_alerts) == before


def test_giving_an_alert_through_the_api_and_the_page(world, two_alerts, api, as_user):
    url = reverse("telemetry-api:alert-groups-triage")
    ids = [str(two_alerts[0].pk)]
    for email in (world.other_admin.email, "nobody-here@test.vn"):  # same answer: no way to probe e-mails
        refused = api(world.admin).post(url, {"alerts": ids, "status": "acknowledged", "assignee": email},
                                        format="json")
        assert refused.status_code == 400 and "assignee" in refused.json()
    given = api(world.admin).post(url, {"alerts": ids, "status": "acknowledged", "assignee": world.analyst.email},
                                  format="json")
    assert given.status_code == 200 and given.json()[0]["assignee"] == world.analyst.email
    client = as_user(world.admin)
    page = client.get(reverse("telemetry:alert", args=[two_alerts[1].pk])).content.decode()
    assert f'value="{world.analyst.email}"' in page and f'value="{world.other_admin.email}"' not in page
    response = client.post(reverse("telemetry:alert_triage", args=[two_alerts[1].pk]),
                           {"status": "acknowledged", "assignee": world.analyst.email, "note": ""})
    assert response.status_code == 302 and Alert.objects.get(pk=two_alerts[1].pk).assignee == world.analyst
    crafted = client.post(reverse("telemetry:alert_triage", args=[two_alerts[1].pk]),
                          {"status": "acknowledged", "assignee": world.other_admin.email, "note": ""})
    assert crafted.status_code == 400 and Alert.objects.get(pk=two_alerts[1].pk).assignee == world.analyst
