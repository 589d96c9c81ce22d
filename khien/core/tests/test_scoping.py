"""Organization scoping: each role sees its organization and descendants, never another tree."""
import pytest

from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, user_can
from khien.registry.models import InformationSystem, Organization

pytestmark = pytest.mark.django_db


def codes(qs):
    return set(qs.values_list("code", flat=True))


def test_coordinator_sees_everything(world):
    assert codes(Organization.objects.visible_to(world.coordinator)) == codes(Organization.objects.all())
    assert is_national_coordinator(world.coordinator)


@pytest.mark.parametrize("who", ["admin", "analyst", "auditor", "trainee"])
def test_ministry_roles_see_their_tree_only(world, who):
    user = getattr(world, who)
    assert codes(Organization.objects.visible_to(user)) == {"MIN", "MIN-D1"}
    assert not is_national_coordinator(user)


def test_department_user_does_not_see_its_parent(world):
    assert codes(Organization.objects.visible_to(world.dept_analyst)) == {"MIN-D1"}


def test_user_without_membership_sees_nothing(world):
    assert not Organization.objects.visible_to(world.nobody).exists()


def test_inactive_user_sees_nothing(world):
    world.admin.is_active = False
    world.admin.save()
    assert not Organization.objects.visible_to(world.admin).exists()


def test_write_rights_follow_the_role_table(world):
    assert user_can(world.admin, Action.DELETE, world.department)
    assert user_can(world.analyst, Action.CHANGE, world.department)
    assert not user_can(world.analyst, Action.DELETE, world.department)
    assert not user_can(world.auditor, Action.CHANGE, world.ministry)
    assert not user_can(world.trainee, Action.ADD, world.ministry)
    assert not user_can(world.admin, Action.VIEW, world.province)
    assert not user_can(world.other_admin, Action.CHANGE, world.ministry)
    assert user_can(world.coordinator, Action.APPROVE_LEVEL, world.province)


def test_systems_visible_to_owner_and_operator_but_changeable_by_owner(world, make_system):
    own = make_system(world.ministry)
    operated = make_system(world.province, operator=world.ministry)
    other = make_system(world.province)
    visible = set(InformationSystem.objects.visible_to(world.analyst))
    assert own in visible and operated in visible and other not in visible
    changeable = set(InformationSystem.objects.restrict(world.analyst, Action.CHANGE))
    assert own in changeable and operated not in changeable


def test_multiple_memberships_union(world):
    from khien.registry.models import Membership

    Membership.objects.create(user=world.analyst, organization=world.province, role="auditor")
    world.analyst._khien_memberships = None
    visible = codes(Organization.objects.visible_to(world.analyst))
    assert visible == {"MIN", "MIN-D1", "PROV", "PROV-C1"}
    assert codes(Organization.objects.restrict(world.analyst, Action.CHANGE)) == {"MIN", "MIN-D1"}
