"""A banking-ISAC analyst's walkthrough of imports and search: refusals said once, in the reader's language and
naming the file's real problem; defanged URLs read alike by the form and the CSV import; the author of imported
objects by its name; URL indicators found by their domain; STIX types named; who may subscribe to a partner."""
import uuid

import pytest
from django import forms as django_forms
from django.test import Client
from django.urls import reverse
from django.utils import translation

from khien.intel import search
from khien.intel.exchange import csv_io, misp, stix_import
from khien.intel.exchange.common import ImportRejected
from khien.intel.forms import pattern_for
from khien.intel.models import IndicatorKind, IndicatorValue, StixObject, Tlp, stix_type_label
from khien.intel.tlp import TLP_MARKING
from khien.core.errors import Refused

from .conftest import indicator
from .test_exchange_formats import counts, upload

pytestmark = pytest.mark.django_db


def bundle(*objects):
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def rejected_of(call, lang="vi"):
    with translation.override(lang), pytest.raises(ImportRejected) as exc:
        call()
    return exc.value


def page(user, lang="vi"):
    client = Client()
    client.force_login(user)
    client.cookies["khien_language"] = lang
    return client


# --- 1. A rejected STIX file: one line per cause, without the id again, the pattern in the reader's language ---


def test_broken_pattern_and_bad_timestamp_are_said_once_each_without_the_id(world, sharing):
    bad = indicator("192.0.2.10", pattern="[ipv4-addr:value = '192.0.2.10'", created="2026-13-01T00:00:00Z")
    before = counts()
    exc = rejected_of(lambda: stix_import.import_stix(sharing.collection, upload(bundle(bad)),
                                                      acting_user=world.analyst))
    messages = [r["message"] for r in exc.report.rejected]
    assert all(r["ref"] == bad["id"] for r in exc.report.rejected)
    assert not any(bad["id"] in m for m in messages)  # the "Object or row" column names it
    assert not any("Pattern failed to validate" in m or "Error found" in m for m in messages)
    assert sum("2026-13-01" in m for m in messages) == 1  # not a timestamp: one line, not three
    assert len(messages) == 2
    assert counts() == before


def test_broken_pattern_in_english_is_said_once(world, sharing):
    bad = indicator("192.0.2.11", pattern="[ipv4-addr:value = '192.0.2.11'")
    exc = rejected_of(lambda: stix_import.import_stix(sharing.collection, upload(bundle(bad)),
                                                      acting_user=world.analyst), "en")
    assert [r["message"] for r in exc.report.rejected] == [
        "Pattern failed to validate: FAIL: Error found at line 1:31. missing ']' at '<EOF>'."]


def test_the_import_page_lists_each_cause_on_its_own_row(world, sharing):
    bad = indicator("192.0.2.12", pattern="[ipv4-addr:value = '192.0.2.12'", created="2026-13-01T00:00:00Z")
    response = page(world.analyst).post(reverse("intel:exchange"), {
        "file": upload(bundle(bad), "bad.json"), "format": "stix", "collection": sharing.collection.pk})
    assert response.status_code == 422
    rows = response.content.decode().split('id="import-rejected"')[1].split("</table>")[0]
    assert rows.count("<tr>") == 3  # the header and one row per cause
    assert rows.count(bad["id"]) == 2
    assert "Pattern failed" not in rows


# --- 2. Files of the wrong shape -----------------------------------------------------------------------------


def test_a_lone_invalid_object_is_said_to_be_one_object_not_a_bundle(world, sharing):
    lone = indicator("192.0.2.13", valid_from="yesterday")
    exc = rejected_of(lambda: stix_import.import_stix(sharing.collection, upload(lone), acting_user=world.analyst),
                      "en")
    assert "one STIX object (type “indicator”), not a bundle" in str(exc.message)
    assert exc.report.total == 1  # what the file holds, also when refused
    assert exc.details()


def test_a_lone_valid_object_is_imported_as_a_bundle_of_one(world, sharing):
    report = stix_import.import_stix(sharing.collection, upload(indicator("192.0.2.14")), acting_user=world.analyst)
    assert (report.total, report.created) == (1, 1)


