"""“Seen here”: a sighting of an indicator recorded by hand from its page (as MISP's sighting button), by an
organization that may write a collection: a STIX 2.1 sighting created by and sighted at that organization,
AMBER+STRICT unless chosen otherwise; refused for those who may not write, for a revoked indicator and for bad input."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core.models import AuditEntry
from khien.intel import services_versions
from khien.intel.models import StixObject, Tlp, identity_id_for

from .conftest import assert_valid_stix
from .test_views import signed_in

pytestmark = pytest.mark.django_db


def _sightings():
    return StixObject.objects.filter(stix_type="sighting")


def _post(client, stix_id, **data):
    form = {"count": "1", "collection": "", "tlp": "amber_strict", "first_seen": "", "last_seen": "",
            "description": ""}
    form.update({k: str(v) for k, v in data.items()})
    return client.post(reverse("intel:object_sighting", args=[stix_id]), form)


def test_an_analyst_records_that_the_organization_saw_an_indicator(client, sharing):
    world, green = sharing.world, sharing.ids[Tlp.GREEN]
    signed_in(client, world.analyst)
    page = client.get(reverse("intel:object", args=[green])).content.decode()
    assert 'id="record-sighting"' in page
    before = AuditEntry.objects.count()
    response = _post(client, green, count=3, collection=sharing.collection.pk, description="Cổng thư điện tử chặn được",
                     first_seen="2026-12-01T08:00", last_seen="2026-12-02T09:30")
    assert response.status_code == 302 and response["Location"].endswith("#sightings")
    [row] = _sightings()
    assert_valid_stix([row.data])
    mine = identity_id_for(world.ministry.pk)
    assert row.data["sighting_of_ref"] == green and row.data["where_sighted_refs"] == [mine]
    assert row.data["created_by_ref"] == mine and row.data["count"] == 3 and row.tlp == Tlp.AMBER_STRICT
    assert row.data["description"] == "Cổng thư điện tử chặn được"
    assert row.collection_entries.filter(collection=sharing.collection).exists()
    assert AuditEntry.objects.count() > before
    page = client.get(reverse("intel:object", args=[green])).content.decode()
    assert '<dd id="sighting-count">3</dd>' in page
    # AMBER+STRICT: the province, which reads the collection, does not learn that the ministry was hit.
    signed_in(client, world.other_admin)
    page = client.get(reverse("intel:object", args=[green])).content.decode()
    assert 'id="sighting-count"' not in page and row.stix_id not in page


def test_empty_times_mean_now(client, sharing):
    signed_in(client, sharing.world.analyst)
    assert _post(client, sharing.ids[Tlp.GREEN], collection=sharing.collection.pk).status_code == 302
    [row] = _sightings()
    seen = dt.datetime.fromisoformat(row.data["last_seen"].replace("Z", "+00:00"))
    assert abs(seen - timezone.now()) < dt.timedelta(minutes=1) and row.data["first_seen"] == row.data["last_seen"]


@pytest.mark.parametrize("data, field", [
    ({"count": "0"}, "count"),
    ({"count": "abc"}, "count"),
    ({"tlp": "red"}, "tlp"),
    ({"last_seen": "2099-01-01T00:00"}, None),
    ({"first_seen": "2026-12-02T10:00", "last_seen": "2026-12-01T10:00"}, None),
    ({"description": "x" * 2001}, "description"),
])
def test_bad_input_is_refused_and_stores_nothing(client, sharing, data, field):
    signed_in(client, sharing.world.analyst)
    response = _post(client, sharing.ids[Tlp.GREEN], collection=sharing.collection.pk, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="record-sighting" open' in page
    if field:
        assert response.context["sighting_form"].errors[field]
    assert not _sightings().exists()


def test_who_may_not_write_sees_no_form_and_is_refused(client, sharing):
    world, green = sharing.world, sharing.ids[Tlp.GREEN]
    signed_in(client, world.other_admin)  # reads the collection, writes none
    assert 'id="record-sighting"' not in client.get(reverse("intel:object", args=[green])).content.decode()
    assert _post(client, green, collection=sharing.collection.pk).status_code == 403
    # An indicator one may not see is not found, whoever may write.
    signed_in(client, world.dept_analyst)
    assert _post(client, sharing.ids[Tlp.AMBER_STRICT], collection=sharing.collection.pk).status_code == 404
    signed_in(client, None)
    assert _post(client, green, collection=sharing.collection.pk).status_code == 302  # to the sign-in page
    assert not _sightings().exists()


def test_a_revoked_indicator_takes_no_sighting(client, sharing):
    world, green = sharing.world, sharing.ids[Tlp.GREEN]
    services_versions.do_revoke_object(green, acting_user=world.analyst, reason="Dương tính giả")
    signed_in(client, world.analyst)
    assert 'id="record-sighting"' not in client.get(reverse("intel:object", args=[green])).content.decode()
    response = _post(client, green, collection=sharing.collection.pk)
    assert response.status_code == 409 and response.context["sighting_form"].non_field_errors()
    assert not _sightings().exists()


def test_the_api_records_a_sighting_and_refuses_as_the_page_does(sharing, api):
    world, green = sharing.world, sharing.ids[Tlp.GREEN]
    url = f"/api/intel/objects/{green}/sighting/"
    answer = api(world.analyst).post(url, {"collection": str(sharing.collection.pk), "count": 2, "tlp": "amber"},
                                     format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 201, answer.content
    assert answer.json()["data"]["count"] == 2 and answer.json()["tlp"] == "amber"
    for user, body, code in [
        (world.other_admin, {"collection": str(sharing.collection.pk)}, 403),  # reads the collection, may not write
        (world.analyst, {"collection": str(sharing.collection.pk), "tlp": "red"}, 400),
        (world.analyst, {"collection": str(sharing.collection.pk), "count": 0}, 400),
        (world.analyst, {"collection": "not-an-id"}, 400),
        (world.analyst, {"collection": str(sharing.collection.pk), "last_seen": "2099-01-01T00:00:00Z"}, 400),
    ]:
        refused = api(user).post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == code, (body, refused.content)
    assert api(world.dept_analyst).post(f"/api/intel/objects/{sharing.ids[Tlp.AMBER_STRICT]}/sighting/",
                                        {"collection": str(sharing.collection.pk)}, format="json").status_code == 404
    assert _sightings().count() == 1
