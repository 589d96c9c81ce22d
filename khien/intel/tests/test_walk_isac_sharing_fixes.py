"""A banking-ISAC analyst's walkthrough: what sharing tells people.

- The organizations named as recipients of TLP:RED intelligence are told (one notice per organization and
  submission, in each reader's language, nothing of the RED content), by the form, the API and imports.
- A value the organization already shares in a collection: the form asks before storing a second indicator (and
  links the existing one); an import stores it but its report says so.
- An imported TLP:RED object naming no recipient is stored for its producer only, and the report says so.
"""
import uuid

import pytest
from django.urls import reverse
from django.utils import translation

from khien.conftest import _org, _user
from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import services, services_versions
from khien.intel.exchange import csv_io, misp, run, stix_import
from khien.intel.models import StixObject, StixRecipient, Tlp

from .conftest import indicator
from .test_exchange_formats import upload
from .test_exchange_import_fixes import event_with
from .test_views import _indicator_post, signed_in

pytestmark = pytest.mark.django_db


def red_notices(user):
    return list(Notification.objects.filter(recipient=user, kind="intel.red_shared").order_by("created_at"))


# --- TLP:RED recipients are told ------------------------------------------------------------------------


def test_the_recipients_of_a_red_indicator_made_with_the_form_are_told(client, sharing):
    world = sharing.world
    rec_admin = _user("admin@rec.test.vn", sharing.rec_org, Role.ORG_ADMIN)
    rec_trainee = _user("trainee@rec.test.vn", sharing.rec_org, Role.TRAINEE)
    before = len(red_notices(sharing.recipient))
    c = signed_in(client, world.analyst)
    response = c.post(reverse("intel:indicator_create"), _indicator_post(
        sharing.collection, tlp="red", recipients=[str(sharing.rec_org.pk)], value="203.0.113.201",
        name="Secret C2"))
    assert response.status_code == 302
    obj = StixObject.objects.get(data__name="Secret C2")
    notices = red_notices(sharing.recipient)[before:]
    assert len(notices) == 1 and len(red_notices(rec_admin)) == 1
    assert red_notices(rec_trainee) == []  # analysts and administrators act on it
    notice = notices[0]
    assert notice.url == reverse("intel:object", args=[obj.stix_id])
    # In each reader's language; no RED content (its name, its value) in a notice that may be e-mailed.
    with translation.override("en"):
        assert "shared 1 TLP:RED object with your organization" in notice.shown_title
        assert "Organization MIN" in notice.shown_title
    with translation.override("vi"):
        assert "TLP:RED" in notice.shown_title and "Tổ chức MIN" in notice.shown_title
    for text in (notice.title, notice.body, notice.shown_body):
        assert "203.0.113.201" not in text and "Secret C2" not in text
    # The producer's colleagues and the collection's other readers are not told.
    assert red_notices(world.admin) == [] and red_notices(world.other_admin) == []
    # The recipient opens it.
    assert signed_in(client, sharing.recipient).get(notice.url).status_code == 200


def test_one_notice_per_organization_for_a_whole_import_and_none_for_a_re_import(sharing):
    world = sharing.world
    second = _org("REC2", "enterprise")
    second_analyst = _user("analyst@rec2.test.vn", second, Role.ORG_ANALYST)
    before = len(red_notices(sharing.recipient))
    objects = [indicator(f"192.0.2.{n}", tlp=Tlp.RED) for n in range(1, 6)]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    stix_import.import_stix(sharing.collection, upload(bundle), acting_user=world.analyst,
                            recipients=[sharing.rec_org, second])
    assert len(red_notices(sharing.recipient)) == before + 1 and len(red_notices(second_analyst)) == 1
    notice = red_notices(second_analyst)[0]
    with translation.override("en"):
        assert "shared 5 TLP:RED objects" in notice.shown_title
    assert notice.url.startswith(reverse("intel:search")) and "tlp=red" in notice.url
    # The same file again names nobody anew: nobody is told again.
    stix_import.import_stix(sharing.collection, upload(bundle), acting_user=world.analyst,
                            recipients=[sharing.rec_org, second])
    assert len(red_notices(second_analyst)) == 1


