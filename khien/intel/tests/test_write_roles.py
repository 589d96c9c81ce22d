"""Writing threat intelligence needs an organization that may write the collection AND a role that adds
(`Action.ADD`): auditors, trainees and responders only read, on every write path (API, TAXII in
`test_taxii_client.py`, file import, command, pages)."""
import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from khien.intel import services, tlp
from khien.intel.models import CollectionObject, StixObject, TaxiiStatus

from .conftest import TAXII, envelope, indicator

pytestmark = pytest.mark.django_db


def _state():
    return StixObject.objects.count(), CollectionObject.objects.count(), TaxiiStatus.objects.count()


@pytest.fixture
def own(sharing):
    """A collection owned by MIN (the auditor's and the trainee's organization)."""
    w = sharing.world
    return services.do_create_collection({"title": "MIN feed", "owner": w.ministry, "kind": "group"},
                                         acting_user=w.admin)


def test_read_only_roles_cannot_write_through_the_api_or_taxii(api, sharing, own):
    w = sharing.world
    before = _state()
    for user in (w.auditor, w.trainee):
        client = api(user)
        for collection in (sharing.collection, own):  # a member that writes; the owner
            assert tlp.can_read_collection(user, collection) and not tlp.can_write_collection(user, collection)
            response = client.post(f"/api/intel/collections/{collection.pk}/objects/",
                                   {"bundle": envelope([indicator("192.0.2.61")])}, format="json")
            assert response.status_code == 403, response.content
            assert client.get(f"/api/intel/collections/{collection.pk}/").json()["can_write"] is False
            response = client.post(f"/taxii2/api/collections/{collection.pk}/objects/",
                                   orjson.dumps(envelope([indicator("192.0.2.62")])), content_type=TAXII,
                                   HTTP_ACCEPT=TAXII)
            assert response.status_code == 403
    assert _state() == before
    # The same requests from the ministry's analyst are stored.
    response = api(w.analyst).post(f"/api/intel/collections/{own.pk}/objects/",
                                   {"bundle": envelope([indicator("192.0.2.63")])}, format="json")
    assert response.status_code == 201, response.content


def test_read_only_roles_cannot_import_a_file(api, sharing, tmp_path):
    w = sharing.world
    before = _state()
    for user in (w.auditor, w.trainee):
        response = api(user).post("/api/intel/exchange/import/", {
            "file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])), "format": "stix",
            "collection": str(sharing.collection.pk)}, format="multipart")
        assert response.status_code == 403, response.content
    path = tmp_path / "b.json"
    path.write_bytes(orjson.dumps([indicator()]))
    with pytest.raises(CommandError):
        call_command("intel_import", str(path), "--format", "stix", "--collection", sharing.collection.alias,
                     "--user", w.auditor.email)
    with pytest.raises(services.Forbidden):
        services.do_add_objects(sharing.collection, [indicator()], acting_user=w.responder)
    assert _state() == before


def test_read_only_roles_get_no_write_form(as_user, sharing):
    w = sharing.world
    before = _state()
    client = as_user(w.auditor)
    assert client.get(reverse("intel:indicator_create")).status_code == 403
    assert client.post(reverse("intel:indicator_create"), {"collection": str(sharing.collection.pk)}).status_code == 403
    page = client.get(reverse("intel:exchange"))
    assert page.status_code == 200 and str(sharing.collection.pk) not in page.content.decode()
    response = client.post(reverse("intel:exchange"), {
        "file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])), "format": "stix",
        "collection": str(sharing.collection.pk)})
    assert response.status_code == 400  # not a collection offered to them
    assert _state() == before


def test_producer_is_the_organization_the_user_writes_through(sharing):
    """An auditor of the owner who is also an analyst of a writing member writes as the member."""
    from khien.registry.models import Membership

    w = sharing.world
    Membership.objects.create(user=w.analyst, organization=w.ncsc, role="auditor")
    w.analyst.refresh_from_db()
    assert tlp.writer_organization_ids(w.analyst, sharing.collection) == [w.ministry.pk]
    obj = indicator("192.0.2.64")
    services.do_add_objects(sharing.collection, [obj], acting_user=w.analyst)
    assert StixObject.objects.get(stix_id=obj["id"]).producer_id == w.ministry.pk
