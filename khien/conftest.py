"""Shared test fixtures: a small synthetic country with one user per role.

`world` gives organizations in two separate trees so that every test can check
both a grant (own organization, own units) and a denial (the other tree).
"""
import importlib
import os
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db.backends.signals import connection_created

REQUIRE_SERVICES = os.environ.get("KHIEN_REQUIRE_SERVICES") == "1"


def require_tool(installed: bool, what: str, install: str) -> None:
    """A third-party program a test runs for real: skipped when it is missing, failed when
    KHIEN_REQUIRE_SERVICES=1 (CI installs it)."""
    if installed:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (KHIEN_REQUIRE_SERVICES=1): {install}")
    pytest.skip(f"{what} is not installed ({install})")


def _shared_cache_readers_do_not_lock(sender, connection, **kwargs):
    """SQLite test databases live in memory with a shared cache, where a thread reading a table that another
    thread is writing gets "database table is locked" at once (no timeout), unlike the WAL file of a real
    deployment, where readers never wait. Tests that run a live server beside a background thread (TAXII
    large submissions) would then fail on the test setup, not on the code: readers skip the table locks."""
    if connection.vendor == "sqlite" and "mode=memory" in str(connection.settings_dict.get("NAME", "")):
        connection.cursor().execute("PRAGMA read_uncommitted = 1")


connection_created.connect(_shared_cache_readers_do_not_lock)


@pytest.fixture(autouse=True)
def _isolated_media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _platform_language_between_tests():
    """Each test starts in the platform's language. A request made through the test client activates the language it
    asked for (`VietnameseFirstLocaleMiddleware`, an API call with `Accept-Language: en`) for the thread, and Django
    leaves it active after the response: a later test then built its texts in English (the registry demo's audit
    test failed after the telemetry intake tests that post in English)."""
    from django.utils import translation

    yield
    translation.deactivate()


try:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
except ImportError:  # pragma: no cover
    PBKDF2PasswordHasher = object


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The production algorithm with few iterations: the fixtures hash many passwords (was ~3 s per test)."""

    iterations = 1000


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["khien.conftest.FastPBKDF2PasswordHasher"]


@pytest.fixture(autouse=True)
def _content(request):
    """Sectors, provinces and the level framework, as `make run` loads them."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if not marker and not {"db", "transactional_db", "live_server"} & names:
        return
    transactional = {"transactional_db", "live_server"} & names or (marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    if transactional:
        request.getfixturevalue("flushable_audit_log")
    from khien.registry import content
    from khien.registry.models import LevelFramework

    if not LevelFramework.objects.exists():
        content.load_all()


@pytest.fixture
def flushable_audit_log(transactional_db):
    """Let a transactional test's final flush empty the append-only audit table on SQLite.

    SQLite's flush deletes rows, which the audit log's triggers refuse
    (PostgreSQL truncates, which row triggers do not see). The triggers are
    dropped just before the flush and put back right after it (post_migrate).
    Used automatically by every test that asks for `transactional_db` or `live_server`.
    """
    yield
    from django.db import connection
    from django.db.models.signals import post_migrate

    if connection.vendor != "sqlite":
        return
    triggers = importlib.import_module("khien.core.migrations.0002_audit_append_only")

    def restore(**kwargs):
        post_migrate.disconnect(restore, dispatch_uid="khien-restore-audit-triggers")
        with connection.cursor() as cursor:
            for sql in triggers.SQLITE:
                cursor.execute(sql)

    post_migrate.connect(restore, weak=False, dispatch_uid="khien-restore-audit-triggers")
    with connection.cursor() as cursor:
        for sql in triggers.SQLITE_DROP:
            cursor.execute(sql)


def _org(code, org_type, parent=None, **extra):
    from khien.registry.models import Organization

    org = Organization(code=code, name_vi=f"Tổ chức {code}", name_en=f"Organization {code}", org_type=org_type, parent=parent, **extra)
    org.path = org.compute_path()
    org.save()
    return org


TEST_PASSWORD = "Khien-test-pass-2026"


def _user(email, org, role, password=TEST_PASSWORD):
    from khien.core.models import User
    from khien.registry.models import Membership

    user = User.objects.create_user(email=email, password=password, full_name=email.split("@")[0])
    if org is not None:
        Membership.objects.create(user=user, organization=org, role=role)
    return user


@pytest.fixture
def world(db):
    """Two organization trees and one user per role.

    national (NCSC) ─ coordinator
    MIN (ministry) ─ MIN-D1 (department) ; users: admin, analyst, auditor, trainee of MIN
    PROV (province) ─ PROV-C1 (commune) ; users: admin of PROV
    RESP (responder company) ; user: responder
    """
    from khien.core.roles import Role

    w = SimpleNamespace()
    w.ncsc = _org("NCSC", "agency")
    w.ministry = _org("MIN", "ministry")
    w.department = _org("MIN-D1", "agency", parent=w.ministry)
    w.province = _org("PROV", "province")
    w.commune = _org("PROV-C1", "commune", parent=w.province)
    w.responder_org = _org("RESP", "responder")
    w.coordinator = _user("coordinator@test.vn", w.ncsc, Role.NATIONAL_COORDINATOR)
    w.admin = _user("admin@min.test.vn", w.ministry, Role.ORG_ADMIN)
    w.analyst = _user("analyst@min.test.vn", w.ministry, Role.ORG_ANALYST)
    w.auditor = _user("auditor@min.test.vn", w.ministry, Role.AUDITOR)
    w.trainee = _user("trainee@min.test.vn", w.ministry, Role.TRAINEE)
    w.dept_analyst = _user("analyst@d1.test.vn", w.department, Role.ORG_ANALYST)
    w.other_admin = _user("admin@prov.test.vn", w.province, Role.ORG_ADMIN)
    w.responder = _user("responder@resp.test.vn", w.responder_org, Role.RESPONDER)
    w.nobody = _user("nobody@test.vn", None, None)
    return w


@pytest.fixture
def make_system(world):
    """Create a system directly (bypassing services) for read-side tests."""
    from khien.registry.models import InformationSystem

    counter = {"n": 0}

    def make(owner, **extra):
        counter["n"] += 1
        fields = {"code": f"SYS-{owner.code}-{counter['n']}", "name": f"Hệ thống {counter['n']}", "owner": owner}
        fields.update(extra)
        return InformationSystem.objects.create(**fields)

    return make


@pytest.fixture
def api(db):
    """An APIClient factory authenticated with a real hashed token of `user`."""
    from rest_framework.test import APIClient

    from khien.core import services

    def make(user=None):
        client = APIClient()
        if user is not None:
            _token, key = services.do_create_api_token(user, acting_user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def as_user(client):
    """The Django test client signed in as `user` (no second factor: use coordinator_client for the coordinator)."""
    def login(user):
        client.force_login(user)
        return client
    return login


@pytest.fixture
def coordinator_client(client, world):
    """The national coordinator signed in through the real flow: password, then the TOTP code."""
    from django.urls import reverse
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=world.coordinator, name="test", confirmed=True)
    response = client.post(reverse("core:login"), {"username": world.coordinator.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    response = client.post(reverse("core:totp_verify"), {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    return client


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite; with KHIEN_REQUIRE_SERVICES=1 the runner makes sure they run."""
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with KHIEN_DB=postgres)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def reader(api):
    """An API client of `user` reading `language` (English by default): for tests of what a refusal says."""
    def make(user, language="en"):
        client = api(user)
        client.cookies["khien_language"] = language
        return client

    return make


def refusal(response):
    """The body of a 400 answer (the test fails on any other status)."""
    assert response.status_code == 400, (response.status_code, response.content)
    return response.json()
