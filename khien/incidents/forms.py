"""Forms of the incident pages: they parse and check input; the services decide and write."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from khien.core.models import User
from khien.core.roles import Action
from khien.core.scoping import own_organization_among
from khien.intel.models import Tlp
from khien.registry.models import InformationSystem, Organization, OrgType

from . import deadlines
from .inputs import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    LATE_REASON_MAX,
    MITIGATION_MAX,
    ROOT_CAUSE_MAX,
    SERVICES_DISRUPTED_MAX,
    TITLE_MAX,
    at_most,
    exposure_problem,
    upload_limit_text,
)
from .models import (
    PEOPLE_AFFECTED_MAX,
    PEOPLE_AFFECTED_TOO_MANY,
    RECORDED_BY_PLATFORM,
    CustodyAction,
    Incident,
    ReportingPolicy,
    TaskStatus,
    TaskTemplates,
    Taxonomy,
)
from .services import (
    NOTE_MAX_CHARS,
    PARTY_MAX_CHARS,
    TASK_DESCRIPTION_MAX,
    detection_time_problem,
    late_reason_problem,
    report_late_at,
    task_people,
)

YES_NO = [("true", _("Yes")), ("false", _("No"))]

# The limit said next to a long text field (the browser stops typing at it: without this, pasted text is cut unseen).
at_most_lazy = lazy(at_most, str)


class DateTimeLocalInput(forms.DateTimeInput):
    """A datetime-local input; the value is read and shown in the active time zone (Vietnam time)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _count(hours) -> int:
    """The number that chooses a plural form (a policy may give a fraction of an hour)."""
    return int(hours) if float(hours).is_integer() else 2


def _bool(value):
    return {"true": True, "false": False}.get(value)


def people_affected_field(*, required: bool) -> forms.IntegerField:
    """The number of people affected, bounded as the model bounds it (`models.PEOPLE_AFFECTED_MAX`), said in words."""
    return forms.IntegerField(label=_("Number of people affected"), required=required, min_value=0,
                              max_value=PEOPLE_AFFECTED_MAX, error_messages={"max_value": PEOPLE_AFFECTED_TOO_MANY})


class OrganizationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} — {obj.name}"


def system_name(system, organization=None) -> str:
    """A system's name as an incident shows it (the report form, the incident's page, its PDF). Names often end
    with their owner's name ("… – Bệnh viện X"), written in Vietnamese: left out when the owner is `organization`
    (the reporting organization, named above the systems), else written in the reader's language."""
    name = system.name
    mine = organization is not None and system.owner_id == organization.pk
    owner = organization if mine else system.owner
    for owner_name in sorted({owner.name_vi, owner.name_en} - {""}, key=len, reverse=True):
        for dash in (" – ", " — ", " - "):
            if name.endswith(dash + owner_name) and len(name) > len(dash + owner_name):
                base = name[:-len(dash + owner_name)]
                return base if mine else f"{base}{dash}{owner.name}"
    return name


class SystemChoiceField(forms.ModelMultipleChoiceField):
    """A system as the reporter picks it: its code, its name (`system_name`) and its level (approved, else
    proposed)."""

    organization = None

    def label_from_instance(self, obj):
        label = f"{obj.code} — {system_name(obj, self.organization)}"
        level = obj.effective_level
        if level is None:
            return label
        shown = (_("Level %(n)s") if obj.approved_level is not None else _("Level %(n)s (proposed)")) % {"n": level}
        return f"{label} · {shown}"


# Values copied from a warning come defanged: `observables.refang` reads them back (the page and the API alike).
OBSERVABLES_HELP = _("One per line: IP address, domain, URL, e-mail address or hash (MD5, SHA-1, SHA-256). Defanged "
                     "values copied from a warning are accepted: hxxp://, [.], (.), [:]//, [at].")


