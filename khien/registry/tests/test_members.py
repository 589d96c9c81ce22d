"""An organization's only administrator cannot lock the organization out of managing its members."""
import pytest

from khien.conftest import _user
from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.registry.models import Membership

pytestmark = pytest.mark.django_db


def test_the_only_administrator_cannot_demote_or_remove_themselves(world, api):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    client = api(world.admin)
    before = AuditEntry.objects.count()
    demoted = client.patch(f"/api/registry/memberships/{own.pk}/", {"role": "trainee"}, format="json")
    assert demoted.status_code == 409 and demoted.json()["code"] == "last_administrator"
    assert client.delete(f"/api/registry/memberships/{own.pk}/").status_code == 409
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN and AuditEntry.objects.count() == before
    # With a second administrator it is their own choice; the coordinator may always.
    second = _user("admin2@min.test.vn", world.ministry, Role.ORG_ADMIN)
    assert client.patch(f"/api/registry/memberships/{own.pk}/", {"role": "org_analyst"}, format="json").status_code == 200
    second_membership = Membership.objects.get(user=second)
    assert api(second).delete(f"/api/registry/memberships/{second_membership.pk}/").status_code == 409
    coordinator = api(world.coordinator)
    assert coordinator.delete(f"/api/registry/memberships/{second_membership.pk}/").status_code == 204
