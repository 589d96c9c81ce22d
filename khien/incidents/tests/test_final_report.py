"""The final report ("báo cáo kết thúc") reports the end of the response — its root cause and the mitigation applied —
so it is given once the incident is resolved (`given_from_status` of the stage in data/reporting.yaml). Before that
the service refuses (409, nothing changed), the API says why in the caller's language, and the page shows why
instead of the form."""
import copy

import pytest

from khien.core.errors import Refused
from khien.core.models import AuditEntry, Notification
from khien.incidents import content, services
from khien.incidents.models import Incident, IncidentEvent, ReportingPolicy, Status

from .conftest import walk

pytestmark = pytest.mark.django_db

FINAL = {"root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu, bật xác thực hai lớp"}
BEFORE_RESOLVED = (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED)


def state(incident):
    row = Incident.objects.filter(pk=incident.pk).values("final_report_at", "root_cause", "mitigation", "status").get()
    return (row, IncidentEvent.objects.count(), AuditEntry.objects.exclude(action="login").count(),
            Notification.objects.count())


def test_the_final_report_is_refused_until_the_incident_is_resolved(world, report):
    incident = report(reports_given=True)  # the detailed notification given
    for step in (None, *BEFORE_RESOLVED):
        if step is not None:
            incident = services.do_transition(incident, step, acting_user=world.analyst)
        before = state(incident)
        with pytest.raises(Refused) as exc:
            services.do_submit_stage(incident, "final", FINAL, acting_user=world.analyst)
        assert (exc.value.status, exc.value.code) == (409, "stage_too_early"), step
        assert state(incident) == before
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    incident = services.do_submit_stage(incident, "final", FINAL, acting_user=world.analyst)
    assert incident.final_report_at is not None and incident.root_cause == FINAL["root_cause"]
    # (The coordinator's task, left open by the analyst's resolving, is cancelled when closing.)
    assert services.do_transition(incident, Status.CLOSED, acting_user=world.analyst,
                                  cancel_open_tasks=True).status == Status.CLOSED


def test_the_api_refuses_it_with_the_reason_in_the_callers_language(world, api, report):
    incident = walk(report(reports_given=True), BEFORE_RESOLVED, world.analyst)
    client = api(world.analyst)
    before = state(incident)
    answer = client.post(f"/api/incidents/{incident.pk}/stage/", {"stage": "final", **FINAL},
                                     format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 409
    assert answer.json()["detail"] == ("“Final report” is given at the end of the response: the incident must be "
                                       "“Resolved” first.")
    assert state(incident) == before


def test_the_earlier_order_refusal_still_comes_first(world, report):
    """Without the detailed notification, the reporter is first told to give it (the step they can take now)."""
    incident = report()
    with pytest.raises(Refused) as exc:
        services.do_submit_stage(incident, "final", FINAL, acting_user=world.analyst)
    assert exc.value.code == "stage_order"


def test_a_policy_with_an_unknown_status_is_refused_at_load(incident_content):
    data = copy.deepcopy(ReportingPolicy.current().data)
    data["stages"][2]["given_from_status"] = "finished"
    with pytest.raises(content.ContentError, match="given_from_status"):
        content.check_policy(data)
    data["stages"][2]["given_from_status"] = "resolved"
    content.check_policy(data)  # the shipped rule
    assert ReportingPolicy.current().data["stages"][2]["given_from_status"] == "resolved"
