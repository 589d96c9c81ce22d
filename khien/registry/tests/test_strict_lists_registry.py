"""An analyst scripting against the registry API: every list (and export) takes only its filters. A misspelt filter
(`?interet_facing=true`), an order it does not follow or a value a filter does not take is a 400 naming what is
accepted, not the whole registry as if it had been filtered; an organization code outside the reader's scope is
answered exactly like one that does not exist."""
import pytest

from khien.conftest import refusal
from khien.core.roles import Role
from khien.registry.models import Membership

pytestmark = pytest.mark.django_db
BASE = "/api/registry/"
UNKNOWN_ORG = "No organization with this code among those you may see."


@pytest.mark.parametrize("path, accepted", [
    ("organizations/", "org_type"), ("systems/", "internet_facing"), ("isacs/", "sector"),
    ("memberships/", "organization__code"), ("sectors/", "code"), ("provinces/", "region"),
    ("level-frameworks/", "is_current"), ("imports/", "status"),
    ("organizations/export/", "file_format"), ("systems/export/", "file_format"),
])
def test_every_registry_list_refuses_an_unknown_parameter(world, reader, path, accepted):
    answer = refusal(reader(world.coordinator).get(f"{BASE}{path}", {"bogus": "1"}))
    assert answer["code"] == "unknown_parameter"
    assert "bogus" in answer["detail"] and accepted in answer["detail"]


def test_a_systems_own_lists_take_no_parameter(world, reader, make_system):
    system = make_system(world.ministry)
    client = reader(world.admin)
    for path in ("events/", "dossier/"):
        assert client.get(f"{BASE}systems/{system.pk}/{path}").status_code == 200
        answer = refusal(client.get(f"{BASE}systems/{system.pk}/{path}", {"limit": "5"}))
        assert answer["code"] == "unknown_parameter" and "limit" in answer["detail"]
    # Another organization's system stays a 404, whatever the query.
    assert reader(world.other_admin).get(f"{BASE}systems/{system.pk}/events/", {"bogus": 1}).status_code == 404


def test_a_misspelt_filter_is_refused_not_ignored(world, reader, make_system):
    make_system(world.ministry, internet_facing=True)
    make_system(world.ministry, internet_facing=False)
    client = reader(world.admin)
    answer = refusal(client.get(f"{BASE}systems/", {"interet_facing": "true"}))
    assert "interet_facing" in answer["detail"] and "internet_facing" in answer["detail"]
    rows = client.get(f"{BASE}systems/", {"internet_facing": "true", "limit": 10, "offset": 0, "format": "json"})
    assert rows.status_code == 200 and rows.json()["count"] == 1


def test_registry_filters_still_filter(world, reader):
    client = reader(world.coordinator)
    codes = [row["code"] for row in client.get(f"{BASE}organizations/", {"org_type": "ministry"}).json()["results"]]
    assert codes == ["MIN"]
    emails = {row["user"] for row in client.get(
        f"{BASE}memberships/", {"organization__code": "MIN", "role": Role.AUDITOR}).json()["results"]}
    assert emails == {world.auditor.email}
    regions = {row["region"] for row in client.get(f"{BASE}provinces/", {"region": "north"}).json()["results"]}
    assert regions == {"north"}
    assert client.get(f"{BASE}level-frameworks/", {"is_current": "true"}).status_code == 200
    ordered = client.get(f"{BASE}organizations/", {"ordering": "-code"}).json()["results"]
    assert [row["code"] for row in ordered] == sorted((row["code"] for row in ordered), reverse=True)


@pytest.mark.parametrize("path, params, field, value", [
    ("organizations/", {"org_type": "ministy"}, "org_type", "ministry"),
    ("systems/", {"level_status": "aproved"}, "level_status", "approved"),
    ("systems/", {"level": "7"}, "level", "5"),
    ("memberships/", {"role": "boss"}, "role", Role.ORG_ADMIN),
    ("provinces/", {"region": "west"}, "region", "north"),
    ("imports/", {"status": "lost"}, "status", "pending"),
])
def test_a_bad_choice_is_refused_naming_the_values_taken(world, reader, path, params, field, value):
    answer = refusal(reader(world.coordinator).get(f"{BASE}{path}", params))
    wrong = next(iter(params.values()))
    assert answer[field][0].startswith(f"Unknown value “{wrong}”: use one of ") and value in answer[field][0]


def test_bad_flags_dates_and_orderings_are_refused(world, reader):
    client = reader(world.coordinator)
    assert "internet_facing" in refusal(client.get(f"{BASE}systems/", {"internet_facing": "maybe"}))
    assert "updated_after" in refusal(client.get(f"{BASE}organizations/", {"updated_after": "last week"}))
    answer = refusal(client.get(f"{BASE}systems/", {"ordering": "-waiting"}))
    assert answer["code"] == "unknown_ordering" and "waiting_since" in answer["detail"]
    assert client.get(f"{BASE}systems/", {"ordering": "-waiting_since"}).status_code == 200


def test_an_organization_out_of_scope_is_answered_like_one_that_does_not_exist(world, reader, make_system):
    make_system(world.province)
    client = reader(world.admin)  # the ministry's: PROV is not theirs to see
    for path, name in (("systems/", "owner"), ("organizations/", "parent"), ("memberships/", "organization__code")):
        unknown = refusal(client.get(f"{BASE}{path}", {name: "NOPE"}))
        hidden = refusal(client.get(f"{BASE}{path}", {name: "PROV"}))
        assert unknown == hidden == {name: [UNKNOWN_ORG]}
    # Their own still filters.
    assert client.get(f"{BASE}organizations/", {"parent": "MIN"}).json()["count"] == 1
    assert client.get(f"{BASE}memberships/", {"organization__code": "MIN"}).json()["count"] == \
        Membership.objects.filter(organization=world.ministry).count()


def test_an_owner_outside_scope_under_a_system_the_reader_sees_is_taken(world, reader, make_system):
    # A system the ministry operates for another organization: its owner's code names rows the reader sees.
    make_system(world.province, operator=world.ministry)
    rows = reader(world.admin).get(f"{BASE}systems/", {"owner": "PROV"})
    assert rows.status_code == 200, rows.content
    assert rows.json()["count"] == 1
