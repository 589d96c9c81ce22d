"""A source that sends, but whose records are all refused (registered as Suricata, sent Wazuh alerts; a device clock
never set): the connection works, what it sends does not. It is "rejecting" — "sends only refused records" —
everywhere its health is shown (sources page, source page, CLI, API status and filter, the level-3+ system's
monitoring state, the dashboard's figures), by the one rule the organization's notification reads too
(health.refused_since_last_accepted_q), not "never sent"; and a record sent again that is already stored (a
duplicate) is no refusal."""
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from khien.core.models import Notification
from khien.telemetry import health, services
from khien.telemetry.models import AlertSource

from .conftest import as_read, sample_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def misfiled(world, make_system, make_source):
    """A level-3 system watched by a Suricata source that was sent Wazuh alerts: every record refused."""
    system = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    source, _key = make_source(org=world.ministry, format="suricata", name="ids-misfiled")
    services.do_set_source_systems(source, [system], acting_user=world.admin)
    result = services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    assert result.accepted == 0 and result.rejected == len(sample_lines("wazuh_alerts.ndjson")) > 0
    return system, AlertSource.objects.get(pk=source.pk)


def _status_row(name):
    out = io.StringIO()
    call_command("telemetry", "sources", stdout=out)
    return next(line.split("\t") for line in out.getvalue().splitlines() if line.startswith(name + "\t"))


def test_a_source_whose_records_are_all_refused_is_rejecting_not_never_sent(misfiled, world, make_source, api):
    system, source = misfiled
    never, _key = make_source(org=world.ministry, format="ecs", name="never-sent")  # registered, sent nothing
    assert health.source_status(source) == "rejecting" and health.source_status(never) == "never"
    assert _status_row(source.name)[3] == "rejecting" and _status_row(never.name)[3] == "never"
    # The API: the status, and the filter (the old values keep working, `never_sent` too).
    client = api(world.admin)
    listed = {s["name"]: s["status"] for s in client.get("/api/telemetry/sources/").json()["results"]}
    assert listed[source.name] == "rejecting" and listed[never.name] == "never"
    for value, names in (("rejecting", [source.name]), ("never", [never.name]), ("never_sent", [never.name]),
                         ("silent", []), ("live", [])):
        body = client.get(f"/api/telemetry/sources/?status={value}").json()
        assert [s["name"] for s in body["results"]] == names, value
    refusal = client.get("/api/telemetry/sources/?status=bogus")
    assert refusal.status_code == 400 and "rejecting" in refusal.content.decode()
    assert client.get(f"/api/telemetry/sources/{source.name}/").json()["status"] == "rejecting"
    # Its level-3 system: not "never sent" — its source sends, only refused records.
    states = {s.code: s.monitoring for s in health.monitored_systems(world.admin)}
    assert states[system.code] == health.Monitoring.REJECTING
    body = client.get("/api/telemetry/monitoring/?monitoring=rejecting").json()
    assert [r["code"] for r in body["results"]] == [system.code]
    assert client.get("/api/telemetry/monitoring/?monitoring=never_sent").json()["count"] == 0


def test_the_pages_say_it_sends_only_refused_records_and_point_to_its_dead_letters(misfiled, world, as_user):
    system, source = misfiled
    client = as_user(world.admin)
    dead_letters = reverse("telemetry:source_dead_letters", args=[source.name])
    page = client.get(reverse("telemetry:sources")).content.decode()
    table = page.split('id="source-table"')[1].split("</table>")[0]
    assert 'class="tele-status st-rejecting"' in table and str(health.SOURCE_STATUS_LABELS["rejecting"]) in table
    assert f'href="{dead_letters}" data-rejecting-advice' in table
    # Not among the sources whose "connection was never made"; the call is to fix what it sends.
    never_calls = page.split('id="monitoring-never"')[1].split("</table>")[0]
    assert source.name not in never_calls and system.code not in never_calls
    calls = page.split('id="monitoring-rejecting"')[1].split("</table>")[0]
    assert source.name in calls and system.code in calls
    assert dead_letters in page.split('id="monitoring-rejecting-dead-letters"')[1].split("</p>")[0]
    # The header says what "silent" means: nothing accepted for a while (records may well arrive, refused).
    help_text = page.split('id="source-states-help"')[1].split("</p>")[0]
    assert "60 phút" in help_text and "bị từ chối" in help_text  # the page in Vietnamese, the platform's language
    assert "không nhận được dữ liệu nào" not in help_text
    # Its tab, as the dashboard's "not sending" figure counts it.
    listed = client.get(reverse("telemetry:sources") + "?status=rejecting").content.decode()
    assert listed.split('id="source-table"')[1].split("</table>")[0].count("<tr><td><a") == 1
    data = client.get(reverse("telemetry:dashboard_data")).json()
    assert data["kpis"]["sources_silent"] == 1 and data["kpis"]["systems_disconnected"] >= 1
    assert dict(zip(data["sources"]["keys"], data["sources"]["values"]))["rejecting"] == 1
    # The source's own page: its state, why, where to look.
    detail = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert 'id="source-rejecting"' in detail and f'href="{dead_letters}" id="rejecting-dead-letters"' in detail
    # The registry's system page: the live state and the 4-layer gap it makes.
    system_page = client.get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "badge mon-rejecting" in system_page and "badge mon-never_sent" not in system_page
    assert str(health.Monitoring.GAP_LABELS["rejecting"]) in system_page


