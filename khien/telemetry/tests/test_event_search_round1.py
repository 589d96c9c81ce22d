"""The events search as a SOC head hunts with it (page, API and export share `EventFilter`): an address range in
CIDR notation, a rule's name, the observer (agent or sensor), and a parameter the search does not take."""
import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from khien.core.models import AuditEntry
from khien.telemetry import services
from khien.telemetry.models import Event
from khien.telemetry.tests.test_matching import ecs

POSTGRES = connection.vendor == "postgresql"


def since():
    return (timezone.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stored(world, make_source):
    """MIN's events from several addresses; PROV's one event in the searched range."""
    source = make_source(world.ministry, "ecs")[0]
    when = timezone.now() - dt.timedelta(minutes=30)
    addresses = ["10.10.5.7", "10.10.5.200", "10.10.6.7", "10.10.15.1", "10.10.16.1", "10.10.5.70",
                 "2001:db8:12::1", "2001:db8:13::1", "2001:db9::1", "2001:db8:0:5::9", "2001:db8:0:6::9"]
    services.ingest_batch(source, [ecs(ip, rule=f"r-{ip}", when=when + dt.timedelta(seconds=n), n=n)
                                   for n, ip in enumerate(addresses)])
    # A destination in the range (its source outside): found too.
    services.ingest_batch(source, [ecs("192.0.2.1", rule="dst", when=when)])
    Event.objects.filter(rule_id="dst").update(dst_ip="10.10.5.9")
    Event.objects.filter(rule_id="r-10.10.5.7").update(rule_name="SSH Brute Force attempt", observer="wazuh-hn-01")
    Event.objects.filter(rule_id="r-10.10.6.7").update(rule_name="Port scan", observer="suricata-hn")
    other = make_source(world.province, "ecs")[0]
    services.ingest_batch(other, [ecs("10.10.5.8", rule="prov", when=when)])
    return source


def rules(client, query, status=200):
    answer = client.get(f"/api/telemetry/events/?{query}&limit=500")
    assert answer.status_code == status, answer.content
    return sorted(e["rule_id"] for e in answer.json()["results"]) if status == 200 else answer.json()


def test_an_ipv4_range_finds_source_and_destination_addresses_in_it(world, stored, as_user):
    client = as_user(world.analyst)
    assert rules(client, "ip=10.10.5.0/24") == ["dst", "r-10.10.5.200", "r-10.10.5.7", "r-10.10.5.70"]
    # A range not on an octet: 10.10.0.0 – 10.10.15.255; 10.10.5.64 – 10.10.5.127.
    assert rules(client, "ip=10.10.0.0/20") == ["dst", "r-10.10.15.1", "r-10.10.5.200", "r-10.10.5.7",
                                                "r-10.10.5.70", "r-10.10.6.7"]
    assert rules(client, "ip=10.10.5.64/26") == ["r-10.10.5.70"]
    # Host bits are dropped, as `ipcalc` would; a /32 is the address itself.
    assert rules(client, "ip=10.10.5.7/24") == rules(client, "ip=10.10.5.0/24")
    assert rules(client, "ip=10.10.5.7/32") == ["r-10.10.5.7"]
    # The other organization's event in the range stays out of MIN's answer; PROV sees its own only.
    assert rules(as_user(world.other_admin), "ip=10.10.5.0/24") == ["prov"]


def test_an_ipv6_range(world, stored, as_user):
    client = as_user(world.analyst)
    assert rules(client, "ip=2001:db8::/32") == ["r-2001:db8:0:5::9", "r-2001:db8:0:6::9", "r-2001:db8:12::1",
                                                 "r-2001:db8:13::1"]
    assert rules(client, "ip=2001:db8:12::/48") == ["r-2001:db8:12::1"]
    assert rules(client, "ip=2001:DB8:12::/47") == ["r-2001:db8:12::1", "r-2001:db8:13::1"]
    if POSTGRES:  # an inet column: any range is one index range
        assert rules(client, "ip=2001:db8:0:5::/64") == ["r-2001:db8:0:5::9"]
    else:  # text: a zero group compresses to "::" or not, depending on the address: refused, saying why
        answer = rules(client, "ip=2001:db8:0:5::/64", status=400)
        assert "SQLite" in str(answer) and "2001:db8::/32" in str(answer)


@pytest.mark.parametrize("value, words", [("10.10.5.0/33", "CIDR"), ("10.10.5.0/abc", "CIDR"),
                                          ("10.0.0.0/8", "/16"), ("2001::/16", "/32"), ("brute", "IPv4")])
def test_a_bad_or_too_wide_range_is_a_clear_400(world, stored, as_user, value, words):
    client = as_user(world.analyst)
    answer = rules(client, f"ip={value}", status=400)
    assert words in str(answer["ip"] if "ip" in answer else answer)
    page = client.get("/telemetry/events/", {"ip": value})
    assert page.status_code == 400
    assert words in page.content.decode() and 'name="ip"' in page.content.decode()
    assert 'data-event="' not in page.content.decode()


def test_the_page_searches_a_range_with_the_form(world, stored, as_user):
    client = as_user(world.analyst)
    page = client.get("/telemetry/events/", {"ip": "10.10.5.0/24"})
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('data-event="') == 4 and "10.10.6.7" not in text
    assert 'value="10.10.5.0/24"' in text


def test_the_range_search_reads_the_address_indexes(world, stored):
    """Each term is a range on a (day, address) index, never a read of every event of the days."""
    from django.http import QueryDict
    from django.test import RequestFactory

    from khien.telemetry.filters import EventFilter

    request = RequestFactory().get("/")
    request.user = world.analyst
    search = EventFilter(QueryDict("ip=10.10.0.0/20"), request=request, queryset=Event.objects.visible_to(
        world.analyst))
    assert search.is_valid()
    sql = str(search.qs.query)
    assert '"src_ip" LIKE' not in sql and '"src_ip" >= ' in sql
    if POSTGRES:  # a handful of rows reads faster in full: ask whether the index can be used at all
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = search.qs.explain()
    assert "Seq Scan on telemetry_event" not in plan and "SCAN telemetry_event" not in plan, plan
    assert "src_ip" in plan and "dst_ip" in plan, plan


def test_rule_text_and_observer_on_the_api(world, stored, as_user):
    client = as_user(world.analyst)
    assert rules(client, f"rule=brute&since={since()}") == ["r-10.10.5.7"]
    assert rules(client, f"rule=BRUTE%20force&since={since()}") == ["r-10.10.5.7"]
    assert rules(client, f"rule=r-2001&since={since()}") == ["r-2001:db8:0:5::9", "r-2001:db8:0:6::9",
                                                              "r-2001:db8:12::1", "r-2001:db8:13::1",
                                                              "r-2001:db9::1"]
    assert rules(client, "observer=wazuh-hn-01") == ["r-10.10.5.7"]
    assert rules(client, "observer=wazuh-hn") == []  # the name exactly, as the alert list's filter
    assert rules(client, "observer=suricata-hn&ip=10.10.0.0/16") == ["r-10.10.6.7"]
    # Without a start the text search would read every event kept: refused, saying what to add.
    answer = rules(client, "rule=brute", status=400)
    assert "since" in str(answer["rule"])
    # Another organization does not find MIN's events by its rule or observer.
    assert rules(as_user(world.other_admin), f"rule=brute&since={since()}") == []
    assert rules(as_user(world.other_admin), "observer=wazuh-hn-01") == []


def test_rule_text_and_observer_on_the_page_and_in_the_export(world, stored, as_user):
    client = as_user(world.analyst)
    page = client.get("/telemetry/events/", {"rule": "brute"})  # the page's own start: the last 24 hours
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('data-event="') == 1 and "SSH Brute Force attempt" in text
    assert 'name="rule" value="brute"' in text and 'name="observer"' in text
    page = client.get("/telemetry/events/", {"observer": "suricata-hn"})
    assert page.content.decode().count('data-event="') == 1
    export = client.get("/telemetry/events/export/", {"rule": "brute", "observer": "wazuh-hn-01", "format": "csv"})
    assert export.status_code == 200
    lines = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and "SSH Brute Force attempt" in lines[1] and "wazuh-hn-01" in lines[1]
    log = AuditEntry.objects.filter(action="export").latest("seq")
    assert log.after["filters"]["rule"] == ["brute"] and log.after["count"] == 1
    export = client.get("/telemetry/events/export/", {"ip": "10.10.5.0/24", "format": "ndjson"})
    assert len(b"".join(export.streaming_content).splitlines()) == 4


def test_an_unknown_parameter_on_the_page_is_named_not_ignored(world, stored, as_user):
    client = as_user(world.analyst)
    page = client.get("/telemetry/events/", {"q": "brute"})
    assert page.status_code == 400
    text = page.content.decode()
    assert 'data-event="' not in text and 'id="event-search"' in text
    assert "q." in text and "observer" in text and "rule" in text and "page" in text
    # The export refuses it the same way, and writes nothing to the audit log.
    before = AuditEntry.objects.count()
    export = client.get("/telemetry/events/export/", {"q": "brute", "format": "csv"})
    assert export.status_code == 400 and AuditEntry.objects.count() == before


def test_the_links_that_open_the_events_page_still_work(world, stored, coordinator_client):
    client = coordinator_client
    from khien.telemetry.views import dashboard_data, kpi_links

    data = dashboard_data(world.coordinator)
    now = timezone.now()
    links = [*kpi_links(day_hour=now, day=now, coordinator=True).values()]
    for part in data.values():
        if isinstance(part, dict):
            links += [link for link in part.get("links", []) if isinstance(link, str)]
    links = [link for link in links if isinstance(link, str) and link.startswith("/telemetry/events/")]
    assert links
    for link in links:
        assert client.get(link).status_code == 200, link
    # The alert page's address pivot, and paging.
    assert client.get("/telemetry/events/", {"ip": "10.10.5.7", "since": "2026-01-01T00:00"}).status_code == 200
    assert client.get("/telemetry/events/", {"page": "2", "ip": "10.10.5.0/24"}).status_code == 200
