"""Serializers of the intel API: translation between JSON and the services' arguments, never saving.

Organizations are named by their code. Any active organization of the platform
may be named as a collection member or a recipient (sharing crosses
organization trees); the services check the caller's rights.
"""
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from khien.core.api import fields as api_fields
from khien.registry.models import Isac, Organization

from .. import indicator_status, tlp, warninglists
from ..models import Collection, CollectionKind, CollectionMember, StixObject


class OrganizationCodeField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Organization.objects.filter(is_active=True))
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.STR)
class IsacCodeField(serializers.SlugRelatedField):
    """An ISAC named by its code, looked up among the ISACs the caller may see (`Isac.objects.visible_to`): any
    other code is "does not exist", worded the same whether such an ISAC exists or not."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        super().__init__(**kwargs)

    def get_queryset(self):
        user = getattr(self.context.get("request"), "user", None)
        return Isac.objects.visible_to(user) if user is not None else Isac.objects.none()


def _member_right(name: str) -> serializers.BooleanField:
    """A right of a member; left out, it stays as it is (a new member: the model's default)."""
    model_field = CollectionMember._meta.get_field(name)
    return serializers.BooleanField(required=False, label=model_field.verbose_name)


class CollectionMemberSerializer(serializers.ModelSerializer):
    """The rights an organization gets; a right left out stays as it is (new member: read, not write)."""

    organization = OrganizationCodeField()
    can_read = _member_right("can_read")
    can_write = _member_right("can_write")

    class Meta:
        model = CollectionMember
        fields = ["organization", "can_read", "can_write"]


class CollectionSerializer(serializers.ModelSerializer):
    owner = OrganizationCodeField()
    isac = IsacCodeField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=CollectionKind.choices, default=CollectionKind.GROUP)
    alias = api_fields.CharField(required=False, allow_blank=True, max_length=63)
    can_read = serializers.SerializerMethodField()
    can_write = serializers.SerializerMethodField()
    taxii_url = serializers.SerializerMethodField()

    class Meta:
        model = Collection
        fields = ["id", "title", "description", "kind", "owner", "isac", "alias", "is_public", "created",
                  "can_read", "can_write", "taxii_url"]
        read_only_fields = ["id", "created", "is_public"]

    def get_can_read(self, obj) -> bool:
        return tlp.can_read_collection(self.context["request"].user, obj)

    def get_can_write(self, obj) -> bool:
        return tlp.can_write_collection(self.context["request"].user, obj)

    def get_taxii_url(self, obj) -> str:
        return self.context["request"].build_absolute_uri(f"/taxii2/api/collections/{obj.pk}/")


class IndicatorValueFlagSerializer(serializers.Serializer):
    kind = api_fields.CharField()
    value = api_fields.CharField()
    warning_listed = serializers.BooleanField(help_text=_("The value is on a warning list: never treat it as malicious."))
    warninglists = serializers.ListField(child=api_fields.CharField(), help_text=_("The lists it hits."))


def flagged_values(obj: StixObject, lists) -> list[dict]:
    """The values indexed from an indicator's pattern, each with the warning lists it hits."""
    if obj.stix_type != "indicator":
        return []
    values = sorted((v.kind, v.value) for v in obj.indicator_values.all())
    return [warninglists.flag(kind, value, lists) for kind, value in values]


class StixObjectSerializer(serializers.ModelSerializer):
    """A stored version; for indicators also `values`: the observable values of the pattern, flagged.

    The view passes the compiled warning lists in the context (`warninglists`, compiled once per
    request) and prefetches `indicator_values`.
    """

    producer = OrganizationCodeField(read_only=True)
    version = api_fields.DateTimeField(source="modified", read_only=True)
    values = serializers.SerializerMethodField()
    # This version's status now (`indicator_status`: the rule the `status` filter, blocklists and matching follow)
    # and whether it is known-good (`benign`: never blocked nor matched).
    status = serializers.SerializerMethodField()

    class Meta:
        model = StixObject
        fields = ["stix_id", "stix_type", "spec_version", "version", "created", "created_by_ref", "producer", "tlp",
                  "marking_refs", "valid_from", "valid_until", "revoked", "status", "benign", "confidence", "labels",
                  "date_added", "values", "data"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=indicator_status.STATUSES))
    def get_status(self, obj) -> str:
        now = self.context.get("now")
        if now is None:
            now = self.context["now"] = timezone.now()
        return indicator_status.status_of(obj, now)

    @extend_schema_field(IndicatorValueFlagSerializer(many=True))
    def get_values(self, obj):
        lists = self.context.get("warninglists")
        if lists is None:
            lists = self.context["warninglists"] = warninglists.compiled()
        return flagged_values(obj, lists)


