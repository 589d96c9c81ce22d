from django.conf import settings

from . import notifications
from .scoping import is_national_coordinator


def platform(request):
    user = getattr(request, "user", None)
    return {
        "KHIEN_VERSION": "0.1.0",
        "is_coordinator": bool(user and user.is_authenticated and is_national_coordinator(user)),
        "LANGUAGES": settings.LANGUAGES,
        "unread_notifications": notifications.unread_count(user) if user and user.is_authenticated else 0,
    }