def tlp_help() -> str:
    """Who sees a report at each TLP, in plain words. Who may open it does not depend on the marking (incidents are
    scoped by organization: `IncidentQuerySet`); who is told of it at once does (`notices.CHAIN_TLPS`)."""
    from django.utils.translation import gettext

    from .notices import CHAIN_TLPS

    return gettext("Whatever you choose, the report can be opened by your organization, the organizations above it, "
                   "the national coordinator and the response teams assigned to it. With %(told)s the organizations "
                   "above are notified at once; with %(not_told)s only your organization and the national "
                   "coordinator are.") % {
        "told": ", ".join(str(label) for level, label in Tlp.choices if level in CHAIN_TLPS),
        "not_told": ", ".join(str(label) for level, label in Tlp.choices if level not in CHAIN_TLPS)}


class IncidentReportForm(forms.Form):
    """The initial report. The service checks every rule again (rights, systems, taxonomy)."""

    organization = OrganizationChoiceField(label=_("Reporting organization"), queryset=Organization.objects.none())
    title = forms.CharField(label=_("Incident title"), max_length=TITLE_MAX)
    detected_at = forms.DateTimeField(label=_("Detected at"), widget=DateTimeLocalInput(),
                                      input_formats=DATETIME_LOCAL_FORMATS)  # help text: from the policy
    category = forms.ChoiceField(label=_("Category (RSIT)"))
    severity = forms.ChoiceField(label=_("Severity"))
    suspected_malicious = forms.TypedChoiceField(label=_("Suspected malicious act?"), choices=YES_NO, coerce=_bool,
                                                 widget=forms.RadioSelect)
    impact_beyond_organization = forms.TypedChoiceField(label=_("Possible impact beyond the organization?"),
                                                        choices=YES_NO, coerce=_bool, widget=forms.RadioSelect)
    systems = SystemChoiceField(label=_("Affected information systems"), queryset=InformationSystem.objects.none(),
                                required=False, widget=forms.CheckboxSelectMultiple,
                                help_text=_("Only the systems of the reporting organization (owned or operated)."))
    services_disrupted = forms.CharField(label=_("Services disrupted"), required=False,
                                         max_length=SERVICES_DISRUPTED_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                                         help_text=at_most_lazy(SERVICES_DISRUPTED_MAX))
    data_exposed = forms.BooleanField(label=_("Data exposed"), required=False)
    personal_data_exposed = forms.BooleanField(label=_("Personal data exposed"), required=False)
    people_affected = people_affected_field(required=False)
    description = forms.CharField(label=_("Description"), max_length=DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 5}), help_text=at_most_lazy(DESCRIPTION_MAX))
    tlp = forms.ChoiceField(label=_("TLP"), choices=Tlp.choices, initial=Tlp.AMBER, help_text=lazy(tlp_help, str)())
    observables = forms.CharField(
        label=_("Observables"), required=False, max_length=100000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=OBSERVABLES_HELP)
    # Required when the report is late: the service says so (`services.late_reason_problem`), on this field.
    late_reason = forms.CharField(label=_("Reason for the late report"), required=False, max_length=LATE_REASON_MAX,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        organizations = Organization.objects.restrict(user, Action.ADD).filter(is_active=True).order_by("code")
        self.fields["organization"].queryset = organizations
        taxonomy, policy = Taxonomy.current(), ReportingPolicy.current()
        self.fields["category"].choices = [("", "—")] + (taxonomy.choices() if taxonomy else [])
        self.fields["severity"].choices = [("", "—")] + (policy.severity_choices() if policy else [])
        # The deadline the form states is the policy's, the one `deadlines` counts (never a number written here).
        self.initial_report_hours = deadlines.initial_report_hours(policy.data) if policy else None
        hours = self.initial_report_hours
        self.fields["detected_at"].help_text = (
            ngettext("Vietnam time. The initial report is due %(hours)s hour after detection.",
                     "Vietnam time. The initial report is due %(hours)s hours after detection.", _count(hours))
            % {"hours": hours} if hours else _("Vietnam time."))
        if not self.is_bound and "organization" not in self.initial:
            own = own_organization_among(self.user, organizations)
            if own is not None:
                self.initial["organization"] = own
        chosen = self._chosen_organization()
        self.fields["systems"].queryset = self.systems_for(chosen)
        self.fields["systems"].organization = chosen
        # Choosing another organization reloads its systems (HTMX); without JavaScript the service still checks.
        self.fields["organization"].widget.attrs.update({
            "hx-get": reverse("incidents:systems_options"), "hx-target": "#systems-field", "hx-swap": "outerHTML"})
        # A time of detection past the reporting deadline shows the warning and asks for the reason (HTMX); without
        # JavaScript the form asks for it when sent.
        # A newer time cancels the request still running (`hx-sync`: its answer would come after), and the reason
        # field is kept as it is in the page (`hx-preserve`): what was typed while the answer came is not lost.
        self.fields["detected_at"].widget.attrs.update({
            "hx-get": reverse("incidents:late_field"), "hx-trigger": "change", "hx-target": "#late-field",
            "hx-swap": "outerHTML", "hx-include": "#late-field", "hx-sync": "this:replace"})
        self.fields["late_reason"].widget.attrs["hx-preserve"] = "true"

    def _detected_at(self):
        value = self.cleaned_data.get("detected_at") if hasattr(self, "cleaned_data") else None
        if value is None:
            raw = self.data.get("detected_at") if self.is_bound else self.initial.get("detected_at")
            try:
                value = self.fields["detected_at"].clean(raw) if raw else None
            except ValidationError:
                value = None
        return value

    def lateness(self) -> dict | None:
        """{"due": when the initial report was due, "hours": after detection} if a report sent now is late (the
        page's warning), else None."""
        value = self._detected_at()
        due = report_late_at(value, timezone.now()) if value else None
        return {"due": due, "hours": round((due - value).total_seconds() / 3600)} if due else None

    def time_left(self) -> dict | None:
        """{"due": when the initial report is due, "minutes": how many are left} when less than an hour is left
        before it (the page says so, beside the time of detection), else None. The same deadline as `lateness`."""
        value = self._detected_at()
        policy = ReportingPolicy.current()
        if value is None or policy is None or detection_time_problem(value, timezone.now()):
            return None
        due = deadlines.report_due_at(value, policy.data)
        left = due - timezone.now()
        if not dt.timedelta(0) < left < dt.timedelta(hours=1) or report_late_at(value, timezone.now()):
            return None
        return {"due": due, "minutes": max(1, int(left.total_seconds() // 60))}

    def _chosen_organization(self):
        value = self.data.get("organization") if self.is_bound else self.initial.get("organization")
        if isinstance(value, Organization):
            return value
        try:
            return self.fields["organization"].queryset.filter(pk=value).first() if value else None
        except (ValueError, TypeError, ValidationError):  # a malformed id: no organization chosen
            return None

    def systems_for(self, organization):
        """The systems the chosen organization owns or operates (none before one is chosen)."""
        if organization is None:
            return InformationSystem.objects.none()
        return (InformationSystem.objects.visible_to(self.user)
                .filter(Q(owner=organization) | Q(operator=organization)).order_by("code"))

    def clean_detected_at(self):
        value = self.cleaned_data["detected_at"]
        if value and (problem := detection_time_problem(value, timezone.now())):
            raise forms.ValidationError(problem)
        return value

    def clean_observables(self):
        return _observable_lines(self.cleaned_data.get("observables", ""))

    def clean(self):
        data = super().clean()
        now = timezone.now()
        if problem := late_reason_problem(data.get("detected_at"), now, data.get("late_reason")):
            self.add_error("late_reason", problem)
        elif data.get("detected_at") and report_late_at(data["detected_at"], now) is None:
            # On time: a reason typed before the time of detection was corrected is not kept (the page would show
            # "reason for the late report" beside "on time"). The same deadline function as the service.
            data["late_reason"] = ""
        if problem := exposure_problem(data.get("data_exposed"), data.get("personal_data_exposed")):
            self.add_error("personal_data_exposed", problem)
        return data

    def service_data(self) -> tuple[dict, list]:
        data = {name: self.cleaned_data[name] for name in self.fields if name not in ("systems", "observables")}
        return data, list(self.cleaned_data.get("systems") or [])


class ReportCorrectionForm(forms.Form):
    """Correct the initial report (`services.do_correct_report`): its fields as the report form has them, prefilled;
    the detection time, the classification and the TLP are not here (deadlines count from the first; the others
    have their own form)."""

    title = IncidentReportForm.base_fields["title"]
    # Not required here: an incident made from a SOC alert may not know yet (unknown stays unknown until answered).
    suspected_malicious = forms.TypedChoiceField(label=_("Suspected malicious act?"), choices=YES_NO, coerce=_bool,
                                                 widget=forms.RadioSelect, required=False, empty_value=None)
    impact_beyond_organization = forms.TypedChoiceField(label=_("Possible impact beyond the organization?"),
                                                        choices=YES_NO, coerce=_bool, widget=forms.RadioSelect,
                                                        required=False, empty_value=None)
    systems = IncidentReportForm.base_fields["systems"]
    services_disrupted = IncidentReportForm.base_fields["services_disrupted"]
    data_exposed = IncidentReportForm.base_fields["data_exposed"]
    personal_data_exposed = IncidentReportForm.base_fields["personal_data_exposed"]
    people_affected = IncidentReportForm.base_fields["people_affected"]
    description = IncidentReportForm.base_fields["description"]
    reason = forms.CharField(label=_("Reason for the correction (optional)"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("Kept in the journal beside the fields that changed."))

    def __init__(self, *args, incident, user, **kwargs):
        from .services import CORRECTABLE_FIELDS

        kwargs.setdefault("initial", {name: getattr(incident, name) for name in CORRECTABLE_FIELDS})
        kwargs["initial"].setdefault("systems", list(incident.systems.all()))
        super().__init__(*args, **kwargs)
        self.fields["systems"].queryset = (InformationSystem.objects.visible_to(user).filter(
            Q(owner=incident.organization) | Q(operator=incident.organization)).order_by("code"))
        self.fields["systems"].organization = incident.organization

    def clean(self):
        data = super().clean()
        if problem := exposure_problem(data.get("data_exposed"), data.get("personal_data_exposed")):
            self.add_error("personal_data_exposed", problem)
        return data


def _observable_lines(text: str) -> list[tuple[str, str]]:
    from .observables import parse_lines

    items, errors = parse_lines(text)
    if errors:
        raise forms.ValidationError(errors)
    return items


class ObservableForm(forms.Form):
    observables = forms.CharField(
        label=_("Observables"), max_length=100000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=OBSERVABLES_HELP)

    def clean_observables(self):
        items = _observable_lines(self.cleaned_data["observables"])
        if not items:
            raise forms.ValidationError(_("Give at least one observable."))
        return items


class CollectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.title


class ShareObservablesForm(forms.Form):
    """Share chosen observables as STIX indicators: the collections offered are those the user may write."""

    observables = forms.ModelMultipleChoiceField(label=_("Observables"), queryset=None,
                                                 widget=forms.CheckboxSelectMultiple)
    tlp = forms.ChoiceField(label=_("TLP"), choices=Tlp.choices)
    collection = CollectionChoiceField(label=_("Collection"), queryset=None)
    # Values on a warning list (a private address…) are refused unless confirmed (`observables.do_share_observables`).
    confirm_warninglisted = forms.BooleanField(
        label=_("Share values on a warning list anyway"), required=False,
        help_text=_("Only when you have checked that such a value really is malicious here."))
    # A TLP less strict than the incident's is refused unless confirmed (`observables.do_share_observables`).
    confirm_downgrade = forms.BooleanField(
        label=_("Share at this TLP although it is less strict than the incident's"), required=False,
        help_text=_("The indicators will reach more readers than the incident does: only with the reporter's consent."))

    def __init__(self, *args, incident, user, **kwargs):
        from khien.intel.models import Collection

        from .observables import warning_listed, writable_collections

        super().__init__(*args, **kwargs)
        self.fields["observables"].queryset = incident.observables.all()
        # The confirmation is offered when the incident has a value on a warning list.
        self.asks_confirmation = bool(warning_listed(incident.observables.all()))
        self.fields["observables"].label_from_instance = lambda o: str(o)
        self.fields["collection"].queryset = Collection.objects.filter(
            pk__in=[c.pk for c in writable_collections(user)]).order_by("title")
        self.initial.setdefault("tlp", incident.tlp)

    @property
    def has_collections(self) -> bool:
        return self.fields["collection"].queryset.exists()


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=[])
    reason = forms.CharField(label=_("Reason for reopening"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    # Resolving or closing with tasks still open: sent by the confirmation the page shows (`services.do_transition`).
    cancel_open_tasks = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .models import Status

        self.fields["status"].choices = Status.choices


class ClassificationForm(forms.Form):
    """The category, severity and TLP: confirmed or corrected at triage, or corrected later with a reason.

    The choices are those of the incident's own taxonomy and policy versions; the service checks again."""

    category = forms.ChoiceField(label=_("Category (RSIT)"))
    severity = forms.ChoiceField(label=_("Severity"))
    tlp = forms.ChoiceField(label=_("TLP"), choices=Tlp.choices)
    reason = forms.CharField(label=_("Reason for the change"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, incident: Incident, triage: bool = False, **kwargs):
        kwargs.setdefault("initial", {})
        for name in ("category", "severity", "tlp"):
            kwargs["initial"].setdefault(name, getattr(incident, name))
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = incident.taxonomy.choices()
        self.fields["severity"].choices = incident.policy.severity_choices()
        if triage:  # triage confirms; a change made then may say why (a raised severity's notice carries it)
            self.fields["reason"].label = _("Reason, if you change the classification (optional)")


class ResponderChoiceField(OrganizationChoiceField):
    """A responder organization, named with how many of its people are e-mailed at once when it is assigned
    (`notices.with_people_told_when_assigned`): nobody is surprised by the urgent mail."""

    def label_from_instance(self, obj):
        n = getattr(obj, "people_told", None)
        if n is None:
            return super().label_from_instance(obj)
        return ngettext("%(org)s · %(n)s person e-mailed", "%(org)s · %(n)s people e-mailed", n) % {
            "org": super().label_from_instance(obj), "n": n}


class AssignForm(forms.Form):
    responder = ResponderChoiceField(
        label=_("Responder organization"),
        queryset=Organization.objects.filter(org_type=OrgType.RESPONDER, is_active=True).order_by("code"),
        help_text=_("Its response staff, administrators and analysts get an urgent e-mail at once and see the "
                    "incident; the reporting organization is told in its digest."))

    def __init__(self, *args, incident=None, **kwargs):
        from .notices import with_people_told_when_assigned

        super().__init__(*args, **kwargs)
        queryset = with_people_told_when_assigned(self.fields["responder"].queryset)
        if incident is not None:
            queryset = queryset.exclude(pk__in=incident.assignments.values_list("responder_id", flat=True))
        self.fields["responder"].queryset = queryset


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    happened_at = forms.DateTimeField(
        label=_("When it happened (optional)"), required=False, widget=DateTimeLocalInput(),
        input_formats=DATETIME_LOCAL_FORMATS,
        help_text=_("Vietnam time. Puts the comment on the incident's timeline at that time, e.g. the attacker's "
                    "first login or the machine isolated."))


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_name} <{obj.email}>" if obj.full_name else obj.email


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=300)
    owner = UserChoiceField(label=_("Person in charge"), queryset=User.objects.none(), required=False)
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DateTimeLocalInput(),
                                 input_formats=DATETIME_LOCAL_FORMATS)
    description = forms.CharField(label=_("Description"), required=False, max_length=TASK_DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        # Only those who may work on a task (not auditors or trainees): the service checks the same rule.
        self.fields["owner"].queryset = task_people(incident)


class TaskEditForm(forms.Form):
    """A task's person in charge, due time and description, prefilled: what differs is changed and journaled."""

    owner = UserChoiceField(label=_("Person in charge"), queryset=User.objects.none(), required=False)
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DateTimeLocalInput(),
                                 input_formats=DATETIME_LOCAL_FORMATS)
    description = forms.CharField(label=_("Description"), required=False, max_length=TASK_DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, task, people=None, templates=None, **kwargs):
        # A standard description untouched reads in the reader's language, as the task table shows it
        # (`TaskTemplates.shown`); sent back unchanged it stays the standard text (`TaskTemplates.kept_description`).
        templates = templates or TaskTemplates.current()
        description = templates.shown(task)[1] if templates else task.description
        kwargs.setdefault("initial", {"owner": task.owner_id, "due_at": task.due_at, "description": description})
        kwargs.setdefault("prefix", f"t{task.pk.hex[:8]}")
        super().__init__(*args, **kwargs)
        self.task = task
        people = people if people is not None else task_people(task.incident)
        if task.owner_id:  # the person in charge stays offered, even one given the task under an earlier rule
            people = User.objects.filter(Q(pk__in=people.values("pk")) | Q(pk=task.owner_id)).order_by("email")
        self.fields["owner"].queryset = people

    def clean_due_at(self):
        value = self.cleaned_data.get("due_at")
        # The page shows minutes: the due time sent back unchanged keeps its seconds (and is no change).
        if value and self.task.due_at and value == self.task.due_at.replace(second=0, microsecond=0):
            return self.task.due_at
        return value


class UnassignForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the removal"), required=False, max_length=5000)


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TaskStatus.choices)


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"), required=False)  # help text: the size limit (`__init__`)
    note = forms.CharField(label=_("Note, or the file's description"), required=False, max_length=NOTE_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_("Without a file, the note is the evidence; with a file, it describes it."))
    received_from = forms.CharField(label=_("Received from (person or organization)"), required=False,
                                    max_length=PARTY_MAX_CHARS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Said before the upload: the service refuses a larger file (413) only once it has been sent whole.
        self.fields["file"].help_text = upload_limit_text()

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("note") or "").strip():
            raise forms.ValidationError(_("Attach a file or write a note."))
        return data


class ByteSizeField(forms.Field):
    """A size in bytes as imaging tools print it, with or without thousands separators (4.294.967.296, 4,294,967,296,
    4 294 967 296)."""

    widget = forms.TextInput(attrs={"inputmode": "numeric", "maxlength": "40"})

    def to_python(self, value):
        if value in self.empty_values:
            return None
        digits = "".join(ch for ch in str(value).strip() if ch not in " .,_\u00a0\u202f")
        if not digits.isdigit() or len(digits) > 20:
            raise ValidationError(_("Give the size in bytes, a whole number greater than zero."), code="invalid")
        return int(digits)


class ExternalEvidenceForm(forms.Form):
    """Evidence too large to upload, kept elsewhere: declared by name, SHA-256, size and place (service:
    `do_add_external_evidence`)."""

    name = forms.CharField(label=_("Name (image file or device)"), max_length=255,
                           help_text=_("For example disk-PC-KT03.E01, or the seal number of a seized device."))
    sha256 = forms.CharField(label="SHA-256", max_length=100,
                             help_text=_("As computed by the imaging tool (FTK Imager, Guymager, sha256sum)."))
    size = ByteSizeField(label=_("Size in bytes"))
    location = forms.CharField(label=_("Kept at"), max_length=300,
                               help_text=_("Storage, evidence room or unit that holds it."))
    received_from = forms.CharField(label=_("Received from (person or organization)"), required=False,
                                    max_length=PARTY_MAX_CHARS)
    note = forms.CharField(label=_("Description"), required=False, max_length=NOTE_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 2}))


class CustodyForm(forms.Form):
    # Sealing and integrity checks are recorded by their own actions, not typed in.
    action = forms.ChoiceField(label=_("Step"), choices=[c for c in CustodyAction.choices
                                                         if c[0] not in RECORDED_BY_PLATFORM])
    from_party = forms.CharField(label=_("From"), required=False, max_length=300)
    to_party = forms.CharField(label=_("To"), required=False, max_length=300)
    at = forms.DateTimeField(label=_("When"), required=False, widget=DateTimeLocalInput(),
                             input_formats=DATETIME_LOCAL_FORMATS, help_text=_("Vietnam time; empty: now."))
    note = forms.CharField(label=_("Note"), required=False, max_length=20000)


class SealForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=20000)


