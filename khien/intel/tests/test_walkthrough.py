"""What a browser walkthrough found on the intelligence pages (2026-12-05), each with its denials:

1. the create forms say how many organizations (and which kinds) will see the object — counted by the TLP
   table of `tlp.py`, the same one every read path uses;
2. TLP:RED recipients: a grouped, filterable list; shown on the object's page to the producer and the
   national coordinator, a recipient sees only its own organization; how to withdraw is said;
3. labels, not codes (warning lists, STIX vocabularies, value kinds);
4. a searched network finds what lies inside it (bounded), an address the networks containing it;
5. the export's STIX types are a labelled choice list;
6. export file names and texts in Vietnam time.
"""
import datetime as dt

import orjson
import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone, translation

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.intel import search, services, tlp
from khien.intel.models import StixObject, Tlp
from khien.registry.models import Organization

from .conftest import indicator
from .test_views import _indicator_post, signed_in

pytestmark = pytest.mark.django_db


def html(response):
    return response.content.decode()


# --- 1. who will see it ------------------------------------------------------------------------------------


def test_the_audience_is_the_tlp_table_read_the_other_way(sharing):
    """For every level and every organization: announced as an audience exactly when the stored version of
    that level is visible to it (the `sharing` versions: produced by MIN in C, the RED one naming REC)."""
    world = sharing.world
    _org("SPARE", "training")  # an organization with no relation to C
    for level in Tlp.values:
        obj = StixObject.objects.get(stix_id=sharing.ids[level])
        seeing = {org.code for org in Organization.objects.all()
                  if StixObject.objects.filter(pk=obj.pk).filter(tlp.organizations_visibility_q([org.pk])).exists()}
        announced = set(Organization.objects.filter(tlp.audience_q(
            level, producer_ids=[world.ministry.pk], collections=[sharing.collection],
            recipient_ids=[sharing.rec_org.pk])).values_list("code", flat=True))
        assert announced == seeing, level
    assert announced == {"MIN", "REC"}  # RED


def test_audience_counts_and_kinds(sharing):
    world = sharing.world
    counts = {level: search.audience(world.analyst, sharing.collection, level, [sharing.rec_org]).total
              for level in Tlp.values}
    everyone = Organization.objects.count()
    # AMBER: producer MIN, owner NCSC, reader PROV (not the write-only RESP); AMBER+STRICT: MIN and the owner
    assert counts == {"clear": everyone, "green": everyone, "amber": 3, "amber_strict": 2, "red": 2}
    assert search.audience(world.analyst, sharing.collection, Tlp.RED).total == 1  # no recipient named yet
    with translation.override("en"):
        amber = search.audience(world.analyst, sharing.collection, Tlp.AMBER)
    assert not amber.everyone and amber.producer == world.ministry
    assert dict(amber.by_type) == {"Ministry or ministerial-level agency": 1, "Department or affiliated unit": 1,
                                   "Provincial People's Committee": 1}
    assert search.audience(world.analyst, sharing.collection, Tlp.GREEN).everyone


def test_the_create_form_says_who_will_see_it(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    with translation.override("en"):
        response = c.get(reverse("intel:indicator_create"))
    page = html(response)
    # the only writable collection is chosen and AMBER is the initial level: 3 organizations
    assert 'id="audience-count" data-count="3"' in page and "3 tổ chức sẽ xem được" in page
    assert f'hx-get="{reverse("intel:sharing_audience")}"' in page
    assert 'data-count="3"' in html(c.get(reverse("intel:report_create")))
    # a refused post shows the audience of what was chosen
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, tlp="amber_strict",
                                                                         value="not an ip"))
    assert response.status_code == 400 and 'data-count="2"' in html(response)


def test_the_audience_endpoint_and_its_denials(client, sharing):
    world = sharing.world
    url = reverse("intel:sharing_audience")
    query = {"collection": str(sharing.collection.pk), "tlp": "red", "recipients": [str(sharing.rec_org.pk)]}
    assert client.get(url, query).status_code == 302  # anonymous: sign in first
    c = signed_in(client, world.analyst)
    response = c.get(url, query)
    assert response.status_code == 200 and 'data-count="2"' in html(response)
    assert 'data-count="1"' in html(c.get(url, {**query, "recipients": ["not-a-uuid"]}))
    assert 'data-count="2"' in html(c.get(url, {**query, "tlp": "amber_strict"}))
    assert c.get(url, {**query, "tlp": "purple"}).status_code == 400
    assert c.get(url, {**query, "collection": "nope"}).status_code == 404
    # a collection the user may not write: its members are none of their business
    assert signed_in(client, world.other_admin).get(url, query).status_code == 404  # PROV only reads C
    assert signed_in(client, world.trainee).get(url, query).status_code == 404  # a trainee never writes
    assert signed_in(client, world.nobody).get(url, query).status_code == 404


# --- 2. TLP:RED recipients ---------------------------------------------------------------------------------


