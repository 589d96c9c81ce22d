"""The home page's "To do" items of threat intelligence (`core.worklist`)."""
from django.urls import reverse
from django.utils.translation import ngettext

from khien.core.worklist import Item, grouped

from . import services_warnings


def waiting_work(user) -> list[Item]:
    """Early warnings sent to the user's organizations that the user may acknowledge and nobody has yet."""
    targets = services_warnings.inbox_for(user).filter(state__isnull=True)
    n = sum(1 for target in targets.select_related(None).only("organization_id")
            if services_warnings.can_acknowledge(user, target))
    label = ngettext("%(n)s early warning to acknowledge", "%(n)s early warnings to acknowledge", n)
    return [Item(label % {"n": grouped(n)}, n, reverse("intel:warning_inbox"), urgent=True)]
