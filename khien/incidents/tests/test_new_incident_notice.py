"""A new incident is told at once to those above the reporting organization and to the national coordinator
(`notices.reported`, called by `services.do_report_incident`): the administrators and analysts of every organization
above it up to the top of its tree, and the national coordinators — never the person who reported, nor anyone of
another tree, nor read-only roles; under TLP:AMBER+STRICT or TLP:RED only the reporting organization's own people
and the coordinator (TLP 2.0: not the organizations above). Once per incident, in each reader's language."""
import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone, translation

from khien.conftest import _org, _user
from khien.core import notifications
from khien.core.models import Notification
from khien.core.roles import Role
from khien.incidents import notices, services
from khien.incidents.models import Status

pytestmark = pytest.mark.django_db

KIND = "incidents.reported"


@pytest.fixture
def chain(world):
    """PROV ─ PROV-C1 (commune) ─ PROV-C1-T (a unit under it): the commune's part-time IT officer reports; the
    province's administrator (world.other_admin) and analyst, the commune's other analyst, the province's auditor and
    a responder of the province; the ministry's people (world.admin, world.analyst) are another tree."""
    unit = _org("PROV-C1-T", "agency", parent=world.commune)
    return {
        "officer": _user("it@xa.test.vn", world.commune, Role.ORG_ANALYST),
        "colleague": _user("colleague@xa.test.vn", world.commune, Role.ORG_ADMIN),
        "prov_analyst": _user("analyst@prov.test.vn", world.province, Role.ORG_ANALYST),
        "prov_auditor": _user("auditor@prov.test.vn", world.province, Role.AUDITOR),
        "prov_responder": _user("responder@prov.test.vn", world.province, Role.RESPONDER),
        "unit_analyst": _user("analyst@to.test.vn", unit, Role.ORG_ANALYST),
    }


def told(incident) -> list[str]:
    return sorted(Notification.objects.filter(kind=KIND, url=f"/incidents/{incident.pk}/")
                  .values_list("recipient__email", flat=True))


def test_a_new_incident_reaches_the_province_and_the_coordinator_not_the_reporter(world, chain, report):
    phishing = report(org=world.commune, user=chain["officer"], category="phishing", severity="medium",
                      title="Thư giả mạo gửi tới cán bộ xã")
    assert told(phishing) == sorted([world.coordinator.email, world.other_admin.email, chain["prov_analyst"].email,
                                     chain["colleague"].email])
    # Not: the reporter, the province's read-only roles and responders, a unit below the commune, another tree.
    for person in (chain["officer"], chain["prov_auditor"], chain["prov_responder"], chain["unit_analyst"],
                   world.admin, world.analyst, world.responder):
        assert person.email not in told(phishing)
    notice = Notification.objects.get(kind=KIND, recipient=world.other_admin)
    assert not notice.urgent  # with the digest, like the other notices of what people do (in Khiên at once)
    assert phishing.reference in notice.title and "Thư giả mạo gửi tới cán bộ xã" in notice.title
    assert "Tổ chức PROV-C1" in notice.title


