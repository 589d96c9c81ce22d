"""The receiving side of an early warning: its values taken out for a firewall or a DNS server (TXT, CSV, STIX, RPZ
and the blocklists narrowed to it), the way from the organization's own sightings to an incident report, the other
warnings citing the same values, and the warnings covering an alert (for the alert's page).

What a reader takes out is what the page shows them: the warning's own values and the values of the indicators it
names that the reader may see (a TLP:RED indicator they may not see stays out); a warning they may not see is a 404.
"""
import csv
import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from khien.core.models import AuditEntry
from khien.intel import services, services_warnings
from khien.intel.models import Collection, CollectionKind, Tlp

from .conftest import indicator
from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
RED_SHA = "c" * 64


def _issue(user, **kwargs):
    data = {"title": kwargs.pop("title", "Chiến dịch mã độc"), "summary": "Synthetic test warning",
            "severity": "high", **kwargs.pop("data", {})}
    return services_warnings.do_issue_warning(data, acting_user=user, **kwargs)


@pytest.fixture
def wave(land):
    """The coordinator's indicators: a SHA-256 (GREEN, labelled C2), a domain (GREEN), a TLP:RED hash only NCSC sees,
    and an unrelated domain (GREEN) the warning does not name; the warning to MIN names the first three and its own
    values songtoi.vn and 45.33.1.2 (and the warning-listed 8.8.8.8)."""
    w = land.world
    coll = Collection.objects.create(title="National", kind=CollectionKind.NATIONAL, owner=w.ncsc)
    named = [indicator(SHA, name="Loader", tlp=Tlp.GREEN, pattern=f"[file:hashes.'SHA-256' = '{SHA}']",
                       labels=["c2"]),
             indicator("c2.songtoi.vn", kind="domain-name", name="Wave C2 domain", tlp=Tlp.GREEN),
             indicator(RED_SHA, name="Secret sample", tlp=Tlp.RED,
                       pattern=f"[file:hashes.'SHA-256' = '{RED_SHA}']")]
    other = indicator("khonglienquan.vn", kind="domain-name", name="Other", tlp=Tlp.GREEN)
    services.do_add_objects(coll, [*named, other], acting_user=w.coordinator)
    warning = _issue(w.coordinator, organizations=[w.ministry],
                     data={"values": ["songtoi.vn", "45.33.1.2", "8.8.8.8"],
                           "indicator_refs": [o["id"] for o in named]})
    private = _issue(w.coordinator, organizations=[w.province], title="Chỉ cho tỉnh",
                     data={"values": ["songtoi.vn"]})
    return type("Wave", (), {"warning": warning, "private": private, "named": named, "world": w})


def _download(client, user, warning, fmt):
    return signed_in(client, user).get(reverse("intel:warning_download", args=[warning.pk, fmt]))


def _body(response) -> str:
    return b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()


# --- Downloads -------------------------------------------------------------------------------------


def test_the_text_file_lists_the_values_per_type_without_what_the_reader_may_not_see(client, wave):
    w = wave.world
    response = _download(client, w.admin, wave.warning, "txt")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    body = _body(response)
    lines = body.splitlines()
    for value in ("songtoi.vn", "45.33.1.2", SHA, "c2.songtoi.vn"):
        assert value in lines
    assert RED_SHA not in body and "khonglienquan.vn" not in body
    assert "8.8.8.8" not in lines  # warning-listed: blocking it would cut a service
    # grouped per type, under a comment naming it
    assert lines.index("# sha256") < lines.index(SHA)
    assert lines.index("# domain") < lines.index("c2.songtoi.vn") < lines.index("songtoi.vn")
    assert "# TLP:AMBER" in body
    # the coordinator (NCSC produced the TLP:RED indicator) gets it, and the file says TLP:RED
    body = _body(_download(client, w.coordinator, wave.warning, "txt"))
    assert RED_SHA in body.splitlines() and "# TLP:RED" in body


