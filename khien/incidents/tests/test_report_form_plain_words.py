"""A commune's part-time IT officer on a phone: the report form says in plain words who sees the report at each TLP,
and the observables box takes the defanged values people copy from early warnings (hxxp, [.], (.), [:]//, [at])."""
import re

import pytest

from khien.incidents import observables
from khien.incidents.models import Observable
from khien.incidents.notices import CHAIN_TLPS
from khien.intel.models import Tlp

pytestmark = pytest.mark.django_db


def _help_under(html: str, name: str) -> str:
    """The help text under the field `name` (`registry/_field.html`), "" without one."""
    found = re.search(r'<label for="id_%s">.*?</label>\s*<select[^>]*>.*?</select>\s*(?:<div class="help">(.*?)</div>)?'
                      % name, html, re.S)
    assert found, name
    return found.group(1) or ""


def test_the_tlp_field_says_who_sees_the_report_at_each_choice(world, as_user, incident_content):
    client = as_user(world.analyst)
    client.cookies["khien_language"] = "en"
    text = _help_under(client.get("/incidents/new/").content.decode(), "tlp")
    # Who may open the report does not depend on the marking (incidents are scoped by organization): said so.
    assert "your organization, the organizations above it, the national coordinator" in text
    # Who is told at once does: the organizations above only for CHAIN_TLPS (`notices.told_of_new_incident`).
    told = ", ".join(str(Tlp(level).label) for level in CHAIN_TLPS)
    not_told = ", ".join(str(label) for level, label in Tlp.choices if level not in CHAIN_TLPS)
    assert told in text and not_told in text, text


DEFANGED = [
    ("hxxp://dichvucong-capnhat[.]top/login", ("url", "http://dichvucong-capnhat.top/login")),
    ("hXXps://dichvucong-capnhat(.)top/login", ("url", "https://dichvucong-capnhat.top/login")),
    ("hxxp[:]//evil[.]demo[.]khien[.]vn/x", ("url", "http://evil.demo.khien.vn/x")),
    ("evil[.]demo[.]khien[.]vn", ("domain", "evil.demo.khien.vn")),
    ("198[.]51[.]100[.]7", ("ipv4", "198.51.100.7")),
    ("phish[at]evil[.]demo[.]khien[.]vn", ("email", "phish@evil.demo.khien.vn")),
    ("url:hxxps://evil[.]demo[.]khien[.]vn", ("url", "https://evil.demo.khien.vn")),
    ("domain:evil(.)demo(.)khien(.)vn", ("domain", "evil.demo.khien.vn")),
]


@pytest.mark.parametrize("line,expected", DEFANGED)
def test_defanged_values_are_taken_as_the_real_ones(line, expected):
    items, errors = observables.parse_lines(line)
    assert errors == [] and items == [expected]


def test_a_defanged_value_given_with_its_kind_is_taken_too():
    assert observables.clean_items([("url", "hxxp://dichvucong-capnhat[.]top/login")]) == [
        ("url", "http://dichvucong-capnhat.top/login")]
    assert observables.refang("nothing to change.vn") == "nothing to change.vn"


def test_the_report_form_takes_a_warnings_defanged_url_and_says_so(world, as_user, incident_content):
    from datetime import timedelta

    from django.utils import timezone

    client = as_user(world.analyst)
    page = client.get("/incidents/new/").content.decode()
    assert "hxxp" in page and "[.]" in page  # the help says defanged values are accepted
    detected = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"organization": str(world.ministry.pk), "title": "Lừa đảo dịch vụ công", "detected_at": detected,
            "category": "phishing", "severity": "low", "suspected_malicious": "true",
            "impact_beyond_organization": "false", "description": "Tin nhắn giả mạo", "tlp": "amber",
            "observables": "198.51.100.200\nhxxp://dichvucong-capnhat[.]top/login"}
    response = client.post("/incidents/new/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(Observable.objects.values_list("value", flat=True)) == {
        "198.51.100.200", "http://dichvucong-capnhat.top/login"}
