"""The guides name demo values to try indicator matching with: the domain, URL and file hash they name hit the
demo's indicators from the analyst's province (UBND-79); a demo IPv4 indicator (documentation range, RFC 5737,
warning-listed) never does."""
import json
from pathlib import Path

import pytest
from django.utils import timezone

from khien.intel.models import IndicatorValue
from khien.registry.models import Organization
from khien.telemetry import services
from khien.telemetry.models import IndicatorHit

from .test_demo import country  # noqa: F401 (the fixture: the demo country and its intelligence)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "user-guide"
DOMAIN = "cap-nhat-vpn.demo-khien.vn"
URL = "http://cap-nhat-vpn.demo-khien.vn/tai-ve/cap-nhat.exe"
SHA256 = "6a6a36c9e950cf69d3e723afb9e77213c23a8920d5bf1a6d43f904e11f2fa9bb"


def _wazuh(n: int, **fields) -> bytes:
    record = {"timestamp": timezone.now().isoformat(), "id": f"try-{n}", "agent": {"name": "web-01"},
              "rule": {"id": f"10000{n}", "level": 10, "description": "test"}}
    record.update(fields)
    return json.dumps(record).encode()


@pytest.mark.parametrize("guide", ["telemetry.vi.md", "telemetry.en.md"])
def test_the_guides_name_values_that_match_and_say_why_ipv4_does_not(guide):
    text = (DOCS / guide).read_text()
    assert DOMAIN in text and URL in text and SHA256 in text
    assert "RFC 5737" in text


def test_the_named_values_hit_and_a_demo_address_does_not(country):  # noqa: F811
    from khien.registry.demo import ACCOUNTS

    organization = Organization.objects.get(code="UBND-79")
    assert any(a.org_code == "UBND-79" for a in ACCOUNTS)
    coordinator = next(a for a in ACCOUNTS if a.org_code == "NCSC")
    from khien.core.models import User

    source, _key = services.do_create_source(organization, "try-ubnd-79", "wazuh",
                                             acting_user=User.objects.get(email=coordinator.email))
    address = IndicatorValue.objects.filter(kind="ipv4", object__stix_type="indicator").values_list(
        "value", flat=True).first()
    assert address and address.startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    services.ingest_batch(source, [_wazuh(1, data={"hostname": DOMAIN}), _wazuh(2, data={"url": URL}),
                                   _wazuh(3, syscheck={"sha256_after": SHA256}), _wazuh(4, data={"srcip": address})])
    hits = set(IndicatorHit.objects.filter(source=source).values_list("kind", "value"))
    assert hits == {("domain", DOMAIN), ("url", URL), ("sha256", SHA256)}
