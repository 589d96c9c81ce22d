"""Intel exchange API: import a file (STIX, MISP, CSV), export a selection, federation subscriptions.

Thin views over `khien.intel.exchange` and `khien.intel.federation`.
"""
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api import fields as api_fields
from khien.core.api.schema import refusal
from khien.core.filters import flag

from .. import federation
from ..exchange import run, stix_export
from ..exchange.common import ImportRejected
from ..models import Collection
from ..models_federation import MAX_SECRET_LENGTH, FeedSubscription


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=["stix", "misp", "csv"])
    collection = api_fields.CharField(help_text="Collection id or alias.")


REPORT = inline_serializer("ExchangeImportReport", fields={
    "format": api_fields.CharField(), "file_name": api_fields.CharField(), "collection": api_fields.CharField(),
    "total": serializers.IntegerField(), "created": serializers.IntegerField(),
    "existing": serializers.IntegerField(), "added_to_collection": serializers.IntegerField(),
    "rejected": serializers.ListField(child=serializers.DictField()),
    "skipped": serializers.ListField(child=serializers.DictField(), help_text=(
        "MISP attributes left out (a value not valid for its type): ref (MISP uuid), type, value, message.")),
    "notes": serializers.ListField(child=serializers.DictField(), help_text=(
        "MISP attributes that are not indicators or observables (comment, text…), kept as STIX notes "
        "note--<ref> on the event: ref, type, value, message.")),
    "warnings": serializers.ListField(child=serializers.DictField(), help_text=(
        "Stored values on a warning list (left out of the blocklists and the SOC matching): id, kind, value, "
        "warninglists, detail.")),
    "already_shared": serializers.ListField(child=serializers.DictField(), help_text=(
        "Values of the new indicators that your organization already shares in the collection (an active "
        "indicator of its own holds them): kind, value, id (that indicator); the first 10.")),
    "already_shared_count": serializers.IntegerField(help_text="How many such values in all."),
    "red_unshared": serializers.IntegerField(help_text=(
        "New TLP:RED objects naming no recipient: only your organization sees them.")),
})


class ImportView(APIView):
    """Import a STIX 2.1 bundle, MISP event JSON or CSV of indicators into a collection: all or nothing.

    422 with `rejected` (every rejected object or row) and nothing stored when any is bad.
    """

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(request={"multipart/form-data": ImportSerializer},
                   responses={201: REPORT, 422: REPORT, 404: refusal("No collection of that id you may write")})
    def post(self, request):
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        collection = run.collection_for_import(request.user, data["collection"])
        try:
            report = run.import_file(data["format"], collection, data["file"], acting_user=request.user,
                                     file_name=data["file"].name)
        except ImportRejected as exc:
            return Response({"detail": str(exc.message), "code": exc.code, **exc.report.as_dict()},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)


class ExportView(APIView):
    """Export what the caller may see (TLP) as a STIX 2.1 bundle, one MISP event or CSV (a download)."""

    @extend_schema(parameters=[
        OpenApiParameter("file_format", str, enum=["stix", "misp", "csv"], default="stix"),
        OpenApiParameter("collection", str, description="Collection id or alias (default: everything visible)."),
        OpenApiParameter("type", str, description="STIX types, comma-separated."),
        OpenApiParameter("tlp", str, description="TLP levels, comma-separated."),
        OpenApiParameter("added_since", str, description="Date or ISO 8601 date and time."),
        OpenApiParameter("id", str, description="STIX ids, comma-separated."),
        OpenApiParameter("all_versions", bool, default=False),
        OpenApiParameter("active_only", bool, default=True, description=(
            "Only objects whose latest version is active: not revoked, not expired (valid_until), not before their "
            "valid_from. false: the inactive ones too — STIX keeps their revoked / valid_until, MISP gives their "
            "attributes to_ids false (benign indicators get to_ids false always).")),
    ], responses={(200, "application/stix+json"): OpenApiTypes.OBJECT, (200, "application/json"): OpenApiTypes.OBJECT,
                  (200, "text/csv"): bytes,  # a STIX bundle, a MISP event (JSON objects); CSV text
                  404: refusal("No collection of that id or alias you may read")})
    def get(self, request):
        params = request.query_params
        sel = stix_export.parse_selection(
            request.user, collection=params.get("collection") or None, types=params.get("type", ""),
            tlp_levels=params.get("tlp", ""), added_since=params.get("added_since", ""), ids=params.get("id", ""),
            all_versions=flag(params, "all_versions"),
            # on unless turned off: what an export feeds (firewalls, IDS, SIEMs) must not act on inactive ones
            active_only=flag(params, "active_only") if params.get("active_only", "").strip() else True)
        content_type, name, body = run.export(params.get("file_format", "stix"), request.user, sel)
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class SubscriptionSerializer(serializers.ModelSerializer):
    # Scoped in get_fields to the collections the caller manages; without a request, none (never all rows).
    collection = serializers.PrimaryKeyRelatedField(queryset=Collection.objects.none())
    password = api_fields.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                     max_length=MAX_SECRET_LENGTH,
                                     help_text="Password or token; never returned. Empty on update: unchanged.")
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = FeedSubscription
        fields = ["id", "name", "collection", "api_root_url", "remote_collection_id", "auth_kind", "username",
                  "password", "has_secret", "verify_tls", "interval_minutes", "enabled", "added_after",
                  "last_run_at", "last_success_at", "last_status", "last_error", "last_count", "total_count",
                  "created_at"]
        read_only_fields = ["added_after", "last_run_at", "last_success_at", "last_status", "last_error",
                            "last_count", "total_count", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:  # only the collections the caller manages can be chosen (others: "does not exist")
            fields["collection"].queryset = federation.manageable_collections(request.user)
        return fields

    def get_has_secret(self, obj) -> bool:
        return bool(obj.password)

    def get_validators(self):
        return []  # uniqueness and rights: the service decides


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Federation subscriptions of local collections to remote TAXII 2.1 collections; pull one now."""

    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return federation.subscriptions_for(self.request.user).select_related("collection").order_by("name")

    def perform_create(self, serializer):
        serializer.instance = federation.do_create_subscription(dict(serializer.validated_data),
                                                                acting_user=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = federation.do_update_subscription(serializer.instance, dict(serializer.validated_data),
                                                                acting_user=self.request.user)

    def perform_destroy(self, instance):
        federation.do_delete_subscription(instance, acting_user=self.request.user)

    @extend_schema(request=None, responses={200: SubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def pull(self, request, pk=None):
        """Pull the remote collection now; the result is in last_status / last_error / last_count."""
        sub = federation.do_pull(self.get_object(), acting_user=request.user)
        return Response(SubscriptionSerializer(sub, context={"request": request}).data)
