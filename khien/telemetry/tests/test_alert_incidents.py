"""Alerts added to an incident already reported (TheHive's "merge into case"), and listed on its page."""
import re

import pytest
from django.urls import reverse

from khien.core.errors import Refused
from khien.core.models import AuditEntry
from khien.incidents.models import EventKind, Incident, IncidentEvent, Status
from khien.telemetry import services, triage
from khien.telemetry.models import Alert, AlertStatus
from khien.telemetry.tests.test_matching import ecs


@pytest.fixture
def setup(world, make_source):
    from khien.incidents import content

    content.load_all()
    ministry_source = make_source(world.ministry, "ecs")[0]
    department_source = make_source(world.department, "ecs")[0]
    province_source = make_source(world.province, "ecs")[0]
    services.ingest_batch(ministry_source, [ecs("192.0.2.10", rule="c2"), ecs("192.0.2.11", rule="brute")])
    services.ingest_batch(department_source, [ecs("192.0.2.12", rule="c2")])
    services.ingest_batch(province_source, [ecs("192.0.2.13", rule="c2")])
    first = Alert.objects.get(organization=world.ministry, rule_id="c2")
    incident = triage.do_alert_to_incident(first, acting_user=world.analyst)
    return {"incident": incident, "first": first,
            "brute": Alert.objects.get(organization=world.ministry, rule_id="brute"),
            "department": Alert.objects.get(organization=world.department),
            "province": Alert.objects.get(organization=world.province)}


def _unchanged(setup):
    """What a refused call must leave as it was: the alerts' states, the incident's observables and journal."""
    incident = setup["incident"]
    return ([(a.status, a.incident_id) for a in Alert.objects.order_by("pk")],
            sorted(incident.observables.values_list("value", flat=True)),
            IncidentEvent.objects.filter(incident=incident).count())


def test_alerts_join_an_incident_of_their_organization_or_one_above(world, setup):
    incident = setup["incident"]
    audits = AuditEntry.objects.count()
    joined = triage.do_add_alerts_to_incident([setup["brute"].pk, str(setup["department"].pk)], incident,
                                              acting_user=world.analyst)
    assert len(joined) == 2
    for name in ("brute", "department"):
        alert = Alert.objects.get(pk=setup[name].pk)
        assert alert.status == AlertStatus.ESCALATED and alert.incident == incident
        assert alert.triaged_by == world.analyst
    # Their observables join the incident's, once each.
    values = list(incident.observables.values_list("value", flat=True))
    assert {"192.0.2.10", "192.0.2.11", "192.0.2.12", "10.0.0.1"} <= set(values) and len(values) == len(set(values))
    line = IncidentEvent.objects.get(incident=incident, kind=EventKind.ALERTS)
    assert set(line.data["alerts"]) == {str(setup["brute"].pk), str(setup["department"].pk)}
    assert "Rule brute" in line.text and "MIN-D1" in line.text and line.actor == world.analyst
    assert AuditEntry.objects.filter(object_type="telemetry.alert").count() >= 2
    assert AuditEntry.objects.count() > audits
    # The incident lists the alerts behind it.
    assert {a.pk for a in triage.alerts_behind(world.analyst, incident)} == {
        setup["first"].pk, setup["brute"].pk, setup["department"].pk}
    # A department analyst sees only the department's alert (and not the ministry's incident at all).
    assert [a.pk for a in triage.alerts_behind(world.dept_analyst, incident)] == [setup["department"].pk]


