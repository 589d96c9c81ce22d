"""`khien intel_import` and `khien intel_export`."""
import orjson
import pytest
from django.core.management import CommandError, call_command

from khien.intel.models import StixObject, Tlp

from .conftest import indicator
from .test_exchange_formats import assert_all_valid, misp_event

pytestmark = pytest.mark.django_db


def test_intel_import_and_export(tmp_path, sharing, capsys):
    world = sharing.world
    event = tmp_path / "event.json"
    event.write_text(misp_event("tlp:green").to_json())
    call_command("intel_import", str(event), "--format", "misp", "--collection", sharing.collection.alias,
                 "--user", world.analyst.email)
    out = capsys.readouterr()
    assert orjson.loads(out.out)["created"] > 0 and "importing" in out.err
    assert StixObject.objects.filter(indicator_values__value="203.0.113.7", tlp=Tlp.GREEN).exists()

    target = tmp_path / "out.json"
    call_command("intel_export", "--user", world.other_admin.email, "--collection", sharing.collection.alias,
                 "--type", "indicator", "-o", str(target))
    bundle = orjson.loads(target.read_bytes())
    assert_all_valid(bundle["objects"])
    ids = {o["id"] for o in bundle["objects"]}
    assert sharing.ids[Tlp.AMBER] in ids and sharing.ids[Tlp.RED] not in ids


def test_intel_import_refusals_write_nothing(tmp_path, sharing, capsys):
    world = sharing.world
    bad = tmp_path / "bad.csv"
    bad.write_text("type,value\nipv4,1.2.3\nmd5,xyz\n")
    before = StixObject.objects.count()
    with pytest.raises(CommandError):
        call_command("intel_import", str(bad), "--format", "csv", "--collection", sharing.collection.alias,
                     "--user", world.analyst.email)
    err = capsys.readouterr().err
    assert "2 [value]" in err and "3 [value]" in err
    good = tmp_path / "good.json"
    good.write_bytes(orjson.dumps([indicator()]))
    with pytest.raises(CommandError):  # PROV may not write C
        call_command("intel_import", str(good), "--format", "stix", "--collection", sharing.collection.alias,
                     "--user", world.other_admin.email)
    assert StixObject.objects.count() == before


def test_intel_export_leaves_revoked_indicators_out_unless_asked(tmp_path, sharing):
    from khien.intel.services_versions import do_revoke_object

    world = sharing.world
    amber = sharing.ids[Tlp.AMBER]
    do_revoke_object(amber, acting_user=world.admin)
    default, everything = tmp_path / "active.json", tmp_path / "all.json"
    for target, extra in ((default, []), (everything, ["--include-inactive"])):
        call_command("intel_export", "--user", world.other_admin.email, "--collection", sharing.collection.alias,
                     "--type", "indicator", "-o", str(target), *extra)
    # A firewall fed from the file must not block what the producer withdrew; an analyst may still ask for it.
    assert amber not in {o["id"] for o in orjson.loads(default.read_bytes())["objects"]}
    revoked = [o for o in orjson.loads(everything.read_bytes())["objects"] if o["id"] == amber]
    assert revoked and revoked[0]["revoked"] is True
