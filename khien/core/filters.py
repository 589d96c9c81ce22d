"""Filters shared by the API and the pages."""
import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from khien.core.timerange import out_of_range_message, storable


class BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not storable(value):
            raise ValidationError(out_of_range_message(), code="out_of_range")
        return value


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date and time (a time without a zone is the platform's local time), refused with a message
    outside MIN_YEAR–MAX_YEAR rather than failing in the database."""

    field_class = BoundedIsoDateTimeField


# --- Yes/no filters that refuse what is neither --------------------------------------------------------

# What the pages' select and API clients send; anything else is refused.
BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "unknown": None, "": None}


class StrictBooleanSelect(forms.NullBooleanSelect):
    """Django's yes/no select, except that a value it does not know is passed on for the field to refuse
    (Django turned `?internet_facing=yes` into "no filter", and the whole list came back). Its empty choice reads
    "All" (a filter left alone), not Django's "Unknown"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", _("All")), ("true", _("Yes")), ("false", _("No"))]

    def value_from_datadict(self, data, files, name):
        raw = data.get(name)
        value = super().value_from_datadict(data, files, name)
        return raw if value is None and raw else value  # the field knows the words (BOOLEAN_WORDS)


class StrictBooleanField(forms.NullBooleanField):
    widget = StrictBooleanSelect

    def to_python(self, value):
        if isinstance(value, str):
            if value.lower() not in BOOLEAN_WORDS:
                raise ValidationError(_("Use true or false."), code="invalid")
            return BOOLEAN_WORDS[value.lower()]
        return super().to_python(value)


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class PlatformFilterSet(django_filters.FilterSet):
    """The platform's filter sets: model booleans filter with `BooleanFilter` (refusing what is neither)."""

    FILTER_DEFAULTS = {**django_filters.FilterSet.FILTER_DEFAULTS, models.BooleanField: {"filter_class": BooleanFilter}}


def flag(params, name: str) -> bool:
    """A yes/no query parameter a view reads itself (not through a filter set): absent or empty is false, anything
    but the words above a 400 naming it."""
    try:
        return bool(StrictBooleanField(required=False).clean(params.get(name, "")))
    except ValidationError as exc:
        raise serializers.ValidationError({name: exc.messages}) from None
