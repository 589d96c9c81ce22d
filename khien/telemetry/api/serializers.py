from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from khien.core.api import fields as api_fields
from khien.core.api.strict import StrictFieldsMixin
from khien.registry.api.serializers import VisibleOrganizationField

from khien.core.filters import unknown_organization_message
from .. import health
from ..health import source_activity, source_status
from ..models import (DEFAULT_SOURCE_TIME_ZONE, Alert, AlertSource, AlertSuppression, DeadLetter, Event, HourlyCount,
                      SourceFormat)
from ..services import MAX_ROW_ID


class SourceActivitySerializer(serializers.Serializer):
    per_minute = serializers.FloatField(help_text="records accepted per minute over the previous and current hour")
    accepted_24h = serializers.IntegerField(help_text="records accepted in the last 24 hours of arrival")
    rejected_24h = serializers.IntegerField(help_text="records rejected (dead letters) in the same hours")
    hourly = serializers.ListField(child=serializers.IntegerField(),
                                   help_text="records accepted per hour of arrival, 24 values, the current hour last")


class AlertSourceSerializer(serializers.ModelSerializer):
    """A source with its counters, status and recent activity. A list view passes the activity of its page in
    the context (`activity`: one query for the page); otherwise it is looked up for the one source."""

    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    systems = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    status = serializers.SerializerMethodField(help_text="live, silent, rejecting (it sends, but every record since its last accepted one was refused), never or disabled")
    activity = serializers.SerializerMethodField()
    refused_while_disabled = serializers.IntegerField(
        read_only=True, help_text="Requests with the source's key refused since it was disabled: a tool still "
                                  "sending to it.")
    last_refused_while_disabled_at = api_fields.DateTimeField(read_only=True, allow_null=True,
                                                              help_text="The latest of those requests.")

    class Meta:
        model = AlertSource
        fields = ["id", "name", "format", "organization", "prefix", "enabled", "time_zone", "accepted", "rejected",
                  "last_event_at",
                  "status", "activity", "systems", "created_at", "refused_while_disabled",
                  "last_refused_while_disabled_at"]
        read_only_fields = fields

    def get_status(self, source) -> str:
        return source_status(source)

    @extend_schema_field(SourceActivitySerializer)
    def get_activity(self, source) -> dict:
        known = self.context.get("activity")
        activity = known[source.pk] if known and source.pk in known else source_activity([source.pk])[source.pk]
        return activity.as_dict()


class ListedChoiceField(serializers.ChoiceField):
    """A choice whose refusal names the values it takes (DRF's says only "not a valid choice")."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            raise serializers.ValidationError(
                _("Unknown value “%(v)s”: use one of %(choices)s.")
                % {"v": str(data)[:100], "choices": ", ".join(str(key) for key in self.choices)},
                code="invalid_choice") from None


class SourceOrganizationField(VisibleOrganizationField):
    """The events list's words for an organization the caller may not name: the same for one that does not exist
    and for one out of their scope."""

    default_error_messages = {"does_not_exist": unknown_organization_message(),
                              "invalid": unknown_organization_message()}


# A source's fields a request cannot write, and where they are changed instead.
SOURCE_HINTS = {
    "systems": gettext_lazy("Set the systems a source watches with PUT /api/telemetry/sources/<name>/systems/."),
    "key": gettext_lazy("A source gets a new key with POST /api/telemetry/sources/<name>/rotate-key/."),
}


class AlertSourceCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    strict_model = AlertSource
    strict_hints = SOURCE_HINTS

    # Among the organizations the caller sees: another's code is unknown, as one nobody has (no probing of codes).
    organization = SourceOrganizationField()
    name = api_fields.CharField(max_length=80)
    format = ListedChoiceField(choices=SourceFormat.choices)
    time_zone = api_fields.CharField(max_length=64, required=False, default=DEFAULT_SOURCE_TIME_ZONE,
                                      help_text="Zone of the tool's clock, for record times written without one "
                                                f"(an IANA name such as UTC); {DEFAULT_SOURCE_TIME_ZONE} by default.")


class SentEmptyMixin:
    """A setting a PATCH may leave out but not send empty. DRF reads an optional field sent empty in a form
    (`time_zone=`) as left out: the PATCH answered 200 having changed nothing. Sent empty, it is validated (and
    refused) as JSON's "" is."""

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and self.field_name in dictionary and dictionary[self.field_name] == "":
            return ""
        return super().get_value(dictionary)