def test_the_csv_file_has_one_row_per_value_with_its_indicators(client, wave):
    w = wave.world
    response = _download(client, w.admin, wave.warning, "csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    by_value = {r["value"]: r for r in rows}
    assert set(by_value) == {"songtoi.vn", "45.33.1.2", "8.8.8.8", SHA, "c2.songtoi.vn"}
    assert by_value[SHA]["type"] == "sha256" and wave.named[0]["id"] in by_value[SHA]["indicators"]
    assert by_value[SHA]["names"] == "Loader" and by_value[SHA]["tlp"] == "green"
    assert by_value["songtoi.vn"]["indicators"] == "" and by_value["songtoi.vn"]["tlp"] == "amber"
    assert by_value["8.8.8.8"]["warning_lists"]  # kept, and marked
    assert RED_SHA not in _body(_download(client, w.admin, wave.warning, "csv"))


def test_the_stix_bundle_holds_the_indicators_the_reader_may_see(client, wave):
    w = wave.world
    response = _download(client, w.admin, wave.warning, "stix")
    assert response.status_code == 200
    bundle = json.loads(_body(response))
    assert bundle["type"] == "bundle"
    ids = {o["id"] for o in bundle["objects"]}
    assert {wave.named[0]["id"], wave.named[1]["id"]} <= ids
    assert wave.named[2]["id"] not in ids and RED_SHA not in json.dumps(bundle)
    assert "khonglienquan.vn" not in json.dumps(bundle)
    bundle = json.loads(_body(_download(client, w.coordinator, wave.warning, "stix")))
    assert wave.named[2]["id"] in {o["id"] for o in bundle["objects"]}


def test_the_rpz_zone_blocks_the_warning_domains_only(client, wave):
    w = wave.world
    response = _download(client, w.admin, wave.warning, "rpz")
    assert response.status_code == 200
    body = _body(response)
    assert "songtoi.vn CNAME ." in body and "c2.songtoi.vn CNAME ." in body
    assert "khonglienquan.vn" not in body and "45.33.1.2" not in body and "$ORIGIN" in body


def test_a_warning_the_reader_may_not_see_is_not_downloaded(client, wave):
    w = wave.world
    for fmt in ("txt", "csv", "stix", "rpz"):
        assert _download(client, w.admin, wave.private, fmt).status_code == 404
    assert _download(client, w.other_admin, wave.private, "txt").status_code == 200
    assert _download(client, w.admin, wave.warning, "pdf").status_code == 404
    assert signed_in(client, None).get(
        reverse("intel:warning_download", args=[wave.warning.pk, "txt"])).status_code == 302


def test_each_download_is_audited(client, wave):
    w = wave.world
    before = AuditEntry.objects.filter(action="export").count()
    _body(_download(client, w.admin, wave.warning, "csv"))
    _body(_download(client, w.admin, wave.warning, "stix"))
    entries = list(AuditEntry.objects.filter(action="export").order_by("-seq")[:2])
    assert AuditEntry.objects.filter(action="export").count() == before + 2
    assert {e.after["format"] for e in entries} == {"csv", "stix"}
    assert all(e.after["filters"] == {"warning": str(wave.warning.pk)} for e in entries)
    assert all(e.actor_email == w.admin.email for e in entries) if hasattr(entries[0], "actor_email") else True
    # a refused download is not an export
    _download(client, w.admin, wave.private, "csv")
    assert AuditEntry.objects.filter(action="export").count() == before + 2


def test_the_page_offers_the_downloads(client, wave):
    w = wave.world
    with translation.override("en"):
        page = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[wave.warning.pk])))
    assert 'id="warning-downloads"' in page
    for fmt in ("txt", "csv", "stix", "rpz"):
        assert reverse("intel:warning_download", args=[wave.warning.pk, fmt]) in page
    assert f"blocklists/domains.txt?warning={wave.warning.pk}" in page


# --- Blocklists narrowed to a warning ---------------------------------------------------------------


