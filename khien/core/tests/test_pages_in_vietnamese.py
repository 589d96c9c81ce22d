"""What every signed-in person sees: the menu offers only what they may open; Django's own messages in Vietnamese."""
import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role,offered", [("admin", True), ("analyst", False),
                                          ("responder", False), ("auditor", False), ("trainee", False)])
def test_the_import_link_is_in_the_menu_only_for_those_who_may_import(client, world, role, offered):
    client.force_login(getattr(world, role))
    page = client.get(reverse("registry:dashboard")).content.decode()
    menu = page[page.index('class="mainnav"'):page.index("</nav>")]
    assert (reverse("registry:import") in menu) is offered
    assert client.get(reverse("registry:import")).status_code == (200 if offered else 403)


def test_the_password_rules_are_told_in_vietnamese(client, world):
    client.force_login(world.analyst)
    page = client.post(reverse("core:password_change"), {
        "old_password": "wrong-anyway", "new_password1": "short1", "new_password2": "short1"}).content.decode()
    assert "Mật khẩu này quá ngắn. Mật khẩu phải có ít nhất 12 ký tự." in page
    assert "This password is too short" not in page
    page = client.post(reverse("core:password_change"), {
        "old_password": "x", "new_password1": "123456789012345", "new_password2": "123456789012345"}).content.decode()
    assert "Mật khẩu này chỉ gồm chữ số." in page


def test_large_numbers_are_grouped_as_each_language_writes_them():
    from django.template import Context, Template
    from django.utils import translation

    template = Template("{% load humanize %}{{ n|intcomma }} {{ x|floatformat:2 }}")
    with translation.override("vi"):
        assert template.render(Context({"n": 1234567, "x": 0.5})) == "1.234.567 0,50"
    with translation.override("en"):
        assert template.render(Context({"n": 1234567, "x": 0.5})) == "1,234,567 0.50"


def test_the_audit_log_names_actions_and_objects_in_the_readers_language(client, world, make_system):
    from khien.core import audit

    system = make_system(world.ministry)
    audit.record(audit.Act.CREATE, system, actor=world.admin, organization_id=str(world.ministry.pk))
    audit.record(audit.Act.DELETE, None, actor=None, object_type="telemetry.retention", object_id="x",
                 object_repr="telemetry older than x", organization_id=str(world.ministry.pk))
    client.force_login(world.admin)
    page = client.get(reverse("core:audit")).content.decode()
    rows = page[page.index("<tbody>"):page.index("</tbody>")]
    assert ">Tạo mới<" in rows and ">hệ thống thông tin<" in rows.lower() and system.name in rows
    assert ">lưu giữ dữ liệu giám sát<" in rows and ">Xóa<" in rows
    assert ">create<" not in rows and ">registry.informationsystem<" not in rows
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    rows = client.get(reverse("core:audit")).content.decode()
    assert ">Created<" in rows and ">telemetry retention<" in rows


@pytest.mark.parametrize("url,data", [
    ("/incidents/new/", {"title": "Sự cố \x1b[31m", "description": "x"}),
    ("/organizations/new/", {"code": "X1", "name_vi": "Tổ chức\x07", "name_en": "Org"}),
])
def test_every_page_form_refuses_control_characters_as_the_api_does(client, world, url, data):
    client.force_login(world.admin)
    answer = client.post(url, data)
    assert answer.status_code == 400
    assert "Không được dùng ký tự điều khiển" in answer.content.decode()


def test_djangos_value_limits_read_without_a_stray_space():
    from django import forms
    from django.utils import translation

    with translation.override("vi"):
        field = forms.IntegerField(min_value=0, max_value=9)
        for value, expected in (("-1", "Giá trị này phải lớn hơn hoặc bằng 0."),
                                ("10", "Giá trị này phải nhỏ hơn hoặc bằng 9.")):
            with pytest.raises(forms.ValidationError) as refused:
                field.clean(value)
            assert refused.value.messages == [expected]
