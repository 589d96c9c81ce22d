"""Early-warning, allow-list and blocklist API: thin views over the services.

- Warnings the caller may not see (`services_warnings.warnings_visible_to`)
  are 404s; the target list is for the coordinator and the sender (403 to a
  target); acknowledgements by the target organization's users (403 else).
- Blocklists: plain text (`ip.txt`, `domains.txt`) and a DNS RPZ zone
  (`rpz.zone`) of what the token's user may see (`khien.intel.blocklists`,
  which asks `tlp.visible_versions`); `?since=<ISO time>` gives the changes;
  `?warning=<id>` narrows them to one early warning (404 if not visible).
  Without a token: 401, unless KHIEN_PUBLIC_CLEAR_FEED is on: then the
  TLP:CLEAR values only.
"""
import datetime as dt

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api.schema import refusal
from khien.core.api.strict import StrictListMixin, refuse_unknown_parameters
from khien.core.errors import Forbidden, Refused
from khien.core.filters import PlatformFilterSet, flag
from khien.core.timerange import out_of_range_message
from khien.core.api.parsers import LimitedJSONParser

from .. import blocklists, services, services_warnings, tlp, warninglists
from ..models import AckState, AllowListEntry, EarlyWarning, IndicatorKind
from . import serializers_warnings as s

# --- Early warnings --------------------------------------------------------------------------------

# A warning's updates and who made them, read with the warnings (no query per warning).
UPDATES = ("updates__created_by", "updates__organization")


class WarningFilter(PlatformFilterSet):
    class Meta:
        model = EarlyWarning
        fields = ["severity", "tlp"]


class AllowListFilter(PlatformFilterSet):
    class Meta:
        model = AllowListEntry
        fields = ["kind"]


