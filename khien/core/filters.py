"""Filters shared by the API and the pages."""
import datetime as dt
import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from khien.core.models import AuditEntry, User
from khien.core.timerange import out_of_range_message, storable


# A date (ISO 8601 or dd/mm/yyyy as the pages write it) with nothing after it.
_BARE_DATE = re.compile(r"^\s*(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})\s*$")
# An ISO 8601 time whose offset's `+` was left unencoded in the address, and so arrived as a space
# (`since=2026-12-06T00:00:00+07:00` typed into curl): read as the `+` it was.
_SPACE_FOR_PLUS = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def is_bare_date(raw) -> bool:
    return isinstance(raw, str) and bool(_BARE_DATE.match(raw))


def api_date_message():
    return _("Enter a date and time in ISO 8601, for example 2026-12-06T08:30:00+07:00 (or a date alone: "
             "2026-12-06; a time without an offset is Vietnam time).")


class BoundedIsoDateTimeField(IsoDateTimeField):
    """One rule for a date in a filter, two ways of saying it: ISO 8601 for machines (the API's message), and
    dd/mm/yyyy as Vietnamese people write a date (the pages' message). A filter set answering the API switches
    its fields to the API's message (`PlatformFilterSet`). With `end_of_day`, a date alone means the end of that
    day (the next midnight): `until=2026-12-06` takes in the 6th, as people read it."""

    input_formats = [IsoDateTimeField.ISO_8601, "%d/%m/%Y %H:%M", "%d/%m/%Y"]

    def __init__(self, *args, end_of_day: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.end_of_day = end_of_day
        self.widget.attrs.setdefault("placeholder", _("dd/mm/yyyy"))
        # The refusal shows the format the placeholder shows (Django's example had a time in it), then the time
        # that may follow.
        self.error_messages["invalid"] = format_lazy(
            _("Enter a date as {format}, for example 06/12/2026 (a time may follow: 06/12/2026 08:30)."),
            format=_("dd/mm/yyyy"))

    def for_api(self):
        self.error_messages["invalid"] = api_date_message()

    def to_python(self, value):
        if isinstance(value, str):
            value = _SPACE_FOR_PLUS.sub(r"\1+\2", value.strip())
        bare = is_bare_date(value)
        value = super().to_python(value)
        if value is not None and not storable(value):
            raise ValidationError(out_of_range_message(), code="out_of_range")
        if value is not None and bare and self.end_of_day:
            value = value + dt.timedelta(days=1)
        return value


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date and time (a time without a zone is the platform's local time), refused with a message
    outside MIN_YEAR–MAX_YEAR rather than failing in the database."""

    field_class = BoundedIsoDateTimeField


class UntilFilter(DateTimeFilter):
    """The end of a period, not taken in (`lt`): the next period starts where this one ends, so that polling
    windows meet without overlap. A date alone is the end of that day: `since=2026-12-06&until=2026-12-06` is
    the whole 6th."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "lt")
        kwargs["end_of_day"] = True
        super().__init__(*args, **kwargs)


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


def unknown_organization_message():
    # The same words for a code that does not exist and for an organization the reader may not see: the answer
    # tells nothing of what exists beyond their scope (as the telemetry lists answer).
    return _("No organization with this code among those you may see.")


def listed_choices_message(choices) -> str:
    """Django's refusal of a choice ("not one of the available choices") naming the values it takes, with
    `%(value)s` left for the field to fill: a script's author is not left to guess."""
    values = ", ".join(str(key) for key, _label in choices if key not in ("", None))
    return gettext("Unknown value “%(v)s”: use one of %(choices)s.") % {"v": "%(value)s",
                                                                          "choices": values.replace("%", "%%")}


class PlatformFilterSet(django_filters.FilterSet):
    """The platform's filter sets: model booleans filter with `BooleanFilter` (refusing what is neither); a period
    (each pair of `periods` the set has) that ends before it starts is refused, not answered with nothing; read for
    the API (a DRF request), their dates are explained in ISO 8601, on the pages as dd/mm/yyyy. A choice it does
    not take is refused naming those it does. Each filter of `organization_filters` takes the code of an
    organization the reader may see, or one some row of the list (already scoped to the reader) is under: any other
    code, existing or not, is refused with the same words (`unknown_organization_message`), not answered with an
    empty list that would read as "nothing there"."""

    FILTER_DEFAULTS = {**django_filters.FilterSet.FILTER_DEFAULTS, models.BooleanField: {"filter_class": BooleanFilter}}
    periods: tuple[tuple[str, str], ...] = (("since", "until"),)
    organization_filters: tuple[str, ...] = ()

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            api = _is_api_request(self.request)
            for field in form.fields.values():
                if api and isinstance(field, BoundedIsoDateTimeField):
                    field.for_api()
                if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
                    field.error_messages["invalid_choice"] = listed_choices_message(field.choices)
        return self._form

    def known_organization(self, name: str, code: str) -> bool:
        """May filter `name` take this organization code (see the class)?"""
        from khien.registry.models import Organization

        user = getattr(self.request, "user", None)
        if Organization.objects.visible_to(user).filter(code=code).exists():
            return True
        return self.queryset.filter(**{self.filters[name].field_name: code}).exists()

    def get_form_class(self):
        base = super().get_form_class()
        periods = [(start, end) for start, end in self.periods if start in self.filters and end in self.filters]
        organizations = [name for name in self.organization_filters if name in self.filters]
        if not periods and not organizations:
            return base
        filterset = self

        class PlatformForm(base):
            def clean(self):
                data = super().clean()
                for start, end in periods:
                    if data.get(start) and data.get(end) and self.starts_after_end(start, end, data):
                        self.add_error(end, _("The start of the period is after its end."))
                for name in organizations:
                    code = (data.get(name) or "").strip()
                    if code and not filterset.known_organization(name, code):
                        self.add_error(name, unknown_organization_message())
                return data

            def starts_after_end(self, start, end, data) -> bool:
                # A date alone in an end that means the end of that day (`UntilFilter`) is read as the day's last
                # moment: `since=07/12/2026&until=06/12/2026` starts after it ends, though both are the 7th's
                # midnight. Two equal times are an empty period, not a refused one (a polling window W–W).
                whole_day = getattr(self.fields[end], "end_of_day", False) and is_bare_date(self.data.get(end))
                return data[start] >= data[end] if whole_day else data[start] > data[end]

        return PlatformForm


def _is_api_request(request) -> bool:
    from rest_framework.request import Request

    return isinstance(request, Request)


def flag(params, name: str) -> bool:
    """A yes/no query parameter a view reads itself (not through a filter set): absent or empty is false, anything
    but the words above a 400 naming it."""
    try:
        return bool(StrictBooleanField(required=False).clean(params.get(name, "")))
    except ValidationError as exc:
        raise serializers.ValidationError({name: exc.messages}) from None


# --- The audit log -------------------------------------------------------------------------------------

class AuditEntryFilterSet(PlatformFilterSet):
    """One filter set for the audit log page and `/api/audit/`: free text (object or actor), the user, the action,
    a period; and, for programs, the exact columns. Applied to `AuditEntry.objects.visible_to(user)`."""

    q = django_filters.CharFilter(method="filter_text", label=_("Search"))
    actor = django_filters.CharFilter(method="filter_actor", label=_("User"))
    action = django_filters.ChoiceFilter(choices=[], method="filter_action", label=_("Action"), empty_label=_("All"))
    # A period as telemetry reads one (`UntilFilter`): `until` is where it ends, not taken in, so that consecutive
    # periods (and exports) meet without overlap; a date alone is the end of that day.
    since = DateTimeFilter(field_name="at", lookup_expr="gte", label=_("Since"))
    until = UntilFilter(field_name="at", label=_("Until"))

    PAGE_FIELDS = ("q", "actor", "action", "since", "until")  # the rest is for programs

    class Meta:
        model = AuditEntry
        fields = ["q", "actor", "action", "since", "until", "actor_email", "object_type", "object_id",
                  "organization_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from khien.core import audit

        self.filters["action"].extra["choices"] = audit.action_choices()

    def filter_action(self, queryset, name, value):
        from khien.core import audit

        return audit.filter_action(queryset, value) if value else queryset

    def filter_text(self, queryset, name, value):
        """The words of the object, or who did it (e-mail or name); or a name the page shows in place of a stored
        id (a referenced object, the organization): the entries that hold the id of an object so named, among
        those the reader may see (`audit.ids_named`)."""
        from khien.core import audit

        from khien.core.texts import folded

        value = value.strip()
        if not folded(value):
            return queryset
        q = audit.folded_contains("object_repr", value) | models.Q(object_id__iexact=value) | self._actor_q(value)
        ids = audit.ids_named(value, getattr(self.request, "user", None))
        if ids:
            q |= models.Q(object_id__in=ids) | models.Q(organization_id__in=ids)
            for pk in ids:
                q |= models.Q(object_repr__contains=pk)
        return queryset.filter(q)

    def filter_actor(self, queryset, name, value):
        from khien.core.texts import folded

        value = value.strip()
        return queryset.filter(self._actor_q(value)) if folded(value) else queryset

    @staticmethod
    def _actor_q(value: str) -> models.Q:
        """An actor by e-mail (or part of it), by name (without regard to case or diacritics), or by id. The log
        keeps the e-mail and id as they were; names are looked up among today's users."""
        from khien.core import audit

        named = [str(pk) for pk in User.objects.filter(audit.folded_contains("full_name", value))
                 .values_list("pk", flat=True)[:500]]
        return (models.Q(actor_email__icontains=value) | models.Q(actor_id=value)
                | models.Q(actor_id__in=named))
