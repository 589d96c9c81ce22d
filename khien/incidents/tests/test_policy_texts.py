"""The initial-report deadline the report form states is the reporting policy's (`deadlines.initial_report_hours`),
never a number written in a template or a form."""
import pytest

from khien.incidents import deadlines

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("hours", [24, 12])
def test_the_report_form_states_the_policys_initial_report_deadline(world, client, incident_content, hours):
    from khien.incidents.models import ReportingPolicy

    policy = ReportingPolicy.current()
    policy.data["stages"][0]["due"] = {"from": "detected_at", "hours": hours}
    policy.save()
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get("/incidents/new/").content.decode()
    assert f"The initial report is due {hours} hours after detection." in page
    assert f"Vietnam time. The initial report is due {hours} hours after detection." in page
    other = 36 - hours  # the other figure is nowhere
    assert f"due {other} hours" not in page


def test_a_deadline_not_counted_in_hours_from_detection_is_not_stated_as_hours(world, client, incident_content):
    from khien.incidents.models import ReportingPolicy

    policy = ReportingPolicy.current()
    policy.data["stages"][0]["due"] = {"from": "detected_at", "months": 1}
    policy.save()
    assert deadlines.initial_report_hours(policy.data) is None
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get("/incidents/new/").content.decode()
    assert "hours after detection" not in page and "Give what you know now" in page
