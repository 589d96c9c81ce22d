"""Defects of the walkthrough of 2026-12-06: the audit texts of revocations and corrections in the reader's
language; a revoked object's page says when, by whom and why; a warning-listed value is flagged when an indicator
is created (page: a confirmation first; API: a `warnings` list); wordings of the collection and export pages; the
MISP export event carries its `date`."""
import datetime as dt
import uuid

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from pymisp import MISPEvent

from khien.core import audit
from khien.core.models import AuditEntry
from khien.intel import services, services_versions
from khien.intel.exchange import misp, stix_export
from khien.intel.models import StixObject, Tlp
from khien.intel.views_exchange import stix_type_choices

from .conftest import indicator
from .test_correct_revoke import VALUE, listed  # noqa: F401 (a fixture)
from .test_views import _indicator_post, signed_in

pytestmark = pytest.mark.django_db

API = "/api/intel/"
PRIVATE = "10.79.4.4"  # RFC 1918: on a warning list


def html(response):
    return response.content.decode()


def in_english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


# --- 1. The audit texts of a revocation and a correction read in the reader's language -----------------------


def test_revoke_and_correct_read_in_the_readers_language_in_the_audit_log(client, sharing, listed):  # noqa: F811
    world = sharing.world
    services_versions.do_correct_indicator(listed, {"confidence": 50}, acting_user=world.analyst)
    services_versions.do_revoke_object(listed, acting_user=world.analyst, reason="False positive")
    entries = list(AuditEntry.objects.filter(object_type="intel.stixobject").order_by("seq"))
    # stored as written (the log is hashed), whatever the language of the person who acted
    assert [e.object_repr for e in entries] == ["STIX corrected: C2 at a VPS", "STIX revoked: C2 at a VPS"]
    expected = {"en": ["Indicator corrected: C2 at a VPS", "STIX object revoked: C2 at a VPS"],
                "vi": ["Sửa chỉ báo: C2 at a VPS", "Thu hồi đối tượng STIX: C2 at a VPS"]}
    for language, texts in expected.items():
        with translation.override(language):
            assert [e.text for e in audit.describe(entries, world.analyst)] == texts, language

    c = signed_in(client, world.analyst)
    page = html(c.get(reverse("core:audit")))  # Vietnamese by default
    assert all(escape(t) in page for t in expected["vi"]) and "STIX revoked" not in page
    page = html(in_english(c).get(reverse("core:audit")))
    assert all(escape(t) in page for t in expected["en"]) and "STIX revoked" not in page


# --- 2. A revoked object's page says when, by whom and why ---------------------------------------------------


def test_a_revoked_objects_page_shows_when_who_and_why(client, sharing, listed):  # noqa: F811
    world = sharing.world
    services_versions.do_revoke_object(listed, acting_user=world.analyst, reason="A CDN address, not a C2")
    entry = AuditEntry.objects.filter(object_type="intel.stixobject").get()
    when = timezone.localtime(entry.at).strftime("%d/%m/%Y %H:%M")
    url = reverse("intel:object", args=[listed])

    c = signed_in(client, world.analyst)  # the producer's analyst: reads the log entry, so sees who
    page = html(c.get(url))
    assert 'id="revocation"' in page and "A CDN address, not a C2" in page
    assert f"Thu hồi lúc {when}" in page and f"bởi {escape(world.ministry.name)}" in page
    assert world.analyst.email in page
    page = html(in_english(c).get(url))
    assert f"Revoked on {when}" in page and f"by {escape(world.ministry.name)}" in page
    assert "A CDN address, not a C2" in page

    # a reader in another organization: when, which organization and why, but not the person (the log's business)
    page = html(signed_in(client, world.other_admin).get(url))
    assert "A CDN address, not a C2" in page and f"bởi {escape(world.ministry.name)}" in page
    assert world.analyst.email not in page


def test_an_object_received_revoked_shows_its_version_time_and_no_reason(client, sharing):
    world = sharing.world
    obj = indicator("45.77.10.21", tlp=Tlp.GREEN, name="Received revoked", revoked=True)
    services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst)
    stored = StixObject.objects.get(stix_id=obj["id"])
    page = html(signed_in(client, world.other_admin).get(reverse("intel:object", args=[obj["id"]])))
    assert 'id="revocation"' in page and "không nêu" in page
    assert "Thu hồi lúc " + timezone.localtime(stored.modified).strftime("%d/%m/%Y %H:%M") in page
    page = html(signed_in(client, world.analyst).get(reverse("intel:object", args=[sharing.ids[Tlp.GREEN]])))
    assert 'id="revocation"' not in page  # not revoked: nothing said


# --- 3. A warning-listed value is flagged when an indicator is created ------------------------------------------