def test_the_blocklists_narrowed_to_a_warning(wave):
    w = wave.world
    api = APIClient()
    api.force_authenticate(w.admin)
    response = api.get(f"/api/intel/blocklists/domains.txt?warning={wave.warning.pk}")
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert "songtoi.vn" in lines and "c2.songtoi.vn" in lines and "khonglienquan.vn" not in lines
    lines = api.get(f"/api/intel/blocklists/ip.txt?warning={wave.warning.pk}").content.decode().splitlines()
    assert "45.33.1.2" in lines and "8.8.8.8" not in lines
    zone = api.get(f"/api/intel/blocklists/rpz.zone?warning={wave.warning.pk}").content.decode()
    assert "c2.songtoi.vn CNAME ." in zone and "khonglienquan.vn" not in zone
    # unnarrowed, the other visible domain is there
    assert "khonglienquan.vn" in api.get("/api/intel/blocklists/domains.txt").content.decode()
    # a warning the caller may not see answers as the page does: 404, nothing listed
    for bad in (wave.private.pk, "not-a-warning"):
        response = api.get(f"/api/intel/blocklists/domains.txt?warning={bad}")
        assert response.status_code == 404 and "songtoi.vn" not in response.content.decode()
    # changes since: the warning's own values count from when it was issued
    since = (timezone.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    delta = api.get(f"/api/intel/blocklists/domains.txt?warning={wave.warning.pk}&since={since}")
    assert "+songtoi.vn" in delta.content.decode().splitlines()


# --- From sightings to an incident report ------------------------------------------------------------


def _source(org, name, coordinator):
    from khien.telemetry import services as telemetry

    return telemetry.do_create_source(org, name, "wazuh", acting_user=coordinator)[0]


def _alert_with_hit(org, source, value, *, indicator_id="indicator--x", key="k1"):
    from khien.telemetry.models import Alert, IndicatorHit

    now = timezone.now().replace(microsecond=0)
    alert = Alert.objects.create(organization=org, source=source, key=key, rule_id="100", rule_name="Wave contact",
                                 first_seen=now, last_seen=now)
    IndicatorHit.objects.create(event_id=f"ev-{key}", organization=org, source=source, indicator_pk=1,
                                indicator_id=indicator_id, kind="domain", value=value, field="domain", time=now,
                                alert=alert)
    return alert


def test_the_report_incident_link_shows_only_with_sightings(client, wave):
    w = wave.world
    url = reverse("intel:warning_detail", args=[wave.warning.pk])
    with translation.override("en"):
        page = html(signed_in(client, w.analyst).get(url))
    assert 'id="report-incident-MIN"' not in page
    alert = _alert_with_hit(w.ministry, _source(w.ministry, "wazuh-min", w.coordinator), "songtoi.vn")
    with translation.override("en"):
        page = html(signed_in(client, w.analyst).get(url))
    assert 'id="report-incident-MIN"' in page
    assert reverse("telemetry:alert", args=[alert.pk]) + "#alert-incident" in page
    # a C2-labelled indicator: the 24-hour hint
    assert 'id="c2-hint"' in page
    # an auditor reads the sightings but does not report
    page = html(signed_in(client, w.auditor).get(url))
    assert 'id="seen-MIN"' in page and 'id="report-incident-MIN"' not in page


def test_several_alerts_lead_to_the_alert_list_with_a_hint(client, wave):
    w = wave.world
    source = _source(w.ministry, "wazuh-min", w.coordinator)
    _alert_with_hit(w.ministry, source, "songtoi.vn", key="k1")
    _alert_with_hit(w.ministry, source, "c2.songtoi.vn", key="k2")
    page = html(signed_in(client, w.analyst).get(reverse("intel:warning_detail", args=[wave.warning.pk])))
    block = page[page.index('id="report-incident-MIN"'):]
    block = block[:block.index("</p>")]
    assert reverse("telemetry:alerts") in block and "organization=MIN" in block


# --- Related warnings --------------------------------------------------------------------------------


def test_related_warnings_are_those_the_reader_may_see_citing_the_same_values(client, wave):
    w = wave.world
    again = _issue(w.coordinator, organizations=[w.ministry], title="Lại là songtoi.vn",
                   data={"values": ["songtoi.vn"]})
    by_indicator = _issue(w.coordinator, organizations=[w.ministry], title="Cùng chỉ báo",
                          data={"indicator_refs": [wave.named[0]["id"]]})
    unrelated = _issue(w.coordinator, organizations=[w.ministry], title="Không liên quan",
                       data={"values": ["khac-han.vn"]})
    related = services_warnings.related_warnings(w.admin, wave.warning)
    assert {r.pk for r in related} == {again.pk, by_indicator.pk}
    assert wave.private.pk not in {r.pk for r in related} and unrelated.pk not in {r.pk for r in related}
    # the coordinator sees every warning: the province's one is related too
    assert wave.private.pk in {r.pk for r in services_warnings.related_warnings(w.coordinator, wave.warning)}
    with translation.override("en"):
        page = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[wave.warning.pk])))
    block = page[page.index('id="related-warnings"'):]
    assert reverse("intel:warning_detail", args=[again.pk]) in block
    assert reverse("intel:warning_detail", args=[wave.private.pk]) not in page
    assert "Chỉ cho tỉnh" not in page
    # the reader's answer is shown
    services_warnings.do_acknowledge(again.targets.get(organization=w.ministry), "acted", acting_user=w.admin)
    with translation.override("en"):
        page = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[wave.warning.pk])))
    block = page[page.index('id="related-warnings"'):]
    assert f'data-related="{again.pk}"' in block and "ack-acted" in block[:block.index("</ul>")]
    # nothing related: no section
    page = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[unrelated.pk])))
    assert 'id="related-warnings"' not in page