def test_recipients_are_a_grouped_filterable_list(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    response = c.get(reverse("intel:indicator_create"))  # Vietnamese, the default
    groups = dict(response.context["form"].fields["recipients"].widget.choices)
    assert "Doanh nghiệp" in groups and str(sharing.rec_org.pk) in dict(groups["Doanh nghiệp"])
    page = html(response)
    # checkboxes grouped by type (intel.forms.CheckboxPicker), with a filter box
    assert "<summary>Doanh nghiệp (1)</summary>" in page and 'id="id_recipients_filter"' in page
    assert 'id="id_recipients" data-picker data-org-picker' in page and "data-count-one=" in page
    script = finders.find("khien/org-picker.js")  # served by the platform, no CDN
    assert script and "data-picker" in open(script, encoding="utf-8").read()


def _red(world, sharing, recipients, name="Red for two"):
    obj = indicator("192.0.2.77", tlp=Tlp.RED, name=name)
    services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst, recipients=recipients)
    return obj["id"]


def test_the_recipients_are_shown_to_the_producer_and_the_coordinator_only(client, sharing):
    world = sharing.world
    second = _org("REC2", "enterprise")
    second_user = _user("analyst@rec2.test.vn", second, Role.ORG_ANALYST)
    stix_id = _red(world, sharing, [sharing.rec_org, second, world.ncsc])
    url = reverse("intel:object", args=[stix_id])
    with translation.override("en"):
        producer = html(signed_in(client, world.analyst).get(url))
        recipient = html(signed_in(client, second_user).get(url))
        coordinator = html(signed_in(client, world.coordinator).get(url))
    for page in (producer, coordinator):
        section = page.split('id="recipients"')[1].split("</dd>")[0]
        assert "REC —" in section and "REC2 —" in section and "NCSC —" in section
    section = recipient.split('id="recipients"')[1].split("</dd>")[0]
    assert "REC2 —" in section and "REC —" not in section and "NCSC —" not in section
    assert "Chỉ tổ chức tạo ra và cơ quan điều phối quốc gia biết" in section
    # not a recipient, not the producer: no page at all
    assert signed_in(client, world.other_admin).get(url).status_code == 404
    # how to withdraw: said to the producer, not to the recipients
    assert 'id="withdraw-help"' in producer and 'id="withdraw-help"' not in recipient
    obj = StixObject.objects.get(stix_id=stix_id)
    assert tlp.shown_recipients(world.other_admin, obj) == ([], False)


def test_a_coordinator_not_named_sees_neither_the_object_nor_its_recipients(client, sharing):
    stix_id = sharing.ids[Tlp.RED]  # names REC only
    assert signed_in(client, sharing.world.coordinator).get(reverse("intel:object", args=[stix_id])).status_code == 404
    assert tlp.shown_recipients(sharing.world.coordinator, StixObject.objects.get(stix_id=stix_id)) == ([], False)


# --- 3. labels, not codes ----------------------------------------------------------------------------------


def test_codes_are_shown_as_labels_in_the_readers_language(client, sharing):
    world = sharing.world
    obj = indicator("login.example", kind="domain-name", tlp=Tlp.GREEN, name="Reserved by mistake")
    services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst)
    client.force_login(world.dept_analyst)
    page = html(client.get(reverse("intel:object", args=[obj["id"]])))
    assert 'title="reserved-domains">Tên miền dành riêng và dùng cho mục đích đặc biệt' in page
    assert ": reserved-domains" not in page
    assert '<dd class="small" title="malicious-activity">Hoạt động độc hại</dd>' in page
    assert "malicious-activity</dd>" not in page
    results = html(client.get(reverse("intel:search"), {"q": "login.example"}))
    assert 'title="domain">Tên miền</span>' in results or 'title="domain">' in results
    assert '<span class="badge">domain</span>' not in results
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = html(client.get(reverse("intel:object", args=[obj["id"]])))
    assert 'title="reserved-domains">Reserved and special-use domain names' in page
    assert '<dd class="small" title="malicious-activity">Malicious activity</dd>' in page


# --- 4. networks and what is inside them ------------------------------------------------------------------


def _values(groups):
    return {(g.value, g.why) for g in groups}


def test_a_network_finds_the_addresses_and_networks_inside_it(client, sharing):
    world = sharing.world
    services.do_add_objects(sharing.collection, [
        indicator("185.220.101.45", tlp=Tlp.GREEN, name="Exit node"),
        indicator("185.220.101.128/25", tlp=Tlp.GREEN, name="Half of it"),
        indicator("185.220.0.0/16", tlp=Tlp.GREEN, name="Wider"),
        indicator("185.220.102.1", tlp=Tlp.GREEN, name="Next door"),
        indicator("85.220.101.5", tlp=Tlp.GREEN, name="Same digits"),
        indicator("2001:db8:abcd:12::1", kind="ipv6-addr", tlp=Tlp.GREEN, name="v6 inside"),
        indicator("2001:db8:abce::1", kind="ipv6-addr", tlp=Tlp.GREEN, name="v6 outside"),
    ], acting_user=world.analyst)
    c = signed_in(client, world.dept_analyst)
    groups = c.get(reverse("intel:search"), {"q": "185.220.101.0/24"}).context["groups"]
    assert _values(groups) == {("185.220.101.45", "inside"), ("185.220.101.128/25", "inside"),
                               ("185.220.0.0/16", "network")}
    assert not groups.truncated
    # an address finds the networks that contain it
    groups = c.get(reverse("intel:search"), {"q": "185.220.101.200"}).context["groups"]
    assert _values(groups) == {("185.220.101.128/25", "network"), ("185.220.0.0/16", "network")}
    groups = c.get(reverse("intel:search"), {"q": "2001:db8:abcd::/48"}).context["groups"]
    assert _values(groups) == {("2001:db8:abcd:12::1", "inside")}
    with translation.override("en"):
        page = html(c.get(reverse("intel:search"), {"q": "185.220.101.0/24"}))
    assert "nằm trong dải mạng 185.220.101.0/24" in page


