"""The pages around signing in: a session owing its second factor sees a bare page, a code used once is told apart
from a wrong one, and the API token page says what a token is."""
import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core import notifications

pytestmark = pytest.mark.django_db
PASSWORD = "Khien-test-pass-2026"


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _wrong(device):
    return "000000" if _code(device) != "000000" else "111111"


def _signed_in_owing_the_second_factor(client, world):
    device = TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True)
    notifications.notify([world.coordinator], kind="test", title="Một thông báo chưa đọc")
    assert client.post(reverse("core:login"), {"username": world.coordinator.email, "password": PASSWORD}).status_code == 302
    return device


def test_before_the_second_factor_the_page_shows_no_navigation_counts_or_user_menu(client, world):
    _signed_in_owing_the_second_factor(client, world)
    page = client.get(reverse("core:totp_verify")).content.decode()
    assert 'class="mainnav"' not in page and 'id="notification-bell"' not in page and 'class="usermenu"' not in page
    assert 'class="count"' not in page
    assert reverse("core:audit") not in page and reverse("core:tokens") not in page
    assert 'action="/accounts/logout/"' in page  # the way out stays
    assert 'name="token"' in page
    # the enrolment page (a coordinator without a device yet) is as bare
    client.logout()
    TOTPDevice.objects.all().delete()
    client.post(reverse("core:login"), {"username": world.coordinator.email, "password": PASSWORD})
    page = client.get(reverse("core:totp_enroll")).content.decode()
    assert 'class="mainnav"' not in page and 'class="usermenu"' not in page and "data:image/svg+xml" in page


def test_after_the_second_factor_the_navigation_is_back(coordinator_client):
    page = coordinator_client.get(reverse("core:audit")).content.decode()
    assert 'class="mainnav"' in page and 'id="notification-bell"' in page and 'class="usermenu"' in page


def test_people_without_a_second_factor_keep_the_navigation(client, world):
    client.force_login(world.analyst)
    page = client.get(reverse("core:tokens")).content.decode()
    assert 'class="mainnav"' in page and 'class="usermenu"' in page


def test_a_code_used_once_is_told_apart_from_a_wrong_code(client, world):
    device = _signed_in_owing_the_second_factor(client, world)
    code = _code(device)
    assert client.post(reverse("core:totp_verify"), {"token": code}).status_code == 302
    client.post(reverse("core:logout"))
    client.post(reverse("core:login"), {"username": world.coordinator.email, "password": PASSWORD})
    again = client.post(reverse("core:totp_verify"), {"token": code})
    text = again.content.decode()
    assert again.status_code == 200 and client.get(reverse("core:audit")).status_code == 302  # still not in
    assert "already been used" in text or "đã được dùng" in text
    assert "wrong" not in text and "không đúng" not in text and "wait %" not in text
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # not counted as a failed try
    # a wrong code is still a wrong code, and after it the device waits, as before
    wrong = client.post(reverse("core:totp_verify"), {"token": _wrong(device)}).content.decode()
    assert "already been used" not in wrong and "đã được dùng" not in wrong
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_token_page_title_explanation_and_api_docs_link(client, world):
    client.force_login(world.analyst)
    page = client.get(reverse("core:tokens")).content.decode()
    title = page[page.index("<h1>") + 4:page.index("</h1>")].strip()
    assert title in ("Token API", "API tokens")  # capitalised in either language
    assert "<title>Token API" in page or "<title>API tokens" in page
    assert f'href="{reverse("api-docs")}"' in page
    help_text = page[page.index('id="token-help"'):]
    help_text = help_text[:help_text.index("</div>")]
    for words in (("roles", "vai trò"), ("expire", "hết hạn"), ("revoke", "thu hồi")):
        assert any(w in help_text for w in words), words


def test_someone_in_no_organization_is_told_why_the_pages_are_empty(world, client):
    """Removed from their organization (or not given a role yet), a person sees empty pages: the pages say why."""
    client.force_login(world.nobody)
    assert 'id="without-organization"' in client.get("/").content.decode()
    client.force_login(world.analyst)
    assert 'id="without-organization"' not in client.get("/").content.decode()
