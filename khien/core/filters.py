"""Filters shared by the API and the pages."""
import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

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
