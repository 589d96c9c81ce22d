"""The audit log's period reads as telemetry's (`until` is where the period ends, not taken in; a date alone is the
end of that whole day; a start after the end is refused), on the page, its CSV and the API alike; and sign-ins are
filed under the organization of the person who signed in, so that the organization's administrators and auditors
read them — and other organizations do not."""
import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from khien.conftest import TEST_PASSWORD, _user
from khien.core import audit
from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.registry.models import Membership

pytestmark = pytest.mark.django_db


def _page(client, **params) -> set[int]:
    response = client.get(reverse("core:audit"), params)
    assert response.status_code == 200, response.content[:800]
    return {e.seq for e in response.context["page"]}


def _api(api_client, **params) -> set[int]:
    response = api_client.get("/api/audit/", {"limit": 500, **params})
    assert response.status_code == 200, response.content[:800]
    return {row["seq"] for row in response.json()["results"]}


def _csv(client, **params) -> set[int]:
    response = client.get(reverse("core:audit_export"), params)
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[1:]
    return {int(line.split(",", 1)[0]) for line in lines}


# --- the period --------------------------------------------------------------------------------------------

def test_until_is_the_end_of_the_period_not_taken_in(client, world, api, make_system):
    """An entry written at T is not in a period that ends at T (the next period starts there): page, CSV and API."""
    system = make_system(world.ministry)
    entry = audit.record(audit.Act.CREATE, system, actor=world.analyst)
    at = timezone.localtime(entry.at)
    after = at + dt.timedelta(seconds=1)
    client.force_login(world.admin)
    reader = api(world.admin)
    # to the microsecond for the API; to the minute on the page (dd/mm/yyyy hh:mm), as people type it
    assert entry.seq not in _api(reader, until=at.isoformat())
    assert entry.seq in _api(reader, until=(at + dt.timedelta(microseconds=1)).isoformat())
    assert entry.seq in _api(reader, since=at.isoformat(), until=after.isoformat())
    minute = at.replace(second=0, microsecond=0)
    for found in (lambda **p: _page(client, **p), lambda **p: _csv(client, **p)):
        assert entry.seq not in found(until=minute.strftime("%d/%m/%Y %H:%M"))
        assert entry.seq in found(until=(minute + dt.timedelta(minutes=1)).strftime("%d/%m/%Y %H:%M"))
    # consecutive periods meet without overlap: the entry is in exactly one of them
    middle = at.isoformat()
    first = _api(reader, since=(at - dt.timedelta(hours=1)).isoformat(), until=middle)
    second = _api(reader, since=middle, until=(at + dt.timedelta(hours=1)).isoformat())
    assert (entry.seq in first) + (entry.seq in second) == 1


def test_a_date_alone_in_until_is_the_end_of_that_whole_day(client, world, api, make_system):
    system = make_system(world.ministry)
    entry = audit.record(audit.Act.CREATE, system, actor=world.analyst)
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    client.force_login(world.admin)
    reader = api(world.admin)
    assert entry.seq in _api(reader, since=today.isoformat(), until=today.isoformat())
    assert entry.seq not in _api(reader, until=yesterday.isoformat())
    for found in (lambda **p: _page(client, **p), lambda **p: _csv(client, **p)):
        day = today.strftime("%d/%m/%Y")
        assert entry.seq in found(since=day, until=day)
        assert entry.seq not in found(until=yesterday.strftime("%d/%m/%Y"))


