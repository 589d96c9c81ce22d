"""Serializers of the incidents API: JSON <-> the services' data dicts; they never save.

Deadline fields (`report_due_at`, `reported_late`, `next_stage`, the SLA due
times) come from `khien.incidents.deadlines`, never computed here.
"""
import datetime as dt
import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from khien.core.api import fields as api_fields
from khien.core.api.fields import DateTimeField
from khien.core.api.strict import StrictFieldsMixin
from khien.core.models import User
from khien.intel.models import Tlp
from khien.registry.api.serializers import VisibleOrganizationField
from khien.registry.models import InformationSystem, Organization, OrgType

from .. import deadlines, journal
from ..evidence import integrity_state
from ..inputs import COMMENT_MAX, REPORT_TEXT_MAX, exposure_problem, upload_limit_text
from ..services import (
    NOTE_MAX_CHARS,
    OWNER_REFUSED,
    PARTY_MAX_CHARS,
    REASON_MAX_CHARS,
    TASK_DESCRIPTION_MAX,
    report_late_at,
)
from ..models import (
    PEOPLE_AFFECTED_MAX,
    PEOPLE_AFFECTED_TOO_MANY,
    RECORDED_BY_PLATFORM,
    CustodyAction,
    CustodyEvent,
    EventKind,
    Evidence,
    Incident,
    IncidentEvent,
    Observable,
    ObservableKind,
    ResponderAssignment,
    Status,
    Task,
    TaskStatus,
    TaskTemplates,
)


# The number of people affected: the model's bound, with its message in words (not the bare number).
PEOPLE_AFFECTED_KWARGS = {"min_value": 0, "max_value": PEOPLE_AFFECTED_MAX,
                          "error_messages": {"max_value": PEOPLE_AFFECTED_TOO_MANY}}


# Where the fields a write refuses are changed instead (`StrictFieldsMixin.strict_hints`).
CLASSIFICATION_HINT = _("This is changed with POST /api/incidents/<id>/classification/ (the category, severity and "
                        "TLP, with a reason), not here.")
TRANSITION_HINT = _("The status is changed with POST /api/incidents/<id>/transition/ (the workflow's steps), not here.")
TASK_STATUS_HINT = _("A task's status is changed with POST /api/incidents/<id>/tasks/<task_id>/status/, not here.")
DETECTION_HINT = _("The time of detection cannot be corrected: the reporting deadlines are counted from it.")
CLASSIFICATION_HINTS = {"category": CLASSIFICATION_HINT, "severity": CLASSIFICATION_HINT, "tlp": CLASSIFICATION_HINT,
                        "status": TRANSITION_HINT}


def _text_limits(fields) -> dict:
    """extra_kwargs giving the report's text fields the forms' limits (`inputs.REPORT_TEXT_MAX`): the model's
    TextFields have none, and the API stored a description of two million characters."""
    return {name: {"max_length": REPORT_TEXT_MAX[name]} for name in fields if name in REPORT_TEXT_MAX}


def _exposure(attrs: dict) -> dict:
    """"Personal data exposed: yes" with "data exposed: no" is refused (as on the page); given without
    `data_exposed`, personal data exposed means data exposed."""
    if attrs.get("personal_data_exposed") is True and "data_exposed" not in attrs:
        attrs["data_exposed"] = True
    if problem := exposure_problem(attrs.get("data_exposed"), attrs.get("personal_data_exposed")):
        raise serializers.ValidationError({"personal_data_exposed": [problem]})
    return attrs