def test_denials_change_nothing(world, setup):
    incident = setup["incident"]
    before = _unchanged(setup)
    cases = [
        # Readers may not change alerts.
        (world.auditor, [setup["brute"].pk], incident, 403),
        # Another organization's alert does not exist for the ministry's analyst.
        (world.analyst, [setup["brute"].pk, setup["province"].pk], incident, 404),
        # The province sees neither the incident nor the ministry's alerts.
        (world.other_admin, [setup["province"].pk], incident, 404),
        # The department's analyst may change its alert but does not see the ministry's incident.
        (world.dept_analyst, [setup["department"].pk], incident, 404),
        # The alert the incident was reported from is reported already.
        (world.analyst, [setup["first"].pk, setup["brute"].pk], incident, 409),
    ]
    for user, ids, target, status in cases:
        with pytest.raises(Refused) as exc:
            triage.do_add_alerts_to_incident(ids, target, acting_user=user)
        assert exc.value.status == status, (user, status)
    # An incident of a unit cannot take the alerts of the organization above it.
    unit_incident = triage.do_alert_to_incident(setup["department"], acting_user=world.dept_analyst)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        triage.do_add_alerts_to_incident([setup["brute"].pk], unit_incident, acting_user=world.analyst)
    assert "incident" in exc.value.message_dict and "MIN-D1" in str(exc.value)
    # A closed incident takes no more alerts.
    Incident.objects.filter(pk=incident.pk).update(status=Status.CLOSED)
    with pytest.raises(Refused) as exc:
        triage.do_add_alerts_to_incident([setup["brute"].pk], incident, acting_user=world.analyst)
    assert exc.value.status == 409
    Incident.objects.filter(pk=incident.pk).update(status=Status.NEW)
    _states, observables, journal = before
    assert _unchanged(setup)[1:] == (observables, journal)
    assert Alert.objects.get(pk=setup["brute"].pk).status == AlertStatus.NEW


def test_find_incident_by_reference_or_id_only_among_visible_ones(world, setup):
    incident = setup["incident"]
    assert triage.find_incident(world.analyst, incident.reference.lower()) == incident
    assert triage.find_incident(world.analyst, str(incident.pk)) == incident
    for user, value in ((world.other_admin, incident.reference), (world.analyst, "SC-1999-000001"),
                        (world.analyst, ""), (world.analyst, "x" * 500)):
        with pytest.raises(Refused) as exc:
            triage.find_incident(user, value)
        assert exc.value.status == 404


def test_api_adds_alerts_and_filters_by_incident(world, setup, api):
    incident = setup["incident"]
    url = reverse("telemetry-api:alert-groups-add-to-incident")
    payload = {"alerts": [str(setup["brute"].pk)], "incident": incident.reference}
    assert api(world.auditor).post(url, payload, format="json").status_code == 403
    assert api(world.other_admin).post(url, payload, format="json").status_code == 404
    assert api(world.analyst).post(url, {"alerts": "x", "incident": incident.reference},
                                   format="json").status_code == 400
    missing = api(world.analyst).post(url, {"alerts": [str(setup["brute"].pk)], "incident": "SC-1999-000001"},
                                      format="json")
    assert missing.status_code == 404 and "SC-1999-000001" in missing.json()["detail"]
    assert Alert.objects.get(pk=setup["brute"].pk).status == AlertStatus.NEW
    done = api(world.analyst).post(url, payload, format="json")
    assert done.status_code == 200
    assert [row["incident"] for row in done.json()] == [incident.reference]
    assert api(world.analyst).post(url, payload, format="json").status_code == 409
    listed = api(world.analyst).get(reverse("telemetry-api:alert-groups"), {"incident": incident.reference,
                                                                             "status": "escalated"}).json()
    assert {row["id"] for row in listed["results"]} == {str(setup["first"].pk), str(setup["brute"].pk)}
    assert api(world.other_admin).get(reverse("telemetry-api:alert-groups"),
                                      {"incident": incident.reference}).json()["count"] == 0
    assert api(world.analyst).get(reverse("telemetry-api:alert-groups"),
                                  {"incident": "SC-1999-000001"}).json()["count"] == 0


