"""The home page's "To do" items of threat intelligence (`core.worklist`)."""
from django.urls import reverse
from django.utils.translation import ngettext

from khien.core.worklist import Item

from . import services_warnings


def waiting_work(user) -> list[Item]:
    """Early warnings sent to the user's organizations that the user may acknowledge and nobody has yet."""
    targets = services_warnings.inbox_for(user).filter(state__isnull=True)
    unanswered = sum(1 for target in targets.select_related(None).only("organization_id")
                     if services_warnings.can_acknowledge(user, target))
    return [Item(ngettext("%(n)d early warning to acknowledge", "%(n)d early warnings to acknowledge", unanswered)
                 % {"n": unanswered}, unanswered, reverse("intel:warning_inbox"), urgent=True)]
