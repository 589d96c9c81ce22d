"""Probing leaves a trace: a signed-in user's refused request (any 403, a 404 on a route that names an object) writes
one line to the `khien.security` logger — who, method, path, status — and never the query string, the body or a
credential. Reads are not put into the hash-chained audit log (threat model)."""
import logging

import pytest

from khien.core.models import AuditEntry

pytestmark = pytest.mark.django_db

SECRET = "khn_ThisIsNotARealTokenButLooksLikeOne1234567890"


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "khien.security"]


def test_a_404_on_another_organizations_object_is_logged_without_secrets(world, api, make_system, caplog):
    theirs = make_system(world.province)
    client = api(world.admin)
    before = AuditEntry.objects.count()
    with caplog.at_level(logging.INFO, logger="khien.security"):
        response = client.get(f"/api/registry/systems/{theirs.pk}/", {"token": SECRET, "password": "hunter2-secret"})
        assert response.status_code == 404
        response = client.patch(f"/api/registry/systems/{theirs.pk}/", {"name": "x", "password": "hunter2-secret"},
                                format="json")
        assert response.status_code == 404
    lines = _lines(caplog)
    assert lines == [f"refused user={world.admin.pk} method=GET path=/api/registry/systems/{theirs.pk}/ status=404",
                     f"refused user={world.admin.pk} method=PATCH path=/api/registry/systems/{theirs.pk}/ status=404"]
    logged = " ".join(r.getMessage() + str(r.args) + str(getattr(r, "request", "")) for r in caplog.records
                      if r.name == "khien.security")
    assert SECRET not in logged and "hunter2" not in logged and "token=" not in logged
    key = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert key not in caplog.text
    assert AuditEntry.objects.count() == before  # reads are not written to the hash-chained log


def test_a_page_refusal_is_logged_and_a_plain_404_or_an_anonymous_one_is_not(client, world, caplog):
    client.force_login(world.admin)
    with caplog.at_level(logging.INFO, logger="khien.security"):
        assert client.get("/audit/999999/").status_code == 404  # an object route: logged
        assert client.get("/no-such-page/").status_code == 404  # no object named: not logged
        client.logout()
        assert client.get("/audit/999999/").status_code in (302, 404)  # nobody signed in: not logged
    assert _lines(caplog) == [f"refused user={world.admin.pk} method=GET path=/audit/999999/ status=404"]


def test_a_403_is_logged(world, api, caplog):
    with caplog.at_level(logging.INFO, logger="khien.security"):
        response = api(world.trainee).post("/api/registry/systems/", {"name": "x"}, format="json")
    assert response.status_code == 403, response.content
    assert _lines(caplog) == [f"refused user={world.trainee.pk} method=POST path=/api/registry/systems/ status=403"]


def test_a_path_that_carries_a_secret_is_logged_without_it(client, world, caplog):
    """The password link carries its token in the path: the line names the route, not the token."""
    from django.urls import resolve

    from khien.core.middleware import _path_without_secrets

    path = f"/accounts/password/set/MQ/{SECRET}/"
    assert _path_without_secrets(path, resolve(path)) == "/accounts/password/set/<uidb64>/<token>/"
    client.force_login(world.admin)
    with caplog.at_level(logging.INFO, logger="khien.security"):
        client.get(path)
        client.get(f"/api/registry/systems/x%0A{SECRET}/")  # a line break and a token in an id: one line, masked
    lines = _lines(caplog)
    assert len(lines) == 1 and "/api/registry/systems/x%0A" in lines[0]  # the line break percent-encoded
    assert SECRET not in " ".join(lines) and "\n" not in lines[0]