def test_inside_a_network_only_what_the_user_may_see(client, sharing):
    """The `sharing` indicators are 198.51.100.1–5, one per TLP level, produced by MIN."""
    c = signed_in(client, sharing.world.dept_analyst)
    groups = c.get(reverse("intel:search"), {"q": "198.51.100.0/24"}).context["groups"]
    assert {g.value for g in groups} == {"198.51.100.1", "198.51.100.2"}  # CLEAR and GREEN only
    groups = signed_in(client, sharing.world.analyst).get(reverse("intel:search"),
                                                          {"q": "198.51.100.0/24"}).context["groups"]
    assert len(groups) == 5


def test_looking_inside_a_network_is_bounded(client, sharing, monkeypatch):
    c = signed_in(client, sharing.world.analyst)
    monkeypatch.setattr(search, "MAX_INSIDE_ROWS", 2)
    response = c.get(reverse("intel:search"), {"q": "198.51.100.0/24"})
    assert response.context["groups"].truncated and len(response.context["groups"]) <= 2
    assert 'id="inside-truncated"' in html(response)
    # wider than /8: nothing is read inside it, and the page says so
    response = c.get(reverse("intel:search"), {"q": "128.0.0.0/1"})
    assert response.status_code == 200 and response.context["groups"].truncated
    assert search.inside_rows(__import__("ipaddress").ip_network("::/0")) == ([], True)


# --- 5. STIX types to choose ------------------------------------------------------------------------------


def test_export_types_are_a_labelled_choice(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    page = html(c.get(reverse("intel:exchange_export")))
    assert 'type="checkbox" name="types" value="indicator"' in page and "chỉ báo" in page
    url = reverse("intel:exchange_export")
    for types in (["indicator", "malware"], "indicator,malware"):  # ticked, or an older link's text
        response = c.get(url, {"download": "1", "format": "stix", "types": types})
        assert response.status_code == 200
        bundle = orjson.loads(b"".join(response.streaming_content))
        assert {o["type"] for o in bundle["objects"]} <= {"indicator", "malware", "marking-definition", "identity"}
    assert c.get(url, {"download": "1", "format": "stix", "types": "bogus"}).status_code == 400


# --- 6. Vietnam time ---------------------------------------------------------------------------------------


def test_export_names_and_texts_use_vietnam_time(client, sharing, monkeypatch):
    fixed = dt.datetime(2026, 12, 5, 14, 46, 46, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    c = signed_in(client, sharing.world.analyst)
    url = reverse("intel:exchange_export")
    response = c.get(url, {"download": "1", "format": "stix"})
    assert 'filename="khien-20261205-214646.stix.json"' in response["Content-Disposition"]
    bundle = orjson.loads(b"".join(response.streaming_content))
    stored = next(o for o in bundle["objects"] if o["id"] == sharing.ids[Tlp.GREEN])
    assert stored["modified"] == "2026-01-01T00:00:00.000Z"  # data keeps its ISO timestamps
    response = c.get(url, {"download": "1", "format": "misp", "tlp": ["green"]})
    assert 'filename="khien-20261205-214646.misp.json"' in response["Content-Disposition"]
    event = orjson.loads(b"".join(response.streaming_content))
    event = event.get("Event", event)
    assert event["info"] == "Khiên export 2026-12-05 21:46 (UTC+07:00)"


def test_the_export_forms_day_starts_at_midnight_in_vietnam(client, sharing):
    """"Added since 05/12" means from 05/12 00:00 in Vietnam (04/12 17:00 UTC), not from 07:00."""
    green = StixObject.objects.get(stix_id=sharing.ids[Tlp.GREEN])
    StixObject.objects.filter(pk=green.pk).update(date_added=dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.timezone.utc))
    StixObject.objects.exclude(pk=green.pk).update(date_added=dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.timezone.utc))
    c = signed_in(client, sharing.world.analyst)
    response = c.get(reverse("intel:exchange_export"), {"download": "1", "format": "stix",
                                                         "added_since": "2026-12-05"})
    bundle = orjson.loads(b"".join(response.streaming_content))
    assert {o["id"] for o in bundle["objects"] if o["type"] == "indicator"} == {green.stix_id}