def test_a_stix_1_xml_file_is_refused_naming_stix_1(world, sharing):
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1"/>'
    with translation.override("en"), pytest.raises(Refused) as exc:
        stix_import.import_stix(sharing.collection, upload(xml, "package.xml"), acting_user=world.analyst)
    assert "STIX 1.x (XML) is not supported" in str(exc.value.message)
    assert "STIX 2.1" in str(exc.value.message)


def test_a_stix_2_0_bundle_is_refused_naming_the_version(world, sharing):
    old = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "spec_version": "2.0",
           "objects": [{k: v for k, v in indicator("192.0.2.16").items() if k not in ("spec_version", "pattern_type")}]}
    with translation.override("en"), pytest.raises(Refused) as exc:
        stix_import.import_stix(sharing.collection, upload(old), acting_user=world.analyst)
    assert "STIX 2.0 bundle" in str(exc.value.message)


def test_a_misp_attribute_without_value_is_named(world, sharing):
    ok = {"type": "ip-dst", "value": "203.0.113.90", "uuid": str(uuid.uuid4()), "category": "Network activity"}
    empty = {"type": "domain", "uuid": str(uuid.uuid4()), "category": "Network activity"}
    event = {"Event": {"info": "Wave", "uuid": str(uuid.uuid4()), "Attribute": [ok, empty]}}
    before = counts()
    exc = rejected_of(lambda: misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst), "en")
    message = " ".join(r["message"] for r in exc.report.rejected)
    assert "attribute 2" in message and empty["uuid"] in message and "domain" in message and "“value”" in message
    assert counts() == before


# --- 3. One rule for URLs: the form and the CSV import ------------------------------------------------------


def test_a_defanged_url_is_read_as_the_real_one_by_the_csv_import_and_the_form(world, sharing):
    csv = b"type,value\nurl,hxxp://defanged-walk[.]top/a\n"
    csv_io.import_csv(sharing.collection, upload(csv, "walk.csv"), acting_user=world.analyst)
    assert IndicatorValue.objects.filter(kind=IndicatorKind.URL, value="http://defanged-walk.top/a").exists()
    assert not IndicatorValue.objects.filter(value__contains="hxxp").exists()
    assert pattern_for(IndicatorKind.URL, "hxxp://defanged-walk[.]top/a") == (
        "[url:value = 'http://defanged-walk.top/a']", "http://defanged-walk.top/a")
    assert pattern_for(IndicatorKind.DOMAIN, "defanged-walk[.]top")[1] == "defanged-walk.top"


def test_what_is_not_a_url_is_refused_by_both(world, sharing):
    with pytest.raises(django_forms.ValidationError):
        pattern_for(IndicatorKind.URL, "defanged-walk.top/a")
    before = counts()
    with pytest.raises(ImportRejected):
        csv_io.import_csv(sharing.collection, upload(b"type,value\nurl,defanged-walk.top/a\n", "bad.csv"),
                          acting_user=world.analyst)
    assert counts() == before


# --- 4. The author of imported objects by its name, as far as its TLP lets one see it ---------------------------


def _authored(world, sharing, identity_tlp):
    author = {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
              "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
              "name": "Ngân hàng Walk", "identity_class": "organization",
              "object_marking_refs": [TLP_MARKING[identity_tlp]]}
    obj = indicator("192.0.2.15", tlp=Tlp.GREEN, created_by_ref=author["id"])
    stix_import.import_stix(sharing.collection, upload(bundle(author, obj)), acting_user=world.analyst)
    return author, obj


def test_the_author_identity_of_the_bundle_is_shown_by_its_name(world, sharing):
    author, obj = _authored(world, sharing, Tlp.GREEN)
    assert search.identity_names([author["id"]], world.other_admin) == {author["id"]: "Ngân hàng Walk"}
    html = page(world.other_admin).get(reverse("intel:object", args=[obj["id"]])).content.decode()
    assert "Ngân hàng Walk" in html


def test_an_author_identity_the_reader_may_not_see_stays_an_id(world, sharing):
    author, obj = _authored(world, sharing, Tlp.AMBER_STRICT)
    assert search.identity_names([author["id"]], world.analyst) == {author["id"]: "Ngân hàng Walk"}
    # PROV reads the collection and the GREEN indicator, not MIN's AMBER+STRICT identity
    assert search.latest_visible(world.other_admin, obj["id"]) is not None
    assert search.identity_names([author["id"]], world.other_admin) == {author["id"]: author["id"]}
    html = page(world.other_admin).get(reverse("intel:object", args=[obj["id"]])).content.decode()
    assert "Ngân hàng Walk" not in html


