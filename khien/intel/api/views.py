"""Intel API: thin views over `khien.intel.services`; what a caller sees comes from `khien.intel.tlp`.

Collections the caller can neither read nor write, and object versions TLP
hides from it, are 404s. Writes go through the services, which check the
rights, validate and audit.
"""
import re

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from stix2.registry import STIX2_OBJ_MAPS

from khien.core.api.schema import refusal
from khien.core.api.parsers import LimitedJSONParser
from khien.core.api.strict import StrictFieldsMixin

from .. import indicator_status, search, services, services_versions, sightings, tlp, warninglists
from ..models import STIX_TYPE_LABELS, IndicatorKind, StixObject, Tlp
from . import serializers as s


class CollectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        viewsets.GenericViewSet):
    """Collections the caller may read or write; create one; set a member's rights; add STIX objects."""

    serializer_class = s.CollectionSerializer
    parser_classes = [LimitedJSONParser]
    filterset_fields = ["kind"]
    ordering_fields = ["title", "created"]

    def get_queryset(self):
        return tlp.collections_for(self.request.user).select_related("owner", "isac").order_by("title", "pk")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.do_create_collection(data, acting_user=self.request.user)

    @extend_schema(request=s.CollectionMemberSerializer,
                   responses={200: s.CollectionMemberSerializer, 201: s.CollectionMemberSerializer})
    @action(detail=True, methods=["post"])
    def members(self, request, pk=None):
        """Set a member organization's rights: 201 when it becomes a member, 200 otherwise.

        A right left out stays as it is (a new member reads and does not write);
        both false removes the member. The answer gives the rights now in force.
        """
        collection = self.get_object()
        serializer = s.CollectionMemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = data["organization"]
        was_member = collection.members.filter(organization=organization).exists()
        row = services.do_set_collection_member(collection, organization, can_read=data.get("can_read"),
                                                can_write=data.get("can_write"), acting_user=request.user)
        answer = {"organization": organization.code, "can_read": bool(row and row.can_read),
                  "can_write": bool(row and row.can_write)}
        created = row is not None and not was_member
        return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=s.AddObjectsSerializer,
                   responses={201: s.AddResultSerializer, 422: refusal(
                       "Not valid STIX (invalid_stix), an object names another platform organization as its "
                       "author or, a sighting, as where it was seen (foreign_creator), or is another "
                       "organization's AMBER/AMBER+STRICT/RED version this collection does not hold, or a RED one "
                       "sent with recipients (not_producer): nothing stored (every error)")})
    @action(detail=True, methods=["post"])
    def objects(self, request, pk=None):
        """Add a STIX bundle to the collection: every object valid, or nothing stored (422 with every error).
        The body is `{"bundle": …, "recipients": […]}`, or the STIX bundle itself (no recipients then).

        `created_by_ref` may be your organization's identity or an author outside the platform, never another
        platform organization's (422, code `foreign_creator`); likewise a sighting's `where_sighted_refs`."""
        collection = self.get_object()
        data = request.data
        # A plain STIX bundle, as MISP, OpenCTI and the STIX tools post it, is taken as `{"bundle": …}`.
        if isinstance(data, dict) and "bundle" not in data and data.get("type") == "bundle":
            data = {"bundle": data}
        serializer = s.AddObjectsSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        try:
            result = services.do_add_objects(collection, serializer.validated_data["bundle"],
                                             acting_user=request.user,
                                             recipients=serializer.validated_data.get("recipients"))
        except services.InvalidStix as exc:
            return Response({"detail": str(exc.message), "code": exc.code, "errors": exc.errors},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        objects = services.objects_of(serializer.validated_data["bundle"])
        answer = dict(s.AddResultSerializer(result).data)
        # as the indicator form and the import page: values the caller's organization already shares here
        answer["already_shared"], answer["already_shared_count"] = services.already_shared_in_submission(
            collection, objects, acting_user=request.user)
        listed = warninglists.listed_in(objects)
        answer["warnings"] = s.ListedValueSerializer(
            [{**f, "detail": warninglists.listed_message([f])} for f in listed], many=True).data
        return Response(answer, status=status.HTTP_201_CREATED)


class RevokeObjectsSerializer(StrictFieldsMixin, serializers.Serializer):
    ids = serializers.ListField(child=serializers.CharField(max_length=300, trim_whitespace=True), allow_empty=False,
                                help_text=f"The STIX ids to revoke (at most {services_versions.MAX_BULK}).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=services_versions.MAX_REASON,
                                   help_text="Why (optional): kept in the audit log and shown on each object's page.")


class RevokeSkippedSerializer(serializers.Serializer):
    id = serializers.CharField()
    reason = serializers.CharField(help_text="Why it was left as it was: `already_revoked`.")


class RevokeResultSerializer(serializers.Serializer):
    revoked = serializers.ListField(child=serializers.CharField(), help_text="The ids revoked now.")
    skipped = RevokeSkippedSerializer(many=True, help_text="The ids left as they were, and why.")


class StixObjectViewSet(viewsets.ReadOnlyModelViewSet):
    """Every STIX object version the caller may see (TLP), newest first."""

    serializer_class = s.StixObjectSerializer
    lookup_field = "stix_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["date_added", "modified"]

    def get_serializer_context(self):
        # The warning lists are compiled once per request, not once per value.
        return {**super().get_serializer_context(), "warninglists": warninglists.compiled()}

    def get_queryset(self):
        qs = tlp.visible_versions(self.request.user).select_related("producer").prefetch_related("indicator_values")
        params = self.request.query_params
        if params.get("type"):
            qs = qs.filter(stix_type__in=_types(params["type"]))
        if params.get("tlp"):
            qs = qs.filter(tlp__in=_tlp_levels(params["tlp"]))
        if params.get("status"):
            wanted = _listed(params["status"], indicator_status.STATUSES, "status")
            now = timezone.now()
            either = Q()
            for value in wanted:
                either |= indicator_status.current_status_q(value, now)
            qs = qs.filter(either)
        if params.get("collection"):
            readable = tlp.collections_for(self.request.user).filter(pk__in=_uuids(params["collection"]))
            qs = qs.filter(collection_entries__collection__in=readable)
        if params.get("value"):  # the search page's rule: networks holding an address, addresses inside a network
            qs = qs.filter(pk__in=sorted({pk for *_rest, pk in search.value_matches(params["value"]).rows}))
        return qs.distinct().order_by("-date_added", "-pk")

    @extend_schema(parameters=[
        OpenApiParameter("type", str, description=(
            "STIX types, comma-separated: the STIX 2.1 types or a custom x-… type (another word: 400).")),
        OpenApiParameter("tlp", str, description=(
            "TLP levels, comma-separated: clear (or white), green, amber, amber+strict (also amber_strict; an "
            "unencoded + arrives as a space, also accepted), red. Another word: 400.")),
        OpenApiParameter("status", str, description=(
            "active, expired, revoked, not_yet_valid (comma-separated): objects whose latest version has that "
            "status; only latest versions are listed then. Another word: 400.")),
        OpenApiParameter("collection", str, description="Only the versions held by this collection (id)."),
        OpenApiParameter("value", str, description=(
            "Indicators whose pattern names this IP, domain, URL, e-mail or hash, as the search page matches it: "
            "an address also finds the networks (CIDR) that contain it, a network the addresses and networks "
            "inside it, a domain its parent domains.")),
    ])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_object(self):
        """The latest visible version of the object (all versions: `versions/`)."""
        obj = self.get_queryset().filter(stix_id=self.kwargs["stix_id"]).order_by("-modified").first()
        if obj is None:
            get_object_or_404(StixObject.objects.none())
        return obj

    @extend_schema(request=s.SightingSerializer, responses={201: s.StixObjectSerializer, 403: refusal(
        "The collection is not one you may write"), 409: refusal("The indicator is revoked (revoked)")})
    @action(detail=True, methods=["post"], parser_classes=[LimitedJSONParser])
    def sighting(self, request, stix_id=None):
        """Record that your organization saw this indicator: a STIX sighting created by and sighted at your
        organization (AMBER+STRICT unless `tlp` says otherwise), stored in `collection`. An indicator you may not
        see is a 404."""
        serializer = s.SightingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = sightings.do_record_sighting(stix_id, dict(serializer.validated_data), acting_user=request.user)
        return Response(s.StixObjectSerializer(row, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=RevokeObjectsSerializer, responses={
        200: RevokeResultSerializer,
        403: refusal("Some objects are not your organization's to revoke (forbidden; `ids` names them): nothing "
                     "revoked"),
        404: refusal("Some ids are unknown or of objects you may not see, answered alike (not_found; `ids` names "
                     "them): nothing revoked"),
        409: refusal("Some objects were stored with parts nested too deep to be changed here (summarized; `ids`): "
                     "nothing revoked")})
    @action(detail=False, methods=["post"], url_path="revoke", parser_classes=[LimitedJSONParser])
    def revoke(self, request):
        """Revoke many objects at once (a bad import), all or nothing: each gets a new version with
        `revoked: true` (as the object's page does), and one audit entry with the reason. Only the organization
        that created an object revokes it. Those already revoked are skipped and listed in `skipped`. At most
        500 ids (400 beyond)."""
        serializer = RevokeObjectsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = services_versions.do_revoke_objects(data["ids"], acting_user=request.user,
                                                         reason=data.get("reason", ""))
        except services_versions.IdsRefused as exc:
            return Response({"detail": str(exc.message), "code": exc.code, "ids": exc.ids}, status=exc.status)
        return Response(RevokeResultSerializer(result).data)

    @extend_schema(responses={200: s.StixObjectSerializer(many=True)})
    @action(detail=True, pagination_class=None)
    def versions(self, request, stix_id=None):
        """Every version of the object the caller may see, oldest first."""
        qs = self.get_queryset().filter(stix_id=stix_id).order_by("modified")
        if not qs.exists():
            get_object_or_404(StixObject.objects.none())
        return Response(s.StixObjectSerializer(qs, many=True, context=self.get_serializer_context()).data)


MAX_PROVENANCE = 1000


class ValueProvenanceView(APIView):
    """Every visible indicator that names a value, grouped by (kind, value): who says so, how sure, until when.

    Identical indicators from several producers are one entry with all their
    provenance. Visibility is `tlp.visibility_q` only: an indicator the caller
    may not see is neither listed nor counted.
    """

    @extend_schema(parameters=[
        OpenApiParameter("value", str, required=True,
                         description="An IP address, CIDR, domain, URL, e-mail address or hash."),
        OpenApiParameter("kind", str, enum=IndicatorKind.values, description="Only values of this kind."),
    ], responses={200: s.ValueProvenanceSerializer(many=True)})
    def get(self, request):
        raw = request.query_params.get("value", "")
        kind = request.query_params.get("kind", "")
        if not raw.strip() or len(raw) > 2048:
            raise ValidationError({"value": _("Give a value (at most 2048 characters).")})
        if kind and kind not in IndicatorKind.values:
            raise ValidationError({"kind": _("Unknown value kind.")})
        return Response(value_provenance(request.user, raw, kind or None))


def value_provenance(user, raw: str, kind: str | None = None) -> list[dict]:
    """The provenance entries of a searched value (see `ValueProvenanceView`): the values it matches by the
    search page's rule (`search.value_matches`), each with why (`match`)."""
    visible = tlp.visibility_q(user)
    if visible is None:
        return []
    matches = search.value_matches(raw)
    rows = [row for row in matches.rows if not kind or row[0] == kind]
    pks = sorted({pk for *_rest, pk in rows})
    objects: dict[int, StixObject] = {}
    for start in range(0, len(pks), 500):
        objects.update((o.pk, o) for o in StixObject.objects.filter(pk__in=pks[start:start + 500],
                                                                     stix_type="indicator")
                       .filter(visible).select_related("producer"))
    # Per (kind, value): the latest visible version of each indicator.
    latest: dict[tuple[str, str], dict[str, StixObject]] = {}
    for value_kind, value, _stix_id, pk in sorted((r for r in rows if r[3] in objects),
                                                  key=lambda r: (objects[r[3]].modified, r[3])):
        latest.setdefault((value_kind, value), {})[objects[pk].stix_id] = objects[pk]
    lists = warninglists.compiled()
    now = timezone.now()
    entries = []
    order = {"exact": 0, "inside": 1, "network": 2, "parent": 3}
    for (value_kind, value), by_id in sorted(latest.items(),
                                             key=lambda kv: (order[matches.why_of[kv[0]]], kv[0][1], kv[0][0])):
        objects = sorted(by_id.values(), key=lambda o: (o.date_added, o.pk))[:MAX_PROVENANCE]
        indicators = [{
            "stix_id": o.stix_id,
            "version": o.modified,
            "name": str(o.data.get("name", "")),
            "producer": o.producer.code if o.producer else None,
            "producer_name": o.producer.name if o.producer else "",
            "created_by_ref": o.created_by_ref,
            "confidence": o.confidence,
            "tlp": o.tlp,
            "valid_from": o.valid_from,
            "valid_until": o.valid_until,
            "revoked": o.revoked,
            "active": not o.revoked and (o.valid_until is None or o.valid_until > now),
            "date_added": o.date_added,
        } for o in objects]
        entries.append({
            **warninglists.flag(value_kind, value, lists),
            "match": matches.why_of[(value_kind, value)],
            "producers": sorted({i["producer"] for i in indicators if i["producer"]}),
            "indicator_count": len(indicators),
            "active_count": sum(1 for i in indicators if i["active"]),
            "first_added": indicators[0]["date_added"],
            "last_added": indicators[-1]["date_added"],
            "indicators": indicators,
        })
    return s.ValueProvenanceSerializer(entries, many=True).data


def _uuids(raw: str) -> list:
    import uuid

    found = []
    for part in raw.split(","):
        try:
            found.append(uuid.UUID(part.strip()))
        except ValueError:
            continue
    return found


CUSTOM_TYPE = re.compile(r"^x-[a-z0-9][a-z0-9-]{0,247}$")
TLP_WORDS = {"clear": Tlp.CLEAR, "white": Tlp.CLEAR, "green": Tlp.GREEN, "amber": Tlp.AMBER,
             "amber+strict": Tlp.AMBER_STRICT, "amber_strict": Tlp.AMBER_STRICT, "amber strict": Tlp.AMBER_STRICT,
             "red": Tlp.RED}


def _listed(raw: str, accepted, name: str) -> list[str]:
    """The comma-separated words of a list filter; 400 naming the accepted ones when a word is not one
    (a typo would otherwise answer an empty list, as if nothing matched)."""
    words = [w.strip().lower() for w in raw.split(",") if w.strip()]
    bad = [w for w in words if w not in accepted]
    if bad:
        raise ValidationError({name: _("Unknown value(s) %(bad)s; accepted: %(accepted)s.") % {
            "bad": ", ".join(f"“{w[:60]}”" for w in bad[:5]), "accepted": ", ".join(accepted)}})
    return words


def _tlp_levels(raw: str) -> list[str]:
    """TLP words as people and tools write them: amber+strict, amber_strict, "amber strict" (a '+' sent
    unencoded arrives as a space), with or without "tlp:"; white is clear."""
    words = ",".join(" ".join(w.strip().lower().removeprefix("tlp:").split()) for w in raw.split(","))
    return sorted({TLP_WORDS[w] for w in _listed(words, list(TLP_WORDS), "tlp")})


# Every STIX 2.1 object type (stix2's registry, less the bundle, which is never stored) and what the labels know.
STIX_TYPES = sorted(({*STIX2_OBJ_MAPS["2.1"]["objects"], *STIX2_OBJ_MAPS["2.1"]["observables"],
                      *STIX_TYPE_LABELS}) - {"bundle"})


def _types(raw: str) -> list[str]:
    """STIX types: the STIX 2.1 ones or a custom x-… one; 400 naming the accepted ones otherwise."""
    words = [w.strip().lower() for w in raw.split(",") if w.strip()]
    known = STIX_TYPES
    return _listed(",".join(w for w in words if not CUSTOM_TYPE.match(w)), known, "type") + [
        w for w in words if CUSTOM_TYPE.match(w)]
