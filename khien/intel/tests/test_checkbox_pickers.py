"""The intelligence forms' lists of several choices are checkboxes (intel.forms.CheckboxPicker), as the early
warning's organizations already were: in a <select multiple> a plain click kept only the one clicked and dropped
every choice made before, without a word. The early warning's sectors, provinces and ISACs, the TLP:RED recipients
of an indicator or a report and a report's objects are now ticked one by one, those ticked listed first under
"Chosen (n)", with the count of those chosen and, for a long list, a filter box. The field names and the values
posted are those of the old lists: the views, the services and the API read the same."""
import re

import pytest
from django.conf import settings
from django.urls import reverse

from khien.intel import services
from khien.intel.models import EarlyWarning, StixObject, StixRecipient, Tlp
from khien.registry.models import Isac, Province, Sector

from .conftest import indicator
from .test_views import _indicator_post, html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _boxes(page: str, name: str) -> dict[str, bool]:
    """{value: checked} of the checkboxes named `name` in a page; fails on any other input of that name."""
    boxes = {}
    for tag in re.findall(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', page):
        assert tag.startswith("<input") and 'type="checkbox"' in tag, tag
        boxes[re.search(r'value="([^"]+)"', tag).group(1)] = " checked" in tag
    return boxes


def _picker(page: str, field_id: str) -> str:
    """The HTML of one picker, from its root to its script."""
    start = page.index(f'id="{field_id}" data-picker')
    return page[start:page.index("org-picker.js", start)]


def _english(client, user):
    c = signed_in(client, user)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return c


def test_the_warning_forms_sectors_provinces_and_isacs_are_checkboxes(client, land):  # noqa: F811
    page = html(_english(client, land.world.coordinator).get(reverse("intel:warning_create")))
    assert not re.search(r"<select[^>]* multiple", page)  # no <select multiple> left
    assert set(_boxes(page, "sectors")) == {str(pk) for pk in Sector.objects.values_list("pk", flat=True)}
    assert set(_boxes(page, "provinces")) == {str(pk) for pk in Province.objects.values_list("pk", flat=True)}
    assert str(land.isac.pk) in _boxes(page, "isacs")
    assert not any(_boxes(page, "provinces").values())  # nothing ticked at first
    provinces, sectors = _picker(page, "id_provinces"), _picker(page, "id_sectors")
    # The count is said in each list's own words; the long list of provinces has a filter box, which the field's
    # label names; the short list of sectors has none (every sector is in sight).
    assert re.search(r"data-org-count[^>]*>\s*0 provinces chosen\s*<", provinces)
    assert re.search(r"data-org-count[^>]*>\s*0 sectors chosen\s*<", sectors)
    assert 'data-count-one="%(n)s province chosen"' in provinces
    assert 'id="id_provinces_filter"' in provinces and 'for="id_provinces_filter"' in page
    assert 'type="search"' not in sectors and "<details" not in sectors  # one short list, not folded
    assert 'role="group" aria-label="Sectors"' in sectors  # the boxes are named as a group
    assert "Ctrl" not in page.split('id="warning-form"')[1]  # no more "hold Ctrl to choose several"


def test_an_empty_list_says_so(client, world):
    page = html(_english(client, world.coordinator).get(reverse("intel:warning_create")))  # no ISAC yet
    isacs = _picker(page, "id_isacs")
    assert "None." in isacs and "data-org-count" not in isacs and 'type="search"' not in isacs


def test_two_provinces_a_sector_and_an_isac_ticked_post_as_the_lists_did(client, land):  # noqa: F811
    w = land.world
    c = signed_in(client, w.coordinator)
    response = c.post(reverse("intel:warning_create"), {
        "title": "Dò quét diện rộng", "severity": "high", "tlp": "amber", "auto_match": "",
        "provinces": [str(land.prov_area.pk), str(land.other_area.pk)], "sectors": [str(land.sector.pk)],
        "isacs": [str(land.isac.pk)]})
    assert response.status_code == 302
    targets = {t.organization.code: {r["reason"] for r in t.reasons}
               for t in EarlyWarning.objects.get().targets.select_related("organization")}
    # PROV is in the first province, OTHER in the second; MIN in the sector; RESP and PROV in the ISAC.
    assert targets == {"PROV": {"province", "isac"}, "OTHER": {"province"}, "MIN": {"sector", "isac"},
                       "RESP": {"isac"}}


def test_a_refused_warning_keeps_its_ticks_first(client, land):  # noqa: F811
    c = _english(client, land.world.coordinator)
    chosen = [str(land.prov_area.pk), str(land.other_area.pk)]
    response = c.post(reverse("intel:warning_create"), {"title": "", "severity": "high", "tlp": "amber",
                                                         "provinces": chosen, "sectors": [str(land.sector.pk)]})
    assert response.status_code == 400 and not EarlyWarning.objects.exists()
    page = html(response)
    assert {v for v, checked in _boxes(page, "provinces").items() if checked} == set(chosen)
    assert {v for v, checked in _boxes(page, "sectors").items() if checked} == {str(land.sector.pk)}
    provinces = _picker(page, "id_provinces")
    first = provinces.split("</fieldset>")[0]
    assert "Chosen (2)" in first and set(_boxes(first, "provinces")) == set(chosen)
    assert len(re.findall(r'name="provinces"', provinces)) == Province.objects.count()  # each box once
    assert re.search(r"data-org-count[^>]*>\s*2 provinces chosen\s*<", provinces)


def test_an_isac_operator_is_offered_its_isacs_only_and_a_forged_one_is_refused(client, land):  # noqa: F811
    w = land.world
    other = Isac.objects.create(code="EN-ISAC", name_vi="ISAC năng lượng", operator=land.other)
    c = signed_in(client, w.admin)  # MIN's admin operates FIN-ISAC
    page = html(c.get(reverse("intel:warning_create")))
    assert set(_boxes(page, "isacs")) == {str(land.isac.pk)}
    assert set(_boxes(page, "organizations")) == {str(w.province.pk), str(w.responder_org.pk)}
    response = c.post(reverse("intel:warning_create"), {"title": "Cảnh báo", "severity": "high", "tlp": "amber",
                                                         "isacs": [str(other.pk)]})
    assert response.status_code == 400 and "isacs" in response.context["form"].errors
    assert not EarlyWarning.objects.exists()


def test_the_tlp_red_recipients_are_checkboxes_grouped_by_type(client, sharing):
    world = sharing.world
    c = _english(client, world.analyst)
    page = html(c.get(reverse("intel:indicator_create")))
    boxes = _boxes(page, "recipients")
    assert str(sharing.rec_org.pk) in boxes and not any(boxes.values())
    assert str(world.ministry.pk) not in boxes  # the producer always sees its own: not offered
    recipients = _picker(page, "id_recipients")
    assert "<summary>Enterprise (1)</summary>" in recipients  # grouped by type, folded
    assert 'id="id_recipients_filter"' in recipients  # organizations: always a filter
    assert re.search(r"data-org-count[^>]*>\s*0 organizations chosen\s*<", recipients)
    assert "Ctrl" not in page


def test_two_red_recipients_ticked_are_stored_and_the_refusals_stay(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    two = [str(sharing.rec_org.pk), str(world.responder_org.pk)]
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, tlp="red", recipients=two))
    assert response.status_code == 302
    obj = StixObject.objects.get(data__name="C2 server")
    assert set(StixRecipient.objects.filter(object=obj).values_list("organization__code", flat=True)) == {"REC",
                                                                                                          "RESP"}
    # Refused as before: RED with nobody ticked, or the producer's own organization forged into the post.
    for recipients in ([], [str(world.ministry.pk)]):
        response = c.post(reverse("intel:indicator_create"),
                          _indicator_post(sharing.collection, tlp="red", name="Second", recipients=recipients))
        assert response.status_code == 400 and "recipients" in response.context["form"].errors
        assert not StixObject.objects.filter(data__name="Second").exists()
        page = html(response)
        assert {v for v, checked in _boxes(page, "recipients").items() if checked} == set(recipients) - {
            str(world.ministry.pk)}