class WarningViewSet(StrictListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Early warnings sent by or to your organizations (all of them for the national coordinator). The list, the
    inbox and the targets take only their parameters (`StrictListMixin`): a misspelt one is a 400 naming them."""

    serializer_class = s.WarningSerializer
    parser_classes = [LimitedJSONParser]
    filterset_class = WarningFilter
    ordering_fields = ["created_at", "severity"]

    def get_queryset(self):
        return services_warnings.warnings_visible_to(self.request.user) \
            .select_related("organization", "created_by").prefetch_related(*UPDATES) \
            .order_by("-created_at", "pk")

    @extend_schema(request=s.WarningCreateSerializer, responses={201: s.WarningSerializer},
                   summary="Issue an early warning (national coordinator, or an ISAC operator to its members)")
    def create(self, request, *args, **kwargs):
        body = s.WarningCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        targeting = {name: data.pop(name) for name in ("sectors", "provinces", "isacs", "organizations")}
        auto_match = data.pop("auto_match")
        warning = services_warnings.do_issue_warning(data, acting_user=request.user, auto_match=auto_match,
                                                     **targeting)
        return Response(s.WarningSerializer(warning).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The target organizations and their acknowledgements (coordinator and sender only)",
                   parameters=[OpenApiParameter("pending", bool, description="Only those that have not acknowledged")],
                   responses={200: s.TargetSerializer(many=True), 403: OpenApiResponse(description="Not the sender")})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[], extra_parameters=("pending",))
    def targets(self, request, pk=None):
        warning = self.get_object()
        self.check_query(request)
        if not services_warnings.can_view_targets(request.user, warning):
            raise Forbidden(_("Only the national coordinator and the sender see the targets of a warning."))
        if flag(request.query_params, "pending"):
            rows = services_warnings.not_acknowledged(warning)
        else:
            rows = warning.targets.select_related("organization", "acknowledged_by").order_by("organization__code")
        return Response(s.TargetSerializer(rows, many=True).data)

    @extend_schema(summary="Remind the target organizations that have not answered (issuers for the sender only)",
                   request=None,
                   responses={200: s.RemindResultSerializer,
                              403: OpenApiResponse(description="You may not issue warnings for the sender"),
                              409: refusal("A reminder was sent less than an hour ago, or everyone has answered")})
    @action(detail=True, methods=["post"])
    def remind(self, request, pk=None):
        warning = self.get_object()
        reminded = services_warnings.do_remind_warning(warning, acting_user=request.user)
        return Response(s.RemindResultSerializer({
            "reminded_at": reminded[0].reminded_at,
            "organizations": [t.organization.code for t in reminded]}).data)

    @extend_schema(summary="Update an issued warning: say what changed and/or move its reply deadline "
                           "(issuers for the sender, and the national coordinator)",
                   description="The warning's own text stays as issued; the update is added to its `updates`, in "
                               "order. Every target organization is notified, those that have answered too (their "
                               "answer is kept). Give `text`, `respond_by`, or both.",
                   request=s.WarningUpdateCreateSerializer,
                   responses={201: s.WarningUpdateSerializer,
                              400: refusal("Nothing to update, a text too long, or a deadline in the past or more "
                                           "than 90 days ahead"),
                              403: OpenApiResponse(description="You may not follow up warnings of the sender")})
    @action(detail=True, methods=["post"], url_path="updates", url_name="updates")
    def add_update(self, request, pk=None):
        warning = self.get_object()
        body = s.WarningUpdateCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        update = services_warnings.do_update_warning(
            warning, text=data["text"], respond_by=data.get("respond_by", services_warnings.UNCHANGED),
            acting_user=request.user)
        return Response(s.WarningUpdateSerializer(update).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Acknowledge a warning for your organization: received, acted or not affected",
                   request=s.AcknowledgeSerializer, responses={200: s.InboxItemSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        warning = self.get_object()
        body = s.AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rows = warning.targets.filter(organization_id__in=tlp.organization_ids(request.user))
        if data["organization"] is not None:
            rows = rows.filter(organization=data["organization"])
        rows = list(rows.select_related("organization"))
        if not rows:
            raise Forbidden(_("None of your organizations is a target of this warning."))
        if len(rows) > 1:
            raise Refused(_("Several of your organizations are targets: say which one answers."), code="invalid")
        target = services_warnings.do_acknowledge(rows[0], data["state"], data["note"], acting_user=request.user)
        return Response(s.InboxItemSerializer(target).data)

    @extend_schema(summary="Your organizations' warnings inbox, newest first",
                   parameters=[OpenApiParameter("state", str, enum=["pending", *AckState.values])],
                   responses={200: s.InboxItemSerializer(many=True)})
    # The warnings' filters do not apply to the inbox: it takes its `state`.
    @action(detail=False, methods=["get"], filter_backends=[], extra_parameters=("state",))
    def inbox(self, request):
        self.check_query(request)
        rows = services_warnings.inbox_for(request.user).select_related("acknowledged_by", "warning__organization") \
            .prefetch_related(*(f"warning__{name}" for name in UPDATES))
        state = request.query_params.get("state")
        if state == "pending":
            rows = rows.filter(state__isnull=True)
        elif state in AckState.values:
            rows = rows.filter(state=state)
        elif state:
            raise ValidationError({"state": _("Use pending, received, acted or not_affected.")})
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(s.InboxItemSerializer(page, many=True).data)
        return Response(s.InboxItemSerializer(rows, many=True).data)


# --- Allow-list and warning-list check -------------------------------------------------------------


@extend_schema_view(create=extend_schema(responses={201: s.AllowListEntrySerializer,
                                                   409: refusal("The value is on the allow-list already")}))
class AllowListViewSet(StrictListMixin, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    """The editable allow-list (read: any signed-in user; change: the national coordinator); its list takes `kind`
    and the page's parameters only."""

    serializer_class = s.AllowListEntrySerializer
    parser_classes = [LimitedJSONParser]
    filterset_class = AllowListFilter
    queryset = AllowListEntry.objects.select_related("added_by").order_by("kind", "value")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = warninglists.do_add_allow_entry(data["kind"], data["value"], note=data.get("note", ""),
                                                              acting_user=self.request.user)

    def perform_destroy(self, instance):
        warninglists.do_remove_allow_entry(instance, acting_user=self.request.user)


class WarningListCheckView(APIView):
    """Which warning lists a value hits (a hit is never treated as malicious)."""

    @extend_schema(parameters=[OpenApiParameter("kind", str, enum=IndicatorKind.values, required=True),
                               OpenApiParameter("value", str, required=True)],
                   responses={200: s.FlaggedValueSerializer})
    def get(self, request):
        refuse_unknown_parameters(request, ("kind", "value", "format"))
        kind, value = request.query_params.get("kind", ""), request.query_params.get("value", "")
        if kind not in IndicatorKind.values or not value or len(value) > 2048:
            raise ValidationError({"detail": _("Give a kind (%(kinds)s) and a value.")
                                   % {"kinds": ", ".join(IndicatorKind.values)}})
        return Response(warninglists.flag(kind, value))


# --- Blocklists ------------------------------------------------------------------------------------


class PlainTextRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (bytes, str)):
            return data if isinstance(data, bytes) else data.encode("utf-8")
        if isinstance(data, dict) and "detail" in data:
            return f"{data['detail']}\n".encode("utf-8")
        if isinstance(data, dict):  # a refused parameter: "name: message", one per line
            return "".join(f"{name}: {' '.join(map(str, errors)) if isinstance(errors, list) else errors}\n"
                           for name, errors in data.items()).encode("utf-8")
        return f"{data}\n".encode("utf-8")


