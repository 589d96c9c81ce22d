"""Django's own messages that its Vietnamese catalogue lacks (the password rules, reworded in Django 5), or writes
with a stray space before the full stop ("… bằng với 0 .") or at an end (`STRAY_SPACES`).

Listed here only so that `make messages` keeps them in Khiên's catalogue, which Django reads before its own;
nothing imports this module. Keep the texts exactly as Django writes them."""
from django.utils.translation import gettext_noop, ngettext_lazy

PASSWORD_RULES = (
    ngettext_lazy("This password is too short. It must contain at least %d character.",
                  "This password is too short. It must contain at least %d characters.", 0),
    ngettext_lazy("Your password must contain at least %(min_length)d character.",
                  "Your password must contain at least %(min_length)d characters.", 0),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("This password is too common."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("Your password can’t be entirely numeric."),
)

VALUE_LIMITS = (
    gettext_noop("Ensure this value is %(limit_value)s (it is %(show_value)s)."),
    gettext_noop("Ensure this value is less than or equal to %(limit_value)s."),
    gettext_noop("Ensure this value is greater than or equal to %(limit_value)s."),
    gettext_noop("Please correct the duplicate data for %(field)s."),
    # Django's Vietnamese writes "kí tự" here; Khiên writes "ký tự" everywhere.
    ngettext_lazy("Ensure this value has at least %(limit_value)d character (it has %(show_value)d).",
                  "Ensure this value has at least %(limit_value)d characters (it has %(show_value)d).", 0),
    ngettext_lazy("Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
                  "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).", 0),
    ngettext_lazy("Ensure this filename has at most %(max)d character (it has %(length)d).",
                  "Ensure this filename has at most %(max)d characters (it has %(length)d).", 0),
)

# Django's and Django REST framework's Vietnamese say "tập tin" and "email" where Khiên says "tệp" and "e-mail":
# the same word for the same thing on every page.
WORDING = (
    gettext_noop("Enter a valid email address."),
    gettext_noop("Email address"),
    gettext_noop("No file was submitted. Check the encoding type on the form."),
    gettext_noop("No file was submitted."),
    gettext_noop("The submitted file is empty."),
    gettext_noop("Please either submit a file or check the clear checkbox, not both."),
    gettext_noop("Upload a valid image. The file you uploaded was either not an image or a corrupted image."),
    gettext_noop("The submitted data was not a file. Check the encoding type on the form."),
)

# Django's and Django REST framework's Vietnamese with a stray space at an end, doubled, or before a full stop
# (" Danh sách này không thể để trống."; `core/tests/test_framework_messages_vi.py` walks both catalogues).
STRAY_SPACES = (
    gettext_noop("This list may not be empty."),
    gettext_noop("Field of type: %(field_type)s"),
    gettext_noop("Raw binary data"),
    gettext_noop("String (up to %(max_length)s)"),
    gettext_noop("No %(verbose_name_plural)s available"),
    gettext_noop("Please correct the duplicate data for %(field_name)s which must be unique for the %(lookup)s "
                 "in %(date_field)s."),
)