# --- 5. A domain finds the URL indicators on it ----------------------------------------------------------------


def test_a_domain_search_finds_the_url_indicators_on_that_domain(world, sharing):
    on = indicator("https://xacthuc-otp-walk.top/login?next=1", kind="url", tlp=Tlp.GREEN)
    port = indicator("http://xacthuc-otp-walk.top:8080/x", kind="url", tlp=Tlp.GREEN)
    other = indicator("https://xacthuc-otp-walk.top.evil.example/login", kind="url", tlp=Tlp.GREEN)
    near = indicator("https://xacthuc-otp-walk.topx/login", kind="url", tlp=Tlp.GREEN)
    hidden = indicator("https://xacthuc-otp-walk.top/secret", kind="url", tlp=Tlp.AMBER_STRICT)
    from khien.intel import services

    services.do_add_objects(sharing.collection, [on, port, other, near, hidden], acting_user=world.analyst)
    groups = search.search_values(world.other_admin, "xacthuc-otp-walk.top")
    found = {(g.value, g.why) for g in groups}
    assert found == {("https://xacthuc-otp-walk.top/login?next=1", "url"), ("http://xacthuc-otp-walk.top:8080/x", "url")}
    # the producer sees its AMBER+STRICT one too; the search page says why each matched
    assert "https://xacthuc-otp-walk.top/secret" in {g.value for g in search.search_values(world.analyst,
                                                                                          "xacthuc-otp-walk.top")}
    html = page(world.other_admin, "en").get(reverse("intel:search"), {"q": "xacthuc-otp-walk.top"}).content.decode()
    assert "https://xacthuc-otp-walk.top/login?next=1" in html and "a URL on xacthuc-otp-walk.top" in html
    assert "/secret" not in html


def test_the_url_lookup_reads_index_ranges_not_every_url(world, sharing):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        search.url_rows("xacthuc-otp-walk.top")
    assert len(queries) <= 7
    if connection.vendor == "sqlite":  # each read is a search of the value index, never a scan of the table
        with connection.cursor() as cursor:
            for query in queries:
                cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
                assert "SEARCH" in plan and "SCAN intel_indicatorvalue" not in plan, plan


# --- 6. STIX types named; a collection's recent list without the observables of a MISP event -------------------


def test_observable_types_have_names():
    with translation.override("en"):
        assert stix_type_label("network-traffic") == "network traffic"
        assert stix_type_label("email-message") == "e-mail message"
        assert stix_type_label("x-custom-thing") == "x-custom-thing"


def test_collection_recent_list_leaves_observed_data_out_and_says_so(world, sharing):
    event = {"Event": {"info": "Wave", "uuid": str(uuid.uuid4()), "distribution": 3, "Attribute": [
        {"type": "ip-dst", "value": "203.0.113.91", "uuid": str(uuid.uuid4()), "category": "Network activity",
         "to_ids": False},
        {"type": "domain", "value": "recent-walk.example", "uuid": str(uuid.uuid4()), "category": "Network activity",
         "to_ids": True}]}}
    misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert StixObject.objects.filter(stix_type="observed-data").exists()
    html = page(world.analyst, "en").get(reverse("intel:collection_detail", args=[sharing.collection.pk])
                                         ).content.decode()
    recent = html.split('id="recent"')[1].split("</section>")[0]
    assert "recent-walk.example" in recent
    assert ">observed data<" not in recent and ">network traffic<" not in recent and "network-traffic" not in recent
    assert 'id="recent-observed-note"' in recent
    assert f"?collection={sharing.collection.pk}" in recent


# --- 7. Who may subscribe to a partner's TAXII server ------------------------------------------------------------


def test_federation_page_says_who_may_subscribe_to_one_who_may_not(world):
    html = page(world.analyst, "en").get(reverse("intel:exchange_federation")).content.decode()
    assert 'id="subscription-not-allowed"' in html and "an administrator of the organization" in html
    assert 'id="subscription-form"' not in html


def test_federation_page_gives_an_administrator_the_form(world, sharing, coordinator_client):
    html = coordinator_client.get(reverse("intel:exchange_federation")).content.decode()
    assert 'id="subscription-form"' in html and 'id="subscription-not-allowed"' not in html