def test_a_department_s_incident_reaches_the_ministry(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    assert told(incident) == sorted([world.coordinator.email, world.admin.email, world.analyst.email])


def test_the_coordinator_reporting_for_an_organization_is_not_told_of_their_own_report(world, chain, report):
    incident = report(org=world.commune, user=world.coordinator)
    assert world.coordinator.email not in told(incident)
    assert world.other_admin.email in told(incident) and chain["officer"].email in told(incident)


@pytest.mark.parametrize("tlp", ["red", "amber_strict"])
def test_a_red_or_amber_strict_incident_is_not_told_above_the_reporting_organization(world, chain, report, tlp):
    incident = report(org=world.commune, user=chain["officer"], tlp=tlp, title="Sự cố nhạy cảm")
    # The reporting organization's own people and the coordinator, to whom the report is addressed.
    assert told(incident) == sorted([world.coordinator.email, chain["colleague"].email])
    # Denied: the province's administrator and analyst, who would hear of it under TLP:AMBER.
    assert not Notification.objects.filter(recipient__in=[world.other_admin, chain["prov_analyst"]]).exists()
    assert notices.told_of_new_incident(incident, chain["officer"]) and \
        world.other_admin not in notices.told_of_new_incident(incident, chain["officer"])


@pytest.mark.parametrize("tlp", ["clear", "green", "amber"])
def test_clear_green_and_amber_incidents_are_told_up_the_chain(world, chain, report, tlp):
    incident = report(org=world.commune, user=chain["officer"], tlp=tlp)
    assert world.other_admin.email in told(incident) and chain["prov_analyst"].email in told(incident)


def test_nobody_who_may_not_read_the_incident_is_told(world, chain, report):
    # A switched-off province is no longer above anyone's incidents to be told of.
    world.province.is_active = False
    world.province.save(update_fields=["is_active"])
    incident = report(org=world.commune, user=chain["officer"])
    assert world.other_admin.email not in told(incident)
    # An inactive coordinator is not told either.
    world.coordinator.is_active = False
    world.coordinator.save(update_fields=["is_active"])
    later = report(org=world.commune, user=chain["officer"])
    assert told(later) == [chain["colleague"].email]


def test_once_per_incident_not_again_on_edits(world, chain, report):
    incident = report(org=world.commune, user=chain["officer"], severity="medium")
    first = Notification.objects.filter(kind=KIND).count()
    assert first == 4
    services.do_correct_report(incident, {"title": "Thư giả mạo (đã sửa)"}, acting_user=chain["officer"])
    services.do_triage(incident, {"severity": "high"}, acting_user=world.coordinator)
    services.do_reclassify(incident, {"tlp": "green"}, acting_user=world.other_admin, reason="Chia sẻ rộng hơn")
    services.do_add_comment(incident, "Đã cô lập máy", acting_user=chain["officer"])
    services.do_transition(incident, Status.IN_RESPONSE, acting_user=chain["officer"])
    assert Notification.objects.filter(kind=KIND).count() == first


def test_a_late_report_says_so_and_when_triage_is_due(world, chain, report):
    now = timezone.now()
    late = report(org=world.commune, user=chain["officer"], severity="high", now=now,
                  detected_at=now - dt.timedelta(hours=30), late_reason="Cán bộ bán thời gian nghỉ phép")
    notice = Notification.objects.get(kind=KIND, recipient=world.coordinator)
    due = notices.when_text(late.detected_at + dt.timedelta(hours=24))
    triage = notices.when_text(now + dt.timedelta(hours=4))
    with translation.override("en"):
        assert f"The initial report came late: it was due at {due}." in notice.shown_body
        assert f"Triage is due by {triage}." in notice.shown_body
    on_time = report(org=world.commune, user=chain["officer"])
    with translation.override("en"):
        assert "came late" not in Notification.objects.get(kind=KIND, recipient=world.coordinator,
                                                           url=f"/incidents/{on_time.pk}/").shown_body


def test_each_reader_reads_it_in_their_language_and_the_e_mail_in_the_chosen_one(world, chain, report, api):
    world.coordinator.language = "en"
    world.coordinator.save(update_fields=["language"])
    with translation.override("en"):  # the officer reads Khiên in English: the stored text stays Vietnamese
        incident = report(org=world.commune, user=chain["officer"], severity="high", title="Trang bị thay giao diện")
    ref = incident.reference
    notice = Notification.objects.get(kind=KIND, recipient=world.other_admin)
    # Stored (and e-mailed by default) in the platform's language: the names the content gives in Vietnamese.
    assert "Tổ chức PROV-C1" in notice.title and "Trang bị thay giao diện" in notice.title
    assert "Cao" in notice.body and "Organization PROV-C1" not in notice.title
    with translation.override("en"):
        assert notice.shown_title == f"New incident {ref} reported by Organization PROV-C1: Trang bị thay giao diện"
        assert "Severity: High. TLP:AMBER." in notice.shown_body
        assert f"Reported by {chain['officer'].full_name}." in notice.shown_body
    [en_item] = [n for n in api(world.other_admin).get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="en")
                 .json()["results"] if n["kind"] == KIND]
    assert en_item["title"] == f"New incident {ref} reported by Organization PROV-C1: Trang bị thay giao diện"
    # The digest e-mails each person in the language they chose (the coordinator: English; the others: Vietnamese).
    mail.outbox.clear()
    notifications.send_digests(timezone.now() + dt.timedelta(hours=1))
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects[world.coordinator.email] == \
        f"[Khiên] New incident {ref} reported by Organization PROV-C1: Trang bị thay giao diện"
    assert "Tổ chức PROV-C1" in subjects[world.other_admin.email]
