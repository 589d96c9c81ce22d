from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.api import fields as api_fields
from khien.core.api.strict import StrictListView
from khien.core.filters import AuditEntryFilterSet, flag

from .. import notifications
from ..models import AuditEntry, Notification
from ..scoping import is_national_coordinator, memberships_of


class MeView(APIView):
    """Who the token belongs to, and the user's roles."""

    @extend_schema(responses=inline_serializer("Me", {
        "id": api_fields.CharField(), "email": serializers.EmailField(), "full_name": api_fields.CharField(),
        "national_coordinator": serializers.BooleanField(),
        "memberships": serializers.ListField(child=inline_serializer("MeMembership", {
            "organization": api_fields.CharField(), "role": api_fields.CharField()})),
    }))
    def get(self, request):
        user = request.user
        return Response({
            "id": str(user.pk),
            "email": user.email,
            "full_name": user.full_name,
            "national_coordinator": is_national_coordinator(user),
            "memberships": [{"organization": str(org_id), "role": role} for role, _p, org_id in memberships_of(user)],
        })


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["seq", "at", "actor_id", "actor_email", "organization_id", "action", "object_type", "object_id",
                  "object_repr", "before", "after", "prev_hash", "hash"]


class AuditEntryList(StrictListView):
    """The audit entries the caller may read (`AuditEntry.objects.visible_to`: the entries of the organizations
    the caller sees and the caller's own actions; all of them for the coordinator), filtered as on the log page:
    `q` (object, or who), `actor` (e-mail, name or id), `action`, `since`/`until` (ISO 8601 or dd/mm/yyyy; `until`
    is the end of the period, not taken in, and a date alone the end of that day, as in the telemetry lists).
    Another parameter, or an `ordering` by another field, is a 400 naming what it takes (`StrictListView`)."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    ordering_fields = ["seq", "at"]

    def get_queryset(self):
        return AuditEntry.objects.visible_to(self.request.user).order_by("-seq")


class AuditEntryDetail(generics.RetrieveAPIView):
    """One audit entry, by its sequence number; 404 for an entry the caller may not read."""

    serializer_class = AuditEntrySerializer
    lookup_field = "seq"

    def get_queryset(self):
        return AuditEntry.objects.visible_to(self.request.user)


class NotificationSerializer(serializers.ModelSerializer):
    # In the caller's language (Accept-Language) where the notification was written as a `core.texts.Text`.
    title = api_fields.CharField(source="shown_title", read_only=True, label=capfirst(_("title")))
    body = api_fields.CharField(source="shown_body", read_only=True, label=capfirst(_("text")))

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "urgent", "created_at", "read_at"]


@extend_schema_view(get=extend_schema(parameters=[
    OpenApiParameter("unread", bool, description="Only the notifications not yet read.")]))
class NotificationList(StrictListView):
    """The caller's own notifications, newest first (`?unread=true` for the unread ones); `ordering=created_at`
    (or `-created_at`). Another parameter is a 400 naming what it takes (`StrictListView`)."""

    serializer_class = NotificationSerializer
    extra_parameters = ("unread",)
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Notification.objects.none()
        items = Notification.objects.filter(recipient=self.request.user)
        if flag(self.request.query_params, "unread"):
            items = items.filter(read_at__isnull=True)
        return items


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, allow_empty=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, data):
        if not data["all"] and not data.get("ids"):
            raise serializers.ValidationError({"ids": [_("Give the ids of the notifications, or all: true.")]})
        return data


class NotificationRead(APIView):
    """Mark notifications read: `{"ids": [...]}`, or `{"all": true}` (JSON or a form)."""

    @extend_schema(request=NotificationReadSerializer,
                   responses=inline_serializer("NotificationReadResult", {"marked": serializers.IntegerField()}))
    def post(self, request):
        body = NotificationReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["all"]:
            return Response({"marked": notifications.mark_read(request.user)})
        return Response({"marked": notifications.mark_read(request.user, body.validated_data["ids"])})
