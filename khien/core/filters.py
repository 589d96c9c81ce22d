"""Filters shared by the API and the pages."""
import django_filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from khien.core.timerange import MAX_YEAR, MIN_YEAR, storable


class BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not storable(value):
            raise ValidationError(_("Enter a date between the years %(min)d and %(max)d."), code="out_of_range",
                                  params={"min": MIN_YEAR, "max": MAX_YEAR})
        return value


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date and time (a time without a zone is the platform's local time), refused with a message
    outside MIN_YEAR–MAX_YEAR rather than failing in the database."""

    field_class = BoundedIsoDateTimeField
