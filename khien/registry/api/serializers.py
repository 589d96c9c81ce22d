"""Serializers of the registry API.

Serializers only translate between JSON and the service's data dicts: they never
save. Related organizations are named by their code; on writes the code is
looked up among the organizations the caller may see, and the service then
checks the right to add or change there.
"""
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from khien.core.api import fields as api_fields
from khien.core.models import User
from khien.core.roles import Role
from khien.core.twofactor import has_confirmed_device

from ..validators import normalize_domains
from ..models import (
    GAP_LABELS,
    DossierFile,
    ImportJob,
    ImportKind,
    InformationSystem,
    Isac,
    LevelEvent,
    LevelFramework,
    Membership,
    Organization,
    Province,
    Sector,
)


class VisibleOrganizationField(serializers.SlugRelatedField):
    """An organization named by its code, looked up among those the caller may name
    (`Organization.objects.referable_by`: those they see, and those the object being changed refers to already)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Organization.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None:
            return Organization.objects.none()
        return Organization.objects.referable_by(user, keep=self._current_ids())

    def _current_ids(self) -> list:
        """The ids of the organizations this field of the instance being updated refers to now."""
        field = self.parent if isinstance(self.parent, serializers.ManyRelatedField) else self
        instance = getattr(field.parent, "instance", None)
        if not isinstance(instance, models.Model) or not field.source or "." in field.source:
            return []
        try:
            model_field = instance._meta.get_field(field.source)
        except FieldDoesNotExist:
            return []
        if model_field.many_to_many:
            return list(getattr(instance, field.source).values_list("pk", flat=True))
        value = getattr(instance, model_field.attname, None)
        return [value] if value else []


class CodeField(serializers.SlugRelatedField):
    def __init__(self, model, **kwargs):
        kwargs.setdefault("slug_field", "code")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)


# --- Reference data -----------------------------------------------------------------


class SectorSerializer(serializers.ModelSerializer):
    name = api_fields.CharField(read_only=True)

    class Meta:
        model = Sector
        fields = ["code", "name", "name_vi", "name_en", "description", "sort_order"]


class ProvinceSerializer(serializers.ModelSerializer):
    name = api_fields.CharField(read_only=True)

    class Meta:
        model = Province
        fields = ["code", "name", "name_vi", "name_en", "kind", "region"]


class LevelFrameworkSerializer(serializers.ModelSerializer):
    class Meta:
        model = LevelFramework
        fields = ["version", "title", "effective_from", "is_current", "data", "source_sha256", "loaded_at"]


# --- Organizations ------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer):
    name = api_fields.CharField(read_only=True)
    parent = VisibleOrganizationField(required=False, allow_null=True)
    province = CodeField(Province, required=False, allow_null=True)
    sectors = CodeField(Sector, many=True, required=False)
    depth = serializers.IntegerField(read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id", "code", "name", "name_vi", "name_en", "org_type", "parent", "province", "sectors", "depth",
            "address", "hotline", "contact_email", "duty_officer", "duty_officer_phone",
            "head_name", "head_title", "head_email", "head_phone", "is_active", "require_second_factor",
            "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


# --- Information systems ------------------------------------------------------------


class WaitingForSerializer(serializers.Serializer):
    step = serializers.CharField(help_text=_("What the proposal waits for, e.g. “Waiting for appraisal”."))
    by = serializers.CharField(help_text=_("Who decides it, e.g. “the administrators of …”."))


class InformationSystemSerializer(serializers.ModelSerializer):
    owner = VisibleOrganizationField()
    operator = VisibleOrganizationField(required=False, allow_null=True)
    framework = serializers.SlugRelatedField(slug_field="version", read_only=True)
    criteria = serializers.DictField(child=api_fields.CharField(), required=False)
    gaps = serializers.SerializerMethodField()
    # In the language of the call (Accept-Language), worked out from the answers (`levels.suggestion_reason`).
    suggestion_reason = serializers.CharField(source="suggestion_reason_text", read_only=True)
    connected_to_national_monitoring = serializers.BooleanField(read_only=True)
    waiting_for = serializers.SerializerMethodField(
        help_text=_("What the level proposal waits for and by whom, in the language of the call; null when it "
                    "waits for nobody."))

    class Meta:
        model = InformationSystem
        fields = [
            "id", "code", "name", "owner", "operator", "purpose",
            "framework", "criteria", "suggested_level", "suggestion_reason", "proposed_level", "level_justification",
            "approved_level",
            "level_status", "waiting_for", "appraisal_opinion", "decision_number", "decision_date",
            "operational_status", "important_to_national_security", "internet_facing",
            "ip_ranges", "domains", "products",
            "layer1_status", "layer1_evidence", "layer2_status", "layer2_provider", "layer2_evidence",
            "layer3_status", "layer3_assessed_on", "layer3_assessor", "layer3_evidence",
            "layer4_status", "layer4_connected_on", "layer4_evidence",
            "gaps", "connected_to_national_monitoring", "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "suggested_level", "suggestion_reason", "approved_level", "level_status", "appraisal_opinion",
            "decision_number", "decision_date", "created_at", "updated_at",
        ]
        extra_kwargs = {
            "ip_ranges": {"help_text": _("List of IP addresses or CIDR ranges.")},
            "domains": {"help_text": _("List of domain names.")},
            "level_justification": {"help_text": _("Required when the proposed level is below the suggested one.")},
            "products": {"help_text": _("List of CPE 2.3 names.")},
        }

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=list(GAP_LABELS))))
    def get_gaps(self, obj) -> list[str]:
        return obj.four_layer_gaps()

    @extend_schema_field(WaitingForSerializer(allow_null=True))
    def get_waiting_for(self, obj) -> dict | None:
        from .. import services

        if "coordinator_names" not in self.context:  # one query for a whole list, not one per system
            self.context["coordinator_names"] = services.coordinator_organization_names()
        request = self.context.get("request")  # said to the caller, as the level card says it to its reader
        waiting = services.waiting_for(obj, self.context["coordinator_names"], user=getattr(request, "user", None))
        return {"step": str(waiting[0]), "by": str(waiting[1])} if waiting else None

    def to_internal_value(self, data):
        # A pasted address (https://host/path) keeps its host, before the model's validator sees it: the same
        # cleaning as the page and the import (`validators.normalize_domains`).
        domains = data.get("domains") if hasattr(data, "get") else None
        if isinstance(domains, list) and all(isinstance(v, str) for v in domains):
            data = {**data, "domains": normalize_domains(domains)}
        return super().to_internal_value(data)


class LevelStepSerializer(serializers.Serializer):
    note = api_fields.CharField(required=False, allow_blank=True, default="", max_length=10000)
    decision_number = api_fields.CharField(required=False, allow_blank=True, default="", max_length=60)
    decision_date = api_fields.DateField(required=False, allow_null=True, default=None)


class LevelEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = LevelEvent
        fields = ["action", "from_status", "to_status", "level", "actor_email", "at", "note",
                  "decision_number", "decision_date"]


class DossierFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = DossierFile
        fields = ["id", "original_name", "size", "sha256", "content_type", "uploaded_at"]


class DossierUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


# --- ISACs and memberships ----------------------------------------------------------


class IsacSerializer(serializers.ModelSerializer):
    name = api_fields.CharField(read_only=True)
    sector = CodeField(Sector, required=False, allow_null=True)
    operator = VisibleOrganizationField()
    members = VisibleOrganizationField(many=True, required=False)

    class Meta:
        model = Isac
        fields = ["id", "code", "name", "name_vi", "name_en", "sector", "operator", "members", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class MemberEmailField(serializers.EmailField):
    """The member, named by e-mail address. On a create any address is taken (an account is created if there is
    none, as on the page): looking it up among the accounts would answer whether the address has one."""

    def to_representation(self, value):
        return value.email if isinstance(value, User) else super().to_representation(value)

    def to_internal_value(self, data):
        return super().to_internal_value(data).strip().lower()


class MembershipSerializer(serializers.ModelSerializer):
    organization = VisibleOrganizationField()
    user = MemberEmailField(
        help_text=_("The person's e-mail address (`email` is taken as well)."),
        error_messages={"required": _("Give the person's e-mail address in the field “user”.")})
    role = serializers.ChoiceField(choices=Role.choices)
    full_name = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200,
                                      help_text=_("Full name, for an account created by this call."))
    confirm_national_role = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text=_("Must be true to grant the national coordinator role (rights over every organization)."))

    class Meta:
        model = Membership
        fields = ["id", "organization", "user", "role", "full_name", "confirm_national_role", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []  # one membership per user and organization: the service answers 409

    def to_internal_value(self, data):
        # The person is `user` (as the answer names them); `email`, what a caller naturally sends, is taken too.
        if hasattr(data, "get") and "user" not in data and data.get("email") not in (None, ""):
            data = {**{key: data.get(key) for key in data}, "user": data.get("email")}
        return super().to_internal_value(data)


class MemberSerializer(MembershipSerializer):
    """A membership as it is read (the list, one membership, a changed role): with the person's name, whether their
    two-step sign-in is on and whether their account is active. Not the answer of a create, which must read the same
    whether or not the address had an account."""

    name = serializers.CharField(source="user.full_name", read_only=True, help_text=_("The person's full name."))
    second_factor = serializers.SerializerMethodField(
        help_text=_("Whether the person has two-step sign-in on (an authenticator app is set up)."))
    active = serializers.BooleanField(source="user.is_active", read_only=True,
                                      help_text=_("Whether the person's account is active (can sign in)."))

    class Meta(MembershipSerializer.Meta):
        fields = ["id", "organization", "user", "role", "full_name", "confirm_national_role", "name", "second_factor",
                  "active", "created_at"]

    def get_second_factor(self, membership) -> bool:
        on = getattr(membership, "second_factor_on", None)  # `services.members_readable_by` annotates it
        if on is None:  # a membership just changed (not read through the list's queryset)
            on = has_confirmed_device(membership.user)
        return bool(on)


# --- Imports ------------------------------------------------------------------------


class ImportStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField()


class ImportJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "original_name", "status", "total_rows", "processed_rows", "percent", "finished",
                  "created_count", "updated_count", "unchanged_count", "errors", "created_at", "finished_at",
                  "attempts"]
        read_only_fields = fields
