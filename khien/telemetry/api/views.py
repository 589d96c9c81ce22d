"""Telemetry API: the intake (source key) and the read side (user token, scoped by visible_to)."""
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api.schema import refusal
from khien.core.api.strict import StrictListMixin, StrictListView
from khien.core.errors import Forbidden, Refused
from khien.core.models import User

from .. import conf, health, services, triage
from ..batches import decode_body, split_body, too_big
from ..filters import (AlertFilter, AlertSourceFilter, DeadLetterFilter, EventFilter, HourlyCountFilter,
                       MonitoredSystemFilter, SuppressionFilter)
from ..models import Alert, AlertSource, AlertSuppression, DeadLetter, Event, HourlyCount
from ..forms import TRY_TEXT_LIMIT
from ..parsers import reason_text
from ..views import trial_counts, trial_rows
from . import serializers as s
from .authentication import IsAlertSource, SourceKeyAuthentication

# Rejected records the intake's answer names (place and reason): enough for the sender to find the lines to fix
# in a batch; beyond, `rejected_records_truncated` says more were cut (all are counted, all kept as dead letters).
REJECTED_LISTED = 100


class RejectedRecordSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The record's place in the batch, 1-based: the n-th record of an "
                                                  "NDJSON or CEF body (blank lines are not records), the n-th item "
                                                  "of a JSON array.")
    reason = serializers.CharField(help_text="Why it was not read, as its dead letter keeps it (English, the same "
                                             "for every caller).")
    reason_text = serializers.CharField(help_text="The reason in the caller's language, as the pages show it.")


class IntakeAnswerSerializer(s.IngestResultSerializer):
    rejected_records = RejectedRecordSerializer(many=True, help_text=(
        f"The rejected records, in the batch's order, at most {REJECTED_LISTED} (a record rejected twice in the "
        "batch is named at both places)."))
    rejected_records_truncated = serializers.BooleanField(help_text=(
        f"True when more than {REJECTED_LISTED} records were rejected: only the first are named."))


class AlertIntakeView(APIView):
    """Post a batch of alerts as one source (authenticated with the source's key).

    Body: a JSON array of records (`application/json`, or no Content-Type), or
    one record a line (`application/x-ndjson`; `text/plain` for CEF lines — a
    `text/plain` body that is a JSON array is read as one), optionally
    compressed (`Content-Encoding: gzip` or `deflate`). Answer 202 with the
    counts; records that cannot be parsed are kept as dead letters, counted
    as rejected and named in `rejected_records` (their place in the batch and
    the reason, at most 100). 401: bad key; 403: `X-Khien-Source` names another source;
    400/415: the body as a whole is unreadable, or its type or encoding is not
    one of these (nothing stored); 413: too many records or bytes (also once
    decompressed); 429 with Retry-After: the intake is busy, retry later.
    """

    authentication_classes = [SourceKeyAuthentication]
    permission_classes = [IsAlertSource]
    parser_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}},
                 "application/x-ndjson": {"type": "string"}},
        responses={202: IntakeAnswerSerializer, 400: OpenApiResponse(description="unreadable body"),
                   401: OpenApiResponse(description="bad source key"), 413: OpenApiResponse(description="batch too large"),
                   415: OpenApiResponse(description="unsupported Content-Type or Content-Encoding"),
                   429: OpenApiResponse(description="busy; see Retry-After")},
        parameters=[OpenApiParameter("X-Khien-Source", str, OpenApiParameter.HEADER, required=False,
                                     description="Name of the source; must match the key's source.")],
    )
    def post(self, request):
        source = request.auth
        claimed = request.headers.get("X-Khien-Source")
        # Source names are one ignoring case (AlertSource.Meta): the header is compared so too.
        if claimed is not None and claimed.strip().lower() != source.name.lower():
            raise Forbidden(_("This key belongs to another source."))
        records = split_body(read_batch_body(request), request.content_type)
        posted = ingest_posted(source, records)
        answer = posted.result.as_dict()
        answer["rejected_records"] = [{"position": position, "reason": reason, "reason_text": reason_text(reason)}
                                      for position, reason in posted.rejected[:REJECTED_LISTED]]
        answer["rejected_records_truncated"] = len(posted.rejected) > REJECTED_LISTED
        return Response(answer, status=status.HTTP_202_ACCEPTED)

    def handle_exception(self, exc):
        return with_retry_after(exc, super().handle_exception(exc))


