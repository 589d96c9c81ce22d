"""Forms of the telemetry pages: registering an alert source and changing its settings."""
from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _l

from khien.core.models import User
from khien.core.roles import Action, Role
from khien.core.scoping import own_organization_among
from khien.incidents.models import ReportingPolicy, Taxonomy
from khien.intel.forms import WarningForm, grouped_organization_choices, respond_by_help
from khien.intel.models import Tlp, WarningSeverity
from khien.registry.models import InformationSystem, Membership, Organization

from . import services, triage
from .models import (DEFAULT_SOURCE_TIME_ZONE, AlertSource, SourceFormat, offered_time_zones, source_name_validator,
                     time_zone_names)

# The zones a SOC in Vietnam uses first, then the others by region.
COMMON_TIME_ZONES = (DEFAULT_SOURCE_TIME_ZONE, "UTC")


def time_zone_choices():
    return [(name, name) for name in (*COMMON_TIME_ZONES, *(z for z in offered_time_zones()
                                                             if z not in COMMON_TIME_ZONES))]


class TimeZoneField(forms.ChoiceField):
    """Offers the region/city zones; accepts any zone the API accepts (a source may keep a legacy name)."""

    def valid_value(self, value):
        return value in time_zone_names()


def time_zone_field(**options) -> forms.ChoiceField:
    """The zone of a source's device clock, as both source forms ask for it."""
    return TimeZoneField(label=_l("Time zone of the device's clock"), choices=time_zone_choices, **options)


def source_organizations(user):
    """Organizations the user may register sources for (the service checks `user_can(ADD)`)."""
    return Organization.objects.restrict(user, Action.ADD).order_by("code")


