"""Exchange pages: import with its report, export download, federation subscriptions."""
import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from khien.intel.models import CollectionObject, StixObject, Tlp
from khien.intel.models_federation import FeedSubscription

from .conftest import indicator

pytestmark = pytest.mark.django_db


def test_import_page_imports_and_reports(as_user, sharing):
    client = as_user(sharing.world.analyst)
    page = client.get(reverse("intel:exchange"))
    assert page.status_code == 200
    assert sharing.collection.title in page.content.decode()  # MIN writes C
    response = client.post(reverse("intel:exchange"), {
        "file": SimpleUploadedFile("iocs.csv", b"type,value,tlp\nipv4,192.0.2.200,green\n"),
        "format": "csv", "collection": str(sharing.collection.pk)})
    assert response.status_code == 200
    assert 'id="import-report"' in response.content.decode()
    assert StixObject.objects.filter(indicator_values__value="192.0.2.200", tlp=Tlp.GREEN).exists()


def test_import_page_lists_every_rejected_row_and_writes_nothing(as_user, sharing):
    client = as_user(sharing.world.analyst)
    before = (StixObject.objects.count(), CollectionObject.objects.count())
    with translation.override("en"):
        response = client.post(reverse("intel:exchange"), {
            "file": SimpleUploadedFile("iocs.csv", b"type,value\nipv4,999.0.0.1\ndomain,-bad-\n"),
            "format": "csv", "collection": str(sharing.collection.pk)})
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="import-rejected"' in body and "999.0.0.1" in body and "-bad-" in body
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before
    response = client.post(reverse("intel:exchange"), {
        "file": SimpleUploadedFile("b.json", b"{nope"), "format": "stix", "collection": str(sharing.collection.pk)})
    assert response.status_code == 400
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before


def test_import_page_offers_only_writable_collections(as_user, sharing):
    client = as_user(sharing.world.other_admin)  # PROV reads C, does not write it
    response = client.post(reverse("intel:exchange"), {
        "file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])), "format": "stix",
        "collection": str(sharing.collection.pk)})
    assert response.status_code == 400  # not a choice for this user
    assert not StixObject.objects.filter(stix_type="indicator").exclude(stix_id__in=sharing.ids.values()).exists()


def test_export_page_downloads(as_user, sharing):
    client = as_user(sharing.world.other_admin)
    assert client.get(reverse("intel:exchange_export")).status_code == 200
    response = client.get(reverse("intel:exchange_export"), {"download": "1", "format": "stix",
                                                              "collection": str(sharing.collection.pk),
                                                              "tlp": ["green", "amber"]})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    bundle = orjson.loads(b"".join(response.streaming_content))
    got = {o["id"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert got == {sharing.ids[Tlp.GREEN], sharing.ids[Tlp.AMBER]}
    response = client.get(reverse("intel:exchange_export"), {"download": "1", "format": "nope"})
    assert response.status_code == 400
    # A mistyped id is told, not exported as an empty file as if nothing matched.
    response = client.get(reverse("intel:exchange_export"), {"download": "1", "format": "stix",
                                                              "ids": f"khong-phai-id, {sharing.ids[Tlp.GREEN]}"})
    assert response.status_code == 400 and "attachment" not in response.get("Content-Disposition", "")
    assert "“khong-phai-id”" in response.content.decode()  # named in the error, the form kept as typed
    response = client.get(reverse("intel:exchange_export"), {"download": "1", "format": "stix",
                                                              "ids": sharing.ids[Tlp.GREEN]})
    assert response.status_code == 200


def test_federation_page(coordinator_client, as_user, sharing):
    world = sharing.world
    response = coordinator_client.post(reverse("intel:exchange_federation"), {
        "name": "partner", "collection": str(sharing.collection.pk), "api_root_url": "http://127.0.0.1:9/api/",
        "remote_collection_id": "abc", "auth_kind": "token", "username": "", "password": "s3cret-token",
        "verify_tls": "on", "interval_minutes": "15", "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    sub = FeedSubscription.objects.get(name="partner")
    page = coordinator_client.get(reverse("intel:exchange_federation")).content.decode()
    assert 'id="sub-partner"' in page and "s3cret-token" not in page
    edit = coordinator_client.get(reverse("intel:exchange_subscription_edit", args=[sub.pk])).content.decode()
    assert "s3cret-token" not in edit
    response = coordinator_client.post(reverse("intel:exchange_subscription_pull", args=[sub.pk]))
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.last_status == "error" and sub.last_error
    # Another organization's analyst sees none of it.
    other = Client()
    other.force_login(world.analyst)
    assert 'id="sub-partner"' not in other.get(reverse("intel:exchange_federation")).content.decode()
    assert other.post(reverse("intel:exchange_subscription_pull", args=[sub.pk])).status_code == 404
    assert other.post(reverse("intel:exchange_subscription_delete", args=[sub.pk])).status_code == 404
    response = coordinator_client.post(reverse("intel:exchange_subscription_delete", args=[sub.pk]))
    assert response.status_code == 302 and not FeedSubscription.objects.exists()
