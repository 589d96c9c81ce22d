"""Walkthrough fixes on the collection, exchange and object pages, and the sightings job's audit entry.

1. The worker's sightings job is audited as the platform, not as a national coordinator who did nothing.
2. A collection's page gives absolute TAXII addresses that the TAXII server answers, and how to sign in.
3. The members form's organization list cannot widen the page.
4. Without a collection to import into, /intel/exchange/ shows no import form but who may import.
5. A report's STIX timestamps (published…) read in the page's local format, not as raw UTC ISO text.
"""
import base64
import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import translation

from khien.core.models import AuditEntry
from khien.intel import services, sightings
from khien.intel.models import StixObject, Tlp
from khien.intel.tlp import TLP_MARKING

from .conftest import TAXII, indicator


@pytest.fixture
def national(world):
    collection = services.do_create_collection(
        {"title": "Kênh chia sẻ quốc gia", "owner": world.ncsc, "kind": "national"}, acting_user=world.coordinator)
    services.do_set_collection_member(collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    return collection


# --- 1. The sightings job is the platform ----------------------------------------------------------------------


def test_sightings_job_is_audited_as_the_platform_not_as_the_coordinator(world, national, api):
    ind = indicator("45.77.10.9", tlp=Tlp.GREEN)
    services.do_add_objects(national, [ind], acting_user=world.coordinator)
    now = dt.datetime(2026, 12, 6, 11, 0, tzinfo=dt.timezone.utc)
    item = {"indicator_id": ind["id"], "organization_id": world.ministry.pk, "day": now.date(), "count": 4,
            "first_seen": now - dt.timedelta(hours=1), "last_seen": now}
    before = AuditEntry.objects.count()

    assert sightings.do_record_sightings([item], now=now) == 1  # as `telemetry.jobs.record_sightings` calls it

    entry = AuditEntry.objects.filter(seq__gt=before, action="import").get()
    assert entry.actor_id == "" and entry.actor_email == ""  # no person: "—" on the log page
    assert entry.object_type == "intel.collection" and entry.object_id == str(national.pk)
    assert entry.object_repr.startswith("Kênh chia sẻ quốc gia: +")  # still names the collection…
    assert entry.organization_id == str(world.ncsc.pk)  # …and its organization
    sighting = StixObject.objects.get(stix_type="sighting")
    assert sighting.producer_id == world.ministry.pk and sighting.data["count"] == 4
    # The audit API says the same.
    answer = api(world.coordinator).get(f"/api/audit/{entry.seq}/")
    assert answer.status_code == 200
    assert answer.json()["actor_id"] == "" and answer.json()["actor_email"] == ""
    assert answer.json()["organization_id"] == str(world.ncsc.pk)


def test_sightings_job_needs_no_coordinator_account(world, national):
    """The platform writes the sightings even when no one holds the coordinator role any more."""
    ind = indicator("45.77.10.10", tlp=Tlp.GREEN)
    services.do_add_objects(national, [ind], acting_user=world.coordinator)
    world.coordinator.is_active = False
    world.coordinator.save(update_fields=["is_active"])
    now = dt.datetime(2026, 12, 6, 11, 0, tzinfo=dt.timezone.utc)
    item = {"indicator_id": ind["id"], "organization_id": world.ministry.pk, "day": now.date(), "count": 1,
            "first_seen": now, "last_seen": now}
    assert sightings.do_record_sightings([item], now=now) == 1


def test_a_person_recording_sightings_is_still_named(world, national):
    ind = indicator("45.77.10.11", tlp=Tlp.GREEN)
    services.do_add_objects(national, [ind], acting_user=world.coordinator)
    now = dt.datetime(2026, 12, 6, 11, 0, tzinfo=dt.timezone.utc)
    item = {"indicator_id": ind["id"], "organization_id": world.ministry.pk, "day": now.date(), "count": 1,
            "first_seen": now, "last_seen": now}
    before = AuditEntry.objects.count()
    sightings.do_record_sightings([item], acting_user=world.coordinator, now=now)
    assert AuditEntry.objects.filter(seq__gt=before, action="import").get().actor_email == world.coordinator.email


# --- 2. TAXII addresses on a collection's page -----------------------------------------------------------------


def _english(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _code(html, element_id):
    found = re.search(rf'id="{element_id}">([^<]+)<', html)
    assert found, element_id
    return found.group(1)


def test_collection_page_gives_taxii_addresses_the_server_answers(world, national, as_user, make_token):
    ind = indicator("45.77.10.12", tlp=Tlp.GREEN)
    services.do_add_objects(national, [ind], acting_user=world.analyst)
    key = make_token(world.analyst)
    with translation.override("en"):
        html = _english(as_user(world.analyst)).get(reverse("intel:collection_detail", args=[national.pk])).content.decode()
    assert "/taxii2/…" not in html
    discovery, api_root = _code(html, "taxii-discovery"), _code(html, "taxii-api-root")
    objects, one = _code(html, "taxii-objects"), _code(html, "taxii-collection")
    for url in (discovery, api_root, objects, one):
        assert url.startswith("http://testserver/taxii2/"), url
    assert str(national.pk) in objects and objects.endswith("/objects/")
    # How to sign in: a personal API token, as HTTP Basic or Token, and where to make one.
    auth = html[html.index('id="taxii-auth"'):]
    assert "HTTP Basic" in auth and "Authorization: Token" in auth and reverse("core:tokens") in auth
    snippet = html[html.index('id="taxii-snippet"'):]
    assert f'Collection("{one}"' in snippet and world.analyst.email in snippet

    # The server answers what the page gives, with the token as the page says (both ways).
    from django.test import Client

    client = Client()

    def path(url):
        return url.removeprefix("http://testserver")

    found = client.get(path(discovery), HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=f"Token {key}")
    assert found.status_code == 200 and found.json()["api_roots"] == [api_root]
    assert client.get(path(api_root), HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    basic = base64.b64encode(f"{world.analyst.email}:{key}".encode()).decode()
    got = client.get(path(objects), HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert got.status_code == 200
    assert ind["id"] in {o["id"] for o in got.json()["objects"]}
    assert client.get(path(one), HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=f"Token {key}").json()["id"] == str(national.pk)


def test_collection_page_builds_addresses_from_the_request_host(world, national, as_user, settings):
    settings.ALLOWED_HOSTS = ["khien.gov.vn"]
    html = as_user(world.analyst).get(reverse("intel:collection_detail", args=[national.pk]), secure=True,
                                      HTTP_HOST="khien.gov.vn").content.decode()
    assert _code(html, "taxii-discovery") == "https://khien.gov.vn/taxii2/"


# --- 3. The members form ---------------------------------------------------------------------------------------


def test_members_form_select_is_kept_within_the_card(world, as_user):
    from khien.registry.models import Organization

    Organization.objects.filter(pk=world.province.pk).update(name_vi="Ủy ban nhân dân tỉnh " + "rất dài " * 30)
    own = services.do_create_collection({"title": "Nhóm", "owner": world.ministry, "kind": "group"},
                                        acting_user=world.admin)
    html = as_user(world.admin).get(reverse("intel:collection_detail", args=[own.pk])).content.decode()
    assert 'id="member-form"' in html and '<label class="member-org">' in html
    assert "khien/intel-collections.css" in html
    css = (Path(__file__).resolve().parents[2] / "static" / "khien" / "intel-collections.css").read_text()
    rule = re.search(r"#member-form select \{([^}]*)\}", css).group(1)
    assert "width: 100%" in rule and "max-width: 100%" in rule and "min-width: 0" in rule
    assert re.search(r"#member-form label\.member-org \{[^}]*min-width: 0", css)
    assert re.search(r"\.grid\.cols-2 > \.card \{[^}]*min-width: 0", css)


# --- 4. The import page without a collection to import into ------------------------------------------------------


def test_import_page_offers_no_form_to_who_may_import_nowhere(world, national, as_user):
    with translation.override("en"):
        page = _english(as_user(world.auditor)).get(reverse("intel:exchange"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="import-form"' not in html and 'type="submit">Import<' not in html
    box = html[html.index('id="import-not-allowed"'):]
    assert "You may not add objects to any collection." in box
    assert "Administrators and analysts import" in box
    assert f'href="{reverse("intel:exchange_export")}"' in box  # the export part stays
    assert as_user(world.auditor).get(reverse("intel:exchange_export")).status_code == 200


def test_import_page_keeps_the_form_for_a_writer(world, national, as_user):
    html = as_user(world.analyst).get(reverse("intel:exchange")).content.decode()
    assert 'id="import-form"' in html and 'id="import-not-allowed"' not in html
    assert str(national.pk) in html


# --- 5. STIX timestamps on an object's page --------------------------------------------------------------------


def test_report_page_shows_stix_timestamps_in_local_time(world, national, as_user):
    ind = indicator("45.77.10.13", tlp=Tlp.GREEN)
    report = {
        "type": "report", "spec_version": "2.1", "id": "report--6a7c3f0e-8d0b-4b1e-9d8e-2f3a4b5c6d7e",
        "created": "2026-12-06T11:02:52.294Z", "modified": "2026-12-06T11:02:52.294Z", "name": "Báo cáo thử",
        "report_types": ["threat-report"], "published": "2026-12-06T18:02:52.294Z", "object_refs": [ind["id"]],
        "object_marking_refs": [TLP_MARKING[Tlp.GREEN]],
    }
    services.do_add_objects(national, [ind, report], acting_user=world.analyst)
    with translation.override("en"):
        html = _english(as_user(world.analyst)).get(reverse("intel:object", args=[report["id"]])).content.decode()
    facts = html[html.index('id="facts"'):html.index('id="sightings"')]
    # 18:02 UTC is 01:02 the next day in Vietnam (UTC+7), shown as the other times of the page.
    assert ">07/12/2026 01:02</dd>" in facts
    assert ">2026-12-06T18:02:52.294Z<" not in facts
    assert 'title="2026-12-06T18:02:52.294Z"' in facts  # the STIX text on hover
    raw = html[html.index('id="raw"'):]
    assert "&quot;published&quot;: &quot;2026-12-06T18:02:52.294Z&quot;" in raw  # the JSON panel as stored


def test_sighting_page_shows_first_and_last_seen_in_local_time(world, national, as_user):
    ind = indicator("45.77.10.14", tlp=Tlp.GREEN)
    services.do_add_objects(national, [ind], acting_user=world.coordinator)
    now = dt.datetime(2026, 12, 6, 20, 30, tzinfo=dt.timezone.utc)
    sightings.do_record_sightings([{"indicator_id": ind["id"], "organization_id": world.ministry.pk,
                                    "day": now.date(), "count": 2, "first_seen": now - dt.timedelta(hours=2),
                                    "last_seen": now}], now=now)
    sid = StixObject.objects.get(stix_type="sighting").stix_id
    html = as_user(world.analyst).get(reverse("intel:object", args=[sid])).content.decode()
    facts = html[html.index('id="facts"'):html.index('id="sightings"')]
    assert ">07/12/2026 01:30</dd>" in facts and ">07/12/2026 03:30</dd>" in facts
    assert ">2026-12-06T20:30:00.000Z<" not in facts
