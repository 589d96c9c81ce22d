"""The home page's "To do" items of the registry (`core.worklist`)."""
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import ngettext

from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator
from khien.core.worklist import Item

from .models import InformationSystem, LevelStatus


def _systems_url(status: str) -> str:
    return f"{reverse('registry:system_list')}?{urlencode({'level_status': status})}"


def waiting_work(user) -> list[Item]:
    """Level proposals for the national coordinator to appraise or approve; proposals returned for correction
    to those who submit them."""
    items = []
    if is_national_coordinator(user):
        systems = InformationSystem.objects.visible_to(user)
        submitted = systems.filter(level_status=LevelStatus.SUBMITTED).count()
        appraised = systems.filter(level_status=LevelStatus.APPRAISED).count()
        items += [Item(ngettext("%(n)d security level proposal waiting for appraisal",
                                "%(n)d security level proposals waiting for appraisal", submitted) % {"n": submitted},
                       submitted, _systems_url(LevelStatus.SUBMITTED)),
                  Item(ngettext("%(n)d appraised security level waiting for approval",
                                "%(n)d appraised security levels waiting for approval", appraised) % {"n": appraised},
                       appraised, _systems_url(LevelStatus.APPRAISED))]
    returned = InformationSystem.objects.restrict(user, Action.SUBMIT_LEVEL) \
        .filter(level_status=LevelStatus.RETURNED).count()
    items.append(Item(ngettext("%(n)d security level proposal returned for correction",
                               "%(n)d security level proposals returned for correction", returned) % {"n": returned},
                      returned, _systems_url(LevelStatus.RETURNED), urgent=True))
    return items
