"""A refused form says so once, at the top, with the reason that belongs to no field inside that banner."""
from django import forms
from django.template.loader import render_to_string
from django.utils.translation import override


class _Form(forms.Form):
    name = forms.CharField()

    def clean(self):
        raise forms.ValidationError("Mã đã được dùng cho một hệ thống khác.")


def _rendered(data):
    form = _Form(data)
    form.is_valid()
    with override("vi"):
        return render_to_string("_form_errors.html", {"form": form})


def test_a_reason_for_no_field_is_said_inside_the_one_banner():
    html = _rendered({"name": "x"})
    assert html.count('role="alert"') == 1 and html.count("Mã đã được dùng") == 1
    banner = html[html.index('role="alert"'):html.index("</div>")]
    assert "Mã đã được dùng" in banner and "Chưa lưu dữ liệu nào" in banner


def test_a_valid_form_shows_no_banner():
    form = _Form({"name": "x"})
    form.clean = lambda: form.cleaned_data
    assert form.is_valid()
    assert 'role="alert"' not in render_to_string("_form_errors.html", {"form": form})
