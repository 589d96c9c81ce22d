"""Who an object says made it (`created_by_ref`): an organization publishes under its own identity or under that
of an author outside the platform, never under another platform organization's — on every way in (REST API, TAXII
add-objects, synchronous and in the background, STIX and MISP file imports, the import page, federation pulls).
Refused with a clear error, nothing of the request stored."""
import base64
import uuid

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from khien.conftest import _org, _user
from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.intel import services
from khien.intel.models import CollectionObject, IndicatorValue, StixObject, TaxiiStatus, Tlp, identity_id_for
from khien.registry.models import Membership

from .conftest import TAXII, envelope, indicator
from .test_exchange_formats import misp_event

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FOREIGN_WORDS = "the identity of another organization of the platform"
FOREIGN_WORDS_VI = "định danh của một tổ chức khác trên nền"


def _state():
    return (StixObject.objects.count(), CollectionObject.objects.count(), IndicatorValue.objects.count(),
            TaxiiStatus.objects.exclude(status="complete", success_count=0).count())


def _foreign(sharing):
    """PROV's identity: a platform organization other than the MIN analyst's."""
    return identity_id_for(sharing.world.province.pk)


def _external():
    return f"identity--{uuid.uuid4()}"  # a vendor: no organization of the platform


def _post(api, user, collection, objects):
    return api(user).post(f"/api/intel/collections/{collection.pk}/objects/", {"bundle": envelope(objects)},
                          format="json", **EN)


# --- REST API -------------------------------------------------------------------------------------------------


def test_api_refuses_another_platform_organization_as_author_and_stores_nothing(api, sharing):
    forged = indicator("203.0.113.90", tlp=Tlp.GREEN, created_by_ref=_foreign(sharing))
    fine = indicator("203.0.113.91", tlp=Tlp.GREEN)
    client = api(sharing.world.analyst)
    before, audit_before = _state(), AuditEntry.objects.count()
    response = client.post(f"/api/intel/collections/{sharing.collection.pk}/objects/",
                           {"bundle": envelope([fine, forged])}, format="json", **EN)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "foreign_creator"
    assert list(body["errors"]) == [forged["id"]]
    assert FOREIGN_WORDS in body["errors"][forged["id"]][0] and _foreign(sharing) in body["errors"][forged["id"]][0]
    assert _state() == before and AuditEntry.objects.count() == audit_before


def test_api_refusal_is_in_the_users_language(api, sharing):
    forged = indicator("203.0.113.92", created_by_ref=_foreign(sharing))
    response = api(sharing.world.analyst).post(f"/api/intel/collections/{sharing.collection.pk}/objects/",
                                               {"bundle": envelope([forged])}, format="json",
                                               HTTP_ACCEPT_LANGUAGE="vi")
    assert response.status_code == 422 and response.json()["code"] == "foreign_creator"
    english = _post(api, sharing.world.analyst, sharing.collection, [forged]).json()
    assert english["errors"][forged["id"]][0].startswith("created_by_ref names")
    assert response.json()["detail"] and english["detail"].endswith("nothing was stored.")


def test_the_national_coordinator_does_not_publish_as_another_organization_either(api, sharing):
    forged = indicator("203.0.113.93", created_by_ref=identity_id_for(sharing.world.ministry.pk))
    before = _state()
    response = _post(api, sharing.world.coordinator, sharing.collection, [forged])
    assert response.status_code == 422 and response.json()["code"] == "foreign_creator"
    assert _state() == before


def test_another_organizations_identity_object_is_refused(api, sharing):
    province = sharing.world.province
    fake = {"type": "identity", "spec_version": "2.1", "id": identity_id_for(province.pk),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
            "name": "Not really PROV", "identity_class": "organization"}
    before = _state()
    response = _post(api, sharing.world.analyst, sharing.collection, [fake])
    assert response.status_code == 422 and list(response.json()["errors"]) == [fake["id"]]
    assert "only that organization publishes it" in response.json()["errors"][fake["id"]][0]
    assert _state() == before


