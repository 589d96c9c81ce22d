"""Incident reports, their journal, responder assignments and tasks.

Invariants live here; every change goes through `services.py`; every deadline
is computed in `deadlines.py`. The taxonomy (RSIT) and the reporting policy
(stages, severities, SLAs) are content files loaded into `Taxonomy` and
`ReportingPolicy` (see `content.py`).
"""
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from khien.core.errors import Refused
from khien.core.roles import Action
from khien.core.scoping import OrgScopedQuerySet, scope_for
from khien.core.texts import shown_time
from khien.intel.models import Tlp
from khien.registry.models import InformationSystem, Organization


def _localized(item: dict, field: str = "name") -> str:
    if (get_language() or "vi").startswith("en") and item.get(f"{field}_en"):
        return item[f"{field}_en"]
    return item.get(f"{field}_vi") or item.get(f"{field}_en") or ""


# The people one incident can affect: more than Viet Nam's population (about 100 million) is a typing mistake, not
# an incident. Without it the bound was the database's (9223372036854775807 on SQLite), shown to people as such.
PEOPLE_AFFECTED_MAX = 200_000_000
PEOPLE_AFFECTED_TOO_MANY = _("The number of people affected cannot be more than 200 million (more than the "
                             "population of Viet Nam): check the number.")


@deconstructible(path="khien.incidents.models.PeopleAffectedBound")
class PeopleAffectedBound(MaxValueValidator):
    """PEOPLE_AFFECTED_MAX with its message in words (a migration names the class, not the number and the text)."""

    def __init__(self):
        super().__init__(PEOPLE_AFFECTED_MAX, message=PEOPLE_AFFECTED_TOO_MANY)


