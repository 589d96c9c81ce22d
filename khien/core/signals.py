"""Sign-ins are part of the record: who signed in, when, and for which organization (`services.record_sign_in`)."""
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from . import services


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    services.record_sign_in(user, ip=request.META.get("REMOTE_ADDR", "") if request else "")