def test_own_external_and_absent_authors_are_accepted(api, sharing):
    world = sharing.world
    own = indicator("203.0.113.94", tlp=Tlp.GREEN, created_by_ref=identity_id_for(world.ministry.pk))
    vendor = indicator("203.0.113.95", tlp=Tlp.GREEN, created_by_ref=_external())
    unsigned = indicator("203.0.113.96", tlp=Tlp.GREEN)
    response = _post(api, world.analyst, sharing.collection, [own, vendor, unsigned])
    assert response.status_code == 201, response.content
    stored = dict(StixObject.objects.filter(stix_id__in=[own["id"], vendor["id"], unsigned["id"]])
                  .values_list("stix_id", "created_by_ref"))
    assert stored == {own["id"]: own["created_by_ref"], vendor["id"]: vendor["created_by_ref"],
                      unsigned["id"]: identity_id_for(world.ministry.pk)}


def test_a_user_of_two_organizations_publishes_for_either_only_where_their_role_adds(api, sharing):
    world = sharing.world
    membership = Membership.objects.create(user=world.analyst, organization=world.province, role=Role.ORG_ANALYST)
    as_prov = indicator("203.0.113.97", tlp=Tlp.GREEN, created_by_ref=_foreign(sharing))
    assert _post(api, world.analyst, sharing.collection, [as_prov]).status_code == 201
    membership.role = Role.AUDITOR  # an auditor of PROV does not publish for it
    membership.save()
    again = indicator("203.0.113.98", tlp=Tlp.GREEN, created_by_ref=_foreign(sharing))
    before = _state()
    response = _post(api, world.analyst, sharing.collection, [again])
    assert response.status_code == 422 and response.json()["code"] == "foreign_creator"
    assert _state() == before


def test_a_stored_version_of_another_organization_is_still_shared_on(api, sharing):
    """Linking a version already stored is not authorship: another organization's GREEN indicator that the
    analyst sees goes into its collection as before."""
    world = sharing.world
    prov_writer = _user("analyst@prov.test.vn", world.province, Role.ORG_ANALYST)
    prov_collection = services.do_create_collection({"title": "PROV feed", "owner": world.province},
                                                    acting_user=prov_writer)
    theirs = indicator("203.0.113.99", tlp=Tlp.GREEN)
    services.do_add_objects(prov_collection, [theirs], acting_user=prov_writer)
    stored = StixObject.objects.get(stix_id=theirs["id"])
    assert stored.created_by_ref == _foreign(sharing)
    response = _post(api, world.analyst, sharing.collection, [stored.data])
    assert response.status_code == 201, response.content
    assert response.json()["existing"] == 1
    assert CollectionObject.objects.filter(collection=sharing.collection, object=stored).exists()


# --- TAXII ------------------------------------------------------------------------------------------------------


def _taxii_post(client, make_token, user, collection, objects):
    key = make_token(user)
    auth = "Basic " + base64.b64encode(f"{user.email}:{key}".encode()).decode()
    response = client.post(f"/taxii2/api/collections/{collection.pk}/objects/", data=orjson.dumps(envelope(objects)),
                           content_type=TAXII, HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=auth, **EN)
    return response, auth


def test_taxii_reports_the_refused_object_in_the_status_failures(client, make_token, sharing):
    forged = indicator("198.51.100.90", created_by_ref=_foreign(sharing))
    fine = indicator("198.51.100.91")
    before = _state()
    response, auth = _taxii_post(client, make_token, sharing.world.analyst, sharing.collection, [fine, forged])
    assert response.status_code == 202 and response["Content-Type"] == TAXII
    body = orjson.loads(response.content)
    assert body["status"] == "complete"
    assert (body["total_count"], body["success_count"], body["failure_count"], body["pending_count"]) == (2, 0, 2, 0)
    assert "successes" not in body
    failures = {f["id"]: f for f in body["failures"]}
    assert FOREIGN_WORDS in failures[forged["id"]]["message"] and failures[forged["id"]]["version"]
    assert failures[fine["id"]]["message"] == "Not stored: another object of this request was refused."
    assert _state() == before  # nothing stored: only the status
    again = client.get(f"/taxii2/api/status/{body['id']}/", HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=auth)
    assert orjson.loads(again.content) == body


