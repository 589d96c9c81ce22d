"""Warning lists: the data file, CIDR overlap, parent domains, own addresses and the editable allow-list."""
import pytest

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.intel import warninglists
from khien.intel.models import AllowListEntry

pytestmark = pytest.mark.django_db



def test_data_file_loads_and_every_list_has_values():
    lists = warninglists.load_file()
    names = {item["name"] for item in lists}
    assert {"rfc1918-private", "rfc6598-shared", "rfc5737-documentation", "rfc3849-ipv6-documentation",
            "rfc4193-ipv6-unique-local", "loopback", "link-local", "multicast", "public-dns-resolvers",
            "reserved-domains", "well-known-domains"} <= names
    assert all(item["values"] for item in lists)


@pytest.mark.parametrize("kind,value,expected", [
    ("ipv4", "10.20.30.40", "rfc1918-private"),
    ("ipv4", "172.31.255.255", "rfc1918-private"),
    ("ipv4", "100.64.1.1", "rfc6598-shared"),
    ("ipv4", "203.0.113.9", "rfc5737-documentation"),
    ("ipv4", "127.0.0.1", "loopback"),
    ("ipv4", "169.254.10.1", "link-local"),
    ("ipv4", "239.1.2.3", "multicast"),
    ("ipv4", "8.8.8.8", "public-dns-resolvers"),
    ("ipv4", "1.0.0.1", "public-dns-resolvers"),
    ("ipv4", "208.67.222.222", "public-dns-resolvers"),
    ("ipv6", "2001:db8::5", "rfc3849-ipv6-documentation"),
    ("ipv6", "fd12:3456::1", "rfc4193-ipv6-unique-local"),
    ("ipv6", "::1", "loopback"),
    ("ipv6", "fe80::1", "link-local"),
    ("ipv6", "2001:4860:4860::8888", "public-dns-resolvers"),
    # CIDR containment, both ways: a range inside a listed range, and a range containing a listed address.
    ("cidr", "10.1.0.0/16", "rfc1918-private"),
    ("cidr", "8.8.0.0/16", "public-dns-resolvers"),
    ("cidr", "192.168.0.0/15", "rfc1918-private"),
    # Domains and their parents.
    ("domain", "google.com", "well-known-domains"),
    ("domain", "mail.google.com", "well-known-domains"),
    ("domain", "a.b.c.microsoft.com", "well-known-domains"),
    ("domain", "portal.gov.vn", "well-known-domains"),
    ("domain", "WWW.Example.ORG.", "reserved-domains"),
    ("domain", "host.test", "reserved-domains"),
    ("url", "https://login.microsoft.com/x?y=1", "well-known-domains"),
    ("url", "http://10.0.0.5:8080/a", "rfc1918-private"),
    ("email", "someone@example.net", "reserved-domains"),
])
def test_hits(kind, value, expected):
    assert expected in warninglists.hits(kind, value)


@pytest.mark.parametrize("kind,value", [
    ("ipv4", "45.33.10.1"),
    ("ipv4", "8.8.8.9"),
    ("ipv6", "2a01:4f8::1"),
    ("cidr", "45.33.0.0/16"),
    ("domain", "notgoogle.com"),
    ("domain", "google.com.evil.vn"),
    ("domain", "evil.vn"),
    ("url", "http://evil.vn/google.com"),
    ("sha256", "a" * 64),
    ("ipv4", "not an ip"),
])
def test_no_hit(kind, value):
    assert warninglists.hits(kind, value) == []


def test_flag_shape():
    assert warninglists.flag("ipv4", "8.8.8.8") == {"kind": "ipv4", "value": "8.8.8.8", "warning_listed": True,
                                                    "warninglists": ["public-dns-resolvers"]}
    assert warninglists.flag("domain", "evil.vn")["warning_listed"] is False


def test_own_addresses(settings):
    settings.KHIEN_OWN_ADDRESSES = ["45.90.0.0/24", "khien.example.vn"]
    warninglists.invalidate()
    assert warninglists.hits("ipv4", "45.90.0.7") == [warninglists.OWN_ADDRESSES]
    assert warninglists.hits("domain", "api.khien.example.vn") == [warninglists.OWN_ADDRESSES]
    assert warninglists.hits("ipv4", "45.91.0.7") == []


def test_allow_list_edit_takes_effect_at_once(world):
    assert warninglists.hits("ipv4", "45.33.10.1") == []
    assert warninglists.hits("domain", "cdn.partner.vn") == []
    warninglists.compiled()  # compiled and cached before the change
    entry = warninglists.do_add_allow_entry("cidr", "45.33.10.0/24", note="partner range",
                                            acting_user=world.coordinator)
    domain = warninglists.do_add_allow_entry("domain", "Partner.VN.", acting_user=world.coordinator)
    assert domain.value == "partner.vn"
    assert warninglists.hits("ipv4", "45.33.10.1") == [warninglists.ALLOW_LIST]
    assert warninglists.hits("cidr", "45.33.0.0/16") == [warninglists.ALLOW_LIST]  # contains the allowed range
    assert warninglists.hits("domain", "cdn.partner.vn") == [warninglists.ALLOW_LIST]
    warninglists.do_remove_allow_entry(entry, acting_user=world.coordinator)
    assert warninglists.hits("ipv4", "45.33.10.1") == []
    actions = list(AuditEntry.objects.filter(object_type="intel.allowlistentry").order_by("seq")
               .values_list("action", flat=True))
    assert actions == ["create", "create", "delete"]


