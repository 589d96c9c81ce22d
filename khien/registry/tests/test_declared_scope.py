"""What a system declares as its own (address ranges, domains, dates) is checked: early warnings reach an
organization through its systems' ranges and domains, and the layer dates decide which gaps show."""
import datetime as dt

import pytest
from django.utils import timezone

from khien.registry.models import InformationSystem

SYSTEMS = "/api/registry/systems/"


@pytest.fixture
def system(world, api):
    answer = api(world.admin).post(SYSTEMS, {"code": "SYS-SCOPE", "name": "Cổng dịch vụ công", "owner": "MIN",
                                             "ip_ranges": ["203.0.113.0/24"], "domains": ["dichvu.min.gov.vn"]},
                                   format="json")
    assert answer.status_code == 201, answer.content
    return InformationSystem.objects.get(code="SYS-SCOPE")


@pytest.mark.parametrize("ranges", [["0.0.0.0/0"], ["::/0"], ["45.0.0.0/8"], ["203.0.113.0/24", "45.33.0.0/15"],
                                    ["2001:db8::/16"]])
def test_a_range_wider_than_a_16_or_an_ipv6_32_is_refused(world, api, system, ranges):
    for language, words in (("vi", "rộng hơn"), ("en", "wider than")):
        answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {"ip_ranges": ranges}, format="json",
                                        HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 400 and words in str(answer.json()["ip_ranges"]), answer.content
    system.refresh_from_db()
    assert system.ip_ranges == ["203.0.113.0/24"]


@pytest.mark.parametrize("ranges", [["45.33.0.0/16"], ["10.20.0.0/16", "2001:db8::/32"], ["203.0.113.7"]])
def test_ranges_of_a_16_or_narrower_are_kept(world, api, system, ranges):
    answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {"ip_ranges": ranges}, format="json")
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("domain", ["com.vn", "gov.vn", "hanoi.vn", "co.uk", "GOV.VN."])
def test_a_public_suffix_is_not_a_domain_of_a_system(world, api, system, domain):
    for language, words in (("vi", "hậu tố công cộng"), ("en", "public suffix")):
        answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {"domains": [domain]}, format="json",
                                        HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 400 and words in str(answer.json()["domains"]), answer.content
    system.refresh_from_db()
    assert system.domains == ["dichvu.min.gov.vn"]


def test_domains_under_a_public_suffix_are_kept(world, api, system):
    answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {"domains": ["min.gov.vn", "portal.example.com.vn",
                                                                          "intranet.min.local"]}, format="json")
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("field", ["layer3_assessed_on", "layer4_connected_on"])
def test_a_layer_date_to_come_is_refused(world, api, system, field):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    for value in ("2099-01-01", tomorrow.isoformat()):
        answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {field: value}, format="json",
                                        HTTP_ACCEPT_LANGUAGE="en")
        assert answer.status_code == 400 and "in the future" in str(answer.json()[field]), answer.content
    system.refresh_from_db()
    assert getattr(system, field) is None
    answer = api(world.admin).patch(f"{SYSTEMS}{system.pk}/", {field: timezone.localdate().isoformat()},
                                    format="json")
    assert answer.status_code == 200, answer.content
