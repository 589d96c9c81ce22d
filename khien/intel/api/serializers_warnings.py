"""Serializers of the early-warning and allow-list API: JSON <-> the services' data; they never save."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from khien.core.api import fields as api_fields
from khien.registry.models import Organization, Province, Sector

from .. import services_warnings, tlp, warninglists
from .serializers import IsacCodeField
from ..models import (AckState, AllowListEntry, Collection, EarlyWarning, IndicatorKind, Tlp, WarningSeverity,
                      WarningTarget, WarningUpdate)


class FlaggedValueSerializer(serializers.Serializer):
    kind = api_fields.CharField()
    value = api_fields.CharField()
    warning_listed = serializers.BooleanField()
    warninglists = serializers.ListField(child=api_fields.CharField())


class WarningUpdateSerializer(serializers.ModelSerializer):
    """One update of an issued warning (what changed; the warning's own text stays as issued)."""

    organization = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True,
                                                help_text="In whose name: the sender, or the national coordinator.")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default="")

    class Meta:
        model = WarningUpdate
        fields = ["number", "text", "deadline_changed", "respond_by_before", "respond_by", "organization",
                  "created_by", "created_at"]
        read_only_fields = fields
        extra_kwargs = {"respond_by": {"help_text": "The reply deadline after this update (null: none)."},
                        "respond_by_before": {"help_text": "The reply deadline before this update (null: none)."}}


class WarningUpdateCreateSerializer(serializers.Serializer):
    text = api_fields.CharField(required=False, allow_blank=True, default="",
                                max_length=services_warnings.UPDATE_TEXT_MAX,
                                help_text="What changed since the warning was issued (new information, corrected "
                                          "advice). The warning's own text stays as issued.")
    respond_by = api_fields.DateTimeField(
        required=False, allow_null=True,
        help_text="A new reply deadline: in the future, at most 90 days ahead (ISO 8601); null removes the "
                  "deadline; leave it out to keep the current one.")


class WarningSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default="")
    collection = serializers.UUIDField(source="collection_id", read_only=True, allow_null=True)
    values = serializers.SerializerMethodField()
    updates = WarningUpdateSerializer(many=True, read_only=True,
                                      help_text="The updates made since the warning was issued, in order.")

    class Meta:
        model = EarlyWarning
        fields = ["id", "title", "summary", "severity", "tlp", "report_id", "collection", "indicator_refs",
                  "vulnerability_refs", "values", "cpes", "organization", "created_by", "created_at", "respond_by",
                  "updates"]

    @extend_schema_field(FlaggedValueSerializer(many=True))
    def get_values(self, obj):
        """Each value with the warning lists it hits (a hit is never treated as malicious)."""
        lists = warninglists.compiled()
        return [warninglists.flag(v.get("kind", ""), v.get("value", ""), lists) for v in obj.values or ()]


@extend_schema_field(OpenApiTypes.UUID)
class _CollectionField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        request = self.context.get("request")
        return tlp.collections_for(getattr(request, "user", None)) if request else Collection.objects.none()


class WarningCreateSerializer(serializers.Serializer):
    title = api_fields.CharField(max_length=300)
    summary = api_fields.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=WarningSeverity.choices, default=WarningSeverity.MEDIUM)
    tlp = serializers.ChoiceField(choices=Tlp.choices, default=Tlp.AMBER)
    values = serializers.ListField(child=api_fields.CharField(max_length=2048), required=False, default=list,
                                   max_length=10000, help_text="IP addresses, CIDR ranges and domain names.")
    cpes = serializers.ListField(child=api_fields.CharField(max_length=500), required=False, default=list,
                                 help_text="Affected products, CPE 2.3 names.")
    vulnerability_refs = serializers.ListField(child=api_fields.CharField(max_length=300), required=False,
                                               default=list, help_text="CVE ids or STIX vulnerability ids.")
    indicator_refs = serializers.ListField(child=api_fields.CharField(max_length=300), required=False,
                                           default=list, help_text="Ids of stored STIX indicators you may see.")
    report_id = api_fields.CharField(max_length=300, required=False, allow_blank=True, default="")
    collection = _CollectionField(required=False, allow_null=True, default=None,
                                  help_text="Store a new STIX report for the warning in this collection.")
    organization = serializers.SlugRelatedField(slug_field="code", queryset=Organization.objects.all(),
                                                required=False, allow_null=True, default=None,
                                                help_text="The sender (one of your organizations).")
    sectors = serializers.SlugRelatedField(slug_field="code", queryset=Sector.objects.all(), many=True,
                                           required=False, default=list)
    provinces = serializers.SlugRelatedField(slug_field="code", queryset=Province.objects.all(), many=True,
                                             required=False, default=list)
    isacs = IsacCodeField(many=True, required=False, default=list)
    organizations = serializers.SlugRelatedField(slug_field="code", queryset=Organization.objects.all(), many=True,
                                                 required=False, default=list)
    auto_match = serializers.BooleanField(default=True)
    respond_by = api_fields.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Optional reply deadline: in the future, at most 90 days ahead (ISO 8601).")


class TargetSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    organization_name = api_fields.CharField(source="organization.name", read_only=True)
    acknowledged_by = serializers.EmailField(source="acknowledged_by.email", read_only=True, default="")
    past_due = serializers.SerializerMethodField()

    class Meta:
        model = WarningTarget
        fields = ["organization", "organization_name", "reason", "matched_value", "state", "acknowledged_by",
                  "acknowledged_at", "note", "reminded_at", "past_due"]

    def get_past_due(self, obj) -> bool:
        """Not acknowledged and the warning's reply deadline has passed."""
        return obj.state is None and services_warnings.is_past_due(obj.warning)


class InboxItemSerializer(serializers.ModelSerializer):
    """A warning one's organization received; `reasons`: every reason it applies, the main one first, each with its
    value and the names of the organization's registered systems that match (`[{"reason", "value", "systems"}]`)."""

    warning = WarningSerializer(read_only=True)
    reasons = serializers.SerializerMethodField()
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    acknowledged_by = serializers.EmailField(source="acknowledged_by.email", read_only=True, default="")

    class Meta:
        model = WarningTarget
        fields = ["warning", "organization", "reason", "matched_value", "reasons", "state", "acknowledged_by",
                  "acknowledged_at", "note", "reminded_at"]


    def get_reasons(self, obj) -> list[dict]:
        return services_warnings.reasons_of(obj)


class RemindResultSerializer(serializers.Serializer):
    reminded_at = serializers.DateTimeField()
    organizations = serializers.ListField(child=api_fields.CharField(),
                                          help_text="Codes of the organizations reminded (those that had not answered).")


class AcknowledgeSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=AckState.choices)
    note = api_fields.CharField(required=False, allow_blank=True, default="", max_length=10000)
    organization = serializers.SlugRelatedField(
        slug_field="code", queryset=Organization.objects.all(), required=False, allow_null=True, default=None,
        help_text="Which of your organizations answers (needed only if several were targeted).")


class AllowListEntrySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=IndicatorKind.choices)
    added_by = serializers.EmailField(source="added_by.email", read_only=True, default="")

    class Meta:
        model = AllowListEntry
        fields = ["id", "kind", "value", "note", "added_by", "at"]
        read_only_fields = ["id", "added_by", "at"]
        validators = []  # uniqueness is the service's answer (409)
