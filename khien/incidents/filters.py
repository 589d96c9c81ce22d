"""One FilterSet per model, shared by the (future) list pages, the API and the exports."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from khien.core.filters import DateTimeFilter, PlatformFilterSet

from .models import Incident, ReportingPolicy, Status


class IncidentFilter(PlatformFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("Status"))
    # The severities of the reporting policies (set per request: a policy is content, loaded by an operator); an
    # unknown one is a 400 on the API, not an empty list.
    severity = django_filters.ChoiceFilter(label=_("Severity"), choices=[])
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = {}
        for policy in ReportingPolicy.objects.order_by("loaded_at"):
            choices.update(policy.severity_choices())
        self.filters["severity"].extra["choices"] = list(choices.items())

    def search(self, queryset, name, value):
        return queryset.filter(Q(reference__icontains=value) | Q(title__icontains=value))