def test_the_api_tells_the_recipients_and_a_correction_says_a_new_version(sharing, api):
    world = sharing.world
    obj = indicator("192.0.2.50", tlp=Tlp.RED)
    response = api(world.analyst).post(f"/api/intel/collections/{sharing.collection.pk}/objects/",
                                       {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                                   "objects": [obj]}, "recipients": ["REC"]}, format="json")
    assert response.status_code in (200, 201, 202), response.content
    notices = [n for n in red_notices(sharing.recipient) if n.url == reverse("intel:object", args=[obj["id"]])]
    assert len(notices) == 1
    # A correction is a new version naming the same recipients: they are told it changed, not "shared" again.
    services_versions.do_correct_indicator(obj["id"], {"confidence": 10}, acting_user=world.analyst)
    latest = red_notices(sharing.recipient)[-1]
    with translation.override("en"):
        assert "published a new version of 1 TLP:RED object" in latest.shown_title


def test_a_red_warning_report_does_not_tell_its_targets_twice(sharing):
    from khien.intel import services_warnings

    world = sharing.world
    services_warnings.do_issue_warning(
        {"title": "Red warning", "summary": "Synthetic", "severity": "high", "tlp": Tlp.RED,
         "collection": sharing.collection}, acting_user=world.coordinator, organizations=[sharing.rec_org],
        auto_match=False)
    kinds = set(Notification.objects.filter(recipient=sharing.recipient).values_list("kind", flat=True))
    assert "intel.warning" in kinds
    assert len([n for n in red_notices(sharing.recipient) if "report" in n.url]) == 0
    assert StixRecipient.objects.filter(object__stix_type="report", organization=sharing.rec_org).exists()


# --- Values already shared ------------------------------------------------------------------------------


def test_the_form_asks_before_storing_a_value_already_shared(client, sharing):
    world = sharing.world
    client.cookies["khien_language"] = "en"
    c = signed_in(client, world.analyst)
    client.cookies["khien_language"] = "en"
    assert c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection)).status_code == 302
    first = StixObject.objects.get(data__name="C2 server")
    # The same address again (written otherwise, as a single-address CIDR is not: the normalized value).
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, name="Again"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Your organization has already shared this value in this collection" in body
    assert reverse("intel:object", args=[first.stix_id]) in body
    assert reverse("intel:indicator_correct", args=[first.stix_id]) in body
    assert not StixObject.objects.filter(data__name="Again").exists()
    # Confirmed: a second indicator is stored.
    response = c.post(reverse("intel:indicator_create"),
                      _indicator_post(sharing.collection, name="Again", confirm_duplicate="on"))
    assert response.status_code == 302
    assert StixObject.objects.filter(data__name="Again").exists()


def test_the_form_does_not_ask_for_another_organization_a_revoked_one_or_another_collection(client, sharing):
    world = sharing.world
    other = services.do_create_collection({"title": "Bilateral", "owner": world.ministry, "kind": "bilateral"},
                                          acting_user=world.admin)
    # 198.51.100.3 (AMBER) is MIN's in the shared collection: asked there, not in another collection.
    c = signed_in(client, world.analyst)
    assert c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, value="198.51.100.3")) \
        .status_code == 400
    assert c.post(reverse("intel:indicator_create"), _indicator_post(other, value="198.51.100.3")).status_code == 302
    # Another organization (RESP writes to the collection) is not asked about MIN's values.
    c = signed_in(client, sharing.resp_writer)
    assert c.post(reverse("intel:indicator_create"),
                  _indicator_post(sharing.collection, value="198.51.100.2", name="Resp")).status_code == 302
    # A revoked indicator does not hold its value any more.
    services_versions.do_revoke_object(sharing.ids[Tlp.CLEAR], acting_user=world.analyst)
    c = signed_in(client, world.analyst)
    assert c.post(reverse("intel:indicator_create"),
                  _indicator_post(sharing.collection, value="198.51.100.1", name="Again")).status_code == 302


