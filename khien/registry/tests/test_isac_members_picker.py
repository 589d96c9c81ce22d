"""An ISAC's members are ticked in checkboxes (core.widgets.CheckboxPicker), as the early warning's organizations
are: in the <select multiple> it had, a plain click kept only the member clicked and dropped every other one
without a word. The organizations are grouped by type with a filter box; those ticked come first under
"Chosen (n)"; the field's name and values are the list's, so the view and the service read the same."""
import re

import pytest
from django.conf import settings
from django.urls import reverse

from khien.core.widgets import CheckboxPicker
from khien.registry.models import Isac

pytestmark = pytest.mark.django_db


def _english(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _boxes(page: str) -> dict[str, bool]:
    """{value: checked} of the members' boxes; fails on any other input of that name (a <select>)."""
    boxes = {}
    for tag in re.findall(r'<(?:input|select)[^>]*name="members"[^>]*>', page):
        assert tag.startswith("<input") and 'type="checkbox"' in tag, tag
        boxes[re.search(r'value="([^"]+)"', tag).group(1)] = " checked" in tag
    return boxes


def _post(world, **extra):
    data = {"code": "ISAC-MIN", "name_vi": "ISAC Bộ", "name_en": "", "sector": "", "operator": str(world.ministry.pk),
            "description": ""}
    data.update(extra)
    return data


def test_the_isac_form_lists_the_members_as_checkboxes_grouped_by_type(client, world):
    page = _english(client, world.admin).get(reverse("registry:isac_create")).content.decode()
    assert not re.search(r"<select[^>]*name=\"members\"", page)
    boxes = _boxes(page)
    assert {str(o.pk) for o in (world.department, world.province, world.responder_org)} <= set(boxes)
    assert not any(boxes.values())
    assert 'id="id_members" data-picker data-org-picker' in page
    assert "<summary>Incident-response company (1)</summary>" in page  # grouped by type, folded
    assert 'for="id_members_filter"' in page and 'id="id_members_filter"' in page  # the label names the filter
    assert 'placeholder="Filter by code or name"' in page
    assert re.search(r"data-org-count[^>]*>\s*0 organizations chosen\s*<", page)
    assert "khien/picker.css" in page and "khien/org-picker.js" in page  # styled and scripted on this page too


def test_several_members_ticked_are_all_kept(client, world):
    c = _english(client, world.admin)
    three = [str(world.department.pk), str(world.province.pk), str(world.responder_org.pk)]
    response = c.post(reverse("registry:isac_create"), _post(world, members=three))
    assert response.status_code == 302
    isac = Isac.objects.get(code="ISAC-MIN")
    assert set(isac.members.values_list("code", flat=True)) == {"MIN-D1", "PROV", "RESP"}

    # The edit form shows them ticked, first, under "Chosen (3)", each box once.
    page = c.get(reverse("registry:isac_edit", args=[isac.pk])).content.decode()
    boxes = _boxes(page)
    assert {v for v, checked in boxes.items() if checked} == set(three)
    chosen = page[page.index("data-org-chosen"):]
    chosen = chosen[:chosen.index("</fieldset>")]
    assert "Chosen (3)" in chosen and set(_boxes(chosen)) == set(three)
    assert len(re.findall(r'name="members"', page)) == len(boxes)

    # One member added on the edit form: the three others stay.
    response = c.post(reverse("registry:isac_edit", args=[isac.pk]),
                      _post(world, members=three + [str(world.commune.pk)]))
    assert response.status_code == 302
    assert set(isac.members.values_list("code", flat=True)) == {"MIN-D1", "PROV", "RESP", "PROV-C1"}


def test_a_refused_isac_keeps_its_ticks_first(client, world):
    two = [str(world.department.pk), str(world.responder_org.pk)]
    response = _english(client, world.admin).post(reverse("registry:isac_create"), _post(world, code="", members=two))
    assert response.status_code == 400 and not Isac.objects.exists()
    page = response.content.decode()
    assert {v for v, checked in _boxes(page).items() if checked} == set(two)
    assert re.search(r"data-org-count[^>]*>\s*2 organizations chosen\s*<", page)


def test_a_forged_member_is_refused_with_a_message(client, world):
    response = _english(client, world.admin).post(reverse("registry:isac_create"),
                                                  _post(world, members=["not-an-id"]))
    assert response.status_code == 400 and not Isac.objects.exists()
    assert "members" in response.context["form"].errors


def test_each_box_knows_its_group_and_rank_to_go_back_to_when_unticked():
    """The ticked boxes are listed first; each says where it came from (org-picker.js puts it back there when
    unticked), and a group whose every box is ticked is still written, hidden, to take one back."""
    picker = CheckboxPicker(count=lambda n: "%(n)s chosen", legend="Places",
                            choices=[("North", [("a", "Hà Nội"), ("b", "Hải Phòng")]), ("South", [("c", "Cần Thơ")])])
    context = picker.get_context("places", ["c", "a"], {"id": "id_places"})["widget"]
    assert [o["value"] for o in context["chosen"]] == ["a", "c"]
    assert [(o["home"], o["order"]) for o in context["chosen"]] == [(0, 0), (1, 2)]
    assert [(g["name"], [o["value"] for o in g["options"]]) for g in context["groups"]] == [("North", ["b"]),
                                                                                          ("South", [])]
    html = picker.render("places", ["c", "a"], {"id": "id_places"})
    assert re.search(r'<details class="org-group" data-org-group data-name="South" hidden>', html)
    assert 'data-home="1" data-order="2"' in html