class VisibleSystemField(serializers.SlugRelatedField):
    """An information system named by its code, among those the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        kwargs.setdefault("queryset", InformationSystem.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return InformationSystem.objects.visible_to(user) if user else InformationSystem.objects.none()


class StageSerializer(serializers.Serializer):
    code = api_fields.CharField()
    name_vi = api_fields.CharField()
    name_en = api_fields.CharField()
    due_at = api_fields.DateTimeField(allow_null=True)
    given_at = api_fields.DateTimeField(allow_null=True)
    late = serializers.BooleanField(allow_null=True)


class AssignmentSerializer(serializers.ModelSerializer):
    responder = serializers.SlugRelatedField(slug_field="code", read_only=True)
    assigned_by = serializers.EmailField(source="assigned_by.email", read_only=True, default="")

    class Meta:
        model = ResponderAssignment
        fields = ["responder", "assigned_by", "at"]


class ObservableSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An observable: `kind` may be omitted on input (guessed from the value)."""

    kind = serializers.ChoiceField(choices=ObservableKind.choices, required=False)
    # Empty until the observable is shared with the intelligence store.
    shared_tlp = serializers.ChoiceField(choices=[("", _("not shared")), *Tlp.choices], read_only=True)

    class Meta:
        model = Observable
        fields = ["id", "kind", "value", "added_at", "shared_at", "shared_stix_id", "shared_tlp"]
        read_only_fields = ["id", "added_at", "shared_at", "shared_stix_id", "shared_tlp"]
        extra_kwargs = {"value": {"validators": []}}

    def validate(self, attrs):
        from ..observables import guess_kind

        if not attrs.get("kind"):
            kind = guess_kind(attrs.get("value", ""))
            if kind is None:
                raise serializers.ValidationError({"kind": [_("Give the kind: the value is not recognized.")]})
            attrs["kind"] = kind
        return attrs


class ObservableLookupSerializer(ObservableSerializer):
    indicators = serializers.SerializerMethodField()
    warning_listed = serializers.SerializerMethodField()
    warninglists = serializers.SerializerMethodField()

    class Meta(ObservableSerializer.Meta):
        fields = ObservableSerializer.Meta.fields + ["indicators", "warning_listed", "warninglists"]

    def _lookup(self, obj):
        return self.context["lookups"][obj.pk]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_indicators(self, obj):
        return [{"id": i.stix_id, "name": i.data.get("name", ""), "tlp": i.tlp, "modified": i.modified,
                 "revoked": i.revoked}
                for i in self._lookup(obj).indicators]

    @extend_schema_field(serializers.BooleanField())
    def get_warning_listed(self, obj):
        return self._lookup(obj).warning_listed

    @extend_schema_field(serializers.ListField(child=api_fields.CharField()))
    def get_warninglists(self, obj):
        return self._lookup(obj).warninglists


class ShareSerializer(StrictFieldsMixin, serializers.Serializer):
    observables = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)
    tlp = serializers.ChoiceField(choices=Tlp.choices)
    collection = serializers.UUIDField()
    # Values on a warning list (private or reserved addresses, well-known services) are refused (409,
    # `warning_listed`) unless this is true. Values already shared from the incident as active indicators of the
    # same organization are not shared again.
    confirm_warninglisted = serializers.BooleanField(default=False)
    # A TLP less strict than the incident's is refused (400 on `tlp`) unless this is true.
    confirm_downgrade = serializers.BooleanField(default=False)


class IncidentSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    strict_hints = {"status": TRANSITION_HINT}
    organization = VisibleOrganizationField()
    systems = VisibleSystemField(many=True, required=False)
    category_label = api_fields.CharField(read_only=True)
    report_due_at = serializers.SerializerMethodField()
    reported_late = serializers.SerializerMethodField()
    next_stage = serializers.SerializerMethodField()
    next_stage_due_at = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    triage_due_at = serializers.SerializerMethodField()
    contain_due_at = serializers.SerializerMethodField()
    assignments = AssignmentSerializer(many=True, read_only=True)
    observables = ObservableSerializer(many=True, required=False)
    policy = serializers.SlugRelatedField(slug_field="version", read_only=True)
    taxonomy = serializers.SlugRelatedField(slug_field="version", read_only=True)
    affected_only = serializers.SerializerMethodField(help_text=_(
        "True when you see the incident only because it names information systems of your organization: "
        "`systems` then lists yours, `systems_not_shown` counts the others, and its observables, tasks and "
        "evidence are not shown; you may comment in its journal."))
    systems_not_shown = serializers.SerializerMethodField(help_text=_(
        "How many information systems of other organizations the incident names that are not listed for you."))

    class Meta:
        model = Incident
        fields = [
            "id", "reference", "organization", "systems", "systems_not_shown", "affected_only", "title",
            "detected_at", "reported_at", "report_due_at", "reported_late", "next_stage", "next_stage_due_at",
            "stages", "notified_at", "final_report_at",
            "category", "category_label", "taxonomy", "severity", "policy",
            "suspected_malicious", "impact_beyond_organization", "services_disrupted", "data_exposed",
            "personal_data_exposed", "people_affected", "description", "late_reason", "root_cause", "mitigation",
            "tlp", "status", "triaged_at", "in_response_at", "contained_at", "resolved_at", "closed_at",
            "triage_due_at", "contain_due_at", "assignments", "observables", "escalated_at",
            "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "reference", "reported_at", "notified_at", "final_report_at", "root_cause", "mitigation", "status",
            "triaged_at", "in_response_at", "contained_at", "resolved_at", "closed_at", "created_at", "updated_at",
            "escalated_at",
        ]
        extra_kwargs = {"people_affected": PEOPLE_AFFECTED_KWARGS, **_text_limits(fields)}

    def _affected_only(self, obj) -> bool:
        """Read in part (`services.reads_whole`): the queryset's annotation, else asked (a fresh report: whole)."""
        flag = getattr(obj, "affected_only", None)
        if flag is None:
            from ..services import reads_whole

            request = self.context.get("request")
            flag = obj.affected_only = (request is not None and not reads_whole(request.user, obj))
        return bool(flag)

    @extend_schema_field(serializers.BooleanField())
    def get_affected_only(self, obj):
        return self._affected_only(obj)

    @extend_schema_field(serializers.IntegerField())
    def get_systems_not_shown(self, obj):
        return getattr(obj, "_systems_not_shown", 0)

    def to_representation(self, obj):
        if self._affected_only(obj):
            # The reader's own systems (`services.systems_shown`); the others only counted.
            from ..services import systems_shown

            shown, obj._systems_not_shown = systems_shown(self.context["request"].user, obj, whole=False)
            data = super().to_representation(obj)
            data["systems"] = [system.code for system in shown]
            data["observables"] = []  # the participants' (`Observable.objects.visible_to`)
            return data
        return super().to_representation(obj)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # A report on time has no reason for being late: one sent anyway is not kept (the page would show it beside
        # "on time"). The same deadline function as the service (`services.report_late_at`).
        if "late_reason" in attrs and report_late_at(attrs.get("detected_at"), timezone.now()) is None:
            attrs["late_reason"] = ""
        return _exposure(attrs)

    @extend_schema_field(api_fields.DateTimeField())
    def get_report_due_at(self, obj):
        return api_fields.DateTimeField().to_representation(deadlines.incident_report_due_at(obj))

    @extend_schema_field(serializers.BooleanField())
    def get_reported_late(self, obj):
        return deadlines.reported_late(obj)

    @extend_schema_field(api_fields.CharField(allow_null=True))
    def get_next_stage(self, obj):
        stage = deadlines.incident_next_stage(obj)
        return stage.code if stage else None

    @extend_schema_field(api_fields.DateTimeField(allow_null=True))
    def get_next_stage_due_at(self, obj):
        stage = deadlines.incident_next_stage(obj)
        return api_fields.DateTimeField().to_representation(stage.due_at) if stage and stage.due_at else None

    @extend_schema_field(StageSerializer(many=True))
    def get_stages(self, obj):
        return [StageSerializer(s.__dict__ | {"late": s.late}).data for s in deadlines.incident_schedule(obj)]

    @extend_schema_field(api_fields.DateTimeField())
    def get_triage_due_at(self, obj):
        return api_fields.DateTimeField().to_representation(deadlines.incident_sla_due_at(obj, "triage"))

    @extend_schema_field(api_fields.DateTimeField())
    def get_contain_due_at(self, obj):
        return api_fields.DateTimeField().to_representation(deadlines.incident_sla_due_at(obj, "contain"))


class ReportCorrectionSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """`PATCH /api/incidents/{id}/`: what a correction of the initial report may change (`services.CORRECTABLE_FIELDS`
    and the affected systems, by code); every field optional; `reason` is kept in the journal. The service checks
    again, with the incident (its organization's systems, what an earlier stage said). Any other field is refused
    (400), naming it: the category, severity and TLP are changed by `…/classification/`, the status by
    `…/transition/`."""

    strict_hints = {**CLASSIFICATION_HINTS, "detected_at": DETECTION_HINT}

    systems = VisibleSystemField(many=True, required=False)
    reason = api_fields.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX_CHARS,
                                  write_only=True)

    class Meta:
        model = Incident
        fields = ["title", "suspected_malicious", "impact_beyond_organization", "systems", "services_disrupted",
                  "data_exposed", "personal_data_exposed", "people_affected", "description", "reason"]
        extra_kwargs = {"people_affected": PEOPLE_AFFECTED_KWARGS, **_text_limits(fields),
                        **{name: {"required": False} for name in fields}}

    def validate(self, attrs):
        if problem := exposure_problem(attrs.get("data_exposed"), attrs.get("personal_data_exposed")):
            raise serializers.ValidationError({"personal_data_exposed": [problem]})
        return super().validate(attrs)


class TransitionSerializer(StrictFieldsMixin, serializers.Serializer):
    strict_model = Incident
    status = serializers.ChoiceField(choices=Status.choices)
    reason = api_fields.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX_CHARS)
    cancel_open_tasks = serializers.BooleanField(
        required=False, default=False,
        help_text="Resolving or closing with tasks still open: true cancels them in the same step (each journaled); "
                  "without it the step is refused (409, code `open_tasks`).")


class ClassificationSerializer(StrictFieldsMixin, serializers.Serializer):
    """Any of the three; those left out are kept. The category is an RSIT type of the incident's taxonomy
    version, the severity a code of its reporting policy (both checked by the service)."""

    strict_model = Incident
    strict_hints = {"status": TRANSITION_HINT}

    category = api_fields.CharField(required=False, allow_blank=True, default="")
    severity = api_fields.CharField(required=False, allow_blank=True, default="")
    tlp = serializers.ChoiceField(choices=Tlp.choices, required=False, allow_blank=True, default="")
    reason = api_fields.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX_CHARS)


class AssignSerializer(StrictFieldsMixin, serializers.Serializer):
    responder = serializers.SlugRelatedField(
        slug_field="code", queryset=Organization.objects.filter(org_type=OrgType.RESPONDER, is_active=True))


class UnassignSerializer(StrictFieldsMixin, serializers.Serializer):
    """The responder organization to remove (its code, one assigned to the incident) and an optional reason."""

    responder = api_fields.CharField()
    reason = api_fields.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX_CHARS)


class CommentSerializer(StrictFieldsMixin, serializers.Serializer):
    text = api_fields.CharField(allow_blank=True, trim_whitespace=False, max_length=COMMENT_MAX)
    happened_at = DateTimeField(required=False, allow_null=True, default=None,
                                help_text=_("When what the comment tells happened: puts it on the timeline."))


class TimelineEntrySerializer(serializers.Serializer):
    when = DateTimeField()
    what = serializers.CharField(help_text=_("A milestone's name, or the comment's text."))
    milestone = serializers.BooleanField()
    event = serializers.UUIDField(source="event.pk", allow_null=True, default=None,
                                  help_text=_("The journal line of a comment (null for a milestone)."))
    by = serializers.CharField(allow_null=True, help_text=_(
        "Who did it, named as the page names people: who wrote the comment, who took the milestone's step; null "
        "for the detection or a step the journal has no line for."))


def _task_templates(serializer):
    """The current standard task list, read once per response (a list's items share one child serializer)."""
    if not hasattr(serializer, "_templates"):
        serializer._templates = TaskTemplates.current()
    return serializer._templates


# A time kept as ISO text in a journal line's data (a comment's `happened_at`, a task's due times before → after).
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