class SourceCreateForm(forms.Form):
    organization = forms.ModelChoiceField(label=_l("Organization"), queryset=Organization.objects.none())
    name = forms.CharField(label=_l("Name"), max_length=80, validators=[source_name_validator],
                           help_text=_l("Letters without accents, digits, dashes or underscores (no spaces), unique "
                                        "on the platform, for example wazuh-min-hq. The tool signs in with the source's key; "
                                        "this name is its user name only where the tool asks for one "
                                        "(Elasticsearch output, NATS)."))
    format = forms.ChoiceField(label=_l("Format"), choices=SourceFormat.choices)
    time_zone = time_zone_field(
        initial=DEFAULT_SOURCE_TIME_ZONE,
        help_text=_l("Used for record times written without a zone (CEF, syslog); times that carry their zone are "
                     "read as written. Choose UTC for devices whose clock keeps UTC."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        organizations = source_organizations(user)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].label_from_instance = lambda o: f"{o.code} — {o.name}"
        if not self.is_bound and "organization" not in self.initial:
            self.initial["organization"] = own_organization_among(user, organizations)


class SourceSettingsForm(forms.Form):
    enabled = forms.BooleanField(label=_l("Enabled (its key is accepted)"), required=False)
    format = forms.ChoiceField(label=_l("Format"), choices=SourceFormat.choices,
                               help_text=_l("For records received from now on. Records refused because of a wrong "
                                            "format can then be read again (dead letters, below)."))
    time_zone = time_zone_field(help_text=_l("Used for record times written without a zone (CEF, syslog)."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.initial.get("time_zone") or self.data.get("time_zone")
        if current and current not in dict(self.fields["time_zone"].choices):  # a legacy name set through the API
            self.fields["time_zone"].choices = [(current, current), *self.fields["time_zone"].choices]

    def disables(self, source) -> bool:
        """The form (valid) turns an enabled source off: the tool is refused at once, as with a new key, so the
        view asks first (`core.confirmation`, on the server: it holds without JavaScript)."""
        return source.enabled and not self.cleaned_data["enabled"]

    def settings(self) -> dict:
        """The changes for `services.do_update_source` (SOURCE_SETTINGS)."""
        return dict(self.cleaned_data)


def system_choice_label(system) -> str:
    """A watched-system choice names its level, approved or only proposed (both count for national monitoring:
    `registry.models.level_at_least_q`)."""
    if system.approved_level:
        level = gettext("level %(n)d") % {"n": system.approved_level}
    elif system.proposed_level:
        level = gettext("level %(n)d proposed, not approved") % {"n": system.proposed_level}
    else:
        return f"{system.code} — {system.name}"
    return f"{system.code} — {system.name} ({level})"


class SourceSystemsForm(forms.Form):
    systems = forms.ModelMultipleChoiceField(
        label=_l("Information systems this tool watches"), required=False, queryset=InformationSystem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_l("A level-3+ system is connected to national monitoring while a source watching it is live."))

    def __init__(self, *args, source: AlertSource, user, **kwargs):
        super().__init__(*args, **kwargs)
        # The systems the source may watch (services.watchable_systems) that the user sees, and those it watches
        # already: one attached before that rule is shown ticked, so that it can be unticked (kept, it is refused).
        offered = services.watchable_systems(source) | InformationSystem.objects.filter(alert_sources=source)
        self.fields["systems"].queryset = offered.visible_to(user).distinct().order_by("code")
        self.fields["systems"].label_from_instance = system_choice_label


class AlertTriageForm(forms.Form):
    """Status and note of one alert or of the alerts ticked on the list (`triage.do_triage_alerts` checks again)."""

    status = forms.ChoiceField(label=_l("Status"))
    assignee = forms.ModelChoiceField(label=_l("Handler (with “In progress”)"), required=False,
                                      queryset=User.objects.none(), empty_label=_l("— me —"),
                                      to_field_name="email")
    note = forms.CharField(label=_l("Note"), required=False, max_length=triage.MAX_NOTE,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_l("Needed for a false positive: why the alert is harmless."))

    def __init__(self, *args, alert=None, user=None, **kwargs):
        """`alert`: the one alert of its page, whose possible handlers are offered (the acting `user` is the
        empty choice, "— me —", not listed again); without it (the list's action bar) the handler is the user
        who acts."""
        from .models import AlertStatus

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, AlertStatus(s).label) for s in triage.SETTABLE_STATUSES]
        if alert is None:
            del self.fields["assignee"]
        else:
            handlers = triage.possible_handlers(alert)
            self.fields["assignee"].queryset = handlers.exclude(pk=user.pk) if user is not None else handlers


class AlertIncidentForm(forms.Form):
    """Report an incident from an alert: what the report says first (the rest is on the incident's page)."""

    title = forms.CharField(label=_l("Incident title"), max_length=300)
    category = forms.ChoiceField(label=_l("Category (RSIT)"))
    severity = forms.ChoiceField(label=_l("Severity"))
    tlp = forms.ChoiceField(label=_l("TLP"), choices=Tlp.choices)
    # The incident service asks for it when the report comes after the initial-report deadline.
    late_reason = forms.CharField(
        label=_l("Reason for the late report"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_l("Needed when the report is made after the initial-report deadline (24 hours after the alert "
                     "was first seen)."))

    def __init__(self, *args, detected_at=None, **kwargs):
        """`detected_at`: the alert's first sighting; a report still on time is not asked why it is late."""
        from django.utils import timezone

        from khien.incidents.services import report_late_at

        super().__init__(*args, **kwargs)
        taxonomy, policy = Taxonomy.current(), ReportingPolicy.current()
        self.fields["category"].choices = taxonomy.choices() if taxonomy else []
        self.fields["severity"].choices = policy.severity_choices() if policy else []
        if "late_reason" in self.fields and detected_at is not None and report_late_at(
                min(detected_at, timezone.now()), timezone.now(), policy) is None:
            del self.fields["late_reason"]


class AlertSuppressForm(forms.Form):
    """Suppress repeats of an alert (`triage.do_suppress_alert` checks again)."""

    reason = forms.CharField(label=_l("Why these alerts are not a threat"), max_length=triage.MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 2}))
    days = forms.IntegerField(label=_l("For how many days"), min_value=1,
                              max_value=triage.MAX_SUPPRESSION_DAYS, initial=30)