def read_batch_body(request) -> bytes:
    """The body of a posted batch, refused (413) beyond KHIEN_INGEST_MAX_BYTES before it is read when its length
    is announced; compressed (Content-Encoding gzip or deflate), decompressed up to the same limit (413 beyond,
    415 for another encoding)."""
    max_bytes = conf.get("KHIEN_INGEST_MAX_BYTES")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise too_big(max_bytes)
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_big(max_bytes) from None
    if len(body) > max_bytes:
        raise too_big(max_bytes)
    return decode_body(body, request.META.get("HTTP_CONTENT_ENCODING"), max_bytes)


@dataclass
class Posted:
    """A posted batch once ingested: the counts, and (place in the batch, 1-based; dead-letter reason) of each
    rejected record, in order — what the intakes answer about the records the sender must fix."""

    result: services.IngestResult
    rejected: list[tuple[int, str]]


def ingest_posted(source, records: list) -> Posted:
    """A posted batch ingested: at most KHIEN_INGEST_MAX_BATCH records (413), through the intake gate (429)."""
    services.check_batch_size(len(records))
    with services.intake_gate.slot():
        result = services.ingest_batch(source, records)
    # Reasons as the dead letter keeps them (DeadLetter.reason: 300 characters), so that `?reason=` finds them.
    return Posted(result, [(place, reason[:300]) for place, reason in result.rejections])


def with_retry_after(exc, response):
    """A 429 of the intake gate tells the sender when to retry."""
    if isinstance(exc, services.Busy):
        response["Retry-After"] = str(exc.retry_after)
    return response


class EventList(StrictListView):
    """Stored events the caller can see (own organization and its units; everything for the coordinator).

    `since`/`until` filter on the event's own time (as its device wrote it); `ingested_since`/`ingested_until` on
    when the platform received it, which a program polling for new events follows, with
    `ordering=ingested_at` (see the API notes: a window of arrival times that is past does not change, so paging
    through it with `offset` neither repeats nor skips an event). `until` and `ingested_until` are not taken in;
    a date alone is the end of that day."""

    serializer_class = s.EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["time", "severity", "ingested_at", "id"]

    def get_queryset(self):
        # Ordered by the filter (EventFilter.qs: newest first, the cheapest way for this user).
        return Event.objects.visible_to(self.request.user).select_related("source", "organization")


class AlertList(StrictListView):
    """Aggregated alerts: repeats of one source's rule on the same observables within the window."""

    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["last_seen", "first_seen", "severity", "count"]

    def get_queryset(self):
        return services.newest_alerts_first(_alerts(self.request.user), self.request.user)


def _alerts(user):
    return Alert.objects.visible_to(user).select_related("source", "organization", "assignee", "triaged_by", "incident")


def _changed(request, alerts) -> Response:
    """The alerts a call changed, read again as the caller sees them."""
    fresh = _alerts(request.user).filter(pk__in=[a.pk for a in alerts]).order_by("-last_seen", "id")
    return Response(s.AlertSerializer(fresh, many=True).data)


class AlertDetail(generics.RetrieveAPIView):
    serializer_class = s.AlertSerializer

    def get_queryset(self):
        return _alerts(self.request.user)


class AlertRelated(APIView):
    """GET: the other alerts the caller may see whose events share one of this alert's addresses in the 7 days
    before it was last seen, each with `addresses` (those in common); the latest first, at most 20."""

    @extend_schema(responses=s.RelatedAlertSerializer(many=True))
    def get(self, request, pk):
        alert = get_object_or_404(_alerts(request.user), pk=pk)
        related = []
        for other, addresses in triage.related_alerts(request.user, alert):
            other.addresses = addresses
            related.append(other)
        return Response(s.RelatedAlertSerializer(related, many=True).data)


class AlertTriage(APIView):
    """POST {"alerts": [ids], "status": …, "note": …}: set the status of several alerts, all or none
    (404 if one is not visible, 403 if one may only be read, 409 if one was reported as an incident)."""

    @extend_schema(request=s.AlertTriageSerializer, responses=s.AlertSerializer(many=True))
    def post(self, request):
        data = s.AlertTriageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = None
        if data.validated_data.get("assignee"):
            assignee = User.objects.filter(email__iexact=data.validated_data["assignee"], is_active=True).first()
            if assignee is None:  # the same answer as for someone who may not handle them: no way to probe e-mails
                raise ValidationError({"assignee": [_("%(user)s cannot handle these alerts.")
                                                    % {"user": data.validated_data["assignee"]}]})
        return _changed(request, triage.do_triage_alerts(
            data.validated_data["alerts"], data.validated_data["status"], acting_user=request.user,
            note=data.validated_data.get("note"), assignee=assignee))


