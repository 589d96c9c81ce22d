"""One FilterSet per model, shared by the (future) list pages, the API and the exports."""
import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from khien.core.filters import BooleanFilter, DateTimeFilter, PlatformFilterSet, UntilFilter
from khien.core.scoping import memberships_of, scope_within

from khien.intel import tlp as tlp_levels
from khien.intel.models import Tlp

from . import deadlines
from .models import OPEN_TASK_STATUSES, Incident, ReportingPolicy, Status, Task, TaskParty, Taxonomy


# The statuses before the response starts: a responder organization starts it (triaged → in response) once it has
# taken the incident on; an assignment has no state of its own.
NOT_STARTED = (Status.NEW, Status.TRIAGED)


def awaiting_response(queryset, user):
    """The incidents of `queryset` assigned to a responder organization the user works in (a responder role there
    or above it, as `services.is_assigned_responder`) whose response has not started (NOT_STARTED)."""
    from .services import RESPONDER_ROLES

    paths = [path for role, path, _o in memberships_of(user) if role in RESPONDER_ROLES] if user is not None else []
    if not paths:
        return queryset.none()
    assigned = scope_within(user, paths).q("assignments__responder__path")
    return queryset.filter(status__in=NOT_STARTED).filter(
        pk__in=Incident.objects.filter(assigned).values("pk"))


def for_my_organization(queryset, user):
    """The open tasks of `queryset` that nobody is in charge of and that the user's organization is expected to do
    (`TaskParty`): the reporting organization's on the incidents of the organizations where the user may act (a
    role that may change there or above it, as `services.is_reporting_side` — not the coordinator's reach over every
    organization); the responder organization's on the incidents assigned to one the user works in (a responder
    role there or above it, as `services.is_assigned_responder`); the national coordinator's for a national
    coordinator. Their organization's to take on."""
    from khien.core.roles import ROLE_ACTIONS, Action
    from khien.core.scoping import is_national_coordinator

    from .services import RESPONDER_ROLES

    if user is None:
        return queryset.none()
    ours = Q(pk__in=[])
    reporting = [path for role, path, _o in memberships_of(user) if Action.CHANGE in ROLE_ACTIONS.get(role, ())]
    if reporting:
        ours |= Q(scope_within(user, reporting).q("incident__organization__path"), party=TaskParty.REPORTER)
    responding = [path for role, path, _o in memberships_of(user) if role in RESPONDER_ROLES]
    if responding:
        assigned = Incident.objects.filter(scope_within(user, responding).q("assignments__responder__path")).values("pk")
        ours |= Q(incident__in=assigned, party=TaskParty.RESPONDER)
    if is_national_coordinator(user):
        ours |= Q(party=TaskParty.COORDINATOR)
    return queryset.filter(ours, owner__isnull=True, status__in=OPEN_TASK_STATUSES)


def may_await_response(user) -> bool:
    """Can `awaiting_response` find anything for the user: do they work (a responder role) in a responder
    organization or above one? The list offers its filter only then."""
    from khien.registry.models import Organization, OrgType

    from .services import RESPONDER_ROLES

    paths = [path for role, path, _o in memberships_of(user) if role in RESPONDER_ROLES]
    if not paths:
        return False
    return Organization.objects.filter(scope_within(user, paths).q("path"), org_type=OrgType.RESPONDER).exists()


def with_observable(value: str):
    """The ids of the incidents with an observable of this value, as stored (normalized: a domain or a hash in
    lower case; an address as written)."""
    from .models import Observable

    value = value.strip()
    return Observable.objects.filter(value__in={value, value.lower()}).values("incident_id")