def _stage_field(name: str, policy):
    """The form field for one incident field a report stage asks for (see `services.STAGE_FIELDS`)."""
    text = {"rows": 3}
    fields = {
        "severity": lambda: forms.ChoiceField(label=_("Severity"), choices=policy.severity_choices()),
        "suspected_malicious": lambda: forms.TypedChoiceField(label=_("Suspected malicious act?"), choices=YES_NO,
                                                              coerce=_bool, widget=forms.RadioSelect),
        "impact_beyond_organization": lambda: forms.TypedChoiceField(
            label=_("Possible impact beyond the organization?"), choices=YES_NO, coerce=_bool, widget=forms.RadioSelect),
        "services_disrupted": lambda: forms.CharField(
            label=_("Services disrupted"), max_length=SERVICES_DISRUPTED_MAX, widget=forms.Textarea(attrs=text),
            help_text=at_most_lazy(SERVICES_DISRUPTED_MAX)),
        "data_exposed": lambda: forms.BooleanField(label=_("Data exposed"), required=False),
        "personal_data_exposed": lambda: forms.BooleanField(label=_("Personal data exposed"), required=False),
        "people_affected": lambda: people_affected_field(required=True),
        "description": lambda: forms.CharField(
            label=_("Description"), max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs=text),
            help_text=at_most_lazy(DESCRIPTION_MAX)),
        "root_cause": lambda: forms.CharField(
            label=_("Root cause"), max_length=ROOT_CAUSE_MAX, widget=forms.Textarea(attrs=text),
            help_text=at_most_lazy(ROOT_CAUSE_MAX)),
        "mitigation": lambda: forms.CharField(
            label=_("Mitigation applied"), max_length=MITIGATION_MAX, widget=forms.Textarea(attrs=text),
            help_text=at_most_lazy(MITIGATION_MAX)),
    }
    make = fields.get(name)
    return make() if make else None


class StageForm(forms.Form):
    """A later report stage (detailed notification, final report): the fields its policy requires."""

    def __init__(self, *args, incident: Incident, stage: dict, **kwargs):
        kwargs.setdefault("initial", {})
        super().__init__(*args, **kwargs)
        self.stage = stage
        self.incident = incident
        for name in stage.get("required_fields", []):
            field = _stage_field(name, incident.policy)
            if field is not None:
                self.fields[name] = field
                value = getattr(incident, name, None)
                if value not in (None, ""):
                    self.initial.setdefault(name, {True: "true", False: "false"}.get(value, value)
                                            if isinstance(value, bool) else value)

    def clean(self):
        data = super().clean()
        # The two answers as the incident will hold them (a stage may ask for one of them only).
        exposed = data.get("data_exposed", self.incident.data_exposed)
        personal = data.get("personal_data_exposed", self.incident.personal_data_exposed)
        asked = {"data_exposed", "personal_data_exposed"} & set(self.fields)
        if asked and (problem := exposure_problem(exposed, personal)):
            self.add_error("personal_data_exposed" if "personal_data_exposed" in self.fields else None, problem)
        return data
