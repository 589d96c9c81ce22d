"""The incident page offers what the services ask: a reason when triage changes the classification (a raised
severity's notice carries it), and a confirmation to share observables at a TLP less strict than the incident's."""
from django.utils import translation

from khien.core.models import Notification
from khien.incidents.models import Incident
from khien.intel.models import StixObject

from .test_observables import feed  # noqa: F401 (fixture)


def test_triage_on_the_page_takes_a_reason_that_the_raised_severity_notice_carries(world, as_user, report):
    incident = report(severity="medium")
    client = as_user(world.analyst)
    with translation.override("en"):
        page = client.get(f"/incidents/{incident.pk}/").content.decode()
    form = page[page.index('id="triage-form"'):page.index("</form>", page.index('id="triage-form"'))]
    assert 'name="triage-reason"' in form
    response = client.post(f"/incidents/{incident.pk}/triage/", {
        "triage-category": incident.category, "triage-severity": "critical", "triage-tlp": "amber",
        "triage-reason": "Cổng dịch vụ công ngừng hoạt động toàn tỉnh"})
    assert response.status_code == 302
    assert Incident.objects.get(pk=incident.pk).severity == "critical"
    notice = Notification.objects.get(kind="incidents.severity", recipient=world.admin)
    assert "Cổng dịch vụ công ngừng hoạt động toàn tỉnh" in notice.body


def test_sharing_below_the_incidents_tlp_on_the_page_asks_first(world, report, feed, as_user):  # noqa: F811
    own, _other = feed
    incident = report(observables=[("ipv4", "45.77.10.46")])  # the incident is TLP:AMBER
    [observable] = incident.observables.all()
    client = as_user(world.analyst)
    data = {"share-observables": [str(observable.pk)], "share-tlp": "clear", "share-collection": str(own.pk)}
    before = StixObject.objects.count()
    refused = client.post(f"/incidents/{incident.pk}/observables/share/", data)
    assert refused.status_code == 400 and 'name="share-confirm_downgrade"' in refused.content.decode()
    assert StixObject.objects.count() == before
    confirmed = client.post(f"/incidents/{incident.pk}/observables/share/", {**data, "share-confirm_downgrade": "on"})
    assert confirmed.status_code == 302
    observable.refresh_from_db()
    assert observable.shared_tlp == "clear"