class SettingBooleanField(SentEmptyMixin, serializers.BooleanField):
    pass


class SettingChoiceField(SentEmptyMixin, ListedChoiceField):
    pass


class TimeZoneSettingField(SentEmptyMixin, api_fields.CharField):
    """Sent empty or null, the zone reaches the service, which refuses both in its words (a zone is required);
    the schema does not offer null."""

    def validate_empty_values(self, data):
        if data is None:
            return True, None
        return super().validate_empty_values(data)


class AlertSourceUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Any other field (the name, the organization, a counter) is refused, naming it: nothing is changed."""

    strict_model = AlertSource
    strict_hints = SOURCE_HINTS

    enabled = SettingBooleanField(required=False, help_text="A disabled source's key is refused.")
    format = SettingChoiceField(choices=SourceFormat.choices, required=False,
                                help_text="For records received from now on; dead letters can be read again.")
    time_zone = TimeZoneSettingField(max_length=64, required=False, allow_blank=True,
                                     help_text="Zone of the tool's clock (an IANA name such as UTC); not empty.")


class AlertSourceCreatedSerializer(AlertSourceSerializer):
    key = api_fields.CharField(read_only=True, help_text="Shown once; store it in the forwarder's configuration.")

    class Meta(AlertSourceSerializer.Meta):
        fields = AlertSourceSerializer.Meta.fields + ["key"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    severity_label = api_fields.CharField(read_only=True)
    raw = serializers.JSONField(read_only=True, help_text="The record as received: a JSON object, or a CEF line.")

    class Meta:
        model = Event
        fields = ["id", "source", "organization", "alert", "time", "ingested_at", "kind", "category", "severity",
                  "severity_label", "observer", "src_ip", "src_port", "dst_ip", "dst_port", "domain", "url",
                  "file_md5", "file_sha1", "file_sha256", "rule_id", "rule_name", "raw"]
        read_only_fields = fields


class AlertListSerializer(serializers.ListSerializer):
    """A list of alerts: which were taken into a national incident is read once for the whole page."""

    def to_representation(self, data):
        from ..triage import note_taken_into_national_incidents

        return super().to_representation(note_taken_into_national_incidents(data.all() if hasattr(data, "all")
                                                                            else data))


class AlertSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    observables = serializers.JSONField(read_only=True, help_text="The observables the repeats share.")
    # Empty (null) until set: allow_null documents it so.
    assignee = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True,
                                            help_text="Who took the alert (status acknowledged).")
    triaged_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    incident = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True,
                                            help_text="The incident reported from the alert, if any.")
    suppression = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                     help_text="The suppression that marked it a false positive.")
    taken_into_national_incident = serializers.BooleanField(
        read_only=True, help_text="True when the national coordinator took the alert into the national incident made "
                                  "from a campaign (status escalated, but its organization did not report it).")

    class Meta:
        model = Alert
        fields = ["id", "source", "organization", "rule_id", "rule_name", "severity", "observables", "first_seen",
                  "last_seen", "count", "status", "assignee", "triage_note", "triaged_by", "triaged_at", "incident",
                  "taken_into_national_incident", "suppression"]
        read_only_fields = fields
        list_serializer_class = AlertListSerializer


class RelatedAlertSerializer(AlertSerializer):
    addresses = serializers.ListField(child=api_fields.CharField(), read_only=True,
                                      help_text="The addresses its events share with the alert asked about.")

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "addresses"]
        read_only_fields = fields


class AlertTriageSerializer(serializers.Serializer):
    alerts = serializers.ListField(child=api_fields.CharField(), help_text="Alert ids (at most 500).")
    status = api_fields.CharField(help_text="new, acknowledged, resolved or false_positive.")
    note = api_fields.CharField(required=False, allow_blank=True, help_text="Replaces the alerts' triage note.")
    assignee = serializers.EmailField(required=False, help_text="With status acknowledged: who handles the alerts "
                                                                "(by default, the caller).")


class AlertJoinIncidentSerializer(serializers.Serializer):
    alerts = serializers.ListField(child=api_fields.CharField(), help_text="Alert ids (at most 500).")
    incident = api_fields.CharField(max_length=100, help_text="The incident's reference (SC-2026-000123) or id.")


class AlertIncidentSerializer(serializers.Serializer):
    title = api_fields.CharField(required=False)
    category = api_fields.CharField(required=False, help_text="An RSIT type of the current incident taxonomy.")
    severity = api_fields.CharField(required=False, help_text="low, medium, high or critical.")
    tlp = api_fields.CharField(required=False)
    description = api_fields.CharField(required=False)
    late_reason = api_fields.CharField(required=False, help_text="Why the report comes after the initial-report "
                                                                 "deadline (24 hours after the alert was first seen); "
                                                                 "required then.")


class AlertSuppressSerializer(serializers.Serializer):
    reason = api_fields.CharField(help_text="Why these alerts are not a threat (at most 500 characters).")
    days = serializers.IntegerField(help_text="How long new alerts of this key start as false positives (1–365).")


class AlertSuppressionSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)
    observables = serializers.JSONField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True)
    lifted_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = AlertSuppression
        fields = ["id", "source", "organization", "rule_id", "rule_name", "observables", "reason", "created_by",
                  "created_at", "expires_at", "lifted_by", "lifted_at", "active"]
        read_only_fields = fields

    def get_active(self, suppression) -> bool:
        return suppression.lifted_at is None and suppression.expires_at > timezone.now()


class AlertIncidentCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reference = api_fields.CharField()
    url = api_fields.CharField()


class DeadLetterSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    reason = api_fields.CharField(read_only=True, help_text="Why the record was not read, as stored: English, the "
                                                            "same for every caller (for programs and searching).")
    reason_text = api_fields.CharField(read_only=True, help_text="The reason in the caller's language, as the pages "
                                                                 "show it.")

    position = serializers.IntegerField(read_only=True, allow_null=True, help_text=(
        "Where the record was in what was sent: its place in the batch (1-based: the item of a JSON array, the "
        "record of an NDJSON or CEF body), or its line number in a file replayed with `khien ingest`. Null for a "
        "JetStream message (one record each) and for dead letters kept before it was recorded."))

    class Meta:
        model = DeadLetter
        fields = ["id", "source", "received_at", "reason", "reason_text", "position", "raw"]
        read_only_fields = fields


class DeadLetterSelectionSerializer(serializers.Serializer):
    """Which dead letters: `ids`, or `all: true` — never all by default, so that a misspelt or unreadable body
    cannot discard every one of them. Any other field is refused."""

    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID), required=False,
                                allow_empty=False, max_length=50000, help_text="Dead letters of the source.")
    all = serializers.BooleanField(required=False, default=False, help_text="Every dead letter of the source.")

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        if ("ids" in data) == bool(data.get("all")):
            raise serializers.ValidationError(_("Give either the ids of some dead letters, or all: true."))
        return data

    @property
    def chosen_ids(self):
        """What the services take: a list of ids, or None for all."""
        return None if self.validated_data.get("all") else self.validated_data["ids"]


class ReprocessResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Read this time: stored as new events.")
    duplicates = serializers.IntegerField(help_text="Read this time, already stored as events.")
    failing = serializers.IntegerField(help_text="Still unreadable: kept, with the reason of this reading.")
    cut = serializers.IntegerField(help_text="Kept shortened when they came: cannot be read again.")
    remaining = serializers.IntegerField(help_text="Not read by this request (too many): send it again.")


class DiscardResultSerializer(serializers.Serializer):
    discarded = serializers.IntegerField()


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()


class HourlyCountSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = HourlyCount
        fields = ["organization", "hour", "category", "severity", "count"]
        read_only_fields = fields


class MonitoredSystemSerializer(serializers.Serializer):
    code = api_fields.CharField()
    name = api_fields.CharField()
    owner = api_fields.CharField(source="owner.code")
    approved_level = serializers.IntegerField(allow_null=True)
    # The level it is held to for national monitoring: approved, else proposed (`registry.level_at_least_q`).
    level = serializers.IntegerField(source="monitored_level")
    monitoring = serializers.ChoiceField(choices=list(health.Monitoring.STATES))
    monitor_sources = serializers.IntegerField()
    monitor_last_event = api_fields.DateTimeField(allow_null=True)


class SourceSystemsSerializer(StrictFieldsMixin, serializers.Serializer):
    systems = serializers.ListField(child=api_fields.CharField(max_length=40), max_length=1000, allow_empty=True)
