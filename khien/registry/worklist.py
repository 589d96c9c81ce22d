"""The home page's "To do" items of the registry (`core.worklist`)."""
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import ngettext

from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator
from khien.core.worklist import Item, grouped

from .models import InformationSystem, LevelStatus


def _systems_url(status: str) -> str:
    return f"{reverse('registry:system_list')}?{urlencode({'level_status': status})}"


def waiting_work(user) -> list[Item]:
    """Level proposals for the national coordinator to appraise or approve; proposals returned for correction
    to those who submit them."""
    items = []
    if is_national_coordinator(user):
        systems = InformationSystem.objects.visible_to(user)
        n = systems.filter(level_status=LevelStatus.SUBMITTED).count()
        label = ngettext("%(n)s security level proposal waiting for appraisal",
                         "%(n)s security level proposals waiting for appraisal", n)
        items.append(Item(label % {"n": grouped(n)}, n, _systems_url(LevelStatus.SUBMITTED)))
        n = systems.filter(level_status=LevelStatus.APPRAISED).count()
        label = ngettext("%(n)s appraised security level waiting for approval",
                         "%(n)s appraised security levels waiting for approval", n)
        items.append(Item(label % {"n": grouped(n)}, n, _systems_url(LevelStatus.APPRAISED)))
        return items  # the proposals returned are the organizations' work, not the coordinator's
    n = InformationSystem.objects.restrict(user, Action.SUBMIT_LEVEL).filter(level_status=LevelStatus.RETURNED).count()
    label = ngettext("%(n)s security level proposal returned for correction",
                     "%(n)s security level proposals returned for correction", n)
    items.append(Item(label % {"n": grouped(n)}, n, _systems_url(LevelStatus.RETURNED), urgent=True))
    return items
