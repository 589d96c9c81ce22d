from django.conf import settings

from . import notifications, twofactor
from .roles import Action
from .scoping import NOTHING, is_national_coordinator, memberships_of, scope_for


def platform(request):
    user = getattr(request, "user", None)
    # Before the second factor (or the required password change) the session can reach nothing but that page:
    # the pages then show no navigation, no counts, no user menu, only the way out.
    if user is not None and user.is_authenticated and (twofactor.owes_second_factor(user) or user.must_change_password):
        return {"KHIEN_VERSION": "0.1.0", "is_coordinator": False, "LANGUAGES": settings.LANGUAGES,
                "can_import": False, "unread_notifications": 0, "session_limited": True}
    return {
        "KHIEN_VERSION": "0.1.0",
        "is_coordinator": bool(user and user.is_authenticated and is_national_coordinator(user)),
        "LANGUAGES": settings.LANGUAGES,
        # The menu offers the import page only to those it serves (called by the template: a query only there).
        "can_import": lambda: bool(user and user.is_authenticated and scope_for(user, Action.IMPORT) != NOTHING),
        "unread_notifications": notifications.unread_count(user) if user and user.is_authenticated else 0,
        "session_limited": False,
        # Signed in but a member of no organization (removed, or not given a role yet): every page is empty, say why.
        "without_organization": bool(user and user.is_authenticated and not user.is_superuser
                                     and not memberships_of(user)),
    }
