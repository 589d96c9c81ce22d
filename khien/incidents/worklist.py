"""The home page's "To do" items of incidents (`core.worklist`): incidents past a deadline, incidents waiting for
triage (the national coordinator), incidents assigned to the person's responder organization whose response has not
started, open tasks in the person's charge, and the tasks expected from the person's organization that nobody holds. Each links to the list that shows exactly
those, through the same filters (`filters.IncidentFilter`, `filters.TaskFilter`) and the same scope."""
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from khien.incidents.notices import when_text

from khien.core.scoping import is_national_coordinator
from khien.core.worklist import Item, grouped

from . import deadlines
from .filters import awaiting_response, for_reporting_organization
from .models import OPEN_TASK_STATUSES, Incident, Status, Task


def _url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def waiting_work(user) -> list[Item]:
    if not getattr(user, "is_authenticated", False):
        return []
    incidents = Incident.objects.visible_to(user)
    items = []
    n = len(deadlines.past_a_deadline_ids(incidents, timezone.now()))
    label = ngettext("%(n)s incident past a deadline", "%(n)s incidents past a deadline", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", overdue=1), urgent=True))
    if is_national_coordinator(user):  # triage is the coordinator's to watch over across the country
        n = incidents.filter(status=Status.NEW).count()
        label = ngettext("%(n)s incident waiting for triage", "%(n)s incidents waiting for triage", n)
        items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", status=Status.NEW)))
    # Assigned to the user's responder organization, its response not started: the team's to take on.
    n = awaiting_response(incidents, user).count()
    label = ngettext("%(n)s incident assigned to your organization, response not started",
                     "%(n)s incidents assigned to your organization, response not started", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", awaiting_us=1), urgent=True))
    n = Task.objects.visible_to(user).filter(owner_id=user.pk, status__in=OPEN_TASK_STATUSES).count()
    label = ngettext("%(n)s open task in your charge", "%(n)s open tasks in your charge", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:task_list", mine=1, open=1)))
    # Expected from the user's organization and nobody in charge: the organization's to take on, soonest first.
    ours = for_reporting_organization(Task.objects.visible_to(user), user)
    n = ours.count()
    if n:
        first = ours.exclude(due_at=None).order_by("due_at").values_list("due_at", flat=True).first()
        label = (ngettext("Your organization has %(n)s task nobody is in charge of, the earliest due at %(when)s",
                          "Your organization has %(n)s tasks nobody is in charge of, the earliest due at %(when)s", n)
                 if first else ngettext("Your organization has %(n)s task nobody is in charge of",
                                        "Your organization has %(n)s tasks nobody is in charge of", n))
        items.append(Item(label % {"n": grouped(n), "when": when_text(first) if first else ""}, n,
                          _url("incidents:task_list", reporter_open=1), urgent=bool(first and first < timezone.now())))
    return items
