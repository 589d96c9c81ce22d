"""What the second browser walkthrough (2026-12-05) found on the intelligence pages, besides correct/revoke
(`test_correct_revoke.py`): the value search's message, the audience box before a collection is chosen, the
warning targets' province names, and the early-warning form's recipient lists."""
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from khien.intel import services, services_warnings
from khien.intel.models import Tlp
from khien.registry.models import Organization

from .conftest import indicator
from .test_views import signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def html(response):
    return response.content.decode()


def english(client, user):
    c = signed_in(client, user)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch
    return c


# --- 2. the value search says what the list below holds ---------------------------------------------------


def test_a_text_found_only_inside_names_is_announced_as_such(client, sharing):
    world = sharing.world
    obj = indicator("cap-nhat-vpn.example.vn", kind="domain-name", tlp=Tlp.GREEN,
                    name="Trang giả mạo cap-nhat-vpn.example.vn")
    services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst)
    c = english(client, world.other_admin)
    page = html(c.get(reverse("intel:search"), {"q": "cap-nhat-vpn"}))
    assert obj["id"] in page.split('id="object-results"')[1]  # the partial match is listed below…
    message = page.split('id="no-values">')[1].split("</p>")[0]
    assert "names this value" not in message  # …and no longer said not to exist
    assert "exactly" in message and "contains it" in message and "cap-nhat-vpn" in message
    # the exact value: its group, no message
    page = html(c.get(reverse("intel:search"), {"q": "cap-nhat-vpn.example.vn"}))
    assert 'id="no-values"' not in page and 'data-value="cap-nhat-vpn.example.vn"' in page
    # nothing at all: said so, without announcing a list
    message = html(c.get(reverse("intel:search"), {"q": "khong-co-gi-ca"})).split('id="no-values">')[1]
    assert "no object you can see contains it" in message.split("</p>")[0]


# --- 3. the audience box before a collection is chosen ----------------------------------------------------


def test_the_audience_with_a_tlp_and_no_collection_yet_is_not_an_error(client, sharing):
    c = english(client, sharing.world.analyst)
    url = reverse("intel:sharing_audience")
    for query in ({"tlp": "amber", "collection": ""}, {"tlp": "red"}, {"tlp": "", "collection": ""}):
        response = c.get(url, query)
        assert response.status_code == 200, query
        assert 'id="audience"' in html(response) and "Choose the collection and the TLP" in html(response)
    # still refused: an unknown level, a collection the user may not write
    assert c.get(url, {"tlp": "purple", "collection": ""}).status_code == 400
    assert c.get(url, {"tlp": "amber", "collection": "nope"}).status_code == 404


# --- 4. warning targets: the province's name, not its code ------------------------------------------------


def test_warning_targets_by_province_show_its_name(client, land):  # noqa: F811
    w = land.world
    warning = services_warnings.do_issue_warning(
        {"title": "Dò quét theo tỉnh", "severity": "high", "tlp": "amber", "values": [], "indicator_refs": [],
         "vulnerability_refs": [], "cpes": []},
        acting_user=w.coordinator, provinces=[land.prov_area], sectors=[land.sector], auto_match=False)
    target = warning.targets.get(organization=w.province)
    assert target.matched_value == land.prov_area.code  # stored as the code…
    detail = html(english(client, w.coordinator).get(reverse("intel:warning_detail", args=[warning.pk])))
    row = detail.split('data-target="PROV"')[1].split("</tr>")[0]
    assert land.prov_area.name_en in row and f"({land.prov_area.code})" not in row  # …shown by its name
    sector_row = detail.split('data-target="MIN"')[1].split("</tr>")[0]
    assert land.sector.name_en in sector_row
    # the target organization's own answer box and its inbox
    for page in (html(english(client, land.prov_analyst).get(reverse("intel:warning_detail", args=[warning.pk]))),
                 html(english(client, land.prov_analyst).get(reverse("intel:warning_inbox")))):
        assert f"({land.prov_area.name_en})" in page and f"({land.prov_area.code})" not in page


# --- 5. the early-warning form's recipient lists -----------------------------------------------------------


def test_the_warning_form_filters_recipients_and_shows_full_names(client, land):  # noqa: F811
    long_name = "Trung tâm Giám sát An toàn không gian mạng quốc gia phía Nam thuộc Bộ Công an (chi nhánh số 2)"
    Organization.objects.create(code="LONG", name_vi=long_name, name_en=long_name, org_type="enterprise",
                                path="LONG")
    response = english(client, land.world.coordinator).get(reverse("intel:warning_create"))
    page = html(response)
    form = response.context["form"]
    # Every list is checkboxes (a click never drops those ticked); the long ones have a filter box.
    for name in ("provinces", "sectors", "isacs", "organizations"):
        assert f'id="id_{name}" data-picker' in page, name
        assert "Ctrl" not in str(form.fields[name].help_text or ""), name
    assert 'id="id_provinces_filter"' in page and 'id="id_organizations_filter"' in page
    # The organizations are grouped by type.
    picker = page.split('id="id_organizations" data-picker data-org-picker')[1].split("org-picker.js")[0]
    assert f"LONG — {long_name}</span>" in picker  # the whole name, not cut
    assert "<details" in picker and "<summary>" in picker  # grouped by type, as the TLP:RED recipients
    field = page.split('id="id_organizations" data-picker data-org-picker')[0].rsplit('<div class="field', 1)[1]
    assert field.startswith(" wide")  # the whole width of the form
    for name, marker in (("org-picker.js", "data-picker"),):
        script = finders.find(f"khien/{name}")  # the filters: served by the platform, no CDN
        text = open(script, encoding="utf-8").read()
        assert marker in text and "http" not in text.split("use strict")[1], name