def test_pages_add_alerts_and_the_incident_lists_them(world, setup, as_user):
    incident = setup["incident"]
    client = as_user(world.analyst)
    page = client.get(reverse("telemetry:alert", args=[setup["brute"].pk])).content.decode()
    assert 'id="alert-join"' in page and incident.reference in page
    # From the list: ticked alerts with a reference that does not exist → the list again, with the error.
    bulk = reverse("telemetry:alerts_join_incident")
    refused = client.post(bulk, {"alerts": [str(setup["brute"].pk)], "incident": "SC-1999-000001",
                                 "next_query": "status=open"})
    assert refused.status_code == 404 and "SC-1999-000001" in refused.content.decode()
    assert Alert.objects.get(pk=setup["brute"].pk).incident is None
    done = client.post(bulk, {"alerts": [str(setup["brute"].pk), str(setup["department"].pk)],
                              "incident": incident.reference, "next_query": "status=open"})
    assert done.status_code == 302 and done.url.endswith("?status=open")
    assert Alert.objects.filter(incident=incident).count() == 3
    # The incident's page lists them, with a link to each, and its journal says so.
    detail = client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    assert 'id="alerts"' in detail
    for name in ("first", "brute", "department"):
        assert reverse("telemetry:alert", args=[setup[name].pk]) in detail
    assert "ev-alerts" in detail
    # A reported alert's page offers no more joining.
    page = client.get(reverse("telemetry:alert", args=[setup["brute"].pk])).content.decode()
    assert 'id="alert-join"' not in page


def test_the_alert_page_form_joins_and_refuses(world, setup, as_user):
    incident = setup["incident"]
    client = as_user(world.analyst)
    url = reverse("telemetry:alert_join_incident", args=[setup["brute"].pk])
    # Not one of the choices offered (another organization's incident id): the form refuses it.
    assert client.post(url, {"incident": "not-an-incident"}).status_code == 400
    assert as_user(world.auditor).post(url, {"incident": str(incident.pk)}).status_code == 400  # no choices for a reader
    assert Alert.objects.get(pk=setup["brute"].pk).incident is None
    done = as_user(world.analyst).post(url, {"incident": str(incident.pk)})
    assert done.status_code == 302 and done.url == reverse("incidents:incident_detail", args=[incident.pk])
    assert Alert.objects.get(pk=setup["brute"].pk).incident == incident


def test_related_alerts_share_an_address_within_the_days_and_the_scope(world, setup, make_source):
    import datetime as dt

    from django.utils import timezone

    source = make_source(world.ministry, "ecs")[0]
    old = timezone.now() - dt.timedelta(days=triage.RELATED_DAYS + 3)
    services.ingest_batch(source, [ecs("192.0.2.10", rule="old", when=old), ecs("198.51.100.7", rule="other-src"),
                                   ecs("192.0.2.10", rule="same-src")])
    first = setup["first"]  # 192.0.2.10 → 10.0.0.1
    related = {other.rule_id + "@" + other.organization.code: addresses
               for other, addresses in triage.related_alerts(world.analyst, first)}
    # Every ecs sample targets 10.0.0.1; the ministry's analyst sees the ministry's and its department's alerts only,
    # and nothing seen more than RELATED_DAYS before.
    assert related == {"brute@MIN": ["10.0.0.1"], "c2@MIN-D1": ["10.0.0.1"], "other-src@MIN": ["10.0.0.1"],
                       "same-src@MIN": ["10.0.0.1", "192.0.2.10"]}
    national = {other.organization.code for other, _a in triage.related_alerts(world.coordinator, first)}
    assert "PROV" in national
    assert triage.related_alerts(world.other_admin, setup["province"]) == []  # the province sees only its own alert


def test_the_alert_page_shows_related_alerts(world, setup, as_user):
    page = as_user(world.analyst).get(reverse("telemetry:alert", args=[setup["first"].pk])).content.decode()
    assert 'id="alert-related"' in page
    assert reverse("telemetry:alert", args=[setup["brute"].pk]) in page
    assert reverse("telemetry:alert", args=[setup["province"].pk]) not in page


def test_api_related_alerts(world, setup, api):
    url = reverse("telemetry-api:alert-group-related", args=[setup["first"].pk])
    rows = api(world.analyst).get(url).json()
    assert {(row["rule_id"], row["organization"], tuple(row["addresses"])) for row in rows} == {
        ("brute", "MIN", ("10.0.0.1",)), ("c2", "MIN-D1", ("10.0.0.1",))}
    assert api(world.other_admin).get(url).status_code == 404
    assert api().get(url).status_code in (401, 403)