def _notes(user):
    return list(Notification.objects.filter(recipient=user, kind="telemetry.source_health").order_by("created_at"))


def test_refusals_in_the_batch_of_the_last_accepted_record_are_no_rejecting(world, make_source, reads_in):
    """A batch with good and broken records, then nothing: the source fell silent; it did not "send only refused
    records" (the old rule read any refusal in the hour of the threshold)."""
    reads_in(world.admin, "en")
    source, _key = make_source(org=world.ministry, format="wazuh")
    result = services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson") + [b"{broken", b"[2]"])
    assert result.accepted > 0 and result.rejected == 2
    source.refresh_from_db()
    later = source.last_event_at + dt.timedelta(minutes=61)  # just past the hour's threshold
    assert health.source_status(source, now=later) == "silent"
    health.notify_source_health(now=later)
    [note] = _notes(world.admin)
    assert as_read(note)[1].startswith("Silent since ") and "Only refused" not in as_read(note)[1]


def test_a_resent_batch_is_no_refusal(world, make_source, reads_in):
    """The same batch sent again (a forwarder's retry): its stored records come back as duplicates, its broken
    ones are refused again. A healthy connection: not "sends only refused records"."""
    reads_in(world.admin, "en")
    source, _key = make_source(org=world.ministry, format="wazuh")
    batch = sample_lines("wazuh_alerts.ndjson") + [b"{broken"]
    services.ingest_batch(source, batch)
    again = services.ingest_batch(source, batch)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(batch) - 1, 1)
    source.refresh_from_db()
    later = source.last_event_at + dt.timedelta(minutes=61)
    assert health.source_status(source, now=later) == "silent"
    health.notify_source_health(now=later)
    [note] = _notes(world.admin)
    assert "Only refused" not in as_read(note)[1]


def test_a_later_resend_of_stored_records_is_a_healthy_connection(world, make_source, reads_in):
    """Stored records sent again an hour later, with one broken record: the source did send records that are not
    refused (already stored): live, and no "only refused records" notice."""
    reads_in(world.admin, "en")
    source, _key = make_source(org=world.ministry, format="wazuh")
    good = sample_lines("wazuh_alerts.ndjson")
    services.ingest_batch(source, good)
    AlertSource.objects.filter(pk=source.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=2))
    again = services.ingest_batch(source, good + [b"{broken"])
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(good), 1)
    source.refresh_from_db()
    assert health.source_status(source) != "rejecting"
    health.notify_source_health()
    assert not any("Only refused" in as_read(note)[1] for note in _notes(world.admin))


def test_a_source_fallen_to_refusals_is_told_and_its_system_listed(world, make_system, make_source, reads_in):
    """Accepted records, then (after the last accepted one) only refused ones: told as "only refused records",
    with its level-3 system, now not connected, listed for the organization and the coordinator."""
    reads_in(world.admin, "en")
    system = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    source, _key = make_source(org=world.ministry, format="wazuh")
    services.do_set_source_systems(source, [system], acting_user=world.admin)
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    AlertSource.objects.filter(pk=source.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=2))
    services.ingest_batch(source, [{"timestamp": 0, "rule": {"id": "5712", "level": 10}}])  # a clock at 1970
    source.refresh_from_db()
    assert health.source_status(source) == "rejecting"
    assert {s.code: s.monitoring for s in health.monitored_systems(world.admin)}[system.code] == "rejecting"
    health.notify_source_health()
    [note] = _notes(world.admin)
    title, body = as_read(note)
    assert body.startswith("Only refused records since ") and system.code in body and note.urgent
    [national] = _notes(world.coordinator)
    assert system.code in national.body
