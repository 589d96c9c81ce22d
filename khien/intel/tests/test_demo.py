"""The demo intelligence: built on the demo country, every TLP level, shared values, served through TAXII."""
import pytest
from django.db.models import Count

from khien.intel import demo, tlp, warninglists
from khien.intel.models import (
    Collection,
    CollectionKind,
    EarlyWarning,
    IndicatorValue,
    StixObject,
    Tlp,
    WarningTarget,
    WarningUpdate,
)
from khien.registry import demo as registry_demo

from .conftest import assert_valid_stix


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            registry_demo.build(50, seed=7)
            counts = demo.build(seed=7)
            yield counts
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_demo_intelligence(built, api):
    counts = built
    assert counts["indicators"] >= 1900 and counts["warnings"] == 4
    # The critical warning was followed up, so the demo shows an update and answers given before it.
    update = WarningUpdate.objects.get()
    assert counts["warning updates"] == 1 and update.warning.severity == "critical" and update.respond_by
    # Stored without the validator pass (services.do_store_generated): a sample of every kind passes it.
    sample = []
    for stix_type in StixObject.objects.values_list("stix_type", flat=True).distinct():
        sample += list(StixObject.objects.filter(stix_type=stix_type).order_by("pk")
                       .values_list("data", flat=True)[::25][:40])
    assert len(sample) > 40
    assert_valid_stix(sample)
    indicators = StixObject.objects.filter(stix_type="indicator")
    assert set(indicators.values_list("tlp", flat=True)) == set(Tlp.values)
    assert indicators.filter(revoked=True).exists() and indicators.filter(valid_until__isnull=False).exists()
    from django.utils import timezone

    assert not indicators.filter(valid_from__gt=timezone.now()).exists()  # nothing dated in the future
    assert not StixObject.objects.filter(modified__gt=timezone.now()).exists()
    for stix_type in ("malware", "threat-actor", "attack-pattern", "vulnerability", "relationship", "report",
                      "identity"):
        assert StixObject.objects.filter(stix_type=stix_type).exists(), stix_type
    # Identical values from several producers.
    shared = (IndicatorValue.objects.values("kind", "value")
              .annotate(producers=Count("object__producer", distinct=True)).filter(producers__gt=1))
    assert shared.count() >= len(demo.DEMO_CAMPAIGN_VALUES)
    # The campaign values are stored, and none is on a warning list (the telemetry matcher would skip it).
    for kind, value in demo.DEMO_CAMPAIGN_VALUES:
        assert IndicatorValue.objects.filter(kind=kind, value=value).values("object__producer").distinct().count() >= 2
        assert not warninglists.hits(kind, value)
    # Collections: national, one per ISAC, one bilateral.
    kinds = list(Collection.objects.values_list("kind", flat=True))
    assert kinds.count(CollectionKind.NATIONAL) == 1 and kinds.count(CollectionKind.BILATERAL) == 1
    assert kinds.count(CollectionKind.ISAC) >= 5
    # Warnings targeted at demo organizations, some acknowledged and some not.
    assert EarlyWarning.objects.count() == 4
    targets = WarningTarget.objects.all()
    assert targets.filter(state__isnull=True).exists() and targets.filter(state__isnull=False).exists()


@pytest.mark.django_db
def test_national_collection_served_through_taxii(built, client, api):
    from khien.core.models import User

    national = Collection.objects.get(kind=CollectionKind.NATIONAL)
    reader = User.objects.get(email="analyst@ubnd-79.demo.khien.vn")
    client = api(reader)
    url = f"/taxii2/api/collections/{national.pk}/objects/?limit=1000&match[type]=indicator"
    response = client.get(url, HTTP_ACCEPT="application/taxii+json;version=2.1")
    assert response.status_code == 200
    body = response.json()
    assert body["more"] is True and len(body["objects"]) == 1000
    served = {o["id"] for o in body["objects"]}
    visible = set(StixObject.objects.filter(tlp.collection_content_q(reader, national) or None)
                  .filter(stix_id__in=served).values_list("stix_id", flat=True))
    assert served == visible
    assert {o["object_marking_refs"][0] for o in body["objects"]} >= {tlp.TLP_MARKING[Tlp.CLEAR],
                                                                      tlp.TLP_MARKING[Tlp.GREEN]}
