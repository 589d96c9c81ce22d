from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import AuditEntry
from ..scoping import is_national_coordinator, memberships_of


class MeView(APIView):
    """Who the token belongs to, and the user's roles."""

    @extend_schema(responses=inline_serializer("Me", {
        "id": serializers.CharField(), "email": serializers.EmailField(), "full_name": serializers.CharField(),
        "national_coordinator": serializers.BooleanField(),
        "memberships": serializers.ListField(child=inline_serializer("MeMembership", {
            "organization": serializers.CharField(), "role": serializers.CharField()})),
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


class AuditEntryList(generics.ListAPIView):
    """The audit entries of the organizations the caller can see (all of them for the coordinator)."""

    serializer_class = AuditEntrySerializer
    filterset_fields = ["action", "object_type", "object_id", "organization_id", "actor_email"]
    ordering_fields = ["seq", "at"]

    def get_queryset(self):
        from ..views import audit_entries_visible_to

        return audit_entries_visible_to(self.request.user).order_by("-seq")