# --- Warnings covering an alert ----------------------------------------------------------------------


def test_the_warnings_covering_an_alert(client, wave):
    w = wave.world
    source = _source(w.ministry, "wazuh-min", w.coordinator)
    by_value = _alert_with_hit(w.ministry, source, "songtoi.vn", key="k1")
    by_indicator = _alert_with_hit(w.ministry, source, "khongco.vn", indicator_id=wave.named[0]["id"], key="k2")
    no_hit = _alert_with_hit(w.ministry, source, "khongco.vn", key="k3")
    covering = services_warnings.warnings_covering_alert(by_value, w.analyst)
    assert [c.pk for c in covering] == [wave.warning.pk]  # not the province's warning about the same value
    assert [c.pk for c in services_warnings.warnings_covering_alert(by_indicator, w.analyst)] == [wave.warning.pk]
    assert services_warnings.warnings_covering_alert(no_hit, w.analyst) == []
    # hidden: a reader who may not see the warning (PROV's admin) is told of none of MIN's
    prov_alert = _alert_with_hit(w.province, _source(w.province, "wazuh-prov", w.coordinator), "songtoi.vn",
                                 key="k4")
    assert [c.pk for c in services_warnings.warnings_covering_alert(prov_alert, w.other_admin)] == [wave.private.pk]
    # the include renders the list with links
    from django.template.loader import render_to_string

    with translation.override("en"):
        text = render_to_string("intel/_warnings_covering.html", {"covering_warnings": covering})
    assert reverse("intel:warning_detail", args=[wave.warning.pk]) in text and "NCSC" in text
    assert render_to_string("intel/_warnings_covering.html", {"covering_warnings": []}).strip() == ""


def test_the_alert_page_names_the_warning_that_covers_it(client, wave):
    """A province's analyst triaging an alert on a warned value saw no sign of the warning: the alert's page now
    links it (and only for a reader who may see the warning)."""
    w = wave.world
    source = _source(w.ministry, "wazuh-min-page", w.coordinator)
    alert = _alert_with_hit(w.ministry, source, "songtoi.vn", key="k-page")
    client.force_login(w.analyst)
    page = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    shown = page[page.index('id="covering-warnings"'):]
    assert reverse("intel:warning_detail", args=[wave.warning.pk]) in shown[:1500]
    assert str(wave.private.pk) not in page


def test_a_warning_of_values_alone_downloads_as_stix_indicators_a_platform_takes(client, wave):
    """Walkthrough: a warning whose values the sender typed (no stored indicator) downloaded as a bundle of its
    report and markings, nothing to block. Its values are now indicators with patterns, marked with its TLP, valid
    STIX 2.1 (stix2-validator), with the same ids at every download."""
    from stix2validator import ValidationOptions, validate_instance

    from khien.intel.tlp import TLP_MARKING

    w = wave.world
    first = json.loads(_body(_download(client, w.other_admin, wave.private, "stix")))
    indicators = [o for o in first["objects"] if o["type"] == "indicator"]
    assert [o["pattern"] for o in indicators] == ["[domain-name:value = 'songtoi.vn']"]
    assert indicators[0]["object_marking_refs"] == [TLP_MARKING[wave.private.tlp]]
    assert TLP_MARKING[wave.private.tlp] in {o["id"] for o in first["objects"]}  # its definition travels with it
    for obj in first["objects"]:
        result = validate_instance(obj, ValidationOptions(version="2.1", strict=False))
        assert result.is_valid, (obj["id"], [str(e) for e in result.errors])
    again = json.loads(_body(_download(client, w.other_admin, wave.private, "stix")))
    assert {o["id"] for o in again["objects"] if o["type"] == "indicator"} == {indicators[0]["id"]}
    # A value that a visible indicator already carries is that indicator, not written twice.
    named = json.loads(_body(_download(client, w.admin, wave.warning, "stix")))
    patterns = [o["pattern"] for o in named["objects"] if o["type"] == "indicator"]
    assert len(patterns) == len(set(patterns))
    assert "8.8.8.8" not in json.dumps(named)  # warning-listed: not an indicator to block
