"""The early-warning answer's note box has a visible label (a placeholder vanishes as one types, and screen readers
may not read it), on the warning's page and in the inbox."""
import re

import pytest
from django.urls import reverse

from .test_views import html, signed_in
from .test_views_warnings import _issued
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _note_box_is_labelled(page: str, target) -> None:
    form = re.search(r'<form[^>]*id="ack-%s".*?</form>' % target.pk, page, re.S).group(0)
    box = re.search(r"<textarea[^>]*>", form).group(0)
    box_id = re.search(r'id="([^"]+)"', box)
    assert box_id, box
    label = re.search(r'<label for="%s"[^>]*>(.*?)</label>' % re.escape(box_id.group(1)), form, re.S)
    assert label and "Ghi chú (không bắt buộc)" in label.group(1), form
    assert "placeholder" not in box


def test_the_answer_note_has_a_visible_label(client, land):
    warning = _issued(land)
    target = warning.targets.get(organization=land.world.province)
    c = signed_in(client, land.prov_analyst)
    _note_box_is_labelled(html(c.get(reverse("intel:warning_detail", args=[warning.pk]))), target)
    _note_box_is_labelled(html(c.get(reverse("intel:warning_inbox"))), target)
