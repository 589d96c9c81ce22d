"""Sign-in, second factor, throttling, tokens, headers and language."""
import io
import logging

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core.logging import RedactSecretsFilter
from khien.core.models import ApiToken, AuditEntry, hash_token

pytestmark = pytest.mark.django_db
PASSWORD = "Khien-test-pass-2026"
LOGIN = "/accounts/login/"


def _login(client, email, password=PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def _current_code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _clear_throttle(device):
    """django-otp makes a device wait after a wrong code; tests do not want to sleep."""
    device.refresh_from_db()
    device.throttle_reset()


def test_login_by_email_is_case_insensitive_and_audited(client, world):
    response = _login(client, "ANALYST@min.test.vn")
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="login", actor_email=world.analyst.email).exists()
    assert client.get(reverse("core:tokens")).status_code == 200


def test_wrong_password_is_refused_in_vietnamese(client, world):
    response = _login(client, world.analyst.email, "wrong-password")
    assert response.status_code == 200
    assert "Sai e-mail hoặc mật khẩu" in response.content.decode() or "Wrong e-mail or password" in response.content.decode()
    assert client.get(reverse("core:tokens")).status_code == 302  # still signed out


def test_repeated_failures_lock_the_account(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, world.analyst.email, "wrong-password")
    response = _login(client, world.analyst.email)  # even the right password is refused now
    assert response.status_code == 429
    assert client.get(reverse("core:tokens")).status_code == 302


def test_coordinator_must_enroll_a_second_factor(client, world):
    assert _login(client, world.coordinator.email).status_code == 302
    response = client.get(reverse("core:audit"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:totp_enroll"))
    # the API through the browser session is closed too until the second factor is given
    assert client.get("/api/me/").status_code == 403
    page = client.get(reverse("core:totp_enroll"))
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=world.coordinator, confirmed=False)
    assert client.post(reverse("core:totp_enroll"), {"token": "000000" if _current_code(device) != "000000" else "111111"}).status_code == 200
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    _clear_throttle(device)
    response = client.post(reverse("core:totp_enroll"), {"token": _current_code(device)})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("core:audit")).status_code == 200


def test_enrolled_user_must_verify_at_each_sign_in(client, world):
    device = TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True)
    _login(client, world.coordinator.email)
    response = client.get(reverse("core:audit"))
    assert response.url.startswith(reverse("core:totp_verify"))
    bad = client.post(reverse("core:totp_verify"), {"token": "12345"})
    assert bad.status_code == 200 and client.get(reverse("core:audit")).status_code == 302
    wrong = "000000" if _current_code(device) != "000000" else "111111"
    client.post(reverse("core:totp_verify"), {"token": wrong})
    throttled = client.post(reverse("core:totp_verify"), {"token": wrong}).content.decode()
    assert "wait" in throttled or "chờ" in throttled
    _clear_throttle(device)
    ok = client.post(reverse("core:totp_verify"), {"token": _current_code(device), "next": "/audit/"})
    assert ok.status_code == 302 and ok.url == "/audit/"
    assert client.get(reverse("core:audit")).status_code == 200


