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


@pytest.mark.postgres  # SQLite serializes writers: the second would not reach the unique index
@pytest.mark.django_db(transaction=True)
def test_two_requests_giving_one_user_a_role_at_once_end_in_one_membership_and_a_409(world):
    """The second insert meets the first's row in the unique index (it was a 500): one wins, the other is told."""
    import threading

    from django.db import connection, transaction

    from khien.core.errors import Refused
    from khien.registry import services

    newcomer = _user("new@min.test.vn", None, None)
    first_inserted, second_done = threading.Event(), threading.Event()
    outcome = {}

    def second():
        try:
            first_inserted.wait(10)
            services.do_set_membership(world.ministry, newcomer, Role.ORG_ANALYST, acting_user=world.admin)
            outcome["second"] = "stored"
        except Refused as exc:
            outcome["second"] = exc.status
        finally:
            second_done.set()
            connection.close()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        services.do_set_membership(world.ministry, newcomer, Role.ORG_ADMIN, acting_user=world.admin)
        first_inserted.set()
        second_done.wait(2)  # the second now waits on the first's uncommitted row in the unique index
    thread.join(30)
    assert outcome["second"] == 409
    assert list(Membership.objects.filter(user=newcomer).values_list("role", flat=True)) == [Role.ORG_ADMIN]
