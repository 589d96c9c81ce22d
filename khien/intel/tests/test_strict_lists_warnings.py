"""An analyst scripting against the early-warning API: `?severty=high` is a 400 naming what the list takes, not
every warning as if all were high; so are a misspelt inbox state, a severity or TLP the list does not know, and a
misspelt parameter of the allow-list, the warning-list check or a blocklist (a firewall fed every value because
`min_confidance` was ignored)."""
import pytest

from khien.conftest import refusal
from khien.intel.models import AllowListEntry, IndicatorKind

from .test_warnings import _issue, land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
WARNINGS = "/api/intel/warnings/"


def test_warnings_list_refuses_a_misspelt_filter_and_still_filters(land, reader):
    w = land.world
    _issue(w.coordinator, title="High one", organizations=[w.ministry])
    _issue(w.coordinator, title="Low one", organizations=[w.ministry], data={"severity": "low"})
    client = reader(w.coordinator)
    answer = refusal(client.get(WARNINGS, {"severty": "high"}))
    assert answer["code"] == "unknown_parameter"
    assert "severty" in answer["detail"] and all(name in answer["detail"] for name in ("severity", "tlp", "limit"))
    rows = client.get(WARNINGS, {"severity": "high", "ordering": "-created_at", "limit": 10, "format": "json"})
    assert rows.status_code == 200, rows.content
    assert [row["title"] for row in rows.json()["results"]] == ["High one"]


def test_warnings_list_refuses_a_bad_choice_and_an_unknown_ordering(land, reader):
    client = reader(land.world.coordinator)
    answer = refusal(client.get(WARNINGS, {"severity": "severe"}))
    assert answer["severity"][0].startswith("Unknown value “severe”: use one of ") and "critical" in answer["severity"][0]
    answer = refusal(client.get(WARNINGS, {"tlp": "amber+strict"}))
    assert "amber_strict" in answer["tlp"][0]
    assert refusal(client.get(WARNINGS, {"ordering": "title"}))["code"] == "unknown_ordering"


def test_the_refusal_is_in_the_readers_language(land, reader):
    answer = refusal(reader(land.world.coordinator, "vi").get(WARNINGS, {"severty": "high"}))
    assert "severty" in answer["detail"] and "Unknown query parameter" not in answer["detail"]


def test_inbox_and_targets_take_only_their_parameters(land, reader):
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.ministry])
    inbox = reader(w.analyst)
    assert inbox.get(f"{WARNINGS}inbox/", {"state": "pending"}).json()["count"] == 1
    answer = refusal(inbox.get(f"{WARNINGS}inbox/", {"stat": "pending"}))
    assert "stat" in answer["detail"] and "state" in answer["detail"]
    assert "state" in refusal(inbox.get(f"{WARNINGS}inbox/", {"state": "done"}))
    # The warnings' filters are not the inbox's: refused, not silently ignored.
    assert "severity" in refusal(inbox.get(f"{WARNINGS}inbox/", {"severity": "high"}))["detail"]
    targets = reader(w.coordinator)
    assert [row["organization"] for row in targets.get(f"{WARNINGS}{warning.pk}/targets/", {"pending": "true"}).json()] \
        == ["MIN"]
    answer = refusal(targets.get(f"{WARNINGS}{warning.pk}/targets/", {"pendng": "true"}))
    assert "pendng" in answer["detail"] and "pending" in answer["detail"]


def test_allowlist_check_and_blocklists_refuse_unknown_parameters(land, reader):
    AllowListEntry.objects.create(kind=IndicatorKind.DOMAIN, value="example.vn")
    client = reader(land.world.analyst)
    assert client.get("/api/intel/allowlist/", {"kind": "domain"}).json()["count"] == 1
    assert client.get("/api/intel/allowlist/", {"kind": "ipv4"}).json()["count"] == 0
    assert "kin" in refusal(client.get("/api/intel/allowlist/", {"kin": "domain"}))["detail"]
    assert "sha256" in refusal(client.get("/api/intel/allowlist/", {"kind": "hash"}))["kind"][0]
    answer = refusal(client.get("/api/intel/warninglists/check/", {"kind": "domain", "value": "a.vn", "typ": "x"}))
    assert "typ" in answer["detail"]
    assert client.get("/api/intel/warninglists/check/", {"kind": "domain", "value": "a.vn"}).status_code == 200
    for name in ("ip.txt", "domains.txt", "rpz.zone"):
        assert client.get(f"/api/intel/blocklists/{name}", {"min_confidence": "50"}).status_code == 200
        answer = client.get(f"/api/intel/blocklists/{name}", {"min_confidance": "50"})
        assert answer.status_code == 400 and b"min_confidance" in answer.content and b"min_confidence" in answer.content
