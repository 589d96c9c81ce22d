"""One FilterSet per model, shared by the list pages, the API and the exports."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from khien.core.filters import BooleanFilter, DateTimeFilter, PlatformFilterSet

from . import services
from .models import (
    ImportJob,
    InformationSystem,
    Isac,
    LayerState,
    LevelFramework,
    LevelStatus,
    Membership,
    OperationalStatus,
    Organization,
    OrgType,
    Province,
    Sector,
    four_layers_complete_q,
    level_approved_q,
)


LEVEL_CHOICES = [(str(i), str(i)) for i in range(1, 6)]


class OrganizationFilter(PlatformFilterSet):
    organization_filters = ("parent",)

    q = django_filters.CharFilter(method="search", label=_("Search"))
    org_type = django_filters.ChoiceFilter(choices=OrgType.choices, label=_("Type"))
    province = django_filters.ModelChoiceFilter(queryset=Province.objects.all(), to_field_name="code", label=_("Province"))
    sector = django_filters.ModelChoiceFilter(field_name="sectors", queryset=Sector.objects.all(), to_field_name="code", label=_("Sector"))
    parent = django_filters.CharFilter(field_name="parent__code", label=_("Parent (code)"))
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))

    class Meta:
        model = Organization
        fields = ["q", "org_type", "province", "sector", "parent", "is_active", "updated_after"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name_vi__icontains=value) | Q(name_en__icontains=value))


class InformationSystemFilter(PlatformFilterSet):
    organization_filters = ("owner",)

    q = django_filters.CharFilter(method="search", label=_("Search"))
    owner = django_filters.CharFilter(field_name="owner__code", label=_("Owner (code)"))
    province = django_filters.ModelChoiceFilter(field_name="owner__province", queryset=Province.objects.all(), to_field_name="code", label=_("Province"))
    sector = django_filters.ModelChoiceFilter(field_name="owner__sectors", queryset=Sector.objects.all(), to_field_name="code", label=_("Sector"))
    # ChoiceFilter (unlike TypedChoiceFilter) offers an empty choice, so an untouched select filters nothing.
    level = django_filters.ChoiceFilter(field_name="approved_level", choices=LEVEL_CHOICES, label=_("Approved level"))
    proposed_level = django_filters.ChoiceFilter(choices=LEVEL_CHOICES, label=_("Proposed level"))
    level_status = django_filters.ChoiceFilter(choices=LevelStatus.choices, label=_("Level status"))
    # Holds an approved level (also while a revision of it is under way): what the dashboard's figure counts.
    approved = BooleanFilter(method="filter_approved", label=_("Security level approved"))
    operational_status = django_filters.ChoiceFilter(choices=OperationalStatus.choices, label=_("Operational status"))
    important_to_national_security = BooleanFilter(label=_("Important to national security"))
    internet_facing = BooleanFilter(label=_("Internet-facing"))
    four_layers = BooleanFilter(method="filter_four_layers", label=_("All four layers in place"))
    layer4_status = django_filters.ChoiceFilter(choices=LayerState.choices, label=_("Connected to national monitoring"))
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    # The proposals whose appraisal or approval is the user's own to decide (`services.decidable_by`): the home
    # page's "To do" counts these and links here.
    awaiting_me = django_filters.ChoiceFilter(
        choices=[("appraise", _("My appraisal")), ("approve", _("My approval"))], method="filter_awaiting_me",
        label=_("Waiting for my decision"))

    class Meta:
        model = InformationSystem
        fields = ["q", "owner", "province", "sector", "level", "proposed_level", "level_status", "approved", "operational_status",
                  "important_to_national_security", "internet_facing", "four_layers", "layer4_status", "updated_after",
                  "awaiting_me"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(owner__name_vi__icontains=value))

    def filter_awaiting_me(self, queryset, name, value):
        waiting = services.decidable_by(getattr(self.request, "user", None), value, own_turn_only=True)
        return queryset.filter(pk__in=waiting.values("pk"))

    def filter_approved(self, queryset, name, value):
        return queryset.filter(level_approved_q()) if value else queryset.exclude(level_approved_q())

    def filter_four_layers(self, queryset, name, value):
        complete = four_layers_complete_q()
        return queryset.filter(complete) if value else queryset.exclude(complete)


class IsacFilter(PlatformFilterSet):
    sector = django_filters.ModelChoiceFilter(queryset=Sector.objects.all(), to_field_name="code", label=_("Sector"))

    class Meta:
        model = Isac
        fields = ["sector"]


# --- The API's other lists (filters of their own columns, refusing what they do not take) ------------------------

class MembershipFilter(PlatformFilterSet):
    organization_filters = ("organization__code",)

    class Meta:
        model = Membership
        fields = {"organization__code": ["exact"], "role": ["exact"], "user__email": ["exact"]}


class SectorFilter(PlatformFilterSet):
    class Meta:
        model = Sector
        fields = ["code"]


class ProvinceFilter(PlatformFilterSet):
    class Meta:
        model = Province
        fields = ["code", "kind", "region"]


class LevelFrameworkFilter(PlatformFilterSet):
    class Meta:
        model = LevelFramework
        fields = ["is_current"]


class ImportJobFilter(PlatformFilterSet):
    class Meta:
        model = ImportJob
        fields = ["kind", "status"]
