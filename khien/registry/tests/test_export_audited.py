"""Taking the registry out of the platform is a disclosure: every export of systems or organizations, from a page or
the API, leaves one audit entry (who, format, how many, which filters), as incident and event exports do."""

from django.urls import reverse

from khien.core.models import AuditEntry


def _exports():
    return list(AuditEntry.objects.filter(action="export").order_by("seq"))


def test_a_page_export_of_systems_is_recorded_with_its_filters(world, as_user, make_system):
    make_system(world.ministry, name="Cổng A")
    make_system(world.ministry, name="Kho B")
    make_system(world.province, name="Cổng khác")  # not the administrator's: not exported, not counted
    response = as_user(world.admin).get(reverse("registry:system_list"), {"q": "Cổng", "format": "xlsx"})
    assert response.status_code == 200
    [entry] = _exports()
    assert entry.actor_email == world.admin.email and entry.object_type == "registry.informationsystem"
    assert entry.after == {"format": "xlsx", "count": 1, "filters": {"q": ["Cổng"]}}


def test_an_api_export_of_organizations_is_recorded(world, api):
    response = api(world.admin).get("/api/registry/organizations/export/", {"file_format": "csv"})
    assert response.status_code == 200
    [entry] = _exports()
    assert entry.object_type == "registry.organization" and entry.after["format"] == "csv"
    assert entry.after["count"] == response.content.decode("utf-8-sig").count("\r\n") - 1  # the rows, not the header


def test_a_refused_export_records_nothing(world, as_user):
    response = as_user(world.admin).get(reverse("registry:system_list"), {"format": "pdf"})
    assert response.status_code == 400
    assert _exports() == []
