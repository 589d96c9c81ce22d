"""What the two-step sign-in pages say after a wrong code. django-otp makes a device wait after each wrong code (1,
2, 4, 8… seconds): a first mistake is only a wrong code (the phone's clock is the usual cause), "too many attempts"
comes only after several, and a right code sent while the device still waits is never called wrong. (In English:
the words are new, their Vietnamese comes with the catalogue.)"""
import datetime as dt
import html

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db
PASSWORD = "Khien-test-pass-2026"
ENROL = "/accounts/2fa/enroll/"
VERIFY = "/accounts/2fa/"


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _wrong(device):
    return "000000" if _code(device) != "000000" else "111111"


def _error(response) -> str:
    text = html.unescape(response.content.decode())
    start = text.index('class="errorlist')
    return text[start:text.index("</ul>", start)]


def _wait_over(device):
    """As if the person took longer than the wait before the next try."""
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp - dt.timedelta(seconds=60))


def _english(client):
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def _enrolling(client, world):
    _english(client)
    assert client.post(reverse("core:login"), {"username": world.coordinator.email, "password": PASSWORD}).status_code == 302
    assert client.get(ENROL).status_code == 200
    return TOTPDevice.objects.get(user=world.coordinator, confirmed=False)


def test_a_first_wrong_code_is_only_wrong_and_a_right_code_just_after_is_not_called_wrong(client, world):
    device = _enrolling(client, world)
    first = _error(client.post(ENROL, {"token": _wrong(device)}))
    assert "code is wrong" in first and "clock" in first  # wrong, and the phone's clock to check
    assert "Too many" not in first and "wait" not in first
    # the right code at once, while django-otp still makes the device wait its second
    right = client.post(ENROL, {"token": _code(device)})
    if right.status_code == 302:  # the second had passed already (a slow machine): accepted, as it should be
        return
    said = _error(right)
    assert "wrong" not in said and "Too many" not in said
    assert "wait" in said  # wait, then enter it again
    device.refresh_from_db()
    assert device.throttling_failure_count == 1 and not device.confirmed  # not counted as another wrong code
    _wait_over(device)
    assert client.post(ENROL, {"token": _code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_too_many_attempts_only_after_several_wrong_codes(client, world):
    device = _enrolling(client, world)
    said = []
    for _ in range(3):
        said.append(_error(client.post(ENROL, {"token": _wrong(device)})))
        _wait_over(device)
    assert all("code is wrong" in s for s in said)
    assert not any("Too many" in s for s in said[:2])
    assert "Too many" in said[2] and "wait 4 seconds" in said[2]


def test_the_sign_in_check_says_the_same(client, world):
    device = TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True)
    _english(client)
    assert client.post(reverse("core:login"), {"username": world.coordinator.email, "password": PASSWORD}).status_code == 302
    first = _error(client.post(VERIFY, {"token": _wrong(device)}))
    assert "code is wrong" in first and "clock" in first and "Too many" not in first and "wait" not in first
    right = client.post(VERIFY, {"token": _code(device)})
    if right.status_code != 302:
        said = _error(right)
        assert "wrong" not in said and "wait" in said
        _wait_over(device)
        assert client.post(VERIFY, {"token": _code(device)}).status_code == 302


def test_the_enrolment_page_links_the_secret_for_an_app_on_the_same_phone(client, world):
    """A commune officer whose only device is the phone they sign in on cannot scan its own screen: the page offers
    the otpauth:// link the authenticator app opens, for this person's own pending device only."""
    device = _enrolling(client, world)
    page = html.unescape(client.get(ENROL).content.decode())
    assert f'href="{device.config_url}"' in page and device.config_url.startswith("otpauth://totp/")
    assert "On this phone: open in the authenticator app" in page
