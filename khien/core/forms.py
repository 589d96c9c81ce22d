import datetime as dt

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from .api.fields import storable_date
from .errors import Refused


class DateField(forms.DateField):
    """A date of the pages, refused with a message outside the years the platform stores (`core.timerange`), as
    the API's `core.api.fields.DateField`."""

    default_validators = [storable_date]


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}))
    error_messages = {
        "invalid_login": _("Wrong e-mail or password."),
        "inactive": _("This account is disabled."),
    }


class PasswordLinkForm(PasswordResetForm):
    """"Forgot your password?": an e-mail with a link to choose a new one, sent to an active account of that
    address. Django's own form skips accounts without a usable password — a new account whose welcome e-mail was
    lost must be able to ask too. The page answers the same whether the address has an account."""

    email = forms.EmailField(label=_("E-mail"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))

    def get_users(self, email):
        from .models import User

        return User.objects.filter(email__iexact=email, is_active=True)

    def save(self, *args, request=None, **kwargs):
        from . import services

        self.client = services.client_address(request)  # for the per-client limit (`send_mail`)
        return super().save(*args, request=request, **kwargs)

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        from django.core.mail import EmailMessage
        from django.utils.translation import gettext

        from . import services

        # One link per address per interval, whoever asks, and a few per client: the page cannot be used to flood
        # someone's mailbox, nor everyone's. The page answers the same whether a link was sent (`views`).
        client = getattr(self, "client", "")
        if not services.may_send_password_link(context["user"], client=client):
            return
        from django.utils import translation

        from .notifications import recipient_language

        link = services.password_link(context["user"], f"{context['protocol']}://{context['domain']}")
        # Read away from the browser that asked: in the account's language, as every e-mail to the person.
        with translation.override(recipient_language(context["user"])):
            body = "\n\n".join([
                gettext("Someone asked to choose a new password for your account on Khiên, the national "
                        "cybersecurity coordination platform. To do it, open this address within three days:"),
                link,
                gettext("If it was not you, ignore this message: your password stays as it is."),
            ])
            subject = gettext("[Khiên] Choose a new password")
        EmailMessage(subject, body, from_email, [to_email]).send()
        services.record_password_link(context["user"], client=client)


class NewPasswordErrorsMixin:
    """Django checks a new password's strength on the confirmation field, so "too short", "too common"… showed
    under "confirm the password": they concern the new password, and are shown under it."""

    def validate_password_for_user(self, user, password_field_name="new_password2", **kwargs):
        super().validate_password_for_user(user, password_field_name="new_password1", **kwargs)


class SetPasswordForm(NewPasswordErrorsMixin, auth_forms.SetPasswordForm):
    """Choose a password (the page a one-time link opens)."""


class PasswordChangeForm(NewPasswordErrorsMixin, auth_forms.PasswordChangeForm):
    """Change one's own password."""


class TotpForm(forms.Form):
    token = forms.RegexField(
        label=_("6-digit code"), regex=r"^\d{6}$", max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
        error_messages={"invalid": _("Enter the 6 digits shown by your authenticator app.")},
    )


class TokenCreateForm(forms.Form):
    # A token that nobody revokes keeps working for ever: it ends by default, and "never" is a choice made on purpose.
    VALIDITY_DAYS = {"30": 30, "90": 90, "365": 365, "never": None}
    DEFAULT_VALIDITY = "90"

    name = forms.CharField(label=_("Token name"), max_length=100, required=True,
                           help_text=_("For example the SOC platform that will use it."))
    valid_for = forms.ChoiceField(label=_("Valid for"), required=False, initial=DEFAULT_VALIDITY, choices=[
        ("30", _("30 days")), ("90", _("90 days")), ("365", _("1 year")), ("never", _("no end date"))])

    def clean_valid_for(self):
        return self.VALIDITY_DAYS[self.cleaned_data["valid_for"] or self.DEFAULT_VALIDITY]

    def expires_at(self, now):
        days = self.cleaned_data["valid_for"]
        return None if days is None else now + dt.timedelta(days=days)


def add_service_error(form, exc: Exception) -> None:
    """Put a service's ValidationError or refusal on the form, on the field when the form has it."""
    if isinstance(exc, Refused):
        form.add_error(None, exc.message)
    elif hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
