"""Registry API: thin views over `khien.registry.services`.

Reads start from `Model.objects.restrict(user, action)` (another organization's
object is a 404); writes go through the services, which check the right again,
validate, write and audit. The project's exception handler turns the services'
`Refused`/`Forbidden` and Django `ValidationError` into 4xx answers.
"""
import contextlib

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, parsers, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.generics import get_object_or_404
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api.schema import refusal
from khien.core.api.strict import StrictListMixin
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Action
from khien.core.scoping import scope_for, user_can

from .. import imports, services
from ..filters import (ImportJobFilter, InformationSystemFilter, IsacFilter, LevelFrameworkFilter, MembershipFilter,
                       OrganizationFilter, ProvinceFilter, SectorFilter)
from ..models import (
    ImportJob,
    InformationSystem,
    Isac,
    LevelFramework,
    Membership,
    Organization,
    Province,
    Sector,
)
from . import serializers as s

STEPS = list(services.TRANSITIONS)

FORMAT_PARAM = OpenApiParameter(
    "file_format", str, OpenApiParameter.QUERY, enum=["csv", "xlsx"], default="csv",
    description="File format of the export.",
)
EXPORT_RESPONSES = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
}


class ScopedViewSet(StrictListMixin, viewsets.GenericViewSet):
    """Reads restricted to what the user may see; writes checked against the object's organization. Its list and
    export take only their filters (`StrictListMixin`): a misspelt one is a 400 naming what they take.

    `org_of(obj)` names the organization whose right decides; `change_action` and
    `delete_action` are the rights needed to change or delete (the service checks again).
    """

    model = None
    change_action = Action.CHANGE
    delete_action = Action.DELETE
    create_action = Action.ADD

    def base_queryset(self):
        return self.model.objects.restrict(self.request.user, Action.VIEW)

    def get_queryset(self):
        return self.base_queryset()

    def org_of(self, obj):
        raise NotImplementedError

    def get_object(self):
        obj = super().get_object()  # 404 when not visible
        if self.request.method not in SAFE_METHODS and self.action in {"update", "partial_update", "destroy"}:
            needed = self.delete_action if self.request.method == "DELETE" else self.change_action
            if not user_can(self.request.user, needed, self.org_of(obj)):
                raise Forbidden(_("You do not have the right to do this for that organization."))
        return obj

    def create(self, request, *args, **kwargs):
        scope = scope_for(request.user, self.create_action)
        if not scope.everything and not scope.paths:
            raise Forbidden(_("You do not have the right to do this for that organization."))
        return super().create(request, *args, **kwargs)

    def export_response(self, kind):
        self.check_query(self.request)
        fmt = self.request.query_params.get("file_format", "csv")
        queryset = self.filter_queryset(self.get_queryset())
        filters = {key: self.request.query_params.getlist(key) for key in self.request.query_params
                   if key != "file_format"}
        content, content_type, filename = imports.export_file(kind, queryset, fmt, acting_user=self.request.user,
                                                              filters=filters)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# --- Organizations ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List the organizations you may see"),
    destroy=extend_schema(summary="Delete an organization without units or systems"),
)
class OrganizationViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                          mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    model = Organization
    serializer_class = s.OrganizationSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ["code", "name_vi", "org_type", "created_at", "updated_at"]
    ordering = ["code"]

    def base_queryset(self):
        return (Organization.objects.restrict(self.request.user, Action.VIEW)
                .select_related("parent", "province").prefetch_related("sectors"))

    def org_of(self, obj):
        return obj

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        sectors = data.pop("sectors", None)
        serializer.instance = services.do_create_organization(data, acting_user=self.request.user, sectors=sectors)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        sectors = data.pop("sectors", None)
        serializer.instance = services.do_update_organization(
            serializer.instance, data, acting_user=self.request.user, sectors=sectors)

    def perform_destroy(self, instance):
        services.do_delete_organization(instance, acting_user=self.request.user)

    @extend_schema(summary="Export the (filtered) organizations as CSV or XLSX", parameters=[FORMAT_PARAM],
                   responses=EXPORT_RESPONSES)
    @action(detail=False, methods=["get"], filterset_class=OrganizationFilter, pagination_class=None,
            extra_parameters=("file_format",))
    def export(self, request):
        return self.export_response("organizations")