def test_related_alerts_join_the_incident_from_the_alerts_page(world, setup, as_user):
    """On the page of an alert reported as an incident, its related alerts can be ticked and added to that
    incident; back on the same page."""
    incident, first = setup["incident"], setup["first"]
    page = as_user(world.analyst).get(reverse("telemetry:alert", args=[first.pk])).content.decode()
    assert 'id="alert-related-join"' in page and incident.reference in page
    reader_page = as_user(world.auditor).get(reverse("telemetry:alert", args=[first.pk])).content.decode()
    assert 'id="alert-related"' in reader_page and 'id="alert-related-join"' not in reader_page
    done = as_user(world.analyst).post(reverse("telemetry:alerts_join_incident"), {
        "alerts": [str(setup["brute"].pk), str(setup["department"].pk)], "incident": incident.reference,
        "from_alert": str(first.pk)})
    assert done.status_code == 302 and done.url == reverse("telemetry:alert", args=[first.pk])
    assert Alert.objects.filter(incident=incident).count() == 3
    # A from_alert that is not an alert id: back to the list, never to an address taken from the form.
    services.ingest_batch(first.source, [ecs("192.0.2.99", rule="later")])
    later = Alert.objects.get(rule_id="later")
    again = as_user(world.analyst).post(reverse("telemetry:alerts_join_incident"), {
        "alerts": [str(later.pk)], "incident": incident.reference, "from_alert": "//evil.example",
        "next_query": "status=open"})
    assert again.status_code == 302 and again.url == reverse("telemetry:alerts") + "?status=open"
    assert Alert.objects.get(pk=later.pk).incident == incident


def test_a_unit_whose_alert_joined_an_incident_above_it_sees_the_reference_only(world, setup, as_user):
    """The department's alert added to the ministry's incident: the department's people learn that it is handled
    there (the reference, the organization) but not the incident's title — they do not see that incident — and are
    offered no form that adds to it."""
    incident, department = setup["incident"], setup["department"]
    incident.title = "Confidential ministry title"
    incident.save(update_fields=["title"])
    triage.do_add_alerts_to_incident([department.pk], incident, acting_user=world.analyst)
    # A related alert of the department, so that the page would offer ticking it.
    services.ingest_batch(department.source, [ecs("192.0.2.12", rule="brute-d")])
    page = as_user(world.dept_analyst).get(reverse("telemetry:alert", args=[department.pk])).content.decode()
    assert incident.reference in page and "MIN" in page
    assert "Confidential ministry title" not in page
    assert reverse("incidents:incident_detail", args=[incident.pk]) not in page
    assert 'id="alert-related"' in page and 'id="alert-related-join"' not in page
    # The ministry's analyst, who sees the incident, gets its title and link.
    page = as_user(world.analyst).get(reverse("telemetry:alert", args=[department.pk])).content.decode()
    assert "Confidential ministry title" in page
    assert reverse("incidents:incident_detail", args=[incident.pk]) in page


def test_the_incident_page_shows_the_first_alerts_and_links_to_all(world, setup, as_user, monkeypatch, make_source):
    from khien.incidents import views as incident_views

    incident = setup["incident"]
    source = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(source, [ecs(f"192.0.2.{n}", rule=f"r{n}") for n in range(100, 107)])
    triage.do_add_alerts_to_incident(list(Alert.objects.filter(rule_id__startswith="r").values_list("pk", flat=True)),
                                     incident, acting_user=world.analyst)
    monkeypatch.setattr(incident_views, "ALERTS_SHOWN", 3)
    client = as_user(world.analyst)
    page = client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    section = page[page.index('id="alerts"'):page.index('id="evidence"')]
    assert section.count("/telemetry/alerts/0") == 3
    assert re.search(r'id="alerts-all">[^<]*\b8\b', section)
    # Seven alerts in one journal line: folded under a summary.
    journal = page[page.index('id="journal"'):]
    assert "<details" in journal and "Rule r100" in journal
    # The alert list filtered by the incident: its eight alerts, whatever their status.
    listed = client.get(reverse("telemetry:alerts") + f"?status=all&incident={incident.reference.lower()}")
    body = listed.content.decode()
    assert 'id="alert-incident"' in body and body.count('name="alerts" value=') == 8
    assert "Rule brute" not in body
    unknown = client.get(reverse("telemetry:alerts") + "?status=all&incident=SC-1999-000001").content.decode()
    assert unknown.count('name="alerts" value=') == 0