def _local_times(value):
    """`value` (a journal line's data) with its times in the platform's zone, as every other time of the API:
    they were kept in UTC or in the zone they were given in."""
    if isinstance(value, dict):
        return {key: _local_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_local_times(item) for item in value]
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        try:
            return DateTimeField().to_representation(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


class IncidentEventSerializer(serializers.ModelSerializer):
    """A journal line. `text` reads as on the incident's page (`journal.note_text`): the standard tasks it names in
    the request's language while unedited, the SOC alerts the reader may see (the others counted; `data.alerts`
    the ids of those, `data.alerts_not_shown` the number of the others); `data` keeps codes, its times in the
    platform's zone. Give the request in the context (`context={"request": request}`)."""

    class Meta:
        model = IncidentEvent
        fields = ["id", "kind", "from_status", "to_status", "text", "data", "actor_email", "at"]

    def _tasks(self, incident_id) -> dict:
        cache = self.__dict__.setdefault("_tasks_by_incident", {})
        if incident_id not in cache:
            cache[incident_id] = {str(task.pk): task for task in Task.objects.filter(incident_id=incident_id)}
        return cache[incident_id]

    def _alerts_seen(self, event) -> set:
        """The alerts of an alerts line the request's user may see (`journal.alerts_seen`; none without a request)."""
        request = self.context.get("request") if isinstance(getattr(self, "context", None), dict) else None
        user = getattr(request, "user", None)
        return journal.alerts_seen([event], user) if user is not None else set()

    def to_representation(self, event):
        data = super().to_representation(event)
        tasks = self._tasks(event.incident_id) if event.kind == EventKind.TASK else {}
        seen = self._alerts_seen(event) if event.kind == EventKind.ALERTS else set()
        # `whole` in the context: whether the reader reads the incident whole (`services.reads_whole`).
        whole = self.context.get("whole", True) if isinstance(getattr(self, "context", None), dict) else True
        data["text"] = journal.note_text(event, tasks, _task_templates(self), seen, whole=whole)
        data["data"] = _local_times(data["data"])
        if event.kind == EventKind.ALERTS and isinstance(data["data"], dict):
            # The ids of the alerts the reader may see; the others only counted, as on the page.
            data["data"]["alerts"], data["data"]["alerts_not_shown"] = journal.alert_counts(event, seen)
        return data


def _owner_field():
    # An address without an account gets the service's answer for someone who may not work on the incident: the
    # same words whether the account exists (in another organization, an auditor) or not, so that no one probes
    # e-mail addresses.
    return serializers.SlugRelatedField(slug_field="email", queryset=User.objects.all(), required=False,
                                        allow_null=True, error_messages={"does_not_exist": OWNER_REFUSED})


class TaskSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A task. `party` (who is expected to do it) and `template_code` are set on the standard tasks of the
    incident's category (empty on a task added by hand). A standard task's title and description come in the
    request's language while they are the standard text (`TaskTemplates.shown`, as on the page); sent back
    unchanged, that text stays the standard one."""

    strict_hints = {"status": TASK_STATUS_HINT}

    owner = _owner_field()
    description = api_fields.CharField(required=False, allow_blank=True, default="", max_length=TASK_DESCRIPTION_MAX)

    class Meta:
        model = Task
        fields = ["id", "title", "description", "owner", "due_at", "status", "party", "template_code",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "status", "party", "template_code", "created_at", "updated_at"]

    def to_representation(self, task):
        data = super().to_representation(task)
        templates = _task_templates(self)
        if templates is not None:
            data["title"], data["description"] = templates.shown(task)
        return data


class TaskUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Any of the three; those left out are kept. `owner: null` or `due_at: null` clears it."""

    strict_model = Task
    strict_hints = {"status": TASK_STATUS_HINT}

    owner = _owner_field()
    due_at = DateTimeField(required=False, allow_null=True)
    description = api_fields.CharField(required=False, allow_blank=True, max_length=TASK_DESCRIPTION_MAX)


class TaskStatusSerializer(StrictFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices)


class StageSubmitSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A later report stage (`notification`, `final`) with the fields it fills in."""

    strict_hints = CLASSIFICATION_HINTS

    stage = api_fields.CharField()

    class Meta:
        model = Incident
        fields = ["stage", "severity", "suspected_malicious", "impact_beyond_organization", "services_disrupted",
                  "data_exposed", "personal_data_exposed", "people_affected", "description", "root_cause",
                  "mitigation"]
        extra_kwargs = {name: {"required": False} for name in fields if name != "stage"}
        extra_kwargs["people_affected"] = {"required": False, **PEOPLE_AFFECTED_KWARGS}
        for name, limits in _text_limits(fields).items():
            extra_kwargs[name].update(limits)

    def validate(self, attrs):
        return _exposure(super().validate(attrs))


class CustodyEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustodyEvent
        fields = ["id", "action", "from_party", "to_party", "actor_email", "at", "note"]


class IntegritySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["verified", "unverified", "content_changed", "file_missing", "declared"])
    checked_at = DateTimeField(allow_null=True)
    message = serializers.CharField()


class EvidenceSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.EmailField(source="uploaded_by.email", read_only=True, default="")
    sealed_by = serializers.EmailField(source="sealed_by.email", read_only=True, default=None, allow_null=True)
    custody = CustodyEventSerializer(many=True, read_only=True)
    download_url = serializers.SerializerMethodField()
    integrity = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "kind", "original_name", "size", "sha256", "content_type", "note", "location", "uploaded_by",
                  "uploaded_at", "sealed_at", "sealed_by", "download_url", "integrity", "custody"]

    @extend_schema_field(IntegritySerializer)
    def get_integrity(self, obj):
        """As the page shows it (`evidence.integrity_state`): verified, unverified, content_changed, file_missing or
        declared (kept elsewhere), the time of the last recorded check, and the sentence in the reader's language."""
        state = integrity_state(obj)
        return {"state": state.state, "checked_at": DateTimeField().to_representation(state.checked_at)
                if state.checked_at else None, "message": state.text}

    @extend_schema_field(api_fields.CharField(allow_null=True))
    def get_download_url(self, obj):
        if obj.kind != "file":
            return None
        return f"/api/incidents/{obj.incident_id}/evidence/{obj.pk}/download/"


class EvidenceUploadSerializer(StrictFieldsMixin, serializers.Serializer):
    """multipart/form-data with `file` (and optionally `note`, its description), or JSON/form with `note` alone;
    `received_from` starts the chain of custody."""

    file = serializers.FileField(required=False, use_url=False)  # an empty file is refused, as on the page
    note = api_fields.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                max_length=NOTE_MAX_CHARS)
    received_from = api_fields.CharField(required=False, allow_blank=True, default="", max_length=PARTY_MAX_CHARS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = upload_limit_text()  # the setting the service checks (413 above it)


class ExternalEvidenceSerializer(StrictFieldsMixin, serializers.Serializer):
    """Evidence kept elsewhere (a disk image, a memory dump): what the imaging tool reported and where it is kept.
    The service checks the values (`do_add_external_evidence`): a SHA-256 of 64 hexadecimal digits, a size in bytes
    greater than zero, a place."""

    name = api_fields.CharField(max_length=255)
    sha256 = api_fields.CharField(max_length=100)
    size = serializers.IntegerField(min_value=1)
    location = api_fields.CharField(max_length=300)
    note = api_fields.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_CHARS)
    received_from = api_fields.CharField(required=False, allow_blank=True, default="", max_length=PARTY_MAX_CHARS)


class CustodyInputSerializer(StrictFieldsMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=[c for c in CustodyAction.choices if c[0] not in RECORDED_BY_PLATFORM])
    from_party = api_fields.CharField(required=False, allow_blank=True, default="", max_length=PARTY_MAX_CHARS)
    to_party = api_fields.CharField(required=False, allow_blank=True, default="", max_length=PARTY_MAX_CHARS)
    note = api_fields.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_CHARS)
    at = DateTimeField(required=False, allow_null=True, default=None)


class SealSerializer(StrictFieldsMixin, serializers.Serializer):
    note = api_fields.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_CHARS)
