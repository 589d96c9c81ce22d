"""Source names are one name ignoring case: "Wazuh-UBND79-SOC" next to "wazuh-ubnd79-soc" would be two NATS users and
subjects, two Elasticsearch users, told apart by case alone. Refused on the page, through the API and the command,
and by the database."""
import importlib
import io
import uuid

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from khien.telemetry.models import AlertSource

pytestmark = pytest.mark.django_db
TAKEN = ("A source with this name in other upper and lower case letters already exists: names that differ only in "
         "case count as the same.")


def test_a_name_taken_in_other_case_is_refused_on_the_page(world, as_user, make_source):
    make_source(org=world.province, name="wazuh-ubnd79-soc")
    client = as_user(world.admin)
    with translation.override("en"):
        client.post("/i18n/setlang/", {"language": "en", "next": "/"})
        response = client.post(reverse("telemetry:source_create"), {
            "organization": world.ministry.pk, "name": "Wazuh-UBND79-SOC", "format": "wazuh",
            "time_zone": "Asia/Ho_Chi_Minh"})
    assert response.status_code == 409
    assert TAKEN in response.content.decode()
    assert AlertSource.objects.filter(name__iexact="wazuh-ubnd79-soc").count() == 1


def test_a_name_taken_in_other_case_is_refused_through_the_api(world, api, make_source):
    make_source(org=world.ministry, name="Suricata-MIN")
    with translation.override("en"):
        response = api(world.admin).post("/api/telemetry/sources/", {
            "organization": world.ministry.code, "name": "suricata-min", "format": "suricata"},
            format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == TAKEN
    # The same name exactly: the message it always had.
    with translation.override("en"):
        response = api(world.admin).post("/api/telemetry/sources/", {
            "organization": world.ministry.code, "name": "Suricata-MIN", "format": "suricata"},
            format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409 and response.json()["detail"] == "A source with this name already exists."


def test_a_name_taken_in_other_case_is_refused_by_the_command(world, make_source, settings):
    make_source(org=world.ministry, name="fw-min")
    settings.LANGUAGE_CODE = "en"  # the command speaks the platform's language (not the caller's): English here
    with pytest.raises(CommandError, match="differ only in case"):
        call_command("telemetry", "add-source", "FW-MIN", "--format", "cef", "--organization", world.ministry.code,
                     stdout=io.StringIO())
    assert AlertSource.objects.count() == 1


def test_the_database_refuses_it_too(world, make_source):
    source, _key = make_source(org=world.ministry, name="ecs-min")
    clone = AlertSource.objects.get(pk=source.pk)
    clone.pk, clone.name, clone.key_hash = uuid.uuid4(), "ECS-Min", "0" * 64
    with pytest.raises(IntegrityError, match="(?i)unique"), transaction.atomic():
        AlertSource.objects.bulk_create([clone])
    clone.name = "ecs-min-2"  # the row itself was fine
    AlertSource.objects.bulk_create([clone])


def test_the_migration_renames_later_names_that_clash(world, make_source):
    """A database that already has such names: the oldest keeps its name, a later one gets a free suffix."""
    import datetime as dt

    from django.db import connection

    migration = importlib.import_module("khien.telemetry.migrations.0022_source_names_apart_ignoring_case")
    first, _key = make_source(org=world.ministry, name="wazuh-ubnd79-soc")
    taken, _key = make_source(org=world.ministry, name="Wazuh-UBND79-SOC-2")  # "-2" is not free, ignoring case
    table = connection.ops.quote_name(AlertSource._meta.db_table)
    with connection.cursor() as cursor:  # as before 0022: without the index
        cursor.execute("DROP INDEX telemetry_source_name_ignoring_case")
    later = AlertSource.objects.bulk_create([AlertSource(
        organization=world.ministry, name="Wazuh-UBND79-SOC", format="wazuh", key_hash="1" * 64, prefix="khs_x",
        created_at=first.created_at + dt.timedelta(hours=1))])[0]
    migration.rename_clashes(django_apps, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the insert's checks, pending in the test's transaction
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'CREATE UNIQUE INDEX telemetry_source_name_ignoring_case ON {table} (LOWER("name"))')
    assert AlertSource.objects.get(pk=first.pk).name == "wazuh-ubnd79-soc"
    assert AlertSource.objects.get(pk=taken.pk).name == "Wazuh-UBND79-SOC-2"
    assert AlertSource.objects.get(pk=later.pk).name == "Wazuh-UBND79-SOC-3"
