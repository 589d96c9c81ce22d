"""A banking-ISAC analyst's walkthrough: who is told what about a warning to an ISAC, and who may issue one.

- A warning to an ISAC reaches its operating organization as well as its members (it coordinates its sector's
  response): in its inbox, on its page, in its members' notifications — not when it sent the warning itself.
- Issuing is for the national coordinator and the administrators of an ISAC's operating organization; the
  operator's analysts are refused with words that say so.
"""
import pytest
from django.urls import reverse

from khien.conftest import _user
from khien.core.errors import Forbidden
from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import services_warnings as sw
from khien.intel.models import EarlyWarning, TargetReason
from khien.registry.models import Organization

from .test_views import signed_in
from .test_warnings import _issue, _targets, land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_warning_to_an_isac_reaches_its_operator(land, client):
    w = land.world
    warning = _issue(w.coordinator, isacs=[land.isac])
    assert _targets(warning) == {"MIN": (TargetReason.ISAC, "FIN-ISAC"), "PROV": (TargetReason.ISAC, "FIN-ISAC"),
                                 "RESP": (TargetReason.ISAC, "FIN-ISAC")}
    # The operator's analyst finds it in the inbox, opens it, is told, and may answer for the operator.
    assert [t.warning_id for t in sw.inbox_for(w.analyst)] == [warning.pk]
    assert warning in sw.warnings_visible_to(w.analyst)
    assert Notification.objects.filter(recipient=w.analyst, kind="intel.warning").count() == 1
    c = signed_in(client, w.analyst)
    assert c.get(reverse("intel:warning_detail", args=[warning.pk])).status_code == 200
    assert sw.can_acknowledge(w.analyst, warning.targets.get(organization=w.ministry))
    # …but it is a recipient, not the sender: the target list and the answers stay the sender's.
    assert not sw.can_view_targets(w.analyst, warning)
    # Nobody else learns of it.
    assert warning not in sw.warnings_visible_to(land.other_user)
    assert signed_in(client, land.other_user).get(
        reverse("intel:warning_detail", args=[warning.pk])).status_code == 404


def test_the_recipient_count_includes_the_operator(land):
    w = land.world
    preview = sw.preview_targets({"title": "T"}, acting_user=w.coordinator, isacs=[land.isac], auto_match=False)
    assert preview["total"] == 3


def test_an_operator_is_not_a_target_of_its_own_warning(land):
    w = land.world
    warning = _issue(w.admin, isacs=[land.isac])
    assert warning.organization == w.ministry
    assert set(_targets(warning)) == {"PROV", "RESP"}
    assert sw.preview_targets({"title": "T"}, acting_user=w.admin, isacs=[land.isac], auto_match=False)["total"] == 2


def test_an_inactive_operator_is_not_targeted(land):
    w = land.world
    Organization.objects.filter(pk=w.ministry.pk).update(is_active=False)
    land.isac.refresh_from_db()
    assert set(_targets(_issue(w.coordinator, isacs=[land.isac]))) == {"PROV", "RESP"}


def test_the_operators_analyst_is_told_who_may_issue(land, client):
    w = land.world
    client.cookies["khien_language"] = "en"
    c = signed_in(client, w.analyst)
    client.cookies["khien_language"] = "en"
    response = c.get(reverse("intel:warning_create"))
    assert response.status_code == 403
    assert "an administrator of an ISAC&#x27;s operating organization" in response.content.decode() or \
        "an administrator of an ISAC's operating organization" in response.content.decode()
    with pytest.raises(Forbidden) as refused:
        _issue(w.analyst, isacs=[land.isac])
    assert "administrator of an ISAC's operating organization" in str(refused.value.message) or \
        "quản trị viên" in str(refused.value.message)
    assert not EarlyWarning.objects.exists()
    # As for the coordinator's organization: its analysts do not issue, the coordinator role does.
    ncsc_analyst = _user("analyst@ncsc.test.vn", w.ncsc, Role.ORG_ANALYST)
    assert not sw.can_issue(ncsc_analyst)
    assert sw.can_issue(w.admin) and sw.can_issue(w.coordinator)
    assert signed_in(client, w.admin).get(reverse("intel:warning_create")).status_code == 200