def test_verify_refuses_an_external_next(client, world):
    device = TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True)
    _login(client, world.coordinator.email)
    response = client.post(reverse("core:totp_verify"), {"token": _current_code(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == "/"


def test_other_roles_do_not_need_a_second_factor(client, world):
    _login(client, world.admin.email)
    assert client.get(reverse("core:audit")).status_code == 200


def test_api_requires_a_token(client, world, api):
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    bad = api()
    bad.credentials(HTTP_AUTHORIZATION="Token khn_not-a-real-token-at-all-000000000")
    assert bad.get("/api/me/").status_code == 401
    good = api(world.analyst)
    body = good.get("/api/me/").json()
    assert body["email"] == world.analyst.email
    assert body["memberships"] == [{"organization": str(world.ministry.pk), "role": "org_analyst"}]


def test_tokens_are_stored_hashed_and_revocable(world, api):
    from khien.core import services

    token, key = services.do_create_api_token(world.analyst, acting_user=world.analyst, name="SOC")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_token(key) and key not in stored.key_hash and stored.prefix == key[:12]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").status_code == 200
    services.do_revoke_api_token(stored, acting_user=world.analyst)
    assert client.get("/api/me/").status_code == 401


def test_token_of_an_inactive_user_is_refused(world, api):
    client = api(world.analyst)
    world.analyst.is_active = False
    world.analyst.save()
    assert client.get("/api/me/").status_code == 401


def test_token_command_prints_a_working_token(world, api):
    out = io.StringIO()
    call_command("token", world.auditor.email, stdout=out)
    key = out.getvalue().strip()
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").json()["email"] == world.auditor.email


def _create_token(client, **data):
    """The token page's form posted, and the page it leads to (post/redirect/get): the key it shows once."""
    response = client.post(reverse("core:tokens"), data, follow=True)
    return response.context["new_key"]


def test_tokens_page_shows_the_key_once(client, world):
    client.force_login(world.analyst)
    response = client.post(reverse("core:tokens"), {"name": "Wazuh"})
    # Post/redirect/get: reloading the page does not post again; the key is in no URL.
    assert response.status_code == 302 and response["Location"] == reverse("core:tokens")
    shown = client.get(response["Location"])
    key = shown.context["new_key"]
    page = shown.content.decode()
    assert key.startswith("khn_") and key in page and shown["Cache-Control"] == "no-store"
    assert "Wazuh" in page and 'class="messages"' in page  # the success message names the token
    assert key not in str(dict(client.session)) and key not in response["Location"]  # dropped once shown
    again = client.get(reverse("core:tokens"))  # F5 on the page that showed it
    assert key not in again.content.decode() and again.context["new_key"] is None
    assert ApiToken.objects.filter(user=world.analyst).count() == 1
    # A token without a name could not be told from the others later: refused, nothing created.
    count = ApiToken.objects.count()
    refused = client.post(reverse("core:tokens"), {"name": "  "})
    assert refused.status_code == 400 and 'role="alert"' in refused.content.decode()
    assert ApiToken.objects.count() == count


def test_a_token_made_on_the_page_ends_after_the_chosen_period(client, world, api):
    import datetime as dt

    from django.utils import timezone

    client.force_login(world.analyst)
    before = timezone.now()
    key = _create_token(client, name="SOC", valid_for="30")
    token = ApiToken.objects.get(key_hash=hash_token(key))
    assert before + dt.timedelta(days=30) <= token.expires_at <= timezone.now() + dt.timedelta(days=30)
    # Without a choice the token lasts the default 90 days; "no end date" must be chosen on purpose.
    default = _create_token(client, name="SIEM")
    assert ApiToken.objects.get(key_hash=hash_token(default)).expires_at > timezone.now() + dt.timedelta(days=89)
    endless = _create_token(client, name="TAXII", valid_for="never")
    assert ApiToken.objects.get(key_hash=hash_token(endless)).expires_at is None
    # An unknown period is refused and creates nothing.
    count = ApiToken.objects.count()
    assert client.post(reverse("core:tokens"), {"name": "X", "valid_for": "9999"}).status_code == 400
    assert ApiToken.objects.count() == count
    # Once past its end the token no longer opens the API, and the page says it expired (not revoked).
    caller = api()
    caller.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert caller.get("/api/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert caller.get("/api/me/").status_code == 401
    page = client.get(reverse("core:tokens")).content.decode()
    assert "expired" in page or "hết hạn" in page


def test_a_token_name_is_not_given_twice_among_active_tokens(client, world):
    """Two active tokens of one user with one name could not be told apart in the list or the audit log."""
    from django.utils.translation import gettext

    client.force_login(world.analyst)
    first = _create_token(client, name="Wazuh SOC")
    entries = AuditEntry.objects.count()
    refused = client.post(reverse("core:tokens"), {"name": "wazuh soc"})
    assert refused.status_code == 400 and 'role="alert"' in refused.content.decode()
    message = gettext("You already have an active token named “%(name)s”: choose another name, or revoke that "
                      "token first.") % {"name": "wazuh soc"}
    assert message in refused.content.decode()
    assert ApiToken.objects.filter(user=world.analyst).count() == 1 and AuditEntry.objects.count() == entries
    # Another user may use the name; once the token is revoked, the name is free again.
    client.force_login(world.auditor)
    assert _create_token(client, name="Wazuh SOC")
    client.force_login(world.analyst)
    client.post(reverse("core:tokens"), {"revoke": str(ApiToken.objects.get(key_hash=hash_token(first)).pk),
                                         "confirmed": "1"})
    assert _create_token(client, name="Wazuh SOC")


def test_the_token_command_can_give_an_end_date(world):
    import datetime as dt

    from django.core.management.base import CommandError
    from django.utils import timezone

    out = io.StringIO()
    call_command("token", world.auditor.email, "--days", "7", stdout=out)
    token = ApiToken.objects.get(key_hash=hash_token(out.getvalue().strip()))
    assert timezone.now() + dt.timedelta(days=6) < token.expires_at <= timezone.now() + dt.timedelta(days=7)
    with pytest.raises(CommandError):
        call_command("token", world.auditor.email, "--days", "0", stdout=io.StringIO())


def test_the_token_command_names_each_token_and_refuses_a_duplicate_name_cleanly(world):
    from django.core.management.base import CommandError

    from khien.core.models import ApiToken

    for _run in range(2):  # run twice in a row, as an operator does: two tokens, told apart by their names
        call_command("token", world.auditor.email, stdout=io.StringIO())
    names = list(ApiToken.objects.filter(user=world.auditor).values_list("name", flat=True))
    assert len(names) == 2 and all(n.startswith("command line") for n in names)
    call_command("token", world.auditor.email, "--name", "siem", stdout=io.StringIO())
    with pytest.raises(CommandError, match="SIEM"):
        call_command("token", world.auditor.email, "--name", "SIEM", stdout=io.StringIO())


def test_cannot_revoke_someone_elses_token(client, world):
    from khien.core import services

    token, _key = services.do_create_api_token(world.admin, acting_user=world.admin)
    client.force_login(world.analyst)
    assert client.post(reverse("core:tokens"), {"revoke": str(token.pk)}).status_code == 403
    assert client.post(reverse("core:tokens"), {"revoke": "not-a-token"}).status_code == 403  # was a 500
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_security_headers_and_csp_without_external_origins(client, world):
    response = client.get(LOGIN)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Permissions-Policy" in response
    page = response.content.decode()
    assert "<script>" not in page and "https://" not in page and "http://" not in page


def test_session_cookie_is_httponly(client, world):
    response = _login(client, world.analyst.email)
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["sessionid"]["samesite"] == "Lax"


def test_vietnamese_by_default_english_on_request(client, world):
    page = client.get(LOGIN).content.decode()
    assert 'lang="vi"' in page and "Đăng nhập" in page
    # an English operating system's browser still gets Vietnamese until the user switches
    page = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="vi"' in page and "Đăng nhập" in page
    client.post("/i18n/setlang/", {"language": "en", "next": LOGIN})
    page = client.get(LOGIN).content.decode()
    assert 'lang="en"' in page and "Sign in" in page


def test_log_filter_masks_secrets():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Authorization: Token %s password=%s", ("khn_abcdefghijklmnopqrstuvwxyz0123", "hunter2"), None)
    RedactSecretsFilter().filter(record)
    text = record.getMessage()
    assert "khn_abcdefghijklmnopqrstuvwxyz0123" not in text and "hunter2" not in text


def test_any_user_may_turn_on_two_step_sign_in_and_then_needs_it(client, world):
    _login(client, world.analyst.email)
    assert client.get(reverse("core:audit")).status_code == 200  # not required for an analyst
    client.get(reverse("core:totp_enroll"))
    device = TOTPDevice.objects.get(user=world.analyst, confirmed=False)
    assert client.post(reverse("core:totp_enroll"), {"token": _current_code(device)}).status_code == 302
    page = client.get(reverse("core:totp_enroll"))
    assert page.context["enrolled"] and TOTPDevice.objects.filter(user=world.analyst).count() == 1
    client.post(reverse("core:logout"))
    _login(client, world.analyst.email)
    assert client.get(reverse("core:audit")).url.startswith(reverse("core:totp_verify"))


def test_api_errors_are_vietnamese_unless_the_client_asks_for_english(client, world, api):
    assert client.get("/api/me/").json()["detail"] == "Chưa cung cấp thông tin xác thực."
    assert client.get("/api/me/", HTTP_ACCEPT_LANGUAGE="en").json()["detail"] == "Authentication credentials were not provided."
    response = api(world.admin).post("/api/registry/systems/", {"code": "X-1", "name": "x", "owner": "PROV"}, format="json")
    assert response.status_code == 400
    assert response.json()["owner"] == ["Không có đối tượng với code=PROV (hoặc bạn không được xem)."]
