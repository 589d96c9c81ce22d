"""Object pages in words: kill chain phases, relationship types, the ends of a relationship (only what the reader
may see linked); the federation page's times as the platform writes them."""
import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.intel import services
from khien.intel.models import Collection, CollectionKind, Tlp, kill_chain_label, relationship_label
from khien.intel.models_federation import FeedSubscription
from khien.intel.tlp import TLP_MARKING

from .conftest import indicator
from .test_views import html, signed_in

pytestmark = pytest.mark.django_db
T = "2026-01-01T00:00:00.000Z"


def _store(world, objects):
    coll = Collection.objects.create(title="National", kind=CollectionKind.NATIONAL, owner=world.ncsc)
    services.do_add_objects(coll, objects, acting_user=world.coordinator)


def test_labels():
    with translation.override("en"):
        assert relationship_label("based-on") == "based on" and relationship_label("x-own") == "x-own"
        assert kill_chain_label([{"kill_chain_name": "misp-category", "phase_name": "Network activity"},
                                 {"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"}]) \
            == "Network activity (misp-category)\ndelivery (lockheed-martin-cyber-kill-chain)"


def test_kill_chain_phases_and_relationships_read_as_words(client, world, rf):
    seen = indicator("185.220.101.90", name="Wave C2", tlp=Tlp.GREEN, kill_chain_phases=[
        {"kill_chain_name": "misp-category", "phase_name": "Network activity"}])
    family = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}", "created": T,
              "modified": T, "name": "Wave family", "is_family": True, "object_marking_refs": [TLP_MARKING[Tlp.GREEN]]}
    hidden = {**family, "id": f"malware--{uuid.uuid4()}", "name": "Secret family",
              "object_marking_refs": [TLP_MARKING[Tlp.RED]]}
    rel = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}", "created": T,
           "modified": T, "relationship_type": "indicates", "source_ref": seen["id"], "target_ref": family["id"],
           "object_marking_refs": [TLP_MARKING[Tlp.GREEN]]}
    _store(world, [seen, family, hidden, rel])
    c = signed_in(client, world.analyst)  # MIN's analyst: sees GREEN, not the coordinator's RED malware
    with translation.override("en"):
        page = html(c.get(reverse("intel:object", args=[seen["id"]]), HTTP_ACCEPT_LANGUAGE="en"))
        assert ">Network activity (misp-category)</dd>" in page  # the raw JSON only in its title (on hover)
        rel_page = html(c.get(reverse("intel:object", args=[rel["id"]]), HTTP_ACCEPT_LANGUAGE="en"))
    head = rel_page.split('id="raw"')[0]
    for key, obj in (("source_ref", seen), ("target_ref", family)):
        cell = head[head.index(f'id="ref-{key}"'):]
        cell = cell[:cell.index("</dd>")]
        assert obj["name"] in cell and reverse("intel:object", args=[obj["id"]]) in cell
    assert "Wave C2" in head[head.index('id="object-name"'):head.index("</h1>")]

    # an end the reader may not see stays a bare id, neither named nor linked
    from django.template import Context, Template

    request = rf.get("/")
    request.user = world.analyst
    shown = Template("{% load intel_labels %}{% stix_ref ref %}").render(Context({"request": request,
                                                                                   "ref": hidden["id"]}))
    assert hidden["id"] in shown and "Secret family" not in shown and "<a " not in shown
    request.user = world.coordinator
    shown = Template("{% load intel_labels %}{% stix_ref ref %}").render(Context({"request": request,
                                                                                   "ref": hidden["id"]}))
    assert "Secret family" in shown


def test_federation_page_writes_times_day_first(coordinator_client, sharing):
    when = timezone.make_aware(dt.datetime(2026, 6, 12, 14, 48))
    FeedSubscription.objects.create(name="partner", collection=sharing.collection, api_root_url="https://p.example/a/",
                                    remote_collection_id="abc", last_run_at=when, interval_minutes=60)
    for language in ("en", "vi"):
        with translation.override(language):
            page = coordinator_client.get(reverse("intel:exchange_federation"),
                                          HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert "12/06/2026 14:48" in page
