"""Forms of the registry pages.

ModelForms validate (field rules, uniqueness, the model's `clean`) but never
save: the views hand `cleaned_data` to `services.py`, which checks rights,
writes and audits. Choice lists are cut to what the user may act on.
"""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy as _

from khien.core.errors import upload_limit_mb
from khien.core.forms import DateField
from khien.core.roles import Action, Role
from khien.core.scoping import NOTHING, is_national_coordinator, scope_for, user_can
from khien.core.widgets import OrganizationPicker, grouped_organization_choices

from . import levels
from .models import ImportKind, InformationSystem, Isac, Organization
from .services import (
    IDENTITY_FIELDS,
    ORG_FIELDS,
    SIGN_IN_FIELDS,
    SWITCH_OFF_FIELDS,
    SYSTEM_FIELDS,
    deletion_denied_message,
    dossier_kinds,
    may_delete_organization,
    may_set_sign_in,
    second_factor_required_above,
)
from .validators import normalize_domains, split_list

# Lazy: formatted when shown, in the reader's language (formatting at import fixed it in the default one).
_level_label = lazy(lambda n: gettext("Level %(n)s") % {"n": n}, str)
LEVEL_CHOICES = [(n, _level_label(n)) for n in range(1, 6)]


class OrganizationsByCode:
    """Organization choices read "CODE — name" (listed by code): hundreds of names, some shared by two
    communes of different provinces."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model is Organization:
                field.label_from_instance = lambda org: f"{org.code} — {org.name}"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class OrganizationForm(OrganizationsByCode, forms.ModelForm):
    class Meta:
        model = Organization
        fields = [
            "code", "name_vi", "name_en", "org_type", "parent", "province", "sectors", "address",
            "hotline", "contact_email", "duty_officer", "duty_officer_phone",
            "head_name", "head_title", "head_email", "head_phone", "is_active", "require_second_factor",
        ]
        widgets = {"sectors": forms.CheckboxSelectMultiple}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        coordinator = is_national_coordinator(user)
        allowed = Organization.objects.restrict(user, Action.ADD)
        instance = None if self.instance._state.adding else self.instance
        if instance is not None:
            # Neither itself nor one of its own units can become its parent.
            allowed = allowed.exclude(path__startswith=instance.path)
            parent_changeable = (
                coordinator if instance.parent_id is None else allowed.filter(pk=instance.parent_id).exists()
            )
            if not parent_changeable:
                del self.fields["parent"]
            # Shown, not changeable, without the right `do_update_organization` asks for each.
            if not user_can(user, Action.DELETE, instance):
                for name in IDENTITY_FIELDS:
                    self.fields[name].disabled = True
            if not may_delete_organization(user, instance):
                for name in SWITCH_OFF_FIELDS:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = deletion_denied_message(instance, switching=True)
        self._sign_in_field(user, instance)
        if "parent" in self.fields:
            self.fields["parent"].queryset = allowed.order_by("code")
            self.fields["parent"].required = not coordinator
            if coordinator:
                self.fields["parent"].empty_label = _("— none (top-level organization) —")

    def _sign_in_field(self, user, instance):
        """The two-step sign-in requirement: shown to all, changeable by those `may_set_sign_in` lets (a new unit: by
        those who manage members somewhere, the service checks the parent), saying when it holds from above."""
        field = self.fields["require_second_factor"]
        notes = []
        required_above = second_factor_required_above(instance) if instance is not None else None
        if required_above is not None:
            notes.append(_("Required already by “%(org)s”, above this organization: its members use two-step sign-in "
                           "whatever this box says.") % {"org": required_above.name})
        may_set = (may_set_sign_in(user, instance) if instance is not None
                   else scope_for(user, Action.MANAGE_MEMBERS) != NOTHING)
        if not may_set:
            for name in SIGN_IN_FIELDS:
                self.fields[name].disabled = True
            notes.append(_("Set by the administrators of the organization or of an organization above it, or by the "
                           "national coordinator."))
        if notes:
            field.help_text = " ".join([str(field.help_text), *map(str, notes)])

    def service_data(self) -> tuple[dict, list]:
        """(data for do_create/update_organization, sectors)."""
        data = {name: self.cleaned_data[name] for name in ORG_FIELDS if name in self.fields}
        return data, list(self.cleaned_data.get("sectors") or [])


def role_choices(user) -> list[tuple[str, str]]:
    """The roles `user` may grant (the national coordinator role only by a national coordinator)."""
    if is_national_coordinator(user):
        return list(Role.choices)
    return [c for c in Role.choices if c[0] != Role.NATIONAL_COORDINATOR]


def add_national_role_confirmation(form) -> None:
    """The checkbox granting the national coordinator role needs (`services.do_set_membership` refuses without it),
    on a form whose role list offers that role."""
    if Role.NATIONAL_COORDINATOR in dict(form.fields["role"].choices):
        form.fields["confirm_national_role"] = forms.BooleanField(
            label=_("I confirm granting the national coordinator role (rights over every organization)"),
            required=False)


class MemberForm(forms.Form):
    email = forms.EmailField(label=_("E-mail of the user"))
    full_name = forms.CharField(label=_("Full name (for a new account)"), max_length=200, required=False)
    # Least privilege by default: an auditor only reads the organization's records (core.roles: VIEW alone), which
    # is already useful to a newcomer; trainee and responder read as much but are meant for training and for
    # incident-response companies. Any right to change something (analyst, administrator) is a deliberate choice.
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AUDITOR)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(user)
        add_national_role_confirmation(self)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class MembershipRoleForm(forms.Form):
    """The role select of one member's row on the organization's page."""

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(user)
        add_national_role_confirmation(self)


class ListField(forms.CharField):
    """A textarea holding one value per line (or separated by ;) → a list of strings."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(value)
        return value

    def to_python(self, value):
        return split_list(super().to_python(value))