SINCE = OpenApiParameter("since", OpenApiTypes.DATETIME,
                         description="ISO 8601 time: list only the additions (+) and removals (-) since then.")


def _since(request) -> dt.datetime | None:
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        parsed = parse_datetime(raw.strip().replace(" ", "+")) if raw.strip() else None
    except ValueError:  # well formed but no such date (month 13)
        parsed = None
    if parsed is None:
        raise ValidationError({"since": _("Give an ISO 8601 time, e.g. 2026-01-31T08:00:00Z.")})
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if not services.in_range(parsed):
        raise ValidationError({"since": out_of_range_message()})
    return parsed


class SignedInOrPublicClearFeed(permissions.BasePermission):
    """Signed in, or anyone when KHIEN_PUBLIC_CLEAR_FEED is on (they then get the TLP:CLEAR values only:
    `tlp.visible_versions` decides)."""

    def has_permission(self, request, view):
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated) or bool(
            getattr(settings, "KHIEN_PUBLIC_CLEAR_FEED", False))


class _BlocklistView(APIView):
    permission_classes = [SignedInOrPublicClearFeed]
    renderer_classes = [PlainTextRenderer]
    kinds: tuple = ()
    name = ""
    content_type = "text/plain; charset=utf-8"

    def render_full(self, values, generated):
        return blocklists.text_list(values, name=self.name, generated=generated)

    def render_delta(self, delta, since, generated):
        return blocklists.text_delta(delta, name=self.name, since=since, generated=generated)

    # What a blocklist takes (`format` is accepted and has no effect, as on the lists): a misspelt `min_confidence`
    # would otherwise hand a firewall every value.
    parameters = ("since", "min_confidence", "collection", "warning", "format")

    def get(self, request):
        refuse_unknown_parameters(request, self.parameters)
        since = _since(request)
        narrowing = blocklists.parse_narrowing(request.user, request.query_params)
        generated = timezone.now()
        if since is None:
            body = self.render_full(blocklists.current(request.user, self.kinds, narrowing), generated)
        else:
            body = self.render_delta(blocklists.delta_for(request.user, self.kinds, since, narrowing), since,
                                     generated)
        response = HttpResponse(body, content_type=self.content_type)
        response["X-Khien-Generated-At"] = generated.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        response["Cache-Control"] = "private, no-store"
        return response


NARROWING = [
    OpenApiParameter("min_confidence", OpenApiTypes.INT,
                     description="0–100: only indicators of at least this confidence (those without one are left out)."),
    OpenApiParameter("collection", OpenApiTypes.STR,
                     description="Collection id or alias you may read: only the indicators it holds."),
    OpenApiParameter("warning", OpenApiTypes.UUID,
                     description="Early warning id you may see: only the values it gives and those of the indicators "
                                 "it names that you may see (404 for a warning you may not see)."),
]
BLOCKLIST_SCHEMA = dict(parameters=[SINCE, *NARROWING], responses={(200, "text/plain"): OpenApiTypes.STR,
                                                       401: OpenApiResponse(description="No or bad token")})


class IpBlocklistView(_BlocklistView):
    """IPv4, IPv6 addresses and CIDR ranges to block, one per line."""

    kinds = blocklists.IP_KINDS
    name = "ip"

    @extend_schema(operation_id="intel_blocklist_ip", **BLOCKLIST_SCHEMA)
    def get(self, request):
        return super().get(request)


class DomainBlocklistView(_BlocklistView):
    """Domain names to block, one per line."""

    kinds = blocklists.DOMAIN_KINDS
    name = "domains"

    @extend_schema(operation_id="intel_blocklist_domains", **BLOCKLIST_SCHEMA)
    def get(self, request):
        return super().get(request)


class RpzView(_BlocklistView):
    """A DNS RPZ zone answering NXDOMAIN for each domain and its subdomains; with `since`, an nsupdate script."""

    kinds = blocklists.DOMAIN_KINDS
    name = "rpz"
    content_type = "text/dns; charset=utf-8"

    def render_full(self, values, generated):
        return blocklists.rpz_zone(values, generated=generated)

    def render_delta(self, delta, since, generated):
        return blocklists.rpz_update(delta, since=since, generated=generated)

    @extend_schema(operation_id="intel_blocklist_rpz", parameters=[SINCE, *NARROWING],
                   responses={(200, "text/dns"): OpenApiTypes.STR, 401: OpenApiResponse(description="No or bad token")})
    def get(self, request):
        return super().get(request)