class AlertJoinIncident(APIView):
    """POST {"alerts": [ids], "incident": reference or id}: add alerts to an incident already reported, all or
    none; their observables join the incident's. 404 if an alert or the incident is not visible, 403 without the
    right (the alerts' triage, the incident's reporting side), 409 if an alert was reported already or the
    incident is closed, 400 if the incident belongs to another organization than an alert's (or one above it)."""

    @extend_schema(request=s.AlertJoinIncidentSerializer, responses={
        200: s.AlertSerializer(many=True), 404: refusal("An alert or the incident you may not see"),
        409: refusal("An alert reported already, or the incident closed")})
    def post(self, request):
        data = s.AlertJoinIncidentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = triage.find_incident(request.user, data.validated_data["incident"])
        return _changed(request, triage.do_add_alerts_to_incident(data.validated_data["alerts"], incident,
                                                                  acting_user=request.user))


class AlertIncident(APIView):
    """POST: report an incident from the alert (for its organization, detected when it was first seen);
    201 with the incident's id, reference and page. 409 if already reported."""

    @extend_schema(request=s.AlertIncidentSerializer,
                   responses={201: s.AlertIncidentCreatedSerializer, 409: refusal("Reported as an incident already")})
    def post(self, request, pk):
        alert = get_object_or_404(_alerts(request.user), pk=pk)
        data = s.AlertIncidentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = triage.do_alert_to_incident(alert, acting_user=request.user, data=data.validated_data)
        return Response({"id": incident.pk, "reference": incident.reference,
                         "url": reverse("incidents:incident_detail", args=[incident.pk])}, status=status.HTTP_201_CREATED)


class AlertSuppress(APIView):
    """POST {"reason": …, "days": n}: the alert and its open repeats of the last 7 days become false positives,
    and so do new alerts of its key (same source, rule, observables) for `days` days. 201 with the suppression;
    409 if the key is suppressed already or the alert was reported as an incident."""

    @extend_schema(request=s.AlertSuppressSerializer, responses={
        201: s.AlertSuppressionSerializer, 409: refusal("Suppressed already, or reported as an incident")})
    def post(self, request, pk):
        alert = get_object_or_404(_alerts(request.user), pk=pk)
        data = s.AlertSuppressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suppression = triage.do_suppress_alert(alert, acting_user=request.user, reason=data.validated_data["reason"],
                                               days=data.validated_data["days"])
        return Response(s.AlertSuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED)


class SuppressionList(StrictListView):
    """Suppressions of the sources the caller can see, newest first; `?source=<name>`, `?active=true` (neither
    lifted nor expired; `false`: the others)."""

    serializer_class = s.AlertSuppressionSerializer
    filterset_class = SuppressionFilter
    ordering_fields = ["created_at", "expires_at"]

    def get_queryset(self):
        return (AlertSuppression.objects.visible_to(self.request.user)
                .select_related("source", "organization", "created_by", "lifted_by").order_by("-created_at", "-id"))


class SuppressionLift(APIView):
    """POST: end the suppression now (409 if lifted already)."""

    @extend_schema(request=None, responses={200: s.AlertSuppressionSerializer, 409: refusal("Lifted already")})
    def post(self, request, pk):
        suppression = get_object_or_404(AlertSuppression.objects.visible_to(request.user), pk=pk)
        return Response(s.AlertSuppressionSerializer(triage.do_lift_suppression(suppression,
                                                                                acting_user=request.user)).data)


class SourceListCreate(StrictListMixin, generics.ListCreateAPIView):
    """Alert sources the caller can see, with their counters; POST registers one (the key is in the answer, once)."""

    serializer_class = s.AlertSourceSerializer
    filterset_class = AlertSourceFilter
    ordering_fields = ["name", "last_event_at"]

    def get_queryset(self):
        return (AlertSource.objects.visible_to(self.request.user).select_related("organization")
                .prefetch_related("systems").order_by("name"))

    def get_serializer(self, *args, **kwargs):
        if kwargs.get("many") and args:  # a page of sources: their activity in one query
            kwargs["context"] = {**self.get_serializer_context(),
                                 "activity": health.source_activity([source.pk for source in args[0]])}
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=s.AlertSourceCreateSerializer, responses={
        201: s.AlertSourceCreatedSerializer, 409: refusal("A source of that name exists already")})
    def post(self, request, *args, **kwargs):
        data = s.AlertSourceCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        source, key = services.do_create_source(
            data.validated_data["organization"], data.validated_data["name"], data.validated_data["format"],
            time_zone=data.validated_data["time_zone"], acting_user=request.user,
        )
        body = s.AlertSourceSerializer(source).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)