class SystemForm(OrganizationsByCode, forms.ModelForm):
    """Registration and edit of a system, with the level criteria as radio groups.

    Each criteria question becomes a field `crit_<question id>`; their answers
    are stored together in `criteria`. The proposed level defaults to the
    suggested one when left empty.
    """

    ip_ranges = ListField(label=_("IP ranges"), help_text=_("One address or CIDR range per line, e.g. 203.0.113.0/24."))
    domains = ListField(label=_("Domains"), help_text=_("One domain name per line, e.g. dichvucong.example.gov.vn."))
    products = ListField(
        label=_("Products (CPE 2.3)"),
        help_text=_("One CPE name per line, e.g. cpe:2.3:a:apache:http_server:2.4.62:*:*:*:*:*:*:*"),
    )
    proposed_level = forms.TypedChoiceField(
        label=_("Proposed level"), choices=[("", _("— the suggested level —"))] + LEVEL_CHOICES,
        coerce=int, empty_value=None, required=False,
        help_text=_("Leave empty to propose the level suggested by the criteria."),
    )

    LAYER_FIELDS = [
        "layer1_status", "layer1_evidence", "layer2_status", "layer2_provider", "layer2_evidence",
        "layer3_status", "layer3_assessed_on", "layer3_assessor", "layer3_evidence",
        "layer4_status", "layer4_connected_on", "layer4_evidence",
    ]

    class Meta:
        model = InformationSystem
        fields = [
            "code", "name", "owner", "operator", "purpose", "operational_status",
            "important_to_national_security", "internet_facing", "ip_ranges", "domains", "products",
            "layer1_status", "layer1_evidence", "layer2_status", "layer2_provider", "layer2_evidence",
            "layer3_status", "layer3_assessed_on", "layer3_assessor", "layer3_evidence",
            "layer4_status", "layer4_connected_on", "layer4_evidence", "proposed_level", "level_justification",
        ]
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 3}),
            "level_justification": forms.Textarea(attrs={"rows": 3}),
            "layer1_evidence": forms.Textarea(attrs={"rows": 2}),
            "layer2_evidence": forms.Textarea(attrs={"rows": 2}),
            "layer3_evidence": forms.Textarea(attrs={"rows": 2}),
            "layer4_evidence": forms.Textarea(attrs={"rows": 2}),
            "layer3_assessed_on": DateInput(),
            "layer4_connected_on": DateInput(),
        }
        field_classes = {"layer3_assessed_on": DateField, "layer4_connected_on": DateField}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        instance = None if self.instance._state.adding else self.instance
        owners = Organization.objects.restrict(user, Action.ADD)
        operators = Organization.objects.referable_by(user, keep=[instance.operator_id] if instance else [])
        if instance is not None:
            if not owners.filter(pk=instance.owner_id).exists():
                del self.fields["owner"]  # may edit the system but not move it to another owner
        if "owner" in self.fields:
            self.fields["owner"].queryset = owners.order_by("code")
            if instance is None and not self.initial.get("owner"):
                # One organization to choose from (an organization without units): chosen already.
                only = list(owners.order_by("code")[:2])
                if len(only) == 1:
                    self.fields["owner"].initial = only[0].pk
                    self.fields["owner"].empty_label = None
        self.fields["operator"].queryset = operators.order_by("code")
        self.fields["operator"].help_text = _("Leave empty when the owner operates the system itself.")
        self.fields["operator"].empty_label = _("— the owner itself —")
        # Inside each layer's box the heading already names the layer.
        for n in (1, 2, 3, 4):
            self.fields[f"layer{n}_status"].label = _("Status")
            # A text box, not an attachment: it says where the proof is, for the appraiser to ask for it.
            self.fields[f"layer{n}_evidence"].label = _("Evidence (reference of the document)")
            self.fields[f"layer{n}_evidence"].help_text = _(
                "Write the number, date and title of the document, contract or report that shows it, and where it "
                "is kept. This is text: no file is attached here.")
            self.fields[f"layer{n}_evidence"].widget.attrs["placeholder"] = _(
                "e.g. Contract no. 12/2025/HĐ-DV of 01/03/2025 with the SOC provider, kept by the IT department")

        self.framework = (instance.framework if instance and instance.framework else None) or levels.current_framework()
        self.questions = levels.questions(self.framework) if self.framework else []
        answers = (instance.criteria if instance else None) or {}
        self.proposal_editable = instance is None or instance.level_status in ("draft", "returned")
        for q in self.questions:
            self.fields[f"crit_{q.id}"] = forms.ChoiceField(
                label=q.text, choices=[(oid, label) for oid, label, _lvl in q.options],
                widget=forms.RadioSelect, required=False, initial=answers.get(q.id),
                disabled=not self.proposal_editable,
            )
        self.fields["level_justification"].help_text = _(
            "Required if you propose a level below the suggested one: why the lower level is enough. The appraiser "
            "reads it.")
        if not self.proposal_editable:
            self.fields["proposed_level"].disabled = True
            self.fields["level_justification"].disabled = True

    def clean_domains(self):
        # A pasted address (https://host/path) keeps its host: the same cleaning as the API and the import.
        return normalize_domains(self.cleaned_data["domains"])

    def criteria_fields(self):
        return [self[f"crit_{q.id}"] for q in self.questions]

    def _current_answers(self) -> dict:
        if self.is_bound and self.proposal_editable:
            return {q.id: self.data.get(f"crit_{q.id}") for q in self.questions}
        return {q.id: self.fields[f"crit_{q.id}"].initial for q in self.questions}

    @property
    def answered_count(self) -> int:
        return sum(1 for v in self._current_answers().values() if v)

    @property
    def initial_suggestion(self):
        """The suggestion for the answers on the page, shown before any HTMX call."""
        answers = self._current_answers()
        if not self.questions or self.answered_count < len(self.questions):
            return None
        try:
            return levels.suggest_level(self.framework, answers)
        except levels.CriteriaError:
            return None

    def layer_fields(self):
        return [self[name] for name in self.LAYER_FIELDS]

    def clean(self):
        cleaned = super().clean()
        if not self.proposal_editable:
            return cleaned
        answers = {q.id: cleaned.get(f"crit_{q.id}") for q in self.questions}
        given = {k: v for k, v in answers.items() if v}
        self.criteria = {}
        self.suggestion = None
        if given and len(given) < len(self.questions):
            missing = [q for q in self.questions if not answers[q.id]]
            for q in missing:
                self.add_error(f"crit_{q.id}", _("Answer this question, or leave all criteria empty for now."))
        elif given:
            self.criteria = given
            try:
                self.suggestion = levels.suggest_level(self.framework, given)
            except levels.CriteriaError as exc:
                raise ValidationError(str(exc))
        if cleaned.get("proposed_level") is None and self.suggestion is not None:
            cleaned["proposed_level"] = self.suggestion.level
        return cleaned

    def _post_clean(self):
        # The model's validation sees the proposed level, criteria and suggestion the services will store (so that
        # its rules, the justification of a level below the suggestion among them, are shown with the field errors).
        if self.proposal_editable and hasattr(self, "criteria"):
            self.instance.criteria = self.criteria
            self.instance.suggested_level = self.suggestion.level if self.suggestion else None
        super()._post_clean()

    def service_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in SYSTEM_FIELDS if name in self.fields}
        if self.proposal_editable:
            data["criteria"] = self.criteria
            data["proposed_level"] = self.cleaned_data.get("proposed_level")
            data["level_justification"] = self.cleaned_data.get("level_justification", "")
        return data