class IncidentFilter(PlatformFilterSet):
    # A code of an organization the reader may not see (and under which no incident they see is) is refused like
    # one that does not exist (`PlatformFilterSet`).
    organization_filters = ("organization", "responder")
    periods = (("detected_after", "detected_before"), ("reported_after", "reported_before"))

    q = django_filters.CharFilter(method="search", label=_("Search"))
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("Status"))
    # The severities of the reporting policies (set per request: a policy is content, loaded by an operator); an
    # unknown one is a 400 on the API, not an empty list.
    severity = django_filters.ChoiceFilter(label=_("Severity"), choices=[])
    # The types of the taxonomies (content, like the severities): a misspelt one is a 400 naming them.
    category = django_filters.ChoiceFilter(label=_("Category"), choices=[])
    organization = django_filters.CharFilter(field_name="organization__code", label=_("Reporting organization (code)"))
    # The incidents a responder organization is assigned to (its code): what the coordinator asks of a team.
    responder = django_filters.CharFilter(field_name="assignments__responder__code", distinct=True,
                                          label=_("Responder organization"))
    # An observable's value as stored (normalized: a domain in lower case), e.g. what an alert or indicator names.
    observable = django_filters.CharFilter(method="filter_observable", max_length=2048,
                                           label=_("Observable (address, domain, URL, hash)"))
    detected_after = DateTimeFilter(field_name="detected_at", lookup_expr="gte", label=_("Detected since"))
    detected_before = DateTimeFilter(field_name="detected_at", lookup_expr="lt", label=_("Detected before"))
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    # The report period, as the statistics page counts (`stats.scoped`: by `reported_at`, Vietnam time): its
    # "Export these incidents" link gives reported_after=<since>&reported_before=<until>, and a date alone in
    # `reported_before` takes in that whole day (`UntilFilter`), so that the file has the rows the page counted.
    reported_after = DateTimeFilter(field_name="reported_at", lookup_expr="gte", label=_("Reported since"))
    reported_before = UntilFilter(field_name="reported_at", label=_("Reported until"))
    # The reporting organization's place (`registry.places`: "central" for the central agencies — a ministry's
    # line wherever its seat — or a province code) and sector, as the statistics page counts and filters.
    province = django_filters.ChoiceFilter(method="filter_province", choices=[],
                                           label=_("Province of the reporting organization"))
    sector = django_filters.ChoiceFilter(method="filter_sector", choices=[],
                                         label=_("Sector of the reporting organization"))
    # The incidents up to a TLP level (that level and the less restrictive ones): `tlp_max=amber_strict` leaves
    # out TLP:RED, for a file that goes to leadership.
    tlp_max = django_filters.ChoiceFilter(method="filter_tlp_max", choices=Tlp.choices, label=_("TLP at most"))
    # A deadline still to meet already past (`deadlines.past_a_deadline`): the home page's "To do" links here.
    overdue = BooleanFilter(method="filter_overdue", label=_("Past a deadline"))
    # Assigned to the user's responder organization and its response not started yet (`awaiting_response`): the
    # responder's "To do" links here.
    awaiting_us = BooleanFilter(method="filter_awaiting_us", label=_("Assigned to my organization, response not started"))

    class Meta:
        model = Incident
        fields = ["q", "status", "severity", "category", "organization", "responder", "tlp", "overdue",
                  "awaiting_us", "observable", "detected_after", "detected_before", "updated_after",
                  "reported_after", "reported_before", "province", "sector", "tlp_max"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = {}
        for policy in ReportingPolicy.objects.order_by("loaded_at"):
            choices.update(policy.severity_choices())
        self.filters["severity"].extra["choices"] = list(choices.items())
        types = {}
        for taxonomy in Taxonomy.objects.order_by("loaded_at"):
            types.update((value, typ.get("name_en") or value) for value, typ in taxonomy.types().items())
        self.filters["category"].extra["choices"] = list(types.items())
        from khien.registry import places
        from khien.registry.models import Sector

        self.filters["province"].extra["choices"] = places.choices()
        self.filters["sector"].extra["choices"] = [(s.code, s.name)
                                                   for s in Sector.objects.order_by("sort_order", "code")]

    def filter_province(self, queryset, name, value: str):
        from khien.registry import places

        return queryset.filter(organization__in=places.organizations_in(value)) if value else queryset

    def filter_sector(self, queryset, name, value: str):
        # An organization has several sectors: one row per incident all the same (as `stats.scoped`).
        if not value:
            return queryset
        return queryset.filter(pk__in=Incident.objects.filter(organization__sectors__code=value).values("pk"))

    def filter_tlp_max(self, queryset, name, value: str):
        if not value:
            return queryset
        order = tlp_levels.RESTRICTIVENESS
        return queryset.filter(tlp__in=order[:order.index(value) + 1])

    def search(self, queryset, name, value):
        """The reference, title and report texts, without regard to case or diacritics ("tong tien" finds "tống
        tiền"), or an observable's value exactly as stored (an address, a domain, a hash)."""
        from khien.core.texts import folded

        words = folded(value)
        if not words:
            return queryset
        return queryset.filter(Q(search_text__contains=words) | Q(pk__in=with_observable(value)))

    def filter_observable(self, queryset, name, value):
        return queryset.filter(pk__in=with_observable(value)) if value.strip() else queryset

    def filter_awaiting_us(self, queryset, name, value):
        if value is None:
            return queryset
        waiting = awaiting_response(Incident.objects.all(), getattr(self.request, "user", None)).values("pk")
        return queryset.filter(pk__in=waiting) if value else queryset.exclude(pk__in=waiting)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        # The deadlines a reader is held to: not those of incidents seen only as an affected organization
        # (`models.affected_q`), as the home page's count (`worklist.waiting_work`) that links here.
        held_to = Incident.objects.restrict(getattr(self.request, "user", None), through_systems=False)
        ids = deadlines.past_a_deadline_ids(queryset.filter(pk__in=held_to.values("pk")), timezone.now())
        return queryset.filter(pk__in=ids) if value else queryset.exclude(pk__in=ids)


class TaskFilter(PlatformFilterSet):
    """The task list (the home page's "To do" links to `?mine=1&open=1`)."""

    q = django_filters.CharFilter(method="search", label=_("Search"))
    mine = BooleanFilter(method="filter_mine", label=_("In my charge"))
    open = BooleanFilter(method="filter_open", label=_("Still open"))
    # Expected from the user's organization (the reporting one, an assigned responder, the national coordinator),
    # nobody in charge (`for_my_organization`): the home page's "To do" links here.
    reporter_open = BooleanFilter(method="filter_reporter_open",
                                  label=_("For my organization, nobody in charge"))
    incident = django_filters.CharFilter(field_name="incident__reference", label=_("Incident"))

    class Meta:
        model = Task
        fields = ["q", "mine", "open", "reporter_open", "incident"]

    def filter_reporter_open(self, queryset, name, value):
        if value is None:
            return queryset
        ours = for_my_organization(Task.objects.all(), getattr(self.request, "user", None)).values("pk")
        return queryset.filter(pk__in=ours) if value else queryset.exclude(pk__in=ours)

    def search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(incident__reference__icontains=value))

    def filter_mine(self, queryset, name, value):
        if value is None:
            return queryset
        user = getattr(self.request, "user", None)
        mine = Q(owner_id=getattr(user, "pk", None))
        return queryset.filter(mine) if value else queryset.exclude(mine)

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        still_open = Q(status__in=OPEN_TASK_STATUSES)
        return queryset.filter(still_open) if value else queryset.exclude(still_open)
