"""Serializer fields of the platform's API."""
import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from khien.core.timerange import out_of_range_message, storable


class DateTimeField(serializers.DateTimeField):
    """DRF's date and time, refused with a message outside the years the platform stores (`core.timerange`),
    instead of an OverflowError (a time without a zone near year 1) or a date that later cannot be shown.
    Every ModelSerializer's DateTimeField is this one (`core.apps`); fields declared by hand use it too."""

    def to_internal_value(self, value):
        try:
            parsed = super().to_internal_value(value)
        except OverflowError:  # DRF catches it in some paths ("Datetime value out of range."), not in others
            parsed = None
        except serializers.ValidationError as exc:
            if exc.get_codes() != ["overflow"]:
                raise
            parsed = None
        if parsed is None or not storable(parsed):
            raise serializers.ValidationError(out_of_range_message(), code="out_of_range")
        return parsed

    def to_representation(self, value):
        try:
            return super().to_representation(value)
        except serializers.ValidationError:
            # A date stored before such dates were refused, in the last hours of year 9999: in local time it does
            # not exist. Shown in UTC, instead of DRF's "out of range" failing every listing that holds it.
            return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def storable_date(value):
    """A validator (of Django: forms, models and DRF fields run it alike): a date within the years the platform
    stores (`core.timerange`)."""
    if value is not None and not storable(value):
        raise ValidationError(out_of_range_message(), code="out_of_range")


class DateField(serializers.DateField):
    """DRF's date, refused with a message outside the years the platform stores (`core.timerange`), as DateTimeField.
    Every ModelSerializer maps a model's DateField to it (`core.apps`); declared by hand elsewhere."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(storable_date)


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, line feed, carriage return


def no_control_characters(value):
    """A validator of Django's: forms, models and DRF fields run it alike (the registry's import too)."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValidationError(_("Control characters (such as a bell or an escape) are not allowed."),
                              code="control_characters")


class CharField(serializers.CharField):
    """DRF's text, without the control characters no one types (they broke spreadsheet exports and terminals).
    Every ModelSerializer's CharField and TextField is this one (`core.apps`); fields declared by hand use it too."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(no_control_characters)
