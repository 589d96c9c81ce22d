"""The home page's "To do" items of the registry (`core.worklist`)."""
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext, ngettext

from khien.core.roles import Action
from khien.core.scoping import NOTHING, is_national_coordinator, scope_for
from khien.core.worklist import Item, grouped

from . import services
from .models import InformationSystem, LevelStatus


def _systems_url(**params) -> str:
    return f"{reverse('registry:system_list')}?{urlencode(params)}"


def first_steps(user) -> list[Item]:
    """The first day: an organization with no information system yet (none owned where the person may register
    one) is told where to start, rather than "nothing is waiting", by those who may register one."""
    if scope_for(user, Action.ADD) == NOTHING or InformationSystem.objects.restrict(user, Action.ADD).exists():
        return []
    return [Item(gettext("Register your first information system"), 1, reverse("registry:system_create"))]


def waiting_work(user) -> list[Item]:
    """Level proposals waiting for the person's own appraisal or approval (`services.decidable_by`: the framework
    says whose each level is; never one they submitted, nor for approval one they appraised), each linking to the
    system list filtered the same way (`awaiting_me`); proposals returned for correction, and those still in draft
    (never submitted), to those who submit them."""
    if not getattr(user, "is_authenticated", False):
        return []
    items = first_steps(user)
    n = services.decidable_by(user, "appraise", own_turn_only=True).count()
    label = ngettext("%(n)s security level proposal waiting for your appraisal",
                     "%(n)s security level proposals waiting for your appraisal", n)
    items.append(Item(label % {"n": grouped(n)}, n, _systems_url(awaiting_me="appraise")))
    n = services.decidable_by(user, "approve", own_turn_only=True).count()
    label = ngettext("%(n)s appraised security level waiting for your approval",
                     "%(n)s appraised security levels waiting for your approval", n)
    items.append(Item(label % {"n": grouped(n)}, n, _systems_url(awaiting_me="approve")))
    if is_national_coordinator(user):
        return items  # the proposals in draft or returned are the organizations' work, not the coordinator's
    # Not submitted yet (a new system's level, a revision of an approved one): nobody appraises a draft, so it waits
    # for those who may submit it — the same people as a returned one.
    n = InformationSystem.objects.restrict(user, Action.SUBMIT_LEVEL).filter(level_status=LevelStatus.DRAFT).count()
    label = ngettext("%(n)s security level proposal in draft, not submitted yet",
                     "%(n)s security level proposals in draft, not submitted yet", n)
    items.append(Item(label % {"n": grouped(n)}, n, _systems_url(level_status=LevelStatus.DRAFT)))
    n = InformationSystem.objects.restrict(user, Action.SUBMIT_LEVEL).filter(level_status=LevelStatus.RETURNED).count()
    label = ngettext("%(n)s security level proposal returned for correction",
                     "%(n)s security level proposals returned for correction", n)
    items.append(Item(label % {"n": grouped(n)}, n, _systems_url(level_status=LevelStatus.RETURNED), urgent=True))
    return items