class DossierUploadForm(forms.Form):
    file = forms.FileField(label=_("Dossier file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limits said before one tries, from what `do_add_dossier_file` checks (the same settings and list).
        self.fields["file"].help_text = gettext(
            "The signed proposal, the system description, the plan… At most %(mb)s MB per file; accepted types: "
            "%(kinds)s.") % {"mb": upload_limit_mb(), "kinds": dossier_kinds()}
        self.fields["file"].widget.attrs["accept"] = ",".join(dossier_kinds().split(", "))


class StepForm(forms.Form):
    """The inputs of one workflow step; what each step requires is checked by the service too."""

    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    decision_number = forms.CharField(label=_("Decision number"), required=False, max_length=60)
    decision_date = DateField(label=_("Decision date"), required=False, widget=DateInput())

    REQUIRED = {
        "appraise": {"note": _("Write the appraisal opinion.")},
        "return": {"note": _("Give the reason for returning the proposal.")},
        "approve": {"decision_number": _("Give the decision number."), "decision_date": _("Give the decision date.")},
    }

    def __init__(self, *args, step, **kwargs):
        super().__init__(*args, **kwargs)
        self.step = step
        for name, message in self.REQUIRED.get(step, {}).items():  # marked required on the page, with its own message
            self.fields[name].required = True
            self.fields[name].error_messages["required"] = message
        if step == "appraise":
            self.fields["note"].label = _("Appraisal opinion")
        elif step == "return":
            self.fields["note"].label = _("Reason for returning")

    def clean(self):
        cleaned = super().clean()
        for name, message in self.REQUIRED.get(self.step, {}).items():
            value = cleaned.get(name)
            if name not in self.errors and (value is None or (isinstance(value, str) and not value.strip())):
                self.add_error(name, message)
        return cleaned


class IsacForm(OrganizationsByCode, forms.ModelForm):
    class Meta:
        model = Isac
        fields = ["code", "name_vi", "name_en", "sector", "operator", "description", "members"]
        # Checkboxes: in a <select multiple> a plain click kept only the member clicked and dropped the others.
        widgets = {"members": OrganizationPicker()}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = Organization.objects.restrict(user, Action.MANAGE_MEMBERS).order_by("code")
        # Members come from any sector or province: an ISAC is a community across the tree. Hundreds of them:
        # grouped by type, with a filter by code or name.
        members = self.fields["members"]
        members.queryset = Organization.objects.filter(is_active=True).order_by("code")
        members.required = False
        members.widget.legend = members.label
        members.widget.choices = grouped_organization_choices(members.queryset)

    def service_data(self) -> tuple[dict, list]:
        data = {name: self.cleaned_data[name] for name in ["code", "name_vi", "name_en", "sector", "operator", "description"]}
        return data, list(self.cleaned_data.get("members") or [])


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file contains"), choices=ImportKind.choices, widget=forms.RadioSelect,
                             initial=ImportKind.ORGANIZATIONS)
    file = forms.FileField(label=_("CSV or XLSX file"), help_text=_("The first row holds the column names of the template."))

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith((".csv", ".xlsx")):
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        return f