def test_a_reports_objects_are_checkboxes_and_post_as_before(client, sharing):
    world = sharing.world
    c = _english(client, world.analyst)
    page = html(c.get(reverse("intel:report_create")))
    green, amber = sharing.ids[Tlp.GREEN], sharing.ids[Tlp.AMBER]
    boxes = _boxes(page, "object_refs")
    assert {green, amber} <= set(boxes) and not any(boxes.values())
    objects = _picker(page, "id_object_refs")
    assert re.search(r"data-org-count[^>]*>\s*0 objects chosen\s*<", objects)
    services.do_add_objects(sharing.collection, [indicator("198.51.100.99", tlp=Tlp.GREEN)], acting_user=world.analyst)
    response = c.post(reverse("intel:report_create"), {
        "name": "Two ticked", "report_type": "campaign", "tlp": "amber", "collection": str(sharing.collection.pk),
        "object_refs": [green, amber]})
    assert response.status_code == 302
    report = StixObject.objects.get(data__name="Two ticked")
    assert sorted(report.data["object_refs"]) == sorted([green, amber])
    # nothing ticked nor pasted: refused, as before
    response = c.post(reverse("intel:report_create"), {
        "name": "None", "report_type": "campaign", "tlp": "amber", "collection": str(sharing.collection.pk)})
    assert response.status_code == 400 and "object_refs" in response.context["form"].errors
