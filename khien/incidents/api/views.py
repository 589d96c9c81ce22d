"""Incidents API: thin views over `khien.incidents.services`.

Reads start from `Incident.objects.visible_to(user)` (an incident the caller
may not see is a 404); every write is a service call, which checks the right,
validates, writes, audits and adds to the journal. Machines (SOC platforms)
report with an API token like people do.

Every write asks the service for the caller's right (`services.require_right`) before it reads the body: whoever
may not do it gets 403 with the reason, not a 400 on a field or a 409 on the incident's state. Its serializer refuses
a field it does not take (`core.api.strict`), naming it, rather than ignoring it; likewise the list, and an
incident's journal, timeline, tasks, observables, evidence and custody, refuse a query parameter they do not take.
"""
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from khien.core.api.schema import refusal
from khien.core.api.strict import StrictListMixin

from django.core.exceptions import ValidationError
from khien.core.errors import Forbidden
from khien.intel import tlp as intel_tlp

from .. import observables as observables_module
from .. import services
from ..filters import IncidentFilter
from ..models import Evidence, Incident, IncidentEvent, Observable, Task
from . import serializers as s


# A nested object's id in a path: anything else is no address (404), not a malformed id in a lookup (400).
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@extend_schema_view(
    list=extend_schema(summary="List the incidents you may see (filter `updated_after` for incremental export)"),
    retrieve=extend_schema(summary="One incident with its deadlines"),
    create=extend_schema(summary="Report an incident (the initial report, due as the reporting policy says: see "
                                 "`report_due_at`; a late one gives `late_reason`)",
                         responses={201: s.IncidentSerializer,
                                    409: refusal("The incident taxonomy is not loaded (the operator's step)")}),
)
class IncidentViewSet(StrictListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    serializer_class = s.IncidentSerializer
    filterset_class = IncidentFilter
    ordering_fields = ["reported_at", "detected_at", "updated_at", "reference", "severity", "status"]
    ordering = ["-reported_at"]

    def get_queryset(self):
        # `affected_only`: seen only as an organization whose information systems the incident names (the
        # serializer then gives its own systems and counts the others).
        return (Incident.objects.visible_to(self.request.user).with_reading(self.request.user)
                .select_related("organization", "policy", "taxonomy")
                .prefetch_related("systems", "assignments__responder", "assignments__assigned_by", "observables"))

    def filter_queryset(self, queryset):
        # The list's filters are for the list: on one incident and its journal, tasks, observables and evidence
        # they would turn "?severity=low" into a 404 for an incident that exists.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def create(self, request, *args, **kwargs):
        services.require_may_report(request.user)
        return super().create(request, *args, **kwargs)

    def _require(self, incident, right: str, evidence=None) -> None:
        """The caller's right to a write (`services.require_right`: 403 with the reason), before its body is read."""
        services.require_right(self.request.user, incident, right, evidence=evidence)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        systems = data.pop("systems", [])
        items = [(o["kind"], o["value"]) for o in data.pop("observables", [])]
        serializer.instance = services.do_report_incident(data, acting_user=self.request.user, systems=systems,
                                                          observables=items, late_reason_required=True)

    @extend_schema(summary="Correct the initial report (the reporting side and the coordinator; the journal says "
                           "which fields changed, the audit log keeps the values)",
                   request=s.ReportCorrectionSerializer,
                   responses={200: s.IncidentSerializer, 403: OpenApiResponse(description="Not the reporting side"),
                              409: refusal("The incident is closed")})
    def partial_update(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "correct")
        body = s.ReportCorrectionSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        systems, reason = data.pop("systems", None), data.pop("reason", "")
        incident, _changed = services.do_correct_report(incident, data, systems=systems, reason=reason,
                                                        acting_user=request.user)
        return self._fresh(incident)

    def _fresh(self, incident):
        return Response(s.IncidentSerializer(self.get_queryset().get(pk=incident.pk), context=self.get_serializer_context()).data)

    @extend_schema(summary="Move the incident through the workflow (a reopen needs a reason)",
                   request=s.TransitionSerializer,
                   responses={200: s.IncidentSerializer, 403: OpenApiResponse(description="Not your step"),
                              409: refusal("Not possible in the current state; or tasks still open when resolving "
                                           "or closing (code `open_tasks`: send `cancel_open_tasks`)")})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "workflow")
        body = s.TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.do_transition(incident, body.validated_data["status"], acting_user=request.user,
                                          reason=body.validated_data["reason"],
                                          cancel_open_tasks=body.validated_data["cancel_open_tasks"])
        return self._fresh(incident)

    @extend_schema(summary="Correct the category, severity or TLP (the reporting side and the coordinator; kept in "
                           "the journal with the reason)",
                   request=s.ClassificationSerializer,
                   responses={200: s.IncidentSerializer, 403: OpenApiResponse(description="Not the reporting side"),
                              409: refusal("The incident is closed")})
    @action(detail=True, methods=["post"])
    def classification(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "classify")
        body = s.ClassificationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        reason = data.pop("reason")
        incident, _changes = services.do_reclassify(incident, data, acting_user=request.user, reason=reason)
        return self._fresh(incident)

    @extend_schema(summary="Give a later report stage (detailed notification, final report)",
                   request=s.StageSubmitSerializer,
                   responses={200: s.IncidentSerializer,
                              409: OpenApiResponse(description="Already given, out of order, or too early (the final "
                                                               "report waits for the incident to be resolved)")})
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "report")
        body = s.StageSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        stage_code = data.pop("stage")
        incident = services.do_submit_stage(incident, stage_code, data, acting_user=request.user)
        return self._fresh(incident)

    @extend_schema(summary="Assign a responder organization", request=s.AssignSerializer,
                   responses={201: s.IncidentSerializer, 409: refusal("The incident is closed")})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "assign")
        body = s.AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.do_assign_responder(incident, body.validated_data["responder"], acting_user=request.user)
        response = self._fresh(incident)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(summary="Remove a responder organization (the national coordinator; journaled, the responder is "
                           "told and no longer sees the incident)",
                   request=s.UnassignSerializer,
                   responses={200: s.IncidentSerializer, 403: OpenApiResponse(description="Not the coordinator"),
                              409: refusal("The incident is closed")})
    @action(detail=True, methods=["post"])
    def unassign(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "unassign")
        body = s.UnassignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        responder = incident.assignments.filter(responder__code=body.validated_data["responder"]).first()
        services.do_unassign_responder(incident, responder.responder if responder else None, acting_user=request.user,
                                       reason=body.validated_data["reason"])
        return self._fresh(incident)

    @extend_schema(methods=["get"], summary="The journal: status changes, assignments, comments and tasks, in order",
                   responses=s.IncidentEventSerializer(many=True))
    @extend_schema(methods=["post"], summary="Add a comment to the journal", request=s.CommentSerializer,
                   responses={201: s.IncidentEventSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def journal(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            self.check_query(request)
        if request.method == "POST":
            self._require(incident, "comment")
            body = s.CommentSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            event = services.do_add_comment(incident, body.validated_data["text"], acting_user=request.user,
                                            happened_at=body.validated_data["happened_at"])
            return Response(s.IncidentEventSerializer(event, context={"request": request}).data,
                            status=status.HTTP_201_CREATED)
        events = IncidentEvent.objects.visible_to(request.user).filter(incident=incident).order_by("at", "id")
        return Response(s.IncidentEventSerializer(events, many=True, context={
            "request": request, "whole": not incident.affected_only}).data)

    @extend_schema(summary="The incident's timeline: its milestones and the comments dated by when they happened",
                   responses=s.TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        from ..journal import timeline

        incident = self.get_object()
        self.check_query(request)
        # Every visible journal line, not only comments: a milestone's person is the one of its step's line.
        events = (IncidentEvent.objects.visible_to(request.user).filter(incident=incident)
                  .select_related("actor").order_by("at", "id"))
        return Response(s.TimelineEntrySerializer(timeline(incident, events), many=True).data)

    @extend_schema(methods=["get"], summary="The incident's tasks", responses=s.TaskSerializer(many=True))
    @extend_schema(methods=["post"], summary="Add a task", request=s.TaskSerializer, responses={201: s.TaskSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def tasks(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            self.check_query(request)
        if request.method == "POST":
            self._require(incident, "participate")
            body = s.TaskSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            task = services.do_add_task(incident, dict(body.validated_data), acting_user=request.user)
            return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)
        tasks = Task.objects.visible_to(request.user).filter(incident=incident)
        return Response(s.TaskSerializer(tasks, many=True).data)

    @extend_schema(summary="Add the standard tasks of the incident's category that it does not have yet (none twice)",
                   request=None,
                   responses={201: s.TaskSerializer(many=True), 200: s.TaskSerializer(many=True),
                              409: refusal("The incident is closed, or the standard tasks are not loaded")})
    @action(detail=True, methods=["post"], url_path="tasks/standard")
    def tasks_standard(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "participate")
        added = services.do_add_standard_tasks(incident, acting_user=request.user)
        return Response(s.TaskSerializer(added, many=True).data,
                        status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)

    @extend_schema(summary="Change a task's person in charge, due time or description (those given; journaled)",
                   request=s.TaskUpdateSerializer,
                   responses={200: s.TaskSerializer, 409: refusal("The incident is closed")})
    @action(detail=True, methods=["patch"], url_path=rf"tasks/(?P<task_id>{UUID})")
    def task_update(self, request, pk=None, task_id=None):
        incident = self.get_object()
        task = Task.objects.visible_to(request.user).filter(incident=incident, pk=task_id).first()
        if task is None:
            raise Http404
        self._require(incident, "participate")
        # Anything else (a title, a status: its own endpoint) is refused rather than silently ignored.
        body = s.TaskUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        task, _changed = services.do_update_task(task, dict(body.validated_data), acting_user=request.user)
        return Response(s.TaskSerializer(task).data)

    @extend_schema(summary="Change a task's status", request=s.TaskStatusSerializer, responses={200: s.TaskSerializer})
    @action(detail=True, methods=["post"], url_path=rf"tasks/(?P<task_id>{UUID})/status")
    def task_status(self, request, pk=None, task_id=None):
        incident = self.get_object()
        task = Task.objects.visible_to(request.user).filter(incident=incident, pk=task_id).first()
        if task is None:
            raise Http404
        self._require(incident, "participate")
        body = s.TaskStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.do_set_task_status(task, body.validated_data["status"], acting_user=request.user)
        return Response(s.TaskSerializer(task).data)

    @extend_schema(summary="Incident statistics over what you may see (filters: since, until, sector, province, "
                           "severity)", parameters=[], responses={200: OpenApiResponse(description="Figures and charts")})
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def stats(self, request):
        from rest_framework.exceptions import ValidationError as DrfValidationError

        from .. import stats as stats_module

        form = stats_module.StatsFilterForm(request.query_params or None)
        if form.is_bound and not form.is_valid():
            raise DrfValidationError({k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()})
        return Response(stats_module.compute(request.user, form.cleaned_data if form.is_bound else {}))

    # --- observables ------------------------------------------------------------------

    def _observables_data(self, request, incident):
        rows = list(Observable.objects.visible_to(request.user).filter(incident=incident).select_related("incident"))
        lookups = {r.observable.pk: r for r in observables_module.lookup(request.user, rows)}
        return s.ObservableLookupSerializer(rows, many=True, context={"lookups": lookups}).data

    @extend_schema(methods=["get"], summary="The incident's observables, each with the intelligence indicators "
                                            "you may see that carry its value, and its warning lists",
                   responses=s.ObservableLookupSerializer(many=True))
    @extend_schema(methods=["post"], summary="Add observables (a list of {kind, value}; kind may be omitted)",
                   request=s.ObservableSerializer(many=True),
                   responses={201: s.ObservableLookupSerializer(many=True), 409: refusal("The incident is closed")})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def observables(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            self.check_query(request)
        if request.method == "POST":
            self._require(incident, "participate")
            body = s.ObservableSerializer(data=request.data if isinstance(request.data, list) else [request.data],
                                          many=True)
            body.is_valid(raise_exception=True)
            observables_module.do_add_observables(
                incident, [(o["kind"], o["value"]) for o in body.validated_data], acting_user=request.user)
            return Response(self._observables_data(request, incident), status=status.HTTP_201_CREATED)
        return Response(self._observables_data(request, incident))

    @extend_schema(summary="Remove an observable", request=None,
                   responses={204: None, 409: refusal("The incident is closed")})
    @action(detail=True, methods=["delete"], url_path=rf"observables/(?P<observable_id>{UUID})")
    def observable_remove(self, request, pk=None, observable_id=None):
        incident = self.get_object()
        observable = Observable.objects.visible_to(request.user).filter(incident=incident, pk=observable_id).first()
        if observable is None:
            raise Http404
        self._require(incident, "participate")
        observables_module.do_remove_observable(observable, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Share observables as STIX indicators in a collection you may write: `shared` and "
                           "`skipped` (with the reason), and the incident's `observables`",
                   request=s.ShareSerializer,
                   responses={201: OpenApiResponse(description="Something was shared"),
                              200: OpenApiResponse(description="Nothing was shared: every value was skipped"),
                              400: OpenApiResponse(description="A TLP less strict than the incident's: send "
                                                               "`confirm_downgrade: true` to share it anyway"),
                              403: OpenApiResponse(description="You may not write the collection"),
                              409: OpenApiResponse(description="A value is on a warning list (code `warning_listed`): "
                                                               "send `confirm_warninglisted: true` to share it anyway; "
                                                               "or the incident is closed (code `closed`)")})
    @action(detail=True, methods=["post"], url_path="observables/share")
    def observables_share(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "participate")
        body = s.ShareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        collection = intel_tlp.collections_for(request.user).filter(pk=data["collection"]).first()
        if collection is None:
            raise Forbidden(_("You may not add objects to this collection."))
        chosen = list(Observable.objects.visible_to(request.user).filter(incident=incident,
                                                                        pk__in=data["observables"]))
        if len(chosen) != len(set(data["observables"])):
            raise ValidationError({"observables": [_("Choose observables of this incident.")]})
        result = observables_module.do_share_observables(incident, chosen, tlp=data["tlp"], collection=collection,
                                                         acting_user=request.user,
                                                         confirm_warninglisted=data["confirm_warninglisted"],
                                                         confirm_downgrade=data["confirm_downgrade"])
        answer = {
            "shared": [{"id": str(o.pk), "kind": o.kind, "value": o.value, "indicator": o.shared_stix_id}
                       for o in result.shared],
            "skipped": [{"id": str(o.pk), "kind": o.kind, "value": o.value, "reason": code, "message": why}
                        for o, code, why in result.skipped()],
            "observables": self._observables_data(request, incident),
        }
        # 201 only when indicators were created; a call that shared nothing created nothing.
        return Response(answer, status=status.HTTP_201_CREATED if result.shared else status.HTTP_200_OK)

    # --- evidence ---------------------------------------------------------------------

    def _evidence(self, request, incident, evidence_id):
        evidence = (Evidence.objects.visible_to(request.user).filter(incident=incident, pk=evidence_id)
                    .select_related("incident", "uploaded_by", "sealed_by").first())
        if evidence is None:
            raise Http404
        return evidence

    def _evidence_data(self, request, evidence_id):
        evidence = (Evidence.objects.visible_to(request.user).filter(pk=evidence_id)
                    .select_related("uploaded_by", "sealed_by").prefetch_related("custody").get())
        return s.EvidenceSerializer(evidence).data

    @extend_schema(methods=["get"], summary="The incident's evidence with its chain of custody",
                   responses=s.EvidenceSerializer(many=True))
    @extend_schema(methods=["post"], summary="Add evidence: a file (multipart, with an optional `note` describing it) or a note, kept with its SHA-256",
                   request={"multipart/form-data": s.EvidenceUploadSerializer, "application/json": s.EvidenceUploadSerializer},
                   responses={201: s.EvidenceSerializer, 409: OpenApiResponse(description="Incident closed"),
                              413: OpenApiResponse(description="File too large")})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def evidence(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            self.check_query(request)
        if request.method == "POST":
            self._require(incident, "participate")
            body = s.EvidenceUploadSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = body.validated_data
            evidence = services.do_add_evidence(incident, acting_user=request.user, uploaded=data.get("file"),
                                                note=data["note"], received_from=data["received_from"])
            return Response(self._evidence_data(request, evidence.pk), status=status.HTTP_201_CREATED)
        rows = (Evidence.objects.visible_to(request.user).filter(incident=incident)
                .select_related("uploaded_by", "sealed_by").prefetch_related("custody"))
        return Response(s.EvidenceSerializer(rows, many=True).data)

    @extend_schema(summary="Record evidence kept elsewhere (a disk image, a memory dump): name, SHA-256, size in bytes "
                           "and where it is kept; the platform holds no copy",
                   request=s.ExternalEvidenceSerializer,
                   responses={201: s.EvidenceSerializer, 409: OpenApiResponse(description="Incident closed")})
    @action(detail=True, methods=["post"], url_path="evidence/external")
    def evidence_external(self, request, pk=None):
        incident = self.get_object()
        self._require(incident, "participate")
        body = s.ExternalEvidenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        evidence = services.do_add_external_evidence(incident, acting_user=request.user, **body.validated_data)
        return Response(self._evidence_data(request, evidence.pk), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Download an evidence file, served only once its SHA-256 is checked: a file changed or "
                           "missing since it was received is refused (409, code content_changed or file_missing) and "
                           "the failure recorded in its chain of custody. `?altered=1`: the incident's participants "
                           "still get a changed file, for analysis, named ALTERED-… with X-Khien-Integrity: "
                           "content_changed (audited)",
                   parameters=[OpenApiParameter("altered", bool, description="serve a file that no longer matches "
                                                "its SHA-256 anyway, marked as altered (participants only)")],
                   responses={(200, "application/octet-stream"): bytes,
                              409: OpenApiResponse(description="The file changed or is missing")})
    @action(detail=True, methods=["get"], url_path=rf"evidence/(?P<evidence_id>{UUID})/download")
    def evidence_download(self, request, pk=None, evidence_id=None):
        evidence = self._evidence(request, self.get_object(), evidence_id)
        return evidence_file_response(evidence, request)

    @extend_schema(summary="Verify integrity: read the stored file (or note) again, compare it with its SHA-256 and "
                           "size, and record the result in its chain of custody (verified, content_changed or "
                           "file_missing; audited). The item is returned with its `integrity`",
                   request=None,
                   responses={200: s.EvidenceSerializer,
                              409: OpenApiResponse(description="Kept elsewhere: the platform holds no copy")})
    @action(detail=True, methods=["post"], url_path=rf"evidence/(?P<evidence_id>{UUID})/verify")
    def evidence_verify(self, request, pk=None, evidence_id=None):
        evidence = self._evidence(request, self.get_object(), evidence_id)
        self._require(evidence.incident, "participate")
        services.do_verify_evidence(evidence, acting_user=request.user)
        return Response(self._evidence_data(request, evidence.pk))

    @extend_schema(methods=["get"], summary="The chain of custody of one evidence item",
                   responses=s.CustodyEventSerializer(many=True))
    @extend_schema(methods=["post"], summary="Record a custody step (received, transferred, analysed, returned)",
                   request=s.CustodyInputSerializer,
                   responses={201: s.CustodyEventSerializer, 409: OpenApiResponse(description="Sealed")})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[], url_path=rf"evidence/(?P<evidence_id>{UUID})/custody")
    def evidence_custody(self, request, pk=None, evidence_id=None):
        evidence = self._evidence(request, self.get_object(), evidence_id)
        if request.method == "GET":
            self.check_query(request)
        if request.method == "POST":
            self._require(evidence.incident, "participate")
            body = s.CustodyInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            event = services.do_record_custody(evidence, acting_user=request.user, **body.validated_data)
            return Response(s.CustodyEventSerializer(event).data, status=status.HTTP_201_CREATED)
        return Response(s.CustodyEventSerializer(evidence.custody.all(), many=True).data)

    @extend_schema(summary="Seal an evidence item: its file, hash, description and past custody steps are fixed",
                   request=s.SealSerializer,
                   responses={200: s.EvidenceSerializer, 409: OpenApiResponse(description="Already sealed, or altered")})
    @action(detail=True, methods=["post"], url_path=rf"evidence/(?P<evidence_id>{UUID})/seal")
    def evidence_seal(self, request, pk=None, evidence_id=None):
        evidence = self._evidence(request, self.get_object(), evidence_id)
        self._require(evidence.incident, "seal", evidence)
        body = s.SealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.do_seal_evidence(evidence, acting_user=request.user, note=body.validated_data["note"])
        return Response(self._evidence_data(request, evidence.pk))


def evidence_file_response(evidence, request):
    """The stored file as an attachment (never rendered inline), for the UI and the API alike, served only once its
    SHA-256 is checked (`services.open_evidence_file`: a changed or missing file is refused, 409). With `?altered=1`
    a participant gets a changed file anyway, named and marked as altered: never as if it were intact."""
    if evidence.kind != "file":
        raise Http404
    altered = request.GET.get("altered", "").lower() in ("1", "true", "yes")
    handle, found = services.open_evidence_file(evidence, acting_user=request.user, altered=altered)
    name = evidence.original_name or evidence.file.name
    if not found.ok:
        name = pgettext("name of a downloaded evidence file that no longer matches its SHA-256",
                        "ALTERED-%(name)s") % {"name": name}
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Khien-SHA256"] = evidence.sha256  # as recorded when received
    response["X-Khien-Integrity"] = found.code  # intact, or content_changed (served only with ?altered=1)
    if not found.ok:
        response["X-Khien-SHA256-Found"] = found.sha256
    return response