class SourceDetail(APIView):
    """One source; PATCH changes its settings (`enabled`, `format`, `time_zone`) — administrators and analysts of
    its organization (and of the organizations above it), and the national coordinator."""

    @extend_schema(responses={200: s.AlertSourceSerializer})
    def get(self, request, name):
        return Response(s.AlertSourceSerializer(services.visible_source(request.user, name)).data)

    @extend_schema(request=s.AlertSourceUpdateSerializer, responses={200: s.AlertSourceSerializer})
    def patch(self, request, name):
        source = services.visible_source(request.user, name)
        data = s.AlertSourceUpdateSerializer(data=request.data, partial=True)  # a setting left out stays
        data.is_valid(raise_exception=True)
        source = services.do_update_source(source, dict(data.validated_data), acting_user=request.user)
        return Response(s.AlertSourceSerializer(source).data)


class SourceKeyRotation(APIView):
    """POST: a new key for the source, in the answer once; the old key is refused for records sent from now on."""

    @extend_schema(request=None, responses={200: s.AlertSourceCreatedSerializer})
    def post(self, request, name):
        source = services.visible_source(request.user, name)
        key = services.do_rotate_source_key(source, acting_user=request.user)
        body = s.AlertSourceSerializer(source).data
        body["key"] = key
        return Response(body)


class TriedEventSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    kind = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    category_label = serializers.CharField(help_text="The category in the caller's language.")
    severity = serializers.IntegerField(help_text="0–10, as the platform normalizes it.")
    severity_label = serializers.CharField()
    observer = serializers.CharField(allow_null=True)
    src_ip = serializers.CharField(allow_null=True)
    src_port = serializers.IntegerField(allow_null=True)
    dst_ip = serializers.CharField(allow_null=True)
    dst_port = serializers.IntegerField(allow_null=True)
    domain = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    file_md5 = serializers.CharField(allow_null=True)
    file_sha1 = serializers.CharField(allow_null=True)
    file_sha256 = serializers.CharField(allow_null=True)
    rule_id = serializers.CharField(allow_null=True)
    rule_name = serializers.CharField(allow_null=True)


class TriedHitSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The event field that matched (src_ip, domain, file_sha256…).")
    field_label = serializers.CharField()
    value = serializers.CharField(help_text="The indicator value that matched (an address, a range, a domain…).")
    indicator = serializers.DictField(help_text=(
        "The indicator as the alert page shows it: `hidden: false` with `id`, `name`, `tlp`, `confidence`, "
        "`producer` ({code, name}); or only `hidden: true` for one the caller may not see (the source's "
        "organization may)."))


class TriedRecordSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The record's place in the body, 1-based.")
    outcome = serializers.ChoiceField(choices=["accepted", "duplicate", "repeated", "refused"], help_text=(
        "accepted: would be stored as a new event; duplicate: that event is stored already (sent before); "
        "repeated: an earlier record of this body is the same event; refused: would become a dead letter."))
    reason = serializers.CharField(allow_null=True, help_text="Why it would be refused (English, as dead letters keep it).")
    reason_text = serializers.CharField(allow_null=True, help_text="The reason in the caller's language.")
    event = TriedEventSerializer(allow_null=True)
    hits = TriedHitSerializer(many=True)


class TrialAnswerSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Records per outcome.")
    records = TriedRecordSerializer(many=True)


class SourceTry(APIView):
    """POST sample records, as the intake takes them (a JSON array, NDJSON, CEF lines; at most
    100 records and 256 KiB): what this source would make of each — the event, its indicator hits, or why it would be
    refused. Nothing is stored or counted. For whoever may see the source."""

    parser_classes: list = []

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}},
                 "application/x-ndjson": {"type": "string"}, "text/plain": {"type": "string"}},
        responses={200: TrialAnswerSerializer, 400: refusal("unreadable body"), 413: refusal("too many records or bytes"),
                   415: refusal("unsupported Content-Type")},
    )
    def post(self, request, name):
        source = services.visible_source(request.user, name)
        body = read_batch_body(request)
        if len(body) > TRY_TEXT_LIMIT:
            raise too_big(TRY_TEXT_LIMIT)
        rows = trial_rows(request.user, services.try_records(source, split_body(body, request.content_type)))
        return Response(TrialAnswerSerializer({"counts": trial_counts(rows), "records": rows}).data)


