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


# --- choosing a password: the errors under the field they concern -------------------------------------------

def _errors_of(response, field):
    return response.context["form"].errors.get(field, [])


def test_a_weak_new_password_is_refused_under_the_new_password_field(client, world):
    """Django put "too short", "too common"… under the confirmation: they concern the new password. Nothing is
    changed, on the change page and on the page a one-time link opens."""
    from khien.core import services

    client.force_login(world.analyst)
    weak = {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    response = client.post(reverse("core:password_change"), weak)
    assert response.status_code == 200
    assert _errors_of(response, "new_password1") and not _errors_of(response, "new_password2")
    page = response.content.decode()
    field1 = page[page.index('id="id_new_password1"'):page.index('id="id_new_password2"')]
    assert 'class="errorlist' in field1  # shown right under the new password
    # mistyped confirmation: still said under the confirmation
    mistyped = client.post(reverse("core:password_change"), {
        "old_password": PASSWORD, "new_password1": "Mat-khau-moi-2026!", "new_password2": "Mat-khau-khac-2026!"})
    assert _errors_of(mistyped, "new_password2") and not _errors_of(mistyped, "new_password1")
    world.analyst.refresh_from_db()
    assert world.analyst.check_password(PASSWORD)

    link = services.password_link(world.auditor, "http://testserver")
    client.logout()
    form_page = client.get(link.replace("http://testserver", ""), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert response.status_code == 200
    assert _errors_of(response, "new_password1") and not _errors_of(response, "new_password2")
    world.auditor.refresh_from_db()
    assert world.auditor.check_password(PASSWORD)
    done = client.post(set_url, {"new_password1": "Mat-khau-moi-2026!", "new_password2": "Mat-khau-moi-2026!"})
    assert done.status_code == 302
    world.auditor.refresh_from_db()
    assert world.auditor.check_password("Mat-khau-moi-2026!")


# --- the 2FA page names the state it is in ---------------------------------------------------------------

def _h1(page: str) -> str:
    return page[page.index("<h1>") + 4:page.index("</h1>")].strip()


def test_the_two_step_page_is_titled_turn_on_only_while_it_is_off(client, world):
    client.force_login(world.analyst)
    off = client.get(reverse("core:totp_enroll")).content.decode()
    assert _h1(off) == "Bật xác thực hai bước" and "<title>Bật xác thực hai bước" in off
    TOTPDevice.objects.filter(user=world.analyst).update(confirmed=True)  # enrolled (the page's own step)
    device = TOTPDevice.objects.get(user=world.analyst)
    assert client.post(reverse("core:totp_verify"), {"token": _code(device)}).status_code == 302
    on = client.get(reverse("core:totp_enroll"))
    page = on.content.decode()
    assert on.status_code == 200 and on.context["enrolled"]
    assert _h1(page) == "Xác thực hai bước" and "<title>Xác thực hai bước" in page and "Bật" not in _h1(page)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("core:totp_enroll")).content.decode()
    assert _h1(page) == "Two-step sign-in" and "Turn on" not in page


# --- "Forgot your password?": a limit per client --------------------------------------------------------

def test_one_client_cannot_have_links_sent_to_many_addresses(client, world, settings, mailoutbox):
    """At most KHIEN_PASSWORD_LINK_CLIENT_LIMIT links per client address per hour, whatever the addresses; the page
    answers the same whether or not a link went (nothing tells which addresses have an account). Another client
    is not held back, and the hour passes."""
    import datetime as dt

    from django.utils import timezone

    from khien.core import services
    from khien.core.models import AuditEntry

    settings.KHIEN_PASSWORD_LINK_CLIENT_LIMIT = 2
    url = reverse("core:password_forgotten")

    def ask(email, address="198.51.100.7"):
        response = client.post(url, {"email": email}, REMOTE_ADDR=address, follow=True)
        assert response.status_code == 200
        return [str(m) for m in response.context["messages"]]

    first = ask(world.analyst.email)
    assert ask(world.auditor.email) == first
    assert len(mailoutbox) == 2
    # the third address from the same client: the same answer, no e-mail
    assert ask(world.trainee.email) == first and ask("nobody-here@min.test.vn") == first
    assert len(mailoutbox) == 2
    links = AuditEntry.objects.filter(action="password_link")
    assert links.count() == 2 and set(links.values_list("after__ip", flat=True)) == {"198.51.100.7"}
    # another client may still ask
    assert ask(world.trainee.email, "203.0.113.9") == first
    assert [m.to for m in mailoutbox[2:]] == [[world.trainee.email]]
    # an hour later the client may ask again
    later = timezone.now() + services.PASSWORD_LINK_CLIENT_WINDOW + dt.timedelta(minutes=1)
    assert services.may_send_password_link(world.admin, later, client="198.51.100.7")
    assert not services.may_send_password_link(world.admin, client="198.51.100.7")


def test_a_refusal_with_a_reason_shows_it_on_the_error_page(world, as_user):
    from django.urls import reverse

    client = as_user(world.analyst)
    answer = client.get(reverse("telemetry:campaigns"))
    assert answer.status_code == 403
    page = answer.content.decode()
    assert "Chỉ cơ quan điều phối quốc gia mới xem được các chiến dịch tấn công." in page
    assert "<nav" in page  # the normal layout, not a bare page


def test_the_password_link_is_written_in_the_accounts_language(client, world, mailoutbox):
    """The e-mail goes to the person, away from the browser that asked: in the language of their account, as
    every other e-mail to them (a Vietnamese page asked for it, an English-speaking liaison reads it)."""
    from khien.core import services

    services.do_remember_language(world.analyst, "en")
    client.post(reverse("core:password_forgotten"), {"email": world.analyst.email}, HTTP_ACCEPT_LANGUAGE="vi")
    assert mailoutbox[-1].subject == "[Khiên] Choose a new password"
    assert mailoutbox[-1].body.startswith("Someone asked to choose a new password")
    services.do_remember_language(world.auditor, "vi")
    client.cookies["khien_language"] = "en"
    client.post(reverse("core:password_forgotten"), {"email": world.auditor.email}, REMOTE_ADDR="203.0.113.20")
    assert mailoutbox[-1].to == [world.auditor.email] and "Choose a new password" not in mailoutbox[-1].subject
