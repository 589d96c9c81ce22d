"""Dates typed by hand are read day first in both languages, as every page writes them: 12/06/2026 is 12 June.
Django's defaults read them month first (12/06/2026 became 6 December; 13/06/2026 was refused)."""
import datetime as dt

import pytest
from django import forms
from django.utils import timezone, translation

from khien.intel.views_exchange import ExportForm


class _Form(forms.Form):
    day = forms.DateField()
    moment = forms.DateTimeField()


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("typed, day", [
    ("12/06/2026", dt.date(2026, 6, 12)), ("13/06/2026", dt.date(2026, 6, 13)), ("2026-06-12", dt.date(2026, 6, 12)),
    ("12.06.2026", dt.date(2026, 6, 12)), ("12/06/26", dt.date(2026, 6, 12)),
])
def test_a_typed_date_is_read_day_first(language, typed, day):
    with translation.override(language):
        form = _Form({"day": typed, "moment": f"{typed} 10:30"})
        assert form.is_valid(), form.errors
    assert form.cleaned_data["day"] == day
    moment = timezone.localtime(form.cleaned_data["moment"])
    assert (moment.date(), moment.hour, moment.minute) == (day, 10, 30)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_month_first_date_that_cannot_be_day_first_is_refused_not_guessed(language):
    with translation.override(language):
        form = _Form({"day": "06/13/2026", "moment": "06/13/2026 10:30"})
        assert not form.is_valid() and set(form.errors) == {"day", "moment"}


@pytest.mark.django_db
def test_the_intelligence_export_reads_added_since_day_first(world):
    with translation.override("vi"):
        form = ExportForm({"format": "stix", "added_since": "12/06/2026"}, user=world.analyst)
        assert form.is_valid(), form.errors
    assert form.cleaned_data["added_since"] == dt.date(2026, 6, 12)