class ContentVersion(models.Model):
    """One version of a content file (YAML), stored as loaded."""

    version = models.CharField(_("version"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=300)
    is_current = models.BooleanField(_("current"), default=False)
    data = models.JSONField(_("content"))
    source_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-loaded_at"]

    def __str__(self):
        return f"{self.title} ({self.version})"

    @classmethod
    def current(cls):
        return cls.objects.filter(is_current=True).first()


class Taxonomy(ContentVersion):
    """A version of the incident classification (ENISA RSIT)."""

    class Meta(ContentVersion.Meta):
        verbose_name = _("incident taxonomy")
        verbose_name_plural = _("incident taxonomies")

    def types(self) -> dict[str, dict]:
        """Type machine value -> {"value", "name_vi", "name_en", "class": class dict}."""
        out = {}
        for cls in self.data.get("classes", []):
            for typ in cls.get("types", []):
                out[typ["value"]] = {**typ, "class": cls}
        return out

    def choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Grouped choices for a form: [(class label, [(type value, type label), …]), …]."""
        return [
            (_localized(cls), [(t["value"], _localized(t)) for t in cls.get("types", [])])
            for cls in self.data.get("classes", [])
        ]

    def label(self, value: str) -> str:
        typ = self.types().get(value)
        return f"{_localized(typ['class'])} / {_localized(typ)}" if typ else value


class ReportingPolicy(ContentVersion):
    """A version of the reporting stages, severity scale and response SLAs."""

    class Meta(ContentVersion.Meta):
        verbose_name = _("reporting policy")
        verbose_name_plural = _("reporting policies")

    def severity_codes(self) -> list[str]:
        return [s["code"] for s in self.data.get("severities", [])]

    def severity_choices(self) -> list[tuple[str, str]]:
        return [(s["code"], _localized(s)) for s in self.data.get("severities", [])]

    def severity_rank(self, code: str) -> int:
        """The position of a severity on the policy's scale (low first); -1 for a code it does not have."""
        codes = self.severity_codes()
        return codes.index(code) if code in codes else -1


class TaskTemplates(ContentVersion):
    """A version of the standard response tasks of each incident category (`data/tasks.yaml`).

    `data["tasks"]` holds each task once, by its code; `data["categories"]` lists, for an RSIT class or type, the
    codes of its tasks. An incident gets the tasks of its type's class, then those of the type itself.
    """

    class Meta(ContentVersion.Meta):
        verbose_name = _("standard task list")
        verbose_name_plural = _("standard task lists")

    def for_category(self, taxonomy: "Taxonomy", category: str) -> list[dict]:
        """The task entries ({"code", "title_vi", …, "party", "due_hours"}) for an incident category, in order."""
        typ = taxonomy.types().get(category)
        keys = [typ["class"]["value"], category] if typ else [category]
        codes: list[str] = []
        for key in keys:
            for code in self.data.get("categories", {}).get(key) or []:
                if code not in codes:
                    codes.append(code)
        tasks = self.data.get("tasks", {})
        return [{"code": code, **tasks[code]} for code in codes if code in tasks]

    def entry(self, code: str) -> dict | None:
        return self.data.get("tasks", {}).get(code)

    def shown(self, task: "Task", language: str | None = None) -> tuple[str, str]:
        """A standard task's title and description in `language` (default: the active one) while they are still
        the file's words in the language they were stored in; else (edited, or a task added by hand) as written."""
        language = (language or get_language() or "vi").split("-")[0]
        entry = self.entry(task.template_code) if task.template_code else None
        if entry is None:
            return task.title, task.description
        stored = (settings.LANGUAGE_CODE or "vi").split("-")[0]
        shown = []
        for name, value in (("title", task.title), ("description", task.description)):
            original = entry.get(f"{name}_{stored}") or entry.get(f"{name}_vi") or ""
            translated = entry.get(f"{name}_{language}")
            same = value == original or (name == "title" and value == original[:300])
            shown.append(translated if same and translated else value)
        return shown[0], shown[1]

    def kept_description(self, task: "Task", value: str) -> str:
        """The description to store when `value` is given for `task`: the stored one while it is still the file's
        text and `value` is that text in any language. The edit form is prefilled in the reader's language
        (`shown`), and an API client sends back what it read: saving it unchanged must not turn the standard
        text into a custom one, which every reader would then read in that one language."""
        entry = self.entry(task.template_code) if task.template_code else None
        if entry is None or value == task.description:
            return value
        stored = (settings.LANGUAGE_CODE or "vi").split("-")[0]
        original = entry.get(f"description_{stored}") or entry.get("description_vi") or ""

        def plain(text):  # a browser sends a textarea's line breaks as CR LF; a form strips the ends
            return str(text or "").replace("\r\n", "\n").strip()

        standard = {plain(entry.get(key)) for key in entry if key.startswith("description_")} - {""}
        if plain(task.description) == plain(original) and plain(value) in standard:
            return task.description
        return value


class Status(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    IN_RESPONSE = "in_response", _("In response")
    CONTAINED = "contained", _("Contained")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# The workflow's statuses in their forward order (a reopen goes back to IN_RESPONSE).
STATUS_ORDER = (Status.NEW, Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED)

# The time field set when an incident enters each status (NEW: reported_at).
STATUS_TIME_FIELDS = {
    Status.TRIAGED: "triaged_at",
    Status.IN_RESPONSE: "in_response_at",
    Status.CONTAINED: "contained_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}


def shorten(text: str, limit: int) -> str:
    """`text` as is when it has at most `limit` characters, else cut at the last space before the limit (at the
    limit when a single word is longer) with an ellipsis: at most `limit` characters in all."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if text[limit - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-—") + "…"


# The TLP markings under which an incident is shown to the organizations whose information systems it names (TLP 2.0:
# AMBER is shared with the organizations that need it to protect themselves; AMBER+STRICT stays within the reporting
# organization, RED with the recipients the source names — an incident names none, so both stay with the reporting
# side, the assigned responders and the coordinator). The same markings as the notices' reporting chain.
AFFECTED_TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)


def affected_q(scope, prefix: str = "") -> models.Q:
    """The incidents (rows reached through `prefix`, e.g. "incident__") that name an information system owned or
    operated by an organization of `scope` (a `core.scoping.Scope`: its organizations, their units, never across a
    coordination boundary), under a TLP of AFFECTED_TLPS. A subquery on the systems' table: no row repeated."""
    through = Incident.systems.through.objects.filter(
        scope.q("informationsystem__owner__path") | scope.q("informationsystem__operator__path"))
    return models.Q(**{f"{prefix}pk__in": through.values("incident_id"), f"{prefix}tlp__in": AFFECTED_TLPS})


class IncidentQuerySet(OrgScopedQuerySet):
    # Viewing: the reporting organization's subtree (and its ancestors' people, who
    # hold it in their subtree) and the assigned responder organizations — they read the
    # whole incident —, and the organizations whose information systems it names
    # (`affected_q`), which read it in part (`services.reads_whole`). Other actions only
    # through the reporting organization.
    org_path_lookups = ("organization__path", "assignments__responder__path")

    def _scope_q(self, scope, action, through_systems: bool) -> models.Q:
        lookups = self.org_path_lookups if action == Action.VIEW else self.org_path_lookups[:1]
        q = models.Q()
        for lookup in lookups:
            q |= scope.q(lookup)
        if action == Action.VIEW and through_systems:
            q |= affected_q(scope)
        return q

    def restrict(self, user, action="view", *, through_systems: bool = True):
        """`through_systems=False`: only the incidents the user reads whole (not those seen as an affected
        organization)."""
        scope = scope_for(user, action)
        if scope.everything:
            return self.distinct()
        if not scope.paths:
            return self.none()
        # The join through assignments can repeat a row: one per matching responder.
        return self.filter(self._scope_q(scope, action, through_systems)).distinct()

    def with_reading(self, user):
        """Each incident annotated `affected_only`: True when the user sees it only as an organization whose
        information systems it names (the list's "Affected" badge, the API's field, what the page shows)."""
        scope = scope_for(user, Action.VIEW)
        if scope.everything or not scope.paths:
            return self.annotate(affected_only=models.Value(False))
        whole = Incident.objects.filter(self._scope_q(scope, Action.VIEW, False), pk=models.OuterRef("pk"))
        return self.annotate(affected_only=~models.Exists(whole))


class Incident(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(_("reference number"), max_length=30, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("reporting organization")
    )
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="incidents", verbose_name=_("affected information systems")
    )
    title = models.CharField(_("title"), max_length=300)
    detected_at = models.DateTimeField(_("detected at"))
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    notified_at = models.DateTimeField(_("detailed notification given at"), null=True, blank=True)
    final_report_at = models.DateTimeField(_("final report given at"), null=True, blank=True)

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, verbose_name=_("taxonomy version"))
    category = models.CharField(_("category"), max_length=60, db_index=True)  # an RSIT type machine value
    policy = models.ForeignKey(ReportingPolicy, on_delete=models.PROTECT, verbose_name=_("reporting policy version"))
    severity = models.CharField(_("severity"), max_length=20, db_index=True)

    # Early warning.
    suspected_malicious = models.BooleanField(_("suspected malicious"), null=True, blank=True)
    impact_beyond_organization = models.BooleanField(_("possible impact beyond the organization"), null=True, blank=True)
    # Impact.
    services_disrupted = models.TextField(_("services disrupted"), blank=True)
    data_exposed = models.BooleanField(_("data exposed"), default=False)
    personal_data_exposed = models.BooleanField(_("personal data exposed"), default=False)
    people_affected = models.PositiveIntegerField(_("number of people affected"), null=True, blank=True,
                                                  validators=[PeopleAffectedBound()])
    description = models.TextField(_("description"))
    # Why the initial report reached the platform after its deadline (asked when it does).
    late_reason = models.TextField(_("reason for the late report"), blank=True)
    # Final report.
    root_cause = models.TextField(_("root cause"), blank=True)
    mitigation = models.TextField(_("mitigation applied"), blank=True)

    tlp = models.CharField(_("TLP"), max_length=20, choices=Tlp.choices, default=Tlp.AMBER)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    triaged_at = models.DateTimeField(_("triaged at"), null=True, blank=True)
    in_response_at = models.DateTimeField(_("response started at"), null=True, blank=True)
    contained_at = models.DateTimeField(_("contained at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("reported by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    # Deadline notices and escalations already sent (keys such as "missed:stage:initial",
    # "soon:sla:triage"): the periodic job `incidents.deadlines` sends each one once.
    deadline_notices = models.JSONField(_("deadline notices sent"), default=list, blank=True, editable=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, db_index=True, editable=False)
    # What the list's search reads (`SEARCHED_FIELDS`, `core.texts.folded`): "tong tien" finds "tống tiền" on both
    # databases without an extension. Written by `save()`; bulk writers call `refresh_search_text()`.
    search_text = models.TextField(_("search text"), blank=True, default="", editable=False)

    objects = IncidentQuerySet.as_manager()

    SEARCHED_FIELDS = ("reference", "title", "description", "services_disrupted", "root_cause", "mitigation")

    class Meta:
        ordering = ["-reported_at", "reference"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self):
        return f"{self.reference} {self.title}"

    def refresh_search_text(self) -> None:
        from khien.core.texts import folded

        self.search_text = folded(" ".join(str(getattr(self, name) or "") for name in self.SEARCHED_FIELDS))

    def save(self, *args, **kwargs):
        self.refresh_search_text()
        fields = kwargs.get("update_fields")
        if fields is not None and set(fields) & set(self.SEARCHED_FIELDS):
            kwargs["update_fields"] = [*fields, "search_text"]
        super().save(*args, **kwargs)

    def category_label(self) -> str:
        return self.taxonomy.label(self.category)

    def choice_label(self, limit: int = 120) -> str:
        """The incident in a drop-down: “SC-2026-000123 — its title (status)”, a long title shortened at a word
        boundary with an ellipsis, never cut inside a word."""
        return f"{self.reference} — {shorten(self.title, limit)} ({self.get_status_display()})"

    def severity_label(self) -> str:
        return dict(self.policy.severity_choices()).get(self.severity, self.severity)

    @classmethod
    def audit_value_label(cls, name: str, value, values: dict) -> str | None:
        """The audit log's reading of a severity or category code (`core.audit.changes`): its label in the policy
        or taxonomy version that same record names — the labels live there, not in the field's choices."""
        if name == "severity" and values.get("policy_id"):
            policy = ReportingPolicy.objects.filter(pk=values["policy_id"]).first()
            return dict(policy.severity_choices()).get(value) if policy is not None else None
        if name == "category" and values.get("taxonomy_id"):
            taxonomy = Taxonomy.objects.filter(pk=values["taxonomy_id"]).first()
            return taxonomy.label(value) if taxonomy is not None and value in taxonomy.types() else None
        return None


class IncidentCounter(models.Model):
    """The last reference number given in a year (SC-<year>-<number>)."""

    year = models.PositiveIntegerField(_("year"), primary_key=True)
    last = models.PositiveIntegerField(_("last number given"), default=0)


class RelatedScopedQuerySet(OrgScopedQuerySet):
    """Rows that belong to an incident are visible exactly when their incident is."""

    org_path_lookups = ("incident__organization__path", "incident__assignments__responder__path")

    def restrict(self, user, action="view"):
        # The join through assignments can repeat a row: one per matching responder.
        return super().restrict(user, action).distinct()


class EventKind(models.TextChoices):
    REPORTED = "reported", _("Reported")
    STATUS = "status", _("Status changed")
    REOPENED = "reopened", _("Reopened")
    STAGE = "stage", _("Report stage given")
    ASSIGNMENT = "assignment", _("Responder assigned")
    COMMENT = "comment", _("Comment")
    TASK = "task", _("Task")
    EVIDENCE = "evidence", pgettext_lazy("digital forensics", "Evidence")
    OBSERVABLE = "observable", _("Observable")
    ESCALATION = "escalation", _("Escalation")
    ALERTS = "alerts", _("Alerts added")
    RECLASSIFIED = "reclassified", _("Classification changed")
    UNASSIGNMENT = "unassignment", _("Responder unassigned")
    CORRECTED = "corrected", _("Report corrected")


# The journal lines an affected organization reads (`IncidentEventQuerySet`): what happens to the incident and what
# is said in it — the report, its status, its report stages, its responders, its classification and corrections,
# escalations, SOC alerts (each reader is shown those it may see) and comments.
FOLLOWED_EVENT_KINDS = (EventKind.REPORTED, EventKind.STATUS, EventKind.REOPENED, EventKind.STAGE,
                        EventKind.ASSIGNMENT, EventKind.UNASSIGNMENT, EventKind.COMMENT, EventKind.ESCALATION,
                        EventKind.ALERTS, EventKind.RECLASSIFIED, EventKind.CORRECTED)


class IncidentEventQuerySet(RelatedScopedQuerySet):
    """The journal: whole to those who read the incident whole; to an organization that follows it because it names
    its information systems, the lines of FOLLOWED_EVENT_KINDS (not those of the tasks, the evidence and the
    observables, which it is not shown)."""

    def restrict(self, user, action="view"):
        if action != Action.VIEW:
            return super().restrict(user, action)
        scope = scope_for(user, action)
        if scope.everything:
            return self
        if not scope.paths:
            return self.none()
        whole = Incident.objects.restrict(user, action, through_systems=False).values("pk")
        # Another affected organization's comments stay with the reporting side (`services.do_add_comment` marks
        # them with their organization): who else was hit is not told through the journal.
        own = [str(pk) for pk in scope.organizations().values_list("pk", flat=True)]
        others_comment = models.Q(kind=EventKind.COMMENT, data__has_key="from_organization") \
            & ~models.Q(data__from_organization__in=own)
        return self.filter(models.Q(incident__in=whole)
                           | (affected_q(scope, "incident__") & models.Q(kind__in=FOLLOWED_EVENT_KINDS)
                              & ~others_comment))


class IncidentEvent(models.Model):
    """The journal: one line per thing that happened to an incident, in order."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events", verbose_name=_("incident"))
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    from_status = models.CharField(_("from"), max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=Status.choices, blank=True)
    text = models.TextField(_("text"), blank=True)  # the comment, or the reason for a reopen
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              verbose_name=_("by"))
    actor_email = models.CharField(_("by (e-mail)"), max_length=254, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    objects = IncidentEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")

    def __str__(self):
        # Names the incident by its id (the audit log shows it as the reader may see it), the kind in the reader's
        # language and the time in Vietnam time, as notices write it.
        return f"{self.incident_id}: {self.get_kind_display()} {shown_time(self.at)}"


class ResponderAssignment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="assignments",
                                 verbose_name=_("incident"))
    responder = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="incident_assignments", verbose_name=_("responder organization")
    )
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                    verbose_name=_("assigned by"))
    at = models.DateTimeField(_("assigned at"), default=timezone.now)

    objects = RelatedScopedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["incident", "responder"], name="one_assignment_per_responder")]
        verbose_name = _("responder assignment")
        verbose_name_plural = _("responder assignments")

    def __str__(self):
        return f"{self.incident_id} → {self.responder_id}"


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


# A task still to be done (not done, not cancelled): what resolving asks about, what the "To do" card counts.
OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class TaskParty(models.TextChoices):
    """Who a standard task expects to do it (the content file says; a task added by hand names none)."""

    REPORTER = "reporter", _("Reporting organization")
    RESPONDER = "responder", _("Responder organization")
    COORDINATOR = "coordinator", _("National coordinator")


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("incident"))
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    party = models.CharField(_("expected from"), max_length=20, choices=TaskParty.choices, blank=True)
    # The code of the standard task (`data/tasks.yaml`) it was made from: an incident has each one at most once.
    template_code = models.CharField(_("standard task"), max_length=60, blank=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="incident_tasks",
        verbose_name=_("owner"),
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RelatedScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "created_at"]
        constraints = [models.UniqueConstraint(fields=["incident", "template_code"], condition=~models.Q(template_code=""),
                                               name="one_task_per_standard_task")]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")

    def __str__(self):
        return self.title


# --- Evidence and its chain of custody ------------------------------------------------------


def evidence_upload_to(instance, filename):
    """A random name under the incident's folder: the uploaded name is kept in `original_name` only."""
    return f"evidence/{instance.incident_id}/{uuid.uuid4().hex}"


class EvidenceKind(models.TextChoices):
    FILE = "file", _("File")
    NOTE = "note", _("Note")
    # A disk image, a memory dump, a seized device's copy: too large to upload, held by whoever has it; the
    # platform keeps its declared SHA-256, size and location, and its chain of custody.
    EXTERNAL = "external", _("Kept elsewhere")


class SealedError(Refused):
    """A write to sealed evidence (or to its custody history), refused by the model itself (409)."""

    def __init__(self, message=None):
        super().__init__(message or gettext("Sealed evidence cannot be changed."), code="sealed", status=409)


class Evidence(models.Model):
    """A file, a note or an item kept elsewhere, for digital forensics, with its SHA-256; frozen once sealed.

    For a note, `sha256` and `size` are those of its UTF-8 text, so that
    `khien evidence verify` checks notes too. For an item kept elsewhere they are
    declared by whoever recorded it (the platform holds no copy to check).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("incident"))
    kind = models.CharField(_("kind"), max_length=10, choices=EvidenceKind.choices)
    file = models.FileField(_("file"), upload_to=evidence_upload_to, max_length=200, blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    sha256 = models.CharField("SHA-256", max_length=64)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    location = models.CharField(_("kept at"), max_length=300, blank=True)  # evidence kept elsewhere: where it is
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                    verbose_name=_("added by"))
    uploaded_at = models.DateTimeField(_("added at"), default=timezone.now)
    sealed_at = models.DateTimeField(_("sealed at"), null=True, blank=True)
    sealed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("sealed by"))

    objects = RelatedScopedQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self):
        return self.original_name or (self.note[:60] if self.note else str(self.pk))

    @property
    def is_sealed(self) -> bool:
        return self.sealed_at is not None

    def save(self, *args, **kwargs):
        # Sealed evidence never changes, whoever calls save(): the stored row decides.
        if not self._state.adding and Evidence.objects.filter(pk=self.pk, sealed_at__isnull=False).exists():
            raise SealedError()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if Evidence.objects.filter(pk=self.pk, sealed_at__isnull=False).exists():
            raise SealedError()
        return super().delete(*args, **kwargs)


class CustodyAction(models.TextChoices):
    RECEIVED = "received", _("Received")
    TRANSFERRED = "transferred", _("Transferred")
    ANALYSED = "analysed", _("Analysed")
    RETURNED = "returned", pgettext_lazy("chain of custody", "Returned")
    SEALED = "sealed", _("Sealed")
    # Integrity checks, recorded by the platform (`services.do_verify_evidence`, a refused download), never typed in.
    VERIFIED = "verified", _("Integrity verified")
    CONTENT_CHANGED = "content_changed", _("Integrity check: content changed")
    FILE_MISSING = "file_missing", _("Integrity check: file missing")


# The steps the platform records itself (sealing, integrity checks): not offered as a custody step to type in.
RECORDED_BY_PLATFORM = frozenset({CustodyAction.SEALED, CustodyAction.VERIFIED, CustodyAction.CONTENT_CHANGED,
                                  CustodyAction.FILE_MISSING})


class CustodyEventQuerySet(OrgScopedQuerySet):
    org_path_lookups = ("evidence__incident__organization__path", "evidence__incident__assignments__responder__path")

    def restrict(self, user, action="view"):
        return super().restrict(user, action).distinct()


class CustodyEvent(models.Model):
    """One step of an evidence item's chain of custody: append-only, like the journal."""

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody",
                                 verbose_name=_("evidence"))
    action = models.CharField(_("action"), max_length=20, choices=CustodyAction.choices)
    from_party = models.CharField(_("from (person or organization)"), max_length=300, blank=True)
    to_party = models.CharField(_("to (person or organization)"), max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              verbose_name=_("recorded by"))
    actor_email = models.CharField(_("recorded by (e-mail)"), max_length=254, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    note = models.TextField(_("note"), blank=True)

    objects = CustodyEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("custody event")
        verbose_name_plural = _("custody events")

    def __str__(self):
        # The evidence by its id (the audit log names it), the step in the reader's language, Vietnam time.
        return f"{self.evidence_id}: {self.get_action_display()} {shown_time(self.at)}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise SealedError(gettext("The chain of custody is append-only: its entries cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SealedError(gettext("The chain of custody is append-only: its entries cannot be changed."))


# --- Observables ------------------------------------------------------------------------------


class ObservableKind(models.TextChoices):
    """The kinds of technical indicators an incident records (a subset of the intel store's kinds)."""

    IPV4 = "ipv4", _("IPv4 address")
    IPV6 = "ipv6", _("IPv6 address")
    DOMAIN = "domain", _("Domain name")
    URL = "url", _("URL")
    EMAIL = "email", _("E-mail address")
    MD5 = "md5", _("MD5")
    SHA1 = "sha1", _("SHA-1")
    SHA256 = "sha256", _("SHA-256")


class Observable(models.Model):
    """A technical value seen in an incident (IP, domain, URL, hash, e-mail), stored normalized.

    Looked up in the intelligence store (the visible indicators carrying the
    same value) and shareable as a STIX indicator; `shared_*` record the last share.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="observables",
                                 verbose_name=_("incident"))
    kind = models.CharField(_("kind"), max_length=10, choices=ObservableKind.choices)
    value = models.CharField(_("value"), max_length=2048)
    note = models.CharField(_("note"), max_length=500, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                 verbose_name=_("added by"))
    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    shared_at = models.DateTimeField(_("shared at"), null=True, blank=True)
    shared_stix_id = models.CharField(_("STIX indicator id"), max_length=100, blank=True)
    shared_tlp = models.CharField(_("shared with TLP"), max_length=20, choices=Tlp.choices, blank=True)

    objects = RelatedScopedQuerySet.as_manager()

    class Meta:
        ordering = ["added_at", "kind", "value"]
        constraints = [models.UniqueConstraint(fields=["incident", "kind", "value"], name="one_observable_per_value")]
        verbose_name = _("observable")
        verbose_name_plural = _("observables")

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"