def test_a_change_made_elsewhere_is_seen_after_the_recheck_interval(world, settings):
    settings.KHIEN_WARNINGLIST_RECHECK_SECONDS = 0
    warninglists.compiled()
    # Another process's change: the row appears without this process's signal having run.
    AllowListEntry.objects.bulk_create([AllowListEntry(kind="ipv4", value="45.33.10.9")])
    assert warninglists.hits("ipv4", "45.33.10.9") == [warninglists.ALLOW_LIST]


def test_only_the_coordinator_edits_the_allow_list(world):
    for user in (world.admin, world.analyst, world.other_admin, world.nobody):
        with pytest.raises(Forbidden):
            warninglists.do_add_allow_entry("ipv4", "45.33.10.1", acting_user=user)
    entry = warninglists.do_add_allow_entry("ipv4", "45.33.10.1", acting_user=world.coordinator)
    with pytest.raises(Forbidden):
        warninglists.do_remove_allow_entry(entry, acting_user=world.admin)
    assert AllowListEntry.objects.count() == 1


@pytest.mark.parametrize("kind,value", [
    ("ipv4", "999.1.1.1"), ("ipv4", "2001:db8::1"), ("ipv6", "10.0.0.1"), ("domain", "not a domain"),
    ("cidr", ""), ("colour", "red"),
    ("md5", "zz"), ("md5", "g" * 32), ("md5", "a" * 40), ("sha1", "123"), ("sha1", "a" * 32),
    ("sha256", "a" * 63), ("sha256", "0x" + "a" * 62), ("email", "no-at-sign"), ("email", "a@b"),
    ("email", "a b@demo.vn"), ("email", "a@@demo.vn"),
])
def test_bad_allow_list_values_are_refused(world, kind, value):
    with pytest.raises(Refused):
        warninglists.do_add_allow_entry(kind, value, acting_user=world.coordinator)
    assert AllowListEntry.objects.count() == 0


def test_duplicate_allow_entry_is_409(world):
    warninglists.do_add_allow_entry("ipv4", "45.33.10.1", acting_user=world.coordinator)
    with pytest.raises(Refused) as exc:
        warninglists.do_add_allow_entry("ipv4", " 45.33.10.1 ", acting_user=world.coordinator)
    assert exc.value.status == 409


def test_api_check_and_allow_list(world, api):
    url = "/api/intel/warninglists/check/"
    assert api().get(url, {"kind": "ipv4", "value": "8.8.8.8"}).status_code == 401
    response = api(world.analyst).get(url, {"kind": "ipv4", "value": "8.8.8.8"})
    assert response.status_code == 200 and response.json()["warninglists"] == ["public-dns-resolvers"]
    assert api(world.analyst).get(url, {"kind": "bogus", "value": "x"}).status_code == 400

    allow = "/api/intel/allowlist/"
    assert api(world.analyst).post(allow, {"kind": "ipv4", "value": "45.33.10.1"}, format="json").status_code == 403
    assert AllowListEntry.objects.count() == 0
    created = api(world.coordinator).post(allow, {"kind": "ipv4", "value": "45.33.10.1", "note": "ours"},
                                          format="json")
    assert created.status_code == 201, created.content
    assert api(world.coordinator).post(allow, {"kind": "ipv4", "value": "nope"}, format="json").status_code == 400
    listed = api(world.analyst).get(allow)
    assert [e["value"] for e in listed.json()["results"]] == ["45.33.10.1"]
    assert api(world.analyst).get(url, {"kind": "ipv4", "value": "45.33.10.1"}).json()["warning_listed"] is True
    entry_id = created.json()["id"]
    assert api(world.analyst).delete(f"{allow}{entry_id}/").status_code == 403
    assert api(world.coordinator).delete(f"{allow}{entry_id}/").status_code == 204
    assert AllowListEntry.objects.count() == 0


@pytest.mark.parametrize("kind,value,stored", [
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("email", " SOC@Demo-Bank.vn ", "soc@demo-bank.vn"),
])
def test_well_formed_hashes_and_addresses_are_allow_listed(world, kind, value, stored):
    try:
        assert warninglists.do_add_allow_entry(kind, value, acting_user=world.coordinator).value == stored
    finally:
        warninglists.invalidate()


@pytest.mark.parametrize("kind,value", [("sha1", "123"), ("md5", "zz"), ("sha256", "a" * 63), ("email", "a@b")])
def test_api_refuses_malformed_hashes_and_addresses(world, api, kind, value):
    client = api(world.coordinator)
    response = client.post("/api/intel/allowlist/", {"kind": kind, "value": value}, format="json")
    assert response.status_code == 400, response.content
    assert value in str(response.json())
    assert AllowListEntry.objects.count() == 0