# --- Information systems ------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List the information systems you may see"),
)
class InformationSystemViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    model = InformationSystem
    serializer_class = s.InformationSystemSerializer
    filterset_class = InformationSystemFilter
    ordering_fields = ["code", "name", "approved_level", "proposed_level", "level_status", "operational_status",
                       "created_at", "updated_at", "waiting_since"]
    ordering = ["code"]

    def base_queryset(self):
        return services.with_waiting_since(InformationSystem.objects.restrict(self.request.user, Action.VIEW)
                                           .select_related("owner", "operator", "framework"))

    def org_of(self, obj):
        return obj.owner

    def perform_create(self, serializer):
        serializer.instance = services.do_create_system(dict(serializer.validated_data), acting_user=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.do_update_system(
            serializer.instance, dict(serializer.validated_data), acting_user=self.request.user)

    def perform_destroy(self, instance):
        services.do_delete_system(instance, acting_user=self.request.user)

    @extend_schema(
        summary="Take a step of the security-level approval workflow",
        request=s.LevelStepSerializer,
        responses={200: s.InformationSystemSerializer, 403: OpenApiResponse(description="Not your step"),
                   409: OpenApiResponse(description="Not possible in the current state")},
        parameters=[OpenApiParameter("step", str, OpenApiParameter.PATH, enum=STEPS)],
    )
    @action(detail=True, methods=["post"], url_path=r"level/(?P<step>%s)" % "|".join(STEPS),
            serializer_class=s.LevelStepSerializer)
    def level(self, request, pk=None, step=None):
        system = self.get_object()
        services.check_level_step(request.user, system, step)  # the right, then the state, before the input
        params = s.LevelStepSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        system = services.do_level_step(system, step, acting_user=request.user, **params.validated_data)
        system = self.base_queryset().get(pk=system.pk)
        return Response(s.InformationSystemSerializer(system, context=self.get_serializer_context()).data)

    @extend_schema(summary="The approval history of the system's level", responses=s.LevelEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request, pk=None):
        system = self.get_object()
        self.check_query(request)  # takes nothing: a parameter is a 400, not a filter silently not applied
        return Response(s.LevelEventSerializer(system.level_events.all(), many=True).data)

    @extend_schema(methods=["GET"], summary="The files of the level dossier", request=None,
                   responses=s.DossierFileSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Attach a file to the level dossier (multipart, field `file`)",
                   request={"multipart/form-data": s.DossierUploadSerializer},
                   responses={201: s.DossierFileSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=[parsers.MultiPartParser, parsers.FormParser],
            serializer_class=s.DossierUploadSerializer, pagination_class=None, filter_backends=[])
    def dossier(self, request, pk=None):
        system = self.get_object()
        if request.method == "GET":
            self.check_query(request)
            return Response(s.DossierFileSerializer(system.dossier_files.all(), many=True).data)
        services.check_dossier_open(request.user, system)  # the right, then the state, before the file
        upload = s.DossierUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        dossier = services.do_add_dossier_file(system, upload.validated_data["file"], acting_user=request.user)
        return Response(s.DossierFileSerializer(dossier).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Take a file out of the level dossier (one added since the proposal was last submitted)",
                   request=None, responses={204: None, 409: refusal("The file went to appraisal with the proposal, or "
                                                                     "the proposal is under review: it stays")})
    @action(detail=True, methods=["delete"], url_path=r"dossier/(?P<file_id>[0-9a-fA-F-]{36})",
            url_name="dossier-file", pagination_class=None, filterset_class=None)
    def dossier_file(self, request, pk=None, file_id=None):
        system = self.get_object()
        services.require_dossier_right(request.user, system)  # before looking the file up
        dossier = get_object_or_404(system.dossier_files.select_related("system__owner"), pk=file_id)
        services.do_remove_dossier_file(dossier, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Export the (filtered) systems as CSV or XLSX", parameters=[FORMAT_PARAM],
                   responses=EXPORT_RESPONSES)
    @action(detail=False, methods=["get"], filterset_class=InformationSystemFilter, pagination_class=None,
            extra_parameters=("file_format",))
    def export(self, request):
        return self.export_response("systems")


# --- ISACs, memberships -------------------------------------------------------------


class IsacViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin):
    model = Isac
    serializer_class = s.IsacSerializer
    filterset_class = IsacFilter
    ordering_fields = ["code", "name_vi", "created_at"]
    ordering = ["code"]
    change_action = Action.MANAGE_MEMBERS
    create_action = Action.MANAGE_MEMBERS

    def base_queryset(self):
        return (Isac.objects.restrict(self.request.user, Action.VIEW)
                .select_related("sector", "operator").prefetch_related("members"))

    def org_of(self, obj):
        return obj.operator

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        members = data.pop("members", None)
        serializer.instance = services.do_save_isac(None, data, acting_user=self.request.user, members=members)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        members = data.pop("members", None)
        serializer.instance = services.do_save_isac(serializer.instance, data, acting_user=self.request.user,
                                                    members=members)


LAST_ADMINISTRATOR = "The only administrator of the organization may not take away their own role"


@contextlib.contextmanager
def _national_role_confirmation():
    """The service's refusal of an unconfirmed national coordinator role, said on the field that confirms it."""
    try:
        yield
    except Refused as exc:
        if exc.code == services.NATIONAL_ROLE_UNCONFIRMED:
            raise drf_serializers.ValidationError({"confirm_national_role": [exc.message]}) from None
        raise


@extend_schema_view(
    create=extend_schema(responses={201: s.MembershipSerializer,
                                    409: refusal("The user has a role in that organization already")}),
    update=extend_schema(responses={200: s.MemberSerializer, 409: refusal(LAST_ADMINISTRATOR)}),
    partial_update=extend_schema(responses={200: s.MemberSerializer, 409: refusal(LAST_ADMINISTRATOR)}),
    destroy=extend_schema(responses={204: None, 409: refusal(LAST_ADMINISTRATOR)}),
)
class MembershipViewSet(ScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    """Who holds which role in the organizations you manage, with each person's name, whether their two-step sign-in
    is on and whether their account is active. An organization's auditors read the members of it and of its units
    (an access-control review) and change nothing: every write needs the right to manage members (403 otherwise).

    Creating a membership for an address without an account creates the account (its owner receives by e-mail a
    one-time link to choose a password); the answer is the same 201 as for an existing account. The person is
    notified of every membership given, changed or removed. Removing a person's last role on the platform
    deactivates their account (their sessions end, their API tokens are revoked); giving them a role again
    reactivates it."""

    model = Membership
    serializer_class = s.MemberSerializer
    filterset_class = MembershipFilter
    ordering_fields = ["created_at", "role"]
    ordering = ["organization__code", "user__email"]
    change_action = Action.MANAGE_MEMBERS
    delete_action = Action.MANAGE_MEMBERS
    create_action = Action.MANAGE_MEMBERS

    def base_queryset(self):
        return services.members_readable_by(self.request.user).select_related("organization", "user")

    def get_serializer_class(self):
        # A create answers the same whether or not the address had an account: nothing of the person in it.
        return s.MembershipSerializer if self.action == "create" else s.MemberSerializer

    def org_of(self, obj):
        return obj.organization

    def perform_create(self, serializer):
        # 201 for every new membership, whether the account existed or was created by this call (the answer
        # must not tell which); the person is told by e-mail either way.
        data = serializer.validated_data
        with _national_role_confirmation():
            serializer.instance = services.do_add_member(
                data["organization"], data["user"], data["role"], acting_user=self.request.user,
                full_name=data.get("full_name", ""), create_only=True,
                confirm_national_role=data.get("confirm_national_role", False))

    def perform_update(self, serializer):
        membership = serializer.instance
        data = serializer.validated_data
        if data.get("organization", membership.organization) != membership.organization or \
                data.get("user", membership.user.email) != membership.user.email:
            raise Refused(_("Only the role of a membership can be changed."))
        with _national_role_confirmation():
            serializer.instance = services.do_set_membership(
                membership.organization, membership.user, data.get("role", membership.role),
                acting_user=self.request.user, confirm_national_role=data.get("confirm_national_role", False))

    def perform_destroy(self, instance):
        services.do_remove_membership(instance, acting_user=self.request.user)


# --- Reference data -----------------------------------------------------------------


class SectorViewSet(StrictListMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Sector.objects.all()
    serializer_class = s.SectorSerializer
    lookup_field = "code"
    filterset_class = SectorFilter
    ordering_fields = ["sort_order", "code"]


class ProvinceViewSet(StrictListMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Province.objects.all()
    serializer_class = s.ProvinceSerializer
    lookup_field = "code"
    filterset_class = ProvinceFilter
    ordering_fields = ["name_vi", "code"]


class LevelFrameworkViewSet(StrictListMixin, viewsets.ReadOnlyModelViewSet):
    queryset = LevelFramework.objects.all()
    serializer_class = s.LevelFrameworkSerializer
    lookup_field = "version"
    lookup_value_regex = r"[A-Za-z0-9._-]+"
    filterset_class = LevelFrameworkFilter
    ordering_fields = ["effective_from", "version"]


# --- Imports and the dashboard ------------------------------------------------------


class ImportJobViewSet(StrictListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    """Bulk imports from CSV/XLSX: start one (multipart `kind`, `file`), then poll it for progress and the row report."""

    serializer_class = s.ImportJobSerializer
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    filterset_class = ImportJobFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        # An import job belongs to the person who started it.
        return ImportJob.objects.filter(created_by=self.request.user.pk)

    def list(self, request, *args, **kwargs):
        imports.check_may_import(request.user)  # refused as the import page is (403) to those without the right
        return super().list(request, *args, **kwargs)

    @extend_schema(request={"multipart/form-data": s.ImportStartSerializer}, responses={202: s.ImportJobSerializer})
    def create(self, request, *args, **kwargs):
        imports.check_may_import(request.user)
        params = s.ImportStartSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        job = imports.start_import(params.validated_data["kind"], params.validated_data["file"],
                                   acting_user=request.user)
        job.refresh_from_db()
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class StatsView(APIView):
    """The dashboard figures, counted on what the caller may see."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        from ..stats import dashboard

        return Response(dashboard(request.user))