class ProvenanceSerializer(serializers.Serializer):
    """One visible indicator (its latest visible version) that carries a value."""

    stix_id = api_fields.CharField()
    version = api_fields.DateTimeField()
    name = api_fields.CharField(allow_blank=True)
    producer = api_fields.CharField(allow_null=True, help_text=_("Code of the producer organization."))
    producer_name = api_fields.CharField(allow_blank=True)
    created_by_ref = api_fields.CharField(allow_blank=True)
    confidence = serializers.IntegerField(allow_null=True)
    tlp = api_fields.CharField()
    valid_from = api_fields.DateTimeField(allow_null=True)
    valid_until = api_fields.DateTimeField(allow_null=True)
    revoked = serializers.BooleanField()
    active = serializers.BooleanField(help_text=_("Neither revoked nor past valid_until."))
    date_added = api_fields.DateTimeField()


class ValueProvenanceSerializer(serializers.Serializer):
    kind = api_fields.CharField()
    value = api_fields.CharField()
    match = serializers.ChoiceField(
        choices=["exact", "network", "inside", "parent"],
        help_text=_("Why this value matches the one searched: the value itself, a network that contains the "
                    "address, an address or network inside the network, a parent domain of the domain."))
    warning_listed = serializers.BooleanField()
    warninglists = serializers.ListField(child=api_fields.CharField())
    producers = serializers.ListField(child=api_fields.CharField(), help_text=_("Codes of the producers."))
    indicator_count = serializers.IntegerField()
    active_count = serializers.IntegerField()
    first_added = api_fields.DateTimeField()
    last_added = api_fields.DateTimeField()
    indicators = ProvenanceSerializer(many=True)


class AddObjectsSerializer(serializers.Serializer):
    """A STIX bundle (or a list of objects) and, for TLP:RED objects, the recipient organizations."""

    bundle = serializers.JSONField(help_text=_("A STIX 2.1 bundle, a TAXII envelope or a list of objects."))
    recipients = OrganizationCodeField(many=True, required=False)


class SightingSerializer(serializers.Serializer):
    """A sighting recorded by hand (`sightings.do_record_sighting`): the caller's organization saw the indicator."""

    collection = serializers.PrimaryKeyRelatedField(
        queryset=Collection.objects.all(), help_text=_("A collection you may write, to keep the sighting in."))
    tlp = serializers.ChoiceField(choices=["clear", "green", "amber", "amber_strict"], default="amber_strict")
    count = serializers.IntegerField(min_value=1, max_value=999_999_999, default=1)
    first_seen = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text=_("Default: the last sighting."))
    last_seen = serializers.DateTimeField(required=False, allow_null=True, help_text=_("Default: now."))
    description = api_fields.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ListedValueSerializer(serializers.Serializer):
    """An indicator value of the submission that is on a warning list (`warninglists.listed_in`)."""

    id = serializers.CharField(help_text=_("The indicator's STIX id."))
    kind = serializers.CharField()
    value = serializers.CharField()
    warninglists = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField()


class AlreadySharedSerializer(serializers.Serializer):
    """A value your organization already shares in the collection: an active indicator of its own holds it."""

    kind = serializers.CharField()
    value = serializers.CharField()
    id = serializers.CharField(help_text=_("The indicator that already shares it (its STIX id)."))


class AddResultSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    added_to_collection = serializers.IntegerField()
    already_in_collection = serializers.IntegerField(help_text=_(
        "Objects sent that this collection already held (the same id and version): not added again."))
    already_shared = AlreadySharedSerializer(many=True, required=False, help_text=_(
        "Values of the indicators sent that your organization already shares in this collection (an active "
        "indicator of its own holds them): stored all the same; the first 10. Sending the same objects again is "
        "no repetition of their values."))
    already_shared_count = serializers.IntegerField(required=False, help_text=_("How many such values in all."))
    # Stored all the same: a warning, not a refusal (existing clients read the counts as before).
    warnings = ListedValueSerializer(many=True, required=False, help_text=_(
        "Indicator values on a warning list (a private address, a well-known resolver…): stored, but left out of "
        "the blocklists and the SOC matching."))