def test_imports_report_the_values_already_shared(client, sharing):
    world = sharing.world
    # 198.51.100.3 is already shared by MIN (AMBER indicator); a MISP event with new uuids carries it again.
    event = event_with({"type": "ip-dst", "value": "198.51.100.3", "to_ids": True},
                       {"type": "ip-dst", "value": "203.0.113.90", "to_ids": True})
    report = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert report.created > 0
    assert report.already_shared_count == 1
    assert [(d["value"], d["id"]) for d in report.already_shared] == [("198.51.100.3", sharing.ids[Tlp.AMBER])]
    assert report.as_dict()["already_shared_count"] == 1
    # The same event again, new uuids: both values are shared already now.
    again = event_with({"type": "ip-dst", "value": "198.51.100.3", "to_ids": True},
                       {"type": "ip-dst", "value": "203.0.113.90", "to_ids": True})
    report = misp.import_misp(sharing.collection, upload(again), acting_user=world.analyst)
    assert report.already_shared_count == 2
    # A re-import of the same file stores nothing new and is no repetition of its own values.
    fresh = event_with({"type": "ip-dst", "value": "203.0.113.95", "to_ids": True})
    assert misp.import_misp(sharing.collection, upload(fresh), acting_user=world.analyst).already_shared_count == 0
    report = misp.import_misp(sharing.collection, upload(fresh), acting_user=world.analyst)
    assert report.created == 0 and report.already_shared_count == 0
    # CSV, through the page: the count and the values, with a link to the indicator.
    client.cookies["khien_language"] = "en"
    c = signed_in(client, world.analyst)
    client.cookies["khien_language"] = "en"
    response = c.post(reverse("intel:exchange"), {
        "format": "csv", "collection": str(sharing.collection.pk),
        "file": upload(b"type,value,name\nipv4,198.51.100.3,Again\nipv4,203.0.113.91,New\n", "f.csv")})
    assert response.status_code == 200, response.content.decode()[:2000]
    body = response.content.decode()
    assert 'id="import-already-shared"' in body and "198.51.100.3" in body
    assert "1 value was already shared by your organization in this collection" in body
    assert reverse("intel:object", args=[sharing.ids[Tlp.AMBER]]) in body


def test_a_file_of_many_duplicates_lists_the_first_ones_and_counts_all(sharing):
    world = sharing.world
    values = [f"203.0.113.{n}" for n in range(100, 115)]
    rows = "type,value\n" + "".join(f"ipv4,{v}\n" for v in values)
    csv_io.import_csv(sharing.collection, upload(rows.encode(), "a.csv"), acting_user=world.analyst)
    objects = [indicator(v) for v in values]
    report = run.import_file("stix", sharing.collection, upload({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                                                  "objects": objects}),
                             acting_user=world.analyst)
    assert report.already_shared_count == 15 and len(report.already_shared) == services.ALREADY_SHARED_LISTED


# --- TLP:RED without recipients -------------------------------------------------------------------------


def test_an_imported_red_object_without_recipients_is_said_to_be_seen_by_the_producer_only(client, sharing):
    world = sharing.world
    report = csv_io.import_csv(sharing.collection, upload(b"type,value,tlp\nipv4,192.0.2.200,red\n"
                                                          b"ipv4,192.0.2.201,amber\n", "r.csv"),
                               acting_user=world.analyst)
    assert report.red_unshared == 1 and report.as_dict()["red_unshared"] == 1
    event = event_with({"type": "ip-dst", "value": "192.0.2.202", "to_ids": True}, Tag=[{"name": "tlp:red"}])
    report = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert report.red_unshared >= 1
    # Naming recipients (the command, the API) says nothing of it.
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator("192.0.2.203", tlp=Tlp.RED)]}
    report = stix_import.import_stix(sharing.collection, upload(bundle), acting_user=world.analyst,
                                     recipients=[sharing.rec_org])
    assert report.red_unshared == 0
    # The page says it.
    client.cookies["khien_language"] = "en"
    c = signed_in(client, world.analyst)
    client.cookies["khien_language"] = "en"
    response = c.post(reverse("intel:exchange"), {
        "format": "csv", "collection": str(sharing.collection.pk),
        "file": upload(b"type,value,tlp\nipv4,192.0.2.210,red\n", "red.csv")})
    body = response.content.decode()
    assert 'id="import-red-unshared"' in body
    assert "1 TLP:RED object names no recipient: only your organization sees it." in body
