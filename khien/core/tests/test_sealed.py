"""Secrets the platform sends to partners are sealed in the database (khien.core.sealed)."""
import importlib
import io
import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from khien.core import sealed
from khien.core.models import AuditEntry
from khien.intel.models import Collection
from khien.intel.models_federation import FeedSubscription

pytestmark = pytest.mark.django_db


def stored(subscription) -> str:
    """The text the database holds (read around the field, which would open it)."""
    return FeedSubscription.objects.filter(pk=subscription.pk).values_list(Cast("password", TextField()), flat=True).get()


@pytest.fixture
def subscription(world):
    collection = Collection.objects.create(title="Partner feed", alias="partner-feed", owner=world.ncsc)
    return FeedSubscription.objects.create(name="partner", collection=collection, api_root_url="https://taxii.example/api1/",
                                           remote_collection_id="c1", auth_kind="bearer", password="s3cret-token")


def test_a_secret_is_stored_sealed_and_read_back_whole(subscription):
    text = stored(subscription)
    assert text.startswith("sealed:v1:") and "s3cret-token" not in text
    assert FeedSubscription.objects.get(pk=subscription.pk).password == "s3cret-token"
    # Each sealing is different (no equal-secrets-look-equal), and "no secret" stays empty.
    assert sealed.seal("s3cret-token") != sealed.seal("s3cret-token")
    assert sealed.seal("") == "" and sealed.unseal("") == ""


def test_a_secret_sealed_under_an_old_key_opens_during_a_rotation_and_reseal_moves_it(subscription, settings, caplog):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [old_key]
    assert FeedSubscription.objects.get(pk=subscription.pk).password == "s3cret-token"
    out = io.StringIO()
    call_command("reseal", stdout=out)
    assert "intel.FeedSubscription.password\tsealed 1\tunreadable 0" in out.getvalue()
    entry = AuditEntry.objects.filter(object_type="core.sealed").latest("seq")
    assert "s3cret-token" not in str(entry.after)
    # The old key can go now.
    settings.SECRET_KEY_FALLBACKS = []
    assert FeedSubscription.objects.get(pk=subscription.pk).password == "s3cret-token"
    # Under a key that never sealed it, the secret reads as empty (the owner enters it again), logged without it.
    settings.SECRET_KEY = "yet-another-key-" + "y" * 40
    with caplog.at_level(logging.WARNING, logger="khien.core.sealed"):
        assert FeedSubscription.objects.get(pk=subscription.pk).password == ""
    assert "cannot be opened" in caplog.text and "s3cret-token" not in caplog.text
    with pytest.raises(sealed.Unreadable):
        sealed.unseal(stored(subscription))
    out, err = io.StringIO(), io.StringIO()
    call_command("reseal", stdout=out, stderr=err)
    assert "sealed 0\tunreadable 1" in out.getvalue() and "must enter them again" in err.getvalue()


def test_the_migration_seals_secrets_stored_in_clear(subscription):
    from django.apps import apps

    table = connection.ops.quote_name(FeedSubscription._meta.db_table)
    with connection.cursor() as cursor:  # as stored before sealing existed
        cursor.execute(f"UPDATE {table} SET password = %s", ["legacy-token"])
    assert stored(subscription) == "legacy-token"
    assert FeedSubscription.objects.get(pk=subscription.pk).password == "legacy-token"  # read as it is meanwhile
    migration = importlib.import_module("khien.intel.migrations.0007_sealed_subscription_secret")
    migration.seal_stored_secrets(apps, None)
    assert stored(subscription).startswith("sealed:v1:")
    assert FeedSubscription.objects.get(pk=subscription.pk).password == "legacy-token"
