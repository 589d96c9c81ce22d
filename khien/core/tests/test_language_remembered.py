"""The language a person uses is kept on the account: chosen on the sign-in page (before signing in), it is stored
at sign-in; programs calling with the person's API token and no Accept-Language are answered in it."""
import base64

import pytest
from django.conf import settings

from khien.conftest import TEST_PASSWORD
from khien.core import services
from khien.core.models import User

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def test_english_chosen_before_signing_in_is_kept(client, world):
    client.post("/i18n/setlang/", {"language": "en", "next": LOGIN})
    assert client.post(LOGIN, {"username": world.analyst.email, "password": TEST_PASSWORD}).status_code == 302
    assert User.objects.get(pk=world.analyst.pk).language == "en"


def test_a_stored_language_is_not_overwritten_at_sign_in(client, world):
    services.do_remember_language(world.analyst, "vi")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.post(LOGIN, {"username": world.analyst.email, "password": TEST_PASSWORD})
    assert User.objects.get(pk=world.analyst.pk).language == "vi"



def test_signing_in_on_a_new_browser_brings_back_the_accounts_language(client, world):
    """An English-speaking liaison signs in on a fresh browser: the pages after sign-in are in English, as their
    e-mails are (the account's language sets the cookie when the browser has none)."""
    services.do_remember_language(world.analyst, "en")
    response = client.post(LOGIN, {"username": world.analyst.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/")
    page = client.get(page["Location"]) if page.status_code == 302 else page
    assert page["Content-Language"] == "en"
    # A language chosen on this browser (the switch on the sign-in page) is kept for the pages, and the account's
    # stays as it was.
    services.do_remember_language(world.admin, "vi")
    client.logout()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(LOGIN, {"username": world.admin.email, "password": TEST_PASSWORD})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert User.objects.get(pk=world.admin.pk).language == "vi"

def test_no_choice_and_a_failed_sign_in_store_nothing(client, world):
    client.post(LOGIN, {"username": world.analyst.email, "password": TEST_PASSWORD})
    assert User.objects.get(pk=world.analyst.pk).language == ""
    other = world.admin
    client.logout()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.post(LOGIN, {"username": other.email, "password": "wrong-password-here"})
    assert User.objects.get(pk=other.pk).language == ""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"  # not a language of the platform
    client.post(LOGIN, {"username": other.email, "password": TEST_PASSWORD})
    assert User.objects.get(pk=other.pk).language == ""


def _not_found(client, headers):
    response = client.get("/api/registry/systems/00000000-0000-0000-0000-000000000000/", **headers)
    assert response.status_code == 404
    return response.json()["detail"], response["Content-Language"]


def test_the_api_answers_in_the_token_owners_language(client, world):
    services.do_remember_language(world.analyst, "en")
    _token, key = services.do_create_api_token(world.analyst, acting_user=world.analyst)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    english, language = _not_found(client, auth)
    assert language == "en" and english == "Not found."
    vietnamese, language = _not_found(client, {**auth, "HTTP_ACCEPT_LANGUAGE": "vi"})  # asked for: wins
    assert language == "vi" and vietnamese != english
    # Someone who chose nothing, a wrong key: Vietnamese, as before.
    _token, other_key = services.do_create_api_token(world.admin, acting_user=world.admin)
    assert _not_found(client, {"HTTP_AUTHORIZATION": f"Token {other_key}"})[1] == "vi"
    response = client.get("/api/me/", HTTP_AUTHORIZATION="Token khn_not-a-real-token-0000000000000000")
    assert response.status_code == 401 and response["Content-Language"] == "vi"


def test_taxii_answers_in_the_token_owners_language(client, world):
    services.do_remember_language(world.analyst, "en")
    _token, key = services.do_create_api_token(world.analyst, acting_user=world.analyst)
    basic = "Basic " + base64.b64encode(f"{world.analyst.email}:{key}".encode()).decode()
    accept = {"HTTP_ACCEPT": "application/taxii+json;version=2.1"}
    response = client.get("/taxii2/api/collections/00000000-0000-0000-0000-000000000000/", HTTP_AUTHORIZATION=basic,
                          **accept)
    assert response.status_code == 404 and response["Content-Language"] == "en"
    response = client.get("/taxii2/api/collections/00000000-0000-0000-0000-000000000000/", HTTP_AUTHORIZATION=basic,
                          HTTP_ACCEPT_LANGUAGE="vi", **accept)
    assert response["Content-Language"] == "vi"
    # Basic with another person's address does not give that token's language (nor access).
    wrong = "Basic " + base64.b64encode(f"{world.admin.email}:{key}".encode()).decode()
    response = client.get("/taxii2/", HTTP_AUTHORIZATION=wrong, **accept)
    assert response.status_code == 401 and response["Content-Language"] == "vi"


def test_the_language_buttons_name_each_language_in_itself(client, world):
    """On a Vietnamese page the EN button is titled "English", not "Tiếng Anh": whoever looks for their language
    reads its name."""
    client.force_login(world.analyst)
    page = client.get("/incidents/").content.decode()
    assert 'value="en" class="linklike" title="English" lang="en"' in page
    from django.utils.translation import get_language_info

    assert f'title="{get_language_info("vi")["name_local"]}" lang="vi"' in page  # Django's spelling of it