def test_the_form_asks_before_storing_a_warning_listed_value(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    url = reverse("intel:indicator_create")
    before = (StixObject.objects.count(), AuditEntry.objects.count())
    response = c.post(url, _indicator_post(sharing.collection, name="Internal host", value=PRIVATE,
                                           confirm_warninglisted=""))
    assert response.status_code == 400
    page = html(response)
    assert 'id="warninglisted-confirm"' in page and 'name="confirm_warninglisted"' in page
    assert PRIVATE in page and "danh sách lành tính" in page
    assert (StixObject.objects.count(), AuditEntry.objects.count()) == before  # nothing stored
    page = html(in_english(c).post(url, _indicator_post(sharing.collection, name="Internal host", value=PRIVATE,
                                                        confirm_warninglisted="")))
    assert "left out of the blocklists and the SOC matching" in page

    response = c.post(url, _indicator_post(sharing.collection, name="Internal host", value=PRIVATE,
                                           confirm_warninglisted="on"))
    assert response.status_code == 302
    stored = StixObject.objects.get(data__name="Internal host")
    page = html(c.get(reverse("intel:object", args=[stored.stix_id])))
    assert 'id="warning-listed"' in page and "left out of the blocklists" in page
    page = html(signed_in(client, world.analyst).get(reverse("intel:object", args=[stored.stix_id])))
    assert 'id="warning-listed"' in page and "danh sách lành tính" in page


def test_the_form_does_not_ask_for_a_value_on_no_list(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, value="45.77.10.22",
                                                                          confirm_warninglisted=""))
    assert response.status_code == 302
    stix_id = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert 'id="warning-listed"' not in html(c.get(reverse("intel:object", args=[stix_id])))


def test_the_api_stores_a_warning_listed_value_and_says_so(sharing, api):
    client = api(sharing.world.analyst)
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    private, public = indicator(PRIVATE, tlp=Tlp.GREEN), indicator("45.77.10.23", tlp=Tlp.GREEN)
    response = client.post(url, {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                            "objects": [private, public]}}, format="json")
    assert response.status_code == 201
    answer = response.json()
    assert answer["created"] == 2 and answer["total"] == 2  # stored, and the counts as before
    [warning] = answer["warnings"]
    assert (warning["id"], warning["kind"], warning["value"]) == (private["id"], "ipv4", PRIVATE)
    assert warning["warninglists"] and PRIVATE in warning["detail"]
    assert StixObject.objects.filter(stix_id=private["id"]).exists()
    response = client.post(url, {"bundle": [indicator("45.77.10.24")]}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 201 and response.json()["warnings"] == []


# --- 4. Wordings ---------------------------------------------------------------------------------------------


def test_the_collection_form_names_the_owning_organization(client, world):
    c = signed_in(client, world.admin)
    page = html(c.get(reverse("intel:collection_create")))
    assert "Tổ chức sở hữu" in page and "Cơ quan chủ quản" not in page
    assert "Owning organization" in html(in_english(c).get(reverse("intel:collection_create")))


def test_a_refused_export_says_nothing_was_exported(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    response = c.get(reverse("intel:exchange_export"), {"download": "1", "format": "stix", "ids": "not-an-id"})
    assert response.status_code == 400
    page = html(response)
    assert "Chưa xuất dữ liệu nào" in page and "Chưa lưu dữ liệu nào" not in page
    assert "not-an-id" in page  # the refusal itself is shown
    page = html(in_english(c).get(reverse("intel:exchange_export"), {"download": "1", "format": "stix",
                                                                     "ids": "not-an-id"}))
    assert "Nothing was exported" in page and "Nothing was saved" not in page


def test_the_export_type_list_is_written_in_lower_case():
    for language in ("vi", "en"):
        with translation.override(language):
            labels = dict(stix_type_choices())
            # the type names are common nouns, as "domain name" is; an acronym keeps its capitals
            assert all(not label[0].isupper() or any(c.isupper() for c in label.split()[0][1:])
                       for label in labels.values()), labels
    with translation.override("vi"):
        labels = dict(stix_type_choices())
        assert (labels["ipv4-addr"], labels["ipv6-addr"], labels["domain-name"]) == (
            "địa chỉ IPv4", "địa chỉ IPv6", "tên miền")


# --- 5. The MISP export event carries its date ---------------------------------------------------------------


@pytest.mark.parametrize("types", ["indicator", "vulnerability"])  # with objects, and an empty event
def test_the_misp_export_event_has_the_date_of_the_export(sharing, types):
    user = sharing.world.analyst
    exported = misp.export_event(user, stix_export.parse_selection(user, collection=sharing.collection, types=types))
    today = timezone.localdate()
    assert orjson.loads(exported)["date"] in {today.isoformat(), (today - dt.timedelta(days=1)).isoformat()}
    back = MISPEvent()
    back.load(exported)
    assert back.date in {today, today - dt.timedelta(days=1)}  # (an export across local midnight)
    assert isinstance(back.date, dt.date)


def test_a_correction_to_a_warning_listed_value_asks_first_and_keeping_one_does_not(client, sharing, listed):  # noqa: F811
    c = signed_in(client, sharing.world.analyst)
    url = reverse("intel:indicator_correct", args=[listed])
    versions = StixObject.objects.filter(stix_id=listed).count()
    to_private = {"name": "C2 at a VPS", "value_kind": "ipv4", "value": PRIVATE}
    response = c.post(url, to_private)
    assert response.status_code == 400 and 'id="warninglisted-confirm"' in html(response)
    assert StixObject.objects.filter(stix_id=listed).count() == versions
    assert c.post(url, {**to_private, "confirm_warninglisted": "on"}).status_code == 302
    # Now stored with that value: a correction of its name alone is not asked again.
    response = c.post(url, {"name": "Renamed", "value_kind": "ipv4", "value": PRIVATE})
    assert response.status_code == 302
    assert StixObject.objects.filter(stix_id=listed).count() == versions + 2