def test_taxii_background_submission_fails_every_object_and_stores_nothing(sharing):
    forged = indicator("198.51.100.92", created_by_ref=_foreign(sharing))
    objects = [indicator("198.51.100.93"), forged]
    status = services.do_submit_objects_async(sharing.collection, objects, acting_user=sharing.world.analyst)
    services._process_submission(status.pk, sharing.collection.pk, sharing.world.analyst.pk, objects,
                                 own_connection=False)
    status.refresh_from_db()
    assert (status.status, status.success_count, status.failure_count) == ("complete", 0, 2)
    failures = {f["id"]: f["message"] for f in status.failures}
    assert "created_by_ref" in failures[forged["id"]]
    assert not StixObject.objects.filter(stix_id__in=[o["id"] for o in objects]).exists()


def test_taxii_accepts_its_own_and_external_authors(client, make_token, sharing):
    objects = [indicator("198.51.100.94", created_by_ref=identity_id_for(sharing.world.ministry.pk)),
               indicator("198.51.100.95", created_by_ref=_external())]
    response, _auth = _taxii_post(client, make_token, sharing.world.analyst, sharing.collection, objects)
    body = orjson.loads(response.content)
    assert response.status_code == 202 and (body["success_count"], body["failure_count"]) == (2, 0)


# --- File imports (STIX bundle, MISP event), API and page ----------------------------------------------------------


def test_stix_file_import_refuses_another_organization_as_author(api, as_user, sharing):
    forged = indicator("192.0.2.90", created_by_ref=_foreign(sharing))
    data = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator("192.0.2.91"),
                                                                                          forged]})
    before = _state()
    response = api(sharing.world.analyst).post(
        "/api/intel/exchange/import/", {"file": SimpleUploadedFile("b.json", data), "format": "stix",
                                        "collection": str(sharing.collection.pk)}, format="multipart", **EN)
    assert response.status_code == 422, response.content
    assert [r["ref"] for r in response.json()["rejected"]] == [forged["id"]]
    assert FOREIGN_WORDS in response.json()["rejected"][0]["message"]
    # The import page says so too, with a 4xx, in the page's language (Vietnamese first: pages follow the
    # language switch, not Accept-Language).
    page = as_user(sharing.world.analyst).post(
        reverse("intel:exchange"), {"format": "stix", "collection": str(sharing.collection.pk),
                                    "file": SimpleUploadedFile("b.json", data)}, **EN)
    assert page.status_code == 422 and FOREIGN_WORDS_VI in page.content.decode()
    assert _state() == before


def test_misp_event_of_another_platform_organization_is_refused(api, sharing):
    event = orjson.loads(misp_event("tlp:green").to_json())
    # MISP names the event's creator organization (Orgc); misp-stix makes it identity--<Orgc uuid>.
    event["Orgc"] = {"name": "Not really PROV", "uuid": _foreign(sharing).split("--")[1]}
    before = _state()
    response = api(sharing.world.analyst).post(
        "/api/intel/exchange/import/", {"file": SimpleUploadedFile("e.json", orjson.dumps({"Event": event})),
                                        "format": "misp", "collection": str(sharing.collection.pk)},
        format="multipart", **EN)
    assert response.status_code == 422, response.content
    assert response.json()["rejected"] and all(FOREIGN_WORDS in r["message"] or "only that organization" in
                                               r["message"] for r in response.json()["rejected"])
    assert _state() == before
    # The same event from an organization outside the platform is imported.
    event["Orgc"] = {"name": "A vendor", "uuid": str(uuid.uuid4())}
    response = api(sharing.world.analyst).post(
        "/api/intel/exchange/import/", {"file": SimpleUploadedFile("e.json", orjson.dumps({"Event": event})),
                                        "format": "misp", "collection": str(sharing.collection.pk)},
        format="multipart", **EN)
    assert response.status_code == 201, response.content


# --- What the platform writes in an organization's name keeps working ------------------------------------------


