"""The confirmation page asked without JavaScript posts back exactly what was sent, with the consent."""

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from khien.core.confirmation import ask_first, confirmed


def _request(data):
    request = RequestFactory().post("/somewhere/?tab=2", data)
    request.user = AnonymousUser()
    return request


def test_the_page_posts_the_same_fields_again_with_the_consent():
    request = _request({"alerts": ["a1", "a2"], "action": "discard", "csrfmiddlewaretoken": "x"})
    assert not confirmed(request)
    page = ask_first(request, question="Delete two dead letters?", button="Delete", cancel_url="/back/").content.decode()
    assert "Delete two dead letters?" in page
    assert 'action="/somewhere/?tab=2"' in page
    for value in ("a1", "a2"):
        assert f'name="alerts" value="{value}"' in page
    assert 'name="action" value="discard"' in page
    assert page.count('name="confirmed" value="1"') == 1
    assert 'value="x"' not in page  # the old CSRF token is not copied; the page has its own
    assert 'href="/back/"' in page


def test_sent_values_are_escaped():
    request = _request({"note": '"><script>alert(1)</script>'})
    page = ask_first(request, question="Sure?", button="Yes", cancel_url="/").content.decode()
    assert "<script>alert(1)" not in page


def test_the_consent_is_read_from_the_form():
    assert confirmed(_request({"confirmed": "1"}))
    assert not confirmed(_request({"confirmed": "yes"}))
