"""Sign-ins are part of the record: who signed in, and when."""
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver

from . import audit


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit.record(audit.Act.LOGIN, user, actor=user, after={"ip": request.META.get("REMOTE_ADDR", "") if request else ""})