def test_daily_sightings_are_written_in_the_sighted_organizations_name(sharing):
    import datetime as dt

    from django.utils import timezone

    from khien.intel import sightings

    rec = _org("SIGHTED", "enterprise")
    indicator_id = sharing.ids[Tlp.GREEN]
    now = timezone.now()
    written = sightings.do_record_sightings([{"indicator_id": indicator_id, "organization_id": rec.pk,
                                              "day": now.date(), "count": 3, "first_seen": now - dt.timedelta(hours=1),
                                              "last_seen": now}], acting_user=sharing.world.coordinator, now=now)
    assert written == 1
    row = StixObject.objects.get(stix_type="sighting")
    assert row.created_by_ref == identity_id_for(rec.pk) and row.producer_id == rec.pk


# --- Where a sighting was seen (`where_sighted_refs`) ---------------------------------------------------------------

SIGHTED_WORDS = "where_sighted_refs names"
SIGHTED_SUMMARY = "as their author or as where they were seen; nothing was stored."


def sighting(*where, tlp=Tlp.GREEN, **extra):
    """A sighting of some indicator seen at `where` (identity ids)."""
    from khien.intel.tlp import TLP_MARKING

    obj = {"type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}",
           "created": "2026-02-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z",
           "sighting_of_ref": f"indicator--{uuid.uuid4()}", "count": 2, "where_sighted_refs": list(where),
           "object_marking_refs": [TLP_MARKING[tlp]], **extra}
    return obj


def test_sightings_are_valid_stix():
    from .conftest import assert_valid_stix

    assert_valid_stix([sighting(_external()), sighting(_external(), f"identity--{uuid.uuid4()}")])


def test_api_refuses_a_sighting_said_to_be_seen_at_another_platform_organization(api, sharing):
    world = sharing.world
    own = identity_id_for(world.ministry.pk)
    forged = sighting(own, _foreign(sharing))  # one foreign identity among others is enough
    fine = indicator("203.0.113.80", tlp=Tlp.GREEN)
    client = api(world.analyst)
    before, audit_before = _state(), AuditEntry.objects.count()
    response = client.post(f"/api/intel/collections/{sharing.collection.pk}/objects/",
                           {"bundle": envelope([fine, forged])}, format="json", **EN)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "foreign_creator" and list(body["errors"]) == [forged["id"]]
    message = body["errors"][forged["id"]][0]
    assert message.startswith(SIGHTED_WORDS) and _foreign(sharing) in message and FOREIGN_WORDS in message
    assert body["detail"].endswith(SIGHTED_SUMMARY)
    assert _state() == before and AuditEntry.objects.count() == audit_before
    # Nor may the national coordinator say a sighting was seen at a ministry.
    at_ministry = sighting(own)
    response = _post(api, world.coordinator, sharing.collection, [at_ministry])
    assert response.status_code == 422 and response.json()["errors"][at_ministry["id"]][0].startswith(SIGHTED_WORDS)
    assert _state() == before


def test_sightings_seen_at_ones_own_organization_or_outside_the_platform_are_accepted(api, sharing):
    world = sharing.world
    own = sighting(identity_id_for(world.ministry.pk))
    outside = sighting(_external(), _external())
    both = sighting(identity_id_for(world.ministry.pk), _external())
    response = _post(api, world.analyst, sharing.collection, [own, outside, both])
    assert response.status_code == 201, response.content
    stored = {row.stix_id: row.data["where_sighted_refs"] for row in StixObject.objects.filter(stix_type="sighting")}
    assert stored == {own["id"]: own["where_sighted_refs"], outside["id"]: outside["where_sighted_refs"],
                      both["id"]: both["where_sighted_refs"]}


def test_a_sighting_at_a_second_organization_takes_a_role_there_that_adds(api, sharing):
    world = sharing.world
    membership = Membership.objects.create(user=world.analyst, organization=world.province, role=Role.ORG_ANALYST)
    assert _post(api, world.analyst, sharing.collection, [sighting(_foreign(sharing))]).status_code == 201
    membership.role = Role.AUDITOR  # an auditor of PROV does not report for it
    membership.save()
    before = _state()
    response = _post(api, world.analyst, sharing.collection, [sighting(_foreign(sharing))])
    assert response.status_code == 422 and response.json()["code"] == "foreign_creator"
    assert _state() == before