def test_a_start_after_the_end_is_refused_with_a_message(client, world, api):
    client.cookies["khien_language"] = "en"
    client.force_login(world.admin)
    page = client.get(reverse("core:audit"), {"since": "06/12/2026 08:00", "until": "06/12/2026 07:00"})
    assert page.status_code == 400
    assert "The start of the period is after its end." in page.content.decode()
    # a date alone in `until` is the end of that day: since the 7th until the 6th starts after it ends; the
    # download refuses it as the page does, and records no export
    exports = AuditEntry.objects.filter(action=audit.Act.EXPORT).count()
    for path in (reverse("core:audit"), reverse("core:audit_export")):
        response = client.get(path, {"since": "07/12/2026", "until": "06/12/2026"})
        assert response.status_code == 400
        assert "The start of the period is after its end." in response.content.decode()
    assert AuditEntry.objects.filter(action=audit.Act.EXPORT).count() == exports
    assert _page(client, since="06/12/2026 08:00", until="06/12/2026") == set()  # from 08:00 to the day's end
    response = api(world.admin).get("/api/audit/", {"since": "2026-12-07", "until": "2026-12-06"},
                                     HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["until"] == ["The start of the period is after its end."]
    # the one rule of the platform's periods: telemetry's lists refuse it alike
    telemetry = api(world.admin).get("/api/telemetry/events/", {"since": "2026-12-07", "until": "2026-12-06"},
                                     HTTP_ACCEPT_LANGUAGE="en")
    assert telemetry.status_code == 400 and telemetry.json()["until"] == ["The start of the period is after its end."]
    # an empty period (the same instant twice) is not refused: it holds nothing
    same = "2026-12-06T08:00:00+07:00"
    assert _api(api(world.admin), since=same, until=same) == set()


def test_the_api_explains_its_dates_in_iso_8601(world, api):
    response = api(world.admin).get("/api/audit/", {"until": "31/02/2026"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["until"][0]


# --- sign-ins filed under the organization -----------------------------------------------------------------

def _sign_in(user):
    """`user` signs in through the sign-in page (its own browser); their sign-in entries."""
    response = Client().post("/accounts/login/", {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return list(AuditEntry.objects.filter(action=audit.Act.LOGIN, actor_id=str(user.pk)).order_by("seq"))


def test_a_sign_in_is_filed_under_the_organization_and_read_by_its_admin_and_auditor(client, world, api):
    (entry,) = _sign_in(world.analyst)
    assert entry.organization_id == str(world.ministry.pk)
    assert entry.seq in _api(api(world.coordinator), action="login")
    for reader in (world.admin, world.auditor):
        client.force_login(reader)
        assert entry.seq in _page(client, action="login")
        assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200
        assert entry.seq in _api(api(reader), action="login")
        assert api(reader).get(f"/api/audit/{entry.seq}/").status_code == 200
    # the page names the organization
    client.force_login(world.admin)
    assert world.ministry.name_vi in client.get(reverse("core:audit_entry", args=[entry.seq]),
                                                HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert audit.verify().ok


def test_another_organization_does_not_read_the_sign_in(client, world, api):
    """Denial: the province's administrator, a responder company and a person with no role see nothing of a
    ministry analyst's sign-in: not listed, not downloaded, and its entry answers 404 as if it did not exist."""
    (entry,) = _sign_in(world.analyst)
    for reader in (world.other_admin, world.responder, world.nobody):
        client.force_login(reader)
        assert entry.seq not in _page(client)
        assert entry.seq not in _csv(client)
        assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 404
        assert entry.seq not in _api(api(reader))
        assert api(reader).get(f"/api/audit/{entry.seq}/").status_code == 404


def test_a_units_sign_in_is_read_by_the_unit_and_its_parent_not_by_a_sibling(client, world):
    (entry,) = _sign_in(world.dept_analyst)
    assert entry.organization_id == str(world.department.pk)
    client.force_login(world.admin)  # the ministry: the department is one of its units
    assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200
    # the department's people do not read the ministry's sign-ins
    (ministry_entry,) = _sign_in(world.analyst)
    client.force_login(world.dept_analyst)
    assert client.get(reverse("core:audit_entry", args=[ministry_entry.seq])).status_code == 404
    assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200  # their own


def test_a_person_of_two_organizations_signs_in_for_each_of_them(client, world, api):
    """A person holding roles in two organizations of separate trees: each organization reads the sign-in (one
    entry filed under each), neither reads the other's. Roles in an organization and one of its units make one
    entry, filed under the unit (the parent reads its units' entries)."""
    both = _user("both@test.vn", world.ministry, Role.ORG_ANALYST)
    Membership.objects.create(user=both, organization=world.province, role=Role.AUDITOR)
    entries = _sign_in(both)
    by_org = {e.organization_id: e for e in entries}
    assert set(by_org) == {str(world.ministry.pk), str(world.province.pk)}
    assert len({(e.at, e.after["ip"]) for e in entries}) == 1  # one sign-in
    mine, theirs = by_org[str(world.ministry.pk)], by_org[str(world.province.pk)]
    assert mine.seq in _api(api(world.admin)) and theirs.seq not in _api(api(world.admin))
    assert theirs.seq in _api(api(world.other_admin)) and mine.seq not in _api(api(world.other_admin))

    nested = _user("nested@test.vn", world.ministry, Role.ORG_ANALYST)
    Membership.objects.create(user=nested, organization=world.department, role=Role.ORG_ANALYST)
    (entry,) = _sign_in(nested)
    assert entry.organization_id == str(world.department.pk)
    assert audit.verify().ok


def test_a_sign_in_without_an_organization_is_read_by_the_person_only(client, world, api):
    (entry,) = _sign_in(world.nobody)
    assert entry.organization_id == ""
    client.force_login(world.nobody)
    assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200
    client.force_login(world.admin)
    assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 404


def test_a_colleague_without_the_members_right_does_not_read_the_sign_in(client, world, api):
    """A sign-in says when and from which address a person works: the organization's administrator and auditor
    read it (test above), a trainee of the same organization or an analyst of a unit does not, and each person
    reads their own."""
    (entry,) = _sign_in(world.analyst)
    for reader in (world.trainee, world.dept_analyst):
        client.force_login(reader)
        assert entry.seq not in _page(client, action="login")
        assert entry.seq not in _csv(client)
        assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 404
        assert entry.seq not in _api(api(reader), action="login")
    own = _sign_in(world.trainee)[-1]
    assert own.seq in _api(api(world.trainee), action="login")
