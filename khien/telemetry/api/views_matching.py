"""API of indicator matching: hits, national campaigns (+ the coordinator's actions), dashboard data."""
import django_filters
from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api import fields as api_fields
from khien.core.api.schema import refusal
from khien.core.api.strict import StrictListView
from khien.core.filters import DateTimeFilter, PlatformFilterSet
from khien.core.scoping import is_national_coordinator
from khien.intel.models import IndicatorKind
from khien.registry.models import Organization, Province, Sector

from .. import correlation
from ..filters import ListedChoiceFilter
from ..models import Campaign, CampaignKind, CampaignStatus, IndicatorHit
from ..views import PERIOD_LABELS, PeriodError, dashboard_data, dashboard_period


class HitSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = IndicatorHit
        fields = ["id", "event_id", "alert", "organization", "source", "indicator_id", "kind", "value", "field", "time",
                  "sighted", "notified"]
        read_only_fields = fields


class HitFilter(PlatformFilterSet):
    indicator_id = django_filters.CharFilter(field_name="indicator_id", label=_("Indicator (STIX id)"))
    value = django_filters.CharFilter(field_name="value", label=_("Indicator value"))
    kind = ListedChoiceFilter(choices=IndicatorKind.choices, field_name="kind", label=_("Kind"))
    since = DateTimeFilter(field_name="time", lookup_expr="gte", label=_("Since"))
    until = DateTimeFilter(field_name="time", lookup_expr="lt", label=_("Until"))

    class Meta:
        model = IndicatorHit
        fields = ["indicator_id", "value", "kind", "since", "until"]


class HitList(StrictListView):
    """Indicator hits of the organizations the caller can see, latest first."""

    serializer_class = HitSerializer
    filterset_class = HitFilter
    ordering_fields = ["time", "id"]

    def get_queryset(self):
        return (IndicatorHit.objects.visible_to(self.request.user).select_related("source", "organization")
                .order_by("-time", "-id"))


class CampaignSerializer(serializers.ModelSerializer):
    organizations = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "kind", "key", "title", "indicator_kind", "value", "rule_name", "severity", "first_seen",
                  "last_seen", "organizations", "organization_count", "count", "status", "warning", "incident",
                  "decided_at", "decision_note", "created_at", "updated_at"]
        read_only_fields = fields


class CampaignFilter(PlatformFilterSet):
    status = ListedChoiceFilter(choices=CampaignStatus.choices, label=_("Status"))
    kind = ListedChoiceFilter(choices=CampaignKind.choices, label=_("Kind"))

    class Meta:
        model = Campaign
        fields = ["status", "kind"]


class CampaignList(StrictListView):
    """National campaigns (national coordinator only: 403 for others), the latest seen first."""

    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    ordering_fields = ["last_seen", "first_seen", "count", "organization_count"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Campaign.objects.none()
        if not is_national_coordinator(self.request.user):
            raise PermissionDenied
        return Campaign.objects.visible_to(self.request.user).prefetch_related("organizations").order_by("-last_seen")


class CampaignDetail(generics.RetrieveAPIView):
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return Campaign.objects.visible_to(self.request.user).prefetch_related("organizations")


ACTIONS = {"warn": correlation.do_campaign_to_warning, "incident": correlation.do_campaign_to_incident,
           "dismiss": correlation.do_dismiss_campaign, "reopen": correlation.do_reopen_campaign}


class CampaignActionSerializer(serializers.Serializer):
    """What the coordinator may set on the warning or incident a campaign becomes (all optional: the campaign
    gives the rest). Texts only: a list or an object is refused here, not deep in the services."""

    title = api_fields.CharField(required=False, max_length=300)
    summary = api_fields.CharField(required=False, max_length=20000)
    description = api_fields.CharField(required=False, max_length=20000)
    severity = api_fields.CharField(required=False, max_length=40)
    tlp = api_fields.CharField(required=False, max_length=40)
    category = api_fields.CharField(required=False, max_length=100)
    reason = api_fields.CharField(required=False, max_length=correlation.DISMISS_REASON_MAX_CHARS,
                                  help_text=_("dismiss: why the campaign is dismissed"))
    # warn: the early warning's reply deadline and recipients, as `/api/intel/warnings/` takes them.
    respond_by = api_fields.DateTimeField(required=False, allow_null=True,
                                          help_text=_("warn: the reply deadline (at most 90 days ahead)"))
    sectors = serializers.SlugRelatedField(many=True, required=False, slug_field="code",
                                           queryset=Sector.objects.all(), help_text=_("warn: sector codes"))
    provinces = serializers.SlugRelatedField(many=True, required=False, slug_field="code",
                                             queryset=Province.objects.all(), help_text=_("warn: province codes"))
    organizations = serializers.SlugRelatedField(
        many=True, required=False, slug_field="code", queryset=Organization.objects.filter(is_active=True),
        help_text=_("warn: organization codes (without it, the organizations the campaign hit); once the warning is "
                    "made, the organizations involved to send it to too (without it, all it has not reached)"))

    WARNING_ONLY = ("respond_by", "sectors", "provinces", "organizations")


class CampaignAction(APIView):
    """POST …/campaigns/<id>/warn|incident|dismiss|reopen/: the coordinator's decision (409 once decided; a dismissed
    campaign can be reopened). `warn` on a campaign whose early warning was already made sends that warning to the
    organizations the campaign involves that it has not reached (all of them, or those named in `organizations`;
    400 for an organization not involved or for the warning's texts, 409 when it has reached them already). A first
    `warn` writes the texts left out for the recipients and the `tlp` given: they quote only the indicators every
    recipient may see, marked no more restrictively than the warning; a `title` or `summary` that quotes another is
    a 400 naming it (`correlation.quoting_problem`)."""

    @extend_schema(request=CampaignActionSerializer,
                   responses={200: CampaignSerializer,
                              409: refusal("Decided already, or the warning has reached every organization asked")},
                   parameters=[OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(ACTIONS))])
    def post(self, request, pk, action):
        campaign = get_object_or_404(Campaign.objects.visible_to(request.user), pk=pk)
        if action not in ACTIONS:
            raise ValidationError({"action": [_("Unknown action.")]})
        body = CampaignActionSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        kwargs = ({"reason": data.get("reason", "")} if action == "dismiss" else {} if action == "reopen"
                  else {"data": {k: v for k, v in data.items() if k != "reason"
                                 and (action == "warn" or k not in CampaignActionSerializer.WARNING_ONLY)}})
        try:
            ACTIONS[action](campaign, acting_user=request.user, **kwargs)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)


class DashboardView(APIView):
    """The dashboard's numbers, scoped to the caller (the nation for the coordinator), over a period: the live 48
    hours by default, or `period` (24h, 48h, 7d, 30d, month with `month`=YYYY-MM), or the days `since`..`until`
    (YYYY-MM-DD, Vietnam time, `until` included). Longer than three days, `hourly` has one bar per day."""

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("period", str, enum=list(PERIOD_LABELS), description=_("The period the charts cover.")),
        OpenApiParameter("month", str, description=_("With period=month: the month, YYYY-MM (default: last month).")),
        OpenApiParameter("since", str, description=_("The first day of the period, YYYY-MM-DD.")),
        OpenApiParameter("until", str, description=_("The last day of the period, YYYY-MM-DD (default: today).")),
    ])
    def get(self, request):
        try:
            period = dashboard_period(request.query_params)
        except PeriodError as error:
            raise ValidationError({"period": [str(error)]}) from None
        return Response(dashboard_data(request.user, period=period))