def test_a_stored_sighting_of_another_organization_is_still_shared_on(api, sharing):
    """Linking a sighting already stored is not a new claim: PROV's own GREEN sighting, seen at PROV, goes into
    MIN's analyst's collection as it is."""
    world = sharing.world
    prov_writer = _user("analyst@prov.test.vn", world.province, Role.ORG_ANALYST)
    prov_collection = services.do_create_collection({"title": "PROV feed", "owner": world.province},
                                                    acting_user=prov_writer)
    theirs = sighting(_foreign(sharing))
    services.do_add_objects(prov_collection, [theirs], acting_user=prov_writer)
    stored = StixObject.objects.get(stix_id=theirs["id"])
    assert stored.created_by_ref == _foreign(sharing)
    response = _post(api, world.analyst, sharing.collection, [stored.data])
    assert response.status_code == 201, response.content
    assert response.json()["existing"] == 1
    assert CollectionObject.objects.filter(collection=sharing.collection, object__stix_id=theirs["id"]).exists()


def test_taxii_reports_a_sighting_at_another_organization_in_the_status_failures(client, make_token, sharing):
    forged = sighting(_foreign(sharing))
    fine = indicator("198.51.100.80")
    before = _state()
    response, _auth = _taxii_post(client, make_token, sharing.world.analyst, sharing.collection, [fine, forged])
    assert response.status_code == 202
    body = orjson.loads(response.content)
    assert (body["status"], body["success_count"], body["failure_count"]) == ("complete", 0, 2)
    failures = {f["id"]: f["message"] for f in body["failures"]}
    assert failures[forged["id"]].startswith(SIGHTED_WORDS)
    assert failures[fine["id"]] == "Not stored: another object of this request was refused."
    assert _state() == before
    # Its own organization's sighting goes through.
    own = sighting(identity_id_for(sharing.world.ministry.pk))
    response, _auth = _taxii_post(client, make_token, sharing.world.analyst, sharing.collection, [own])
    assert orjson.loads(response.content)["success_count"] == 1


def test_taxii_background_submission_refuses_a_sighting_at_another_organization(sharing):
    forged = sighting(_foreign(sharing))
    objects = [indicator("198.51.100.81"), forged]
    status = services.do_submit_objects_async(sharing.collection, objects, acting_user=sharing.world.analyst)
    with translation.override("en"):  # the submitter's TAXII client reads English (the words checked below)
        services._process_submission(status.pk, sharing.collection.pk, sharing.world.analyst.pk, objects,
                                     own_connection=False)
    status.refresh_from_db()
    assert (status.status, status.success_count, status.failure_count) == ("complete", 0, 2)
    assert SIGHTED_WORDS in {f["id"]: f["message"] for f in status.failures}[forged["id"]]
    assert not StixObject.objects.filter(stix_id__in=[o["id"] for o in objects]).exists()


def test_stix_file_import_refuses_a_sighting_at_another_organization(api, as_user, sharing):
    forged = sighting(_foreign(sharing))
    data = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator("192.0.2.80"),
                                                                                          forged]})
    before = _state()
    response = api(sharing.world.analyst).post(
        "/api/intel/exchange/import/", {"file": SimpleUploadedFile("b.json", data), "format": "stix",
                                        "collection": str(sharing.collection.pk)}, format="multipart", **EN)
    assert response.status_code == 422, response.content
    assert [r["ref"] for r in response.json()["rejected"]] == [forged["id"]]
    assert response.json()["rejected"][0]["message"].startswith(SIGHTED_WORDS)
    page = as_user(sharing.world.analyst).post(
        reverse("intel:exchange"), {"format": "stix", "collection": str(sharing.collection.pk),
                                    "file": SimpleUploadedFile("b.json", data)})
    assert page.status_code == 422 and _foreign(sharing) in page.content.decode()
    assert _state() == before