def _dead_letter_selection(request, name):
    """The source named in the path, and the dead letters the body chooses (ids, or None for all)."""
    source = services.visible_source(request.user, name)
    selection = s.DeadLetterSelectionSerializer(data=request.data)
    selection.is_valid(raise_exception=True)
    return source, selection.chosen_ids


class DeadLetterReprocess(APIView):
    """POST: read the source's dead letters again with its current settings (after its format or time zone was
    corrected): those now read become events and leave the dead letters; the others stay, with today's reason.
    `ids` chooses some (an id that is not one of the source's: 400, nothing changes), `all: true` all of them — at
    most KHIEN_INGEST_FILE_MAX_BATCH a request (`remaining` says how many are left)."""

    @extend_schema(request=s.DeadLetterSelectionSerializer, responses={200: s.ReprocessResultSerializer})
    def post(self, request, name):
        source, ids = _dead_letter_selection(request, name)
        result = services.do_reprocess_dead_letters(source, acting_user=request.user, ids=ids,
                                                    limit=conf.get("KHIEN_INGEST_FILE_MAX_BATCH"))
        return Response(result.as_dict())


class DeadLetterDiscard(APIView):
    """POST: delete the source's dead letters (`ids`, or `all: true`) once they have been read."""

    @extend_schema(request=s.DeadLetterSelectionSerializer, responses={200: s.DiscardResultSerializer})
    def post(self, request, name):
        source, ids = _dead_letter_selection(request, name)
        deleted = services.do_discard_dead_letters(source, acting_user=request.user, ids=ids)
        return Response({"discarded": deleted})


class DeadLetterList(StrictListView):
    """Records that could not be parsed, with the reason, for the sources the caller can see: `reason` as stored
    (English, the same for every caller: for programs and `?reason=`), `reason_text` in the caller's language as
    the pages show it (with a hint when the record looks like another format than its source's)."""

    serializer_class = s.DeadLetterSerializer
    filterset_class = DeadLetterFilter
    ordering_fields = ["received_at"]

    def get_queryset(self):
        return DeadLetter.objects.visible_to(self.request.user).select_related("source").order_by("-received_at", "-id")


class HourlyCountList(StrictListView):
    """Events per hour (UTC), organization, category and severity, for the organizations the caller can see."""

    serializer_class = s.HourlyCountSerializer
    filterset_class = HourlyCountFilter
    ordering_fields = ["hour", "count"]

    def get_queryset(self):
        return HourlyCount.objects.visible_to(self.request.user).select_related("organization").order_by(
            "-hour", "organization__code", "category", "severity")


class MonitoredSystemList(StrictListView):
    """Level-3+ information systems the caller can see, and whether a live alert source still watches them
    (`connected`), all their sources sent then fell silent (`disconnected`), their sources send only refused records
    (`rejecting`), their sources never sent anything (`never_sent`), or none watches them (`no_source`); by code."""

    serializer_class = s.MonitoredSystemSerializer
    filterset_class = MonitoredSystemFilter
    ordering_fields: list = []

    def get_queryset(self):
        return health.monitored_systems(self.request.user).order_by("code")


class SourceSystemsView(APIView):
    """Set the information systems a source watches (by system code); answers the source."""

    @extend_schema(request=s.SourceSystemsSerializer, responses={200: s.AlertSourceSerializer})
    def put(self, request, name):
        from khien.registry.models import InformationSystem

        source = services.visible_source(request.user, name)
        data = s.SourceSystemsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = data.validated_data["systems"]
        # Codes of systems the caller cannot see are unknown to them (no hint that they exist).
        systems = list(InformationSystem.objects.visible_to(request.user).filter(code__in=codes))
        found = {system.code for system in systems}
        unknown = list(dict.fromkeys(code for code in codes if code not in found))
        if unknown:
            raise Refused(_("Unknown information system code: %(codes)s.") % {"codes": ", ".join(unknown[:20])},
                          code="unknown_system")
        services.do_set_source_systems(source, systems, acting_user=request.user)
        return Response(s.AlertSourceSerializer(source).data)
