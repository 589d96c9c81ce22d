"""The platform's serializer fields and validators (`core.api.fields`): the same rules for the API, forms and imports."""
import pytest
from django import forms
from django.utils import translation

from khien.core.api import fields


@pytest.mark.parametrize("value,ok", [
    ("0001-01-01", False), ("1969-12-31", False), ("1970-01-01", True), ("2024-02-29", True), ("9998-12-31", True),
    ("9999-12-31", False),
])
def test_dates_are_held_to_the_platforms_years(value, ok):
    field = fields.DateField()
    if ok:
        assert field.run_validation(value).isoformat() == value
        return
    with pytest.raises(fields.serializers.ValidationError) as exc:
        field.run_validation(value)
    assert exc.value.get_codes() == ["out_of_range"]


def test_the_validators_serve_django_forms_too():
    """A validator raising DRF's ValidationError would be a 500 in a form; these are Django's."""

    class Form(forms.Form):
        text = forms.CharField(validators=[fields.no_control_characters])
        day = forms.DateField(validators=[fields.storable_date])

    with translation.override("en"):
        form = Form({"text": "a\x07b", "day": "0001-01-01"})
        assert not form.is_valid()
    assert form.errors.as_data()["text"][0].code == "control_characters"
    assert form.errors.as_data()["day"][0].code == "out_of_range"
    assert Form({"text": "a\tb\r\nc", "day": "2024-05-01"}).is_valid()
    with pytest.raises(fields.serializers.ValidationError) as exc:
        fields.CharField().run_validation("\x1b[31m")
    assert exc.value.get_codes() == ["control_characters"]
