"""The home page's "To do" items of incidents (`core.worklist`): incidents past a deadline, incidents waiting for
triage (the national coordinator: every one; the reporting side — who may triage its own, `services.may_triage` —
those of its organizations), each report stage due within REPORT_DUE_SOON (before it is overdue), incidents assigned
to the person's responder organization whose response has not started, open tasks in the person's charge, and the
tasks expected from the person's organization that nobody holds. Each links to the list that shows exactly those,
through the same filters (`filters.IncidentFilter`, `filters.TaskFilter`) and the same scope, or to the one incident
it names."""
import datetime as dt
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from khien.core.roles import ROLE_ACTIONS, Action
from khien.core.scoping import is_national_coordinator, memberships_of, scope_within
from khien.core.worklist import Item, grouped

from . import deadlines, notices
from .filters import awaiting_response, for_my_organization
from .models import OPEN_TASK_STATUSES, Incident, Status, Task
from .notices import when_text

# How long before its due time a report stage (the detailed notification, the final report) is on the reporting
# side's "To do": a day, so that whoever looks once a day sees it before it is late — or the due-soon notice's own
# lead time (`notices.lead_time`) when that is longer. Once overdue it is counted among the incidents past a deadline.
REPORT_DUE_SOON = dt.timedelta(hours=24)
# At most this many report stages are listed one by one (soonest first); the rest are counted on one line.
REPORTS_LISTED = 5


def _url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def _reporting_side(incidents, user):
    """The incidents of `incidents` the user acts for as the reporting side: those of the organizations where a role
    of theirs may change (their organization and the units under it, as `services.is_reporting_side` and
    `filters.for_my_organization`) — not the coordinator's reach over every organization."""
    paths = tuple(path for role, path, _o in memberships_of(user) if Action.CHANGE in ROLE_ACTIONS.get(role, ()))
    return incidents.filter(scope_within(user, paths).q("organization__path")) if paths else incidents.none()


def waiting_for_triage(incidents, user, now) -> list[Item]:
    """The national coordinator: every incident waiting for triage (theirs to watch over across the country). The
    reporting side: its organization's incidents waiting for triage, with the earliest triage due time — the reporting
    organization may triage its own (confirm or correct the category, severity and TLP; `services.may_triage`), and
    its due-soon notice asks it to; urgent once that notice is due (`notices.soon_at`: a short deadline in its second
    half)."""
    if is_national_coordinator(user):
        n = incidents.filter(status=Status.NEW).count()
        label = ngettext("%(n)s incident waiting for triage", "%(n)s incidents waiting for triage", n)
        return [Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", status=Status.NEW))]
    ours = _reporting_side(incidents, user).filter(status=Status.NEW)
    n = ours.count()
    if not n:
        return []
    first, reported = (deadlines.annotate_sla_due(ours).order_by("triage_due_at")
                       .values_list("triage_due_at", "reported_at").first())
    label = ngettext("Your organization has %(n)s incident waiting for triage, due by %(when)s",
                     "Your organization has %(n)s incidents waiting for triage, the earliest due by %(when)s", n)
    return [Item(label % {"n": grouped(n), "when": when_text(first)}, n,
                 _url("incidents:incident_list", status=Status.NEW),
                 urgent=notices.soon_at(reported, first, notices.lead_time()) <= now)]


def reports_due_soon(incidents, user, now) -> list[Item]:
    """The report stages of the reporting side's open incidents due within REPORT_DUE_SOON (or the due-soon notice's
    lead time, if longer) and not overdue yet — the same rule and words as the due-soon notice (`notices.due_notices`,
    from `deadlines`): one line per incident, linking to its Deadlines section, soonest first, urgent within the
    notice's lead time; past REPORTS_LISTED, the rest on one line."""
    window = max(REPORT_DUE_SOON, notices.lead_time())
    # Open, a stage still to give, reported within the deadline check's look-back (`notices.lookback`).
    open_ = (_reporting_side(incidents, user).exclude(status=Status.CLOSED)
             .filter(Q(notified_at__isnull=True) | Q(final_report_at__isnull=True),
                     reported_at__gte=now - notices.lookback())
             .select_related("policy").order_by())
    due = []
    for incident in open_:
        stage = deadlines.incident_next_stage(incident)
        for key, _kind, text in notices.due_notices(incident, now, window, missed_sla=set()):
            if key.startswith("soon:stage:"):
                due.append((stage.due_at, incident, text))
    due.sort(key=lambda entry: (entry[0], entry[1].reference))
    items = [Item(str(text), 1, reverse("incidents:incident_detail", args=[incident.pk]) + "#deadlines",
                  urgent=due_at - notices.lead_time() <= now)
             for due_at, incident, text in due[:REPORTS_LISTED]]
    rest = len(due) - REPORTS_LISTED
    if rest > 0:
        label = ngettext("%(n)s more report due by %(when)s", "%(n)s more reports due by %(when)s", rest)
        items.append(Item(label % {"n": grouped(rest), "when": when_text(due[-1][0])}, rest,
                          reverse("incidents:incident_list")))
    return items


def waiting_work(user) -> list[Item]:
    if not getattr(user, "is_authenticated", False):
        return []
    now = timezone.now()
    incidents = Incident.objects.visible_to(user)
    items = []
    # Past a deadline: the incidents the user reads whole (reporting side, responders, coordinator), not those seen
    # only as an affected organization (`models.affected_q`), which has nothing to do on them but read and comment.
    n = len(deadlines.past_a_deadline_ids(Incident.objects.restrict(user, through_systems=False), now))
    label = ngettext("%(n)s incident past a deadline", "%(n)s incidents past a deadline", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", overdue=1), urgent=True))
    items += waiting_for_triage(incidents, user, now)
    items += reports_due_soon(incidents, user, now)
    # Assigned to the user's responder organization, its response not started: the team's to take on.
    n = awaiting_response(incidents, user).count()
    label = ngettext("%(n)s incident assigned to your organization, response not started",
                     "%(n)s incidents assigned to your organization, response not started", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:incident_list", awaiting_us=1), urgent=True))
    n = Task.objects.visible_to(user).filter(owner_id=user.pk, status__in=OPEN_TASK_STATUSES).count()
    label = ngettext("%(n)s open task in your charge", "%(n)s open tasks in your charge", n)
    items.append(Item(label % {"n": grouped(n)}, n, _url("incidents:task_list", mine=1, open=1)))
    # Expected from the user's organization (reporting, responder, coordinator) and nobody in charge: the
    # organization's to take on, soonest first.
    ours = for_my_organization(Task.objects.visible_to(user), user)
    n = ours.count()
    if n:
        first = ours.exclude(due_at=None).order_by("due_at").values_list("due_at", flat=True).first()
        label = (ngettext("Your organization has %(n)s task nobody is in charge of, the earliest due at %(when)s",
                          "Your organization has %(n)s tasks nobody is in charge of, the earliest due at %(when)s", n)
                 if first else ngettext("Your organization has %(n)s task nobody is in charge of",
                                        "Your organization has %(n)s tasks nobody is in charge of", n))
        items.append(Item(label % {"n": grouped(n), "when": when_text(first) if first else ""}, n,
                          _url("incidents:task_list", reporter_open=1), urgent=bool(first and first < now)))
    return items
