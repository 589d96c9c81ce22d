from django.conf import settings

from .scoping import is_national_coordinator


def platform(request):
    user = getattr(request, "user", None)
    return {
        "KHIEN_VERSION": "0.1.0",
        "is_coordinator": bool(user and user.is_authenticated and is_national_coordinator(user)),
        "LANGUAGES": settings.LANGUAGES,
    }