class AlertJoinIncidentForm(forms.Form):
    """Add alerts to an incident already reported (`triage.do_add_alerts_to_incident` checks again).

    On an alert's page the incident is chosen among those it may join (`alert`); on the list's action bar it is
    typed by its reference (SC-2026-000123)."""

    incident = forms.CharField(label=_l("Incident (reference)"), max_length=100,
                               widget=forms.TextInput(attrs={"placeholder": "SC-2026-000123", "size": 16}))

    def __init__(self, *args, alert=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if alert is not None:
            # Nothing chosen at first: one click must not merge the alert into an unrelated incident.
            self.fields["incident"] = forms.ChoiceField(label=_l("Incident"), choices=[("", _l("— choose —"))] + [
                (str(incident.pk), incident.choice_label())
                for incident in triage.incidents_to_join(user, alert)])

    @property
    def offers_incidents(self) -> bool:
        return any(value for value, _label in self.fields["incident"].choices)


class CampaignWarningForm(forms.Form):
    """The early warning a campaign becomes, prefilled from it (`correlation.warning_defaults`), seen and changed
    by the coordinator before it is sent: to the campaign's organizations (ticked at first) and any sectors,
    provinces or organizations added. The reply deadline and the recipients are the early-warning form's own
    fields (`intel.forms.WarningForm`), checked as there (the deadline by `do_issue_warning`)."""
    title = forms.CharField(label=_l("Title"), max_length=300)
    # Room for the prefilled summary (what was seen, the value in full, what to do) without scrolling.
    summary = forms.CharField(label=_l("Summary"), max_length=20000, widget=forms.Textarea(attrs={"rows": 5}))
    severity = forms.ChoiceField(label=_l("Severity"), choices=WarningSeverity.choices)
    tlp = forms.ChoiceField(label=_l("TLP"), choices=Tlp.choices)
    respond_by = WarningForm.base_fields["respond_by"]
    sectors = WarningForm.base_fields["sectors"]
    provinces = WarningForm.base_fields["provinces"]
    organizations = WarningForm.base_fields["organizations"]

    # Sent by the page's form, which shows the organizations ticked: without it (a form posted with the texts
    # only), the organizations are not a choice and the campaign's hit organizations receive the warning.
    recipients_chosen = forms.BooleanField(required=False, initial=True, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["respond_by"].help_text = respond_by_help()  # set when made: it is translated
        field = self.fields["organizations"]
        # The coordinator's own organization sends the warning: not offered as a recipient (as the form says).
        field.queryset = field.queryset.exclude(pk__in=Membership.objects.filter(
            role=Role.NATIONAL_COORDINATOR).values("organization_id"))
        field.widget.choices = grouped_organization_choices(field.queryset)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.pop("recipients_chosen", False):
            cleaned["organizations"] = None  # `do_campaign_to_warning`: the organizations the campaign hit
        return cleaned


class CampaignIncidentForm(AlertIncidentForm):
    """The incident a campaign becomes, prefilled from it (`correlation.incident_defaults`): an alert's report,
    with the description written out (it names the organizations involved)."""
    description = forms.CharField(label=_l("Description"), max_length=20000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    late_reason = None  # a campaign is raised when several organizations were hit; its reason is written for it


TRY_TEXT_LIMIT = 256 * 1024  # characters of sample records pasted into a trial (`services.try_records`)


class TryRecordsForm(forms.Form):
    """Sample records pasted on a source's trial page: as the tool writes them (one a line, or a JSON array)."""

    records = forms.CharField(
        label=_l("Sample records"), max_length=TRY_TEXT_LIMIT, strip=False, widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_l("Paste up to 100 records as the tool writes them: one a line (JSON or CEF), or a JSON array. "
                     "Nothing is stored or counted."))
