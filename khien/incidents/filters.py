"""One FilterSet per model, shared by the (future) list pages, the API and the exports."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from khien.core.filters import DateTimeFilter, PlatformFilterSet

from .models import Incident, Status


class IncidentFilter(PlatformFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("Status"))
    severity = django_filters.CharFilter(label=_("Severity"))
    category = django_filters.CharFilter(label=_("Category"))
    organization = django_filters.CharFilter(field_name="organization__code", label=_("Reporting organization (code)"))
    # The incidents a responder organization is assigned to (its code): what the coordinator asks of a team.
    responder = django_filters.CharFilter(field_name="assignments__responder__code", distinct=True,
                                          label=_("Responder organization"))
    detected_after = DateTimeFilter(field_name="detected_at", lookup_expr="gte", label=_("Detected since"))
    detected_before = DateTimeFilter(field_name="detected_at", lookup_expr="lt", label=_("Detected before"))
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))

    class Meta:
        model = Incident
        fields = ["q", "status", "severity", "category", "organization", "responder", "tlp", "detected_after", "detected_before",
                  "updated_after"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(reference__icontains=value) | Q(title__icontains=value))
