"""Findings of a review of the incidents app, each with the behaviour a responder now gets."""
import pytest

from khien.core.models import AuditEntry, Notification
from khien.incidents import services
from khien.incidents.models import Incident, IncidentEvent, Status

from .conftest import walk

pytestmark = pytest.mark.django_db


def test_a_reopen_reason_longer_than_the_limit_is_refused_over_the_api(world, api, report):
    """The page's form capped the reason at 5,000 characters; the API stored any length (and sent it in every
    notice). The service now refuses it, with nothing changed."""
    incident = walk(report(reports_given=True), (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED,
                                                 Status.RESOLVED), world.analyst)
    client = api(world.analyst)
    before = (Incident.objects.get(pk=incident.pk).status, IncidentEvent.objects.count(),
              AuditEntry.objects.exclude(action="login").count(), Notification.objects.count())
    answer = client.post(f"/api/incidents/{incident.pk}/transition/",
                         {"status": "in_response", "reason": "x" * (services.REASON_MAX_CHARS + 1)},
                         format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400 and "reason" in answer.json()
    assert (Incident.objects.get(pk=incident.pk).status, IncidentEvent.objects.count(),
            AuditEntry.objects.exclude(action="login").count(), Notification.objects.count()) == before
    answer = client.post(f"/api/incidents/{incident.pk}/transition/",
                         {"status": "in_response", "reason": "x" * services.REASON_MAX_CHARS}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == Status.IN_RESPONSE


def test_a_detection_time_at_the_end_of_the_calendar_is_a_form_error_not_a_500(world, client, incident_content):
    """Year 9999 (a slip of the date picker) made the late-report warning add 24 hours past the last date Python
    has: the report form and its HTMX warning answered 500. It is now the form's "in the future" error."""
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    before = (Incident.objects.count(), AuditEntry.objects.exclude(action="login").count())
    page = client.post("/incidents/new/", {"organization": world.ministry.pk, "title": "Sự cố",
                                           "detected_at": "9999-12-31T23:59", "category": "infected-system",
                                           "severity": "high", "suspected_malicious": "true",
                                           "impact_beyond_organization": "false", "description": "Mô tả",
                                           "tlp": "amber"})
    assert page.status_code == 400
    assert page.context["form"].errors["detected_at"] == ["The time of detection cannot be in the future."]
    assert (Incident.objects.count(), AuditEntry.objects.exclude(action="login").count()) == before
    partial = client.get("/incidents/new/late/", {"detected_at": "9999-12-31T23:59"})
    assert partial.status_code == 200 and "msg-warning" not in partial.content.decode()
