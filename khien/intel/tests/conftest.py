"""Intel fixtures: STIX objects that pass stix2-validator, and a sharing world for the TLP matrix."""
import uuid
from types import SimpleNamespace

import pytest
from stix2validator import ValidationOptions, validate_instance

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.intel import warninglists
from khien.intel.models import Tlp
from khien.intel.tlp import TLP_MARKING

@pytest.fixture(autouse=True)
def _fresh_warning_lists():
    """Each test compiles the warning lists from its own allow-list (the compiled lists are a process cache)."""
    warninglists.invalidate()
    yield
    warninglists.invalidate()


TAXII = "application/taxii+json;version=2.1"


def indicator(value="203.0.113.5", *, tlp=None, kind="ipv4-addr", stix_id=None, modified="2026-01-01T00:00:00.000Z",
              name=None, **extra):
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": name or f"Test indicator {value}",
        "description": "Synthetic test data",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{kind}:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP_MARKING[tlp]]
    obj.update(extra)
    return obj


def assert_valid_stix(objects):
    """Every test object passes stix2-validator with the default options."""
    options = ValidationOptions()
    for obj in objects:
        result = validate_instance(obj, options)
        assert result.is_valid, [str(e) for e in result.errors]


def envelope(objects):
    return {"objects": list(objects)}


def resp_writer(world):
    """An analyst of the responder organization RESP: the user of RESP whose role may add objects."""
    from khien.core.models import User

    return User.objects.filter(email="analyst@resp.test.vn").first() or _user(
        "analyst@resp.test.vn", world.responder_org, Role.ORG_ANALYST)


@pytest.fixture
def make_token():
    from khien.core import services as core_services

    def make(user):
        _token, key = core_services.do_create_api_token(user, acting_user=user)
        return key

    return make


@pytest.fixture
def sharing(world):
    """Collection C owned by NCSC; MIN reads and writes, PROV reads, RESP writes only.

    MIN's analyst has put one indicator per TLP level into C; the RED one names
    REC (a separate organization, not a member of C) as its recipient. RESP's
    analyst (`resp_writer`) pushes into C; its responder only reads back (a
    responder's role does not add).
    """
    from khien.intel import services

    s = SimpleNamespace(world=world)
    s.rec_org = _org("REC", "enterprise")
    s.recipient = _user("analyst@rec.test.vn", s.rec_org, Role.ORG_ANALYST)
    s.collection = services.do_create_collection(
        {"title": "National feed", "owner": world.ncsc, "kind": "national"}, acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.province, can_read=True, can_write=False,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.responder_org, can_read=False, can_write=True,
                                      acting_user=world.coordinator)
    s.resp_writer = resp_writer(world)
    s.objects = {level: indicator(f"198.51.100.{n}", tlp=level) for n, level in enumerate(Tlp.values, start=1)}
    for level in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT):
        services.do_add_objects(s.collection, [s.objects[level]], acting_user=world.analyst)
    services.do_add_objects(s.collection, [s.objects[Tlp.RED]], acting_user=world.analyst, recipients=[s.rec_org])
    s.ids = {level: obj["id"] for level, obj in s.objects.items()}
    # relation -> user (None: anonymous)
    s.users = {
        "producer": world.analyst,
        "collection owner": world.coordinator,
        "collection member": world.other_admin,
        "write-only member": s.resp_writer,
        "named recipient": s.recipient,
        "other organization (a unit of the producer)": world.dept_analyst,
        "signed in, no organization": world.nobody,
        "anonymous": None,
    }
    return s
