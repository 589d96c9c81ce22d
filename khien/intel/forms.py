"""Forms of the intelligence pages. They only read and shape input; services write.

The indicator and report forms build STIX 2.1 dicts for
`services.do_add_objects`; the warning form gives `services_warnings.do_issue_warning`
its data and its targeting choices.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid

from django import forms
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext

from khien.core import shapes
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator
# The checkbox lists live in core (the registry's ISAC form ticks its members with them); imported here, as
# the intelligence and telemetry forms name them.
from khien.core.widgets import (  # noqa: F401 (re-exported)
    CheckboxPicker,
    OrganizationPicker,
    grouped_organization_choices,
    organizations_chosen,
)
from khien.registry.models import Isac, Organization, Province, Sector

from . import indicator_status, services, services_warnings, tlp, warninglists
from .models import AckState, Collection, CollectionKind, IndicatorKind, Tlp, WarningSeverity, stix_type_label

PATTERN_CHOICE = "pattern"
HASH_PATH = {IndicatorKind.MD5: "MD5", IndicatorKind.SHA1: "'SHA-1'", IndicatorKind.SHA256: "'SHA-256'"}
INDICATOR_TYPES = [
    ("malicious-activity", _l("Malicious activity")),
    ("anomalous-activity", _l("Anomalous activity")),
    ("attribution", _l("Attribution")),
    ("compromised", _l("Compromised")),
    ("benign", _l("Benign")),
    ("unknown", _l("Unknown")),
]


def stamp(when: dt.datetime | None = None) -> str:
    """A STIX timestamp in UTC with milliseconds."""
    when = when or timezone.now()
    return services.format_timestamp(when.replace(microsecond=when.microsecond // 1000 * 1000))


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(kind: str, raw: str) -> tuple[str, str]:
    """(STIX pattern, normalized value) for a value of a kind; ValidationError when it is not of that kind.
    A defanged value (hxxp://evil[.]top) is read as the real one, as the CSV import reads it (`shapes.refang`)."""
    value = shapes.refang(raw)
    if not value:
        raise forms.ValidationError(_("Give the value."))
    if kind in (IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR):
        normalized = services.normalize_value(IndicatorKind.IPV4 if kind != IndicatorKind.IPV6 else kind, value)
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            net = None
        if normalized is None or net is None:
            raise forms.ValidationError(_("“%(v)s” is not an IP address or network.") % {"v": value[:200]})
        version = net.version
        if kind == IndicatorKind.IPV4 and (version != 4 or net.num_addresses != 1):
            raise forms.ValidationError(_("“%(v)s” is not an IPv4 address.") % {"v": value[:200]})
        if kind == IndicatorKind.IPV6 and (version != 6 or net.num_addresses != 1):
            raise forms.ValidationError(_("“%(v)s” is not an IPv6 address.") % {"v": value[:200]})
        if kind == IndicatorKind.CIDR and net.num_addresses == 1:
            raise forms.ValidationError(_("“%(v)s” is a single address: choose IPv4 or IPv6.") % {"v": value[:200]})
        path = "ipv4-addr" if version == 4 else "ipv6-addr"
        text = str(net) if kind == IndicatorKind.CIDR else str(net.network_address)
        return f"[{path}:value = {quote(text)}]", text
    if kind == IndicatorKind.DOMAIN:
        text = value.lower().rstrip(".")
        if not shapes.is_domain_name(text):
            raise forms.ValidationError(_("“%(v)s” is not a domain name.") % {"v": value[:200]})
        return f"[domain-name:value = {quote(text)}]", text
    if kind == IndicatorKind.URL:
        url = shapes.url_value(value)
        if url is None:
            raise forms.ValidationError(_("“%(v)s” is not a URL (http://…, https://…).") % {"v": value[:200]})
        return f"[url:value = {quote(url)}]", url
    if kind == IndicatorKind.EMAIL:
        text = value.lower()
        if not services.is_email_address(text):
            raise forms.ValidationError(_("“%(v)s” is not an e-mail address.") % {"v": value[:200]})
        return f"[email-addr:value = {quote(text)}]", text
    if kind in services.HASH_LENGTHS:
        text = value.lower()
        if not services.is_hash(kind, text):
            raise forms.ValidationError(_("A %(kind)s hash is %(n)d hexadecimal characters.")
                                        % {"kind": IndicatorKind(kind).label, "n": services.HASH_LENGTHS[kind]})
        return f"[file:hashes.{HASH_PATH[kind]} = {quote(text)}]", text
    raise forms.ValidationError(_("Choose the kind of value."))


def writable_collections(user) -> list:
    """The collections the user may add objects to (the choices of the create forms)."""
    return [c for c in tlp.collections_for(user).select_related("owner").order_by("title")
            if tlp.can_write_collection(user, c)]


def split_lines(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,;]+", text or "") if part.strip()]


class CollectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.title} ({obj.owner.code})"


class OrganizationsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.code} — {obj.name}"


def sectors_chosen(n):
    return ngettext("%(n)s sector chosen", "%(n)s sectors chosen", n)


def provinces_chosen(n):
    return ngettext("%(n)s province chosen", "%(n)s provinces chosen", n)


def isacs_chosen(n):
    return ngettext("%(n)s ISAC chosen", "%(n)s ISACs chosen", n)


def objects_chosen(n):
    return ngettext("%(n)s object chosen", "%(n)s objects chosen", n)


ORGANIZATIONS_HINT = _l("Tick each organization that receives the warning; a click never unticks the others. "
                        "Those ticked are listed first.")


def _recipients_field(required=False):
    label = _l("Recipients (TLP:RED)")
    return OrganizationsField(
        label=label, required=required,
        queryset=Organization.objects.filter(is_active=True).order_by("code"),
        widget=OrganizationPicker(legend=label),
        help_text=_l("TLP:RED is seen only by your organization and the organizations ticked here. Organizations "
                     "are grouped by type; those ticked are listed first."))


def _picker_field(label, queryset, count, **picker) -> forms.ModelMultipleChoiceField:
    """An optional choice of several among `queryset`, ticked in a `CheckboxPicker` named by the field's label."""
    return forms.ModelMultipleChoiceField(label=label, queryset=queryset, required=False,
                                          widget=CheckboxPicker(count=count, legend=label, **picker))


def audience_choice(user, collection_id, level, recipient_ids):
    """(writable collection or None, TLP level or None, active recipient organizations) from raw input."""
    by_pk = {str(c.pk): c for c in writable_collections(user)}
    collection = by_pk.get(str(getattr(collection_id, "pk", collection_id) or ""))
    level = level if level in Tlp.values else None
    ids = []
    for raw in recipient_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    recipients = list(Organization.objects.filter(is_active=True, pk__in=ids)) if ids else []
    return collection, level, recipients


class _SharingMixin:
    def _setup_sharing(self, user):
        self.user = user
        choices = writable_collections(user)
        self.fields["collection"].queryset = self.fields["collection"].queryset.filter(pk__in=[c.pk for c in choices])
        if len(choices) == 1:
            self.fields["collection"].initial = choices[0].pk
        field = self.fields["recipients"]
        # The producer always sees its own objects: the user's organizations are not offered as recipients.
        self.own_organization_ids = set(tlp.organization_ids(user))
        field.widget.choices = grouped_organization_choices(field.queryset.exclude(pk__in=self.own_organization_ids))

    def sharing_choice(self):
        """(collection, TLP, recipients) as submitted or initially chosen, for the audience shown with the form;
        None for the collection when none (or none the user may write) is chosen."""
        def value(name):
            if self.is_bound:
                return self.data.getlist(name) if name == "recipients" else self.data.get(name)
            return self.initial.get(name, self.fields[name].initial)
        return audience_choice(self.user, value("collection"), value("tlp"), value("recipients") or [])

    def chosen_refs(self) -> list[str]:
        """The objects the form's version will name (a report's), for the audience box: none here."""
        return []

    def _clean_sharing(self, cleaned):
        own = [org for org in cleaned.get("recipients") or () if org.pk in self.own_organization_ids]
        if cleaned.get("tlp") == Tlp.RED and own:
            self.add_error("recipients", _("Your organization always sees what it shares: name only other "
                                           "organizations (%(orgs)s is yours).") % {"orgs": ", ".join(o.code for o in own)})
        elif cleaned.get("tlp") == Tlp.RED and not cleaned.get("recipients"):
            self.add_error("recipients", _("Name at least one recipient organization for TLP:RED."))
        if cleaned.get("tlp") != Tlp.RED:
            cleaned["recipients"] = []
        return cleaned

    def marking(self):
        return [tlp.TLP_MARKING[self.cleaned_data["tlp"]]]


class _IndicatorContentForm(forms.Form):
    """What an indicator says (name, value or pattern, validity, confidence, labels): the create form and the
    correction form share these fields and their checks."""

    name = forms.CharField(label=_l("Name"), max_length=250)
    description = forms.CharField(label=_l("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    value_kind = forms.ChoiceField(label=_l("Kind of value"),
                                   choices=list(IndicatorKind.choices) + [(PATTERN_CHOICE, _l("STIX pattern (expert)"))])
    value = forms.CharField(label=_l("Value"), max_length=2048, required=False,
                            help_text=_l("The IP address, network, domain, URL, e-mail address or hash."))
    pattern = forms.CharField(label=_l("STIX pattern"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_l("For experts, e.g. [ipv4-addr:value = '203.0.113.5'] OR [domain-name:value = 'bad.example']."))
    indicator_type = forms.ChoiceField(label=_l("Indicator type"), choices=INDICATOR_TYPES, initial="malicious-activity")
    valid_until = forms.DateTimeField(label=_l("Valid until"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      help_text=_l("Leave empty if the indicator does not expire."))
    confidence = forms.IntegerField(label=_l("Confidence (0–100)"), min_value=0, max_value=100, required=False,
                                    initial=70)
    labels = forms.CharField(label=_l("Labels"), required=False, max_length=1000,
                             help_text=_l("Separated by commas, e.g. phishing, apt."))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("value_kind")
        if kind == PATTERN_CHOICE:
            text = (cleaned.get("pattern") or "").strip()
            if not text:
                self.add_error("pattern", _("Give the STIX pattern."))
            else:
                try:
                    services.extract_values(text)
                except Exception as exc:
                    self.add_error("pattern", _("Invalid STIX pattern: %(error)s") % {"error": exc})
                cleaned["stix_pattern"] = text
        elif kind:
            try:
                cleaned["stix_pattern"], cleaned["normalized"] = pattern_for(kind, cleaned.get("value", ""))
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        until = cleaned.get("valid_until")
        if until and until <= timezone.now() and "valid_until" in self.changed_data:
            self.add_error("valid_until", _("The end of validity must be in the future."))
        return cleaned

    def labels_list(self) -> list[str]:
        text = self.cleaned_data.get("labels") or ""
        return list(dict.fromkeys(label.strip().lower() for label in text.split(",") if label.strip()))


class _WarningListedMixin(forms.Form):
    """A value on a warning list (a private address, a well-known resolver…) is stored only once confirmed: it is
    probably not malicious, and is left out of the blocklists and the SOC matching (`warninglists.listed_in`).
    Asked when an indicator is made and when a correction changes its pattern."""
    confirm_warninglisted = forms.BooleanField(
        label=_l("Store it anyway: I have checked that this value is malicious here"), required=False)
    warning_listed: list[dict] = []

    def _check_warning_listed(self, cleaned: dict) -> dict:
        pattern = cleaned.get("stix_pattern")
        self.warning_listed = []
        if pattern and pattern != self.initial.get("_stored_pattern"):  # a correction keeping its value: asked once
            self.warning_listed = warninglists.listed_in([{"type": "indicator", "pattern_type": "stix",
                                                           "pattern": pattern}])
        if self.warning_listed and not cleaned.get("confirm_warninglisted"):
            self.add_error("confirm_warninglisted", warninglists.listed_message(self.warning_listed))
            self._mark_listed_value("pattern" if cleaned.get("value_kind") == PATTERN_CHOICE else "value")
        return cleaned

    def _mark_listed_value(self, name: str, message=None) -> None:
        """Mark the field holding the listed value as in error (its style, aria-invalid), pointing to the
        confirmation below, unless it has an error of its own."""
        if name in self.fields and name not in self.errors:
            self.add_error(name, message or _("This value is on a warning list: tick the confirmation below to "
                                              "store it anyway."))

    @property
    def asks_confirmation(self) -> bool:
        return bool(self.warning_listed)


class IndicatorForm(_SharingMixin, _WarningListedMixin, _IndicatorContentForm):
    tlp = forms.ChoiceField(label=_l("TLP"), choices=Tlp.choices, initial=Tlp.AMBER)
    collection = CollectionChoiceField(label=_l("Collection"), queryset=Collection.objects.all())
    recipients = _recipients_field()
    confirm_duplicate = forms.BooleanField(
        label=_l("Store a second indicator anyway (another campaign, another validity…)"), required=False)
    already_shared: list[dict] = []

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_sharing(user)

    def clean(self):
        return self._check_already_shared(self._check_warning_listed(self._clean_sharing(super().clean())))

    def _check_already_shared(self, cleaned: dict) -> dict:
        """A value the organization already shares in the collection (`services.already_shared`) is stored as a
        second indicator only once confirmed: the existing one is linked, to be corrected instead."""
        self.already_shared = []
        pattern, collection = cleaned.get("stix_pattern"), cleaned.get("collection")
        if not pattern or collection is None:
            return cleaned
        try:
            pairs = services.extract_values(pattern)
        except Exception:  # an invalid pattern is told by its own field
            return cleaned
        self.already_shared, _count = services.already_shared(
            collection, services.producer_for(self.user, collection), pairs)
        if self.already_shared and not cleaned.get("confirm_duplicate"):
            self.add_error("confirm_duplicate", _("Your organization has already shared this value in this "
                                                  "collection: open the indicator below and correct it, or tick "
                                                  "the box to store a second one."))
            self._mark_listed_value("pattern" if cleaned.get("value_kind") == PATTERN_CHOICE else "value",
                                    _("Your organization has already shared this value in this collection."))
        return cleaned

    @property
    def asks_duplicate_confirmation(self) -> bool:
        return bool(self.already_shared)

    def stix(self) -> dict:
        data = self.cleaned_data
        now = stamp()
        obj = {
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": now, "modified": now, "name": data["name"].strip(),
            "indicator_types": [data["indicator_type"]],
            "pattern": data["stix_pattern"], "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": now, "object_marking_refs": self.marking(),
        }
        if data.get("description"):
            obj["description"] = data["description"]
        if data.get("valid_until"):
            obj["valid_until"] = stamp(data["valid_until"])
        if data.get("confidence") is not None:
            obj["confidence"] = data["confidence"]
        if self.labels_list():
            obj["labels"] = self.labels_list()
        return obj


class IndicatorCorrectionForm(_WarningListedMixin, _IndicatorContentForm):
    """A correction of a stored indicator, prefilled from its current version (`initial_from`); what it gives
    `services_versions.do_correct_indicator` (`changes`) becomes the indicator's next version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["indicator_type"]  # kept as it is: an indicator may carry several types

    def clean(self):
        return self._check_warning_listed(super().clean())

    @staticmethod
    def initial_from(data: dict) -> dict:
        """The form's values for a stored version: its value and kind when its pattern is exactly what this
        form makes of one value, else the pattern itself (expert)."""
        pattern = data.get("pattern") if isinstance(data.get("pattern"), str) else ""
        initial = {"name": data.get("name", ""), "description": data.get("description", ""), "_stored_pattern": pattern,
                   "value_kind": PATTERN_CHOICE, "pattern": pattern, "confidence": data.get("confidence"),
                   "labels": ", ".join(v for v in data.get("labels") or [] if isinstance(v, str))}
        try:
            found = services.extract_values(pattern) if data.get("pattern_type") == "stix" else []
        except Exception:  # a stored pattern this platform cannot read: corrected as text
            found = []
        if len(found) == 1:
            kind, value = found[0]
            if "/" in value and kind in (IndicatorKind.IPV4, IndicatorKind.IPV6):
                kind = IndicatorKind.CIDR
            try:
                same = pattern_for(kind, value)[0] == pattern
            except forms.ValidationError:
                same = False
            if same:
                initial.update({"value_kind": kind, "value": value, "pattern": ""})
        until = services.parse_timestamp(data.get("valid_until"))
        if until is not None:
            initial["valid_until"] = timezone.localtime(until).strftime("%Y-%m-%dT%H:%M")
        return initial

    def changes(self) -> dict:
        d = self.cleaned_data
        return {"name": d["name"].strip(), "description": d.get("description") or "", "pattern": d["stix_pattern"],
                "valid_until": stamp(d["valid_until"]) if d.get("valid_until") else None,
                "confidence": d.get("confidence"), "labels": self.labels_list()}


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_l("Reason (optional)"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_l("Shown on the object’s page to everyone who sees it and kept in the audit log, e.g. a false positive."))


class SightingForm(forms.Form):
    """"Seen here": a sighting of an indicator recorded by hand (`sightings.do_record_sighting`)."""

    count = forms.IntegerField(label=_l("Times seen"), min_value=1, max_value=999_999_999, initial=1)
    first_seen = forms.DateTimeField(label=_l("First seen"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     help_text=_l("Leave empty: the same as the last sighting."))
    last_seen = forms.DateTimeField(label=_l("Last seen"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                    help_text=_l("Leave empty: now."))
    description = forms.CharField(label=_l("Where and how (optional)"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_l("E.g. found on the mail gateway during an investigation."))
    collection = CollectionChoiceField(label=_l("Collection"), queryset=Collection.objects.all())
    tlp = forms.ChoiceField(label=_l("TLP"), initial=Tlp.AMBER_STRICT,
                            choices=[(v, label) for v, label in Tlp.choices if v != Tlp.RED],
                            help_text=_l("A sighting says your organization was hit: AMBER+STRICT keeps it to your "
                                         "organization and the collection's owner."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        choices = writable_collections(user)
        self.fields["collection"].queryset = Collection.objects.filter(pk__in=[c.pk for c in choices])
        if choices:
            self.fields["collection"].initial = choices[0].pk


# How many of the latest objects the report form offers to pick (a filter box narrows them).
REPORT_PICK_LIMIT = 500


def report_refs(chosen, pasted: str) -> list[str]:
    """The object ids a report names: those chosen in the list, then those pasted (one per line), each once."""
    return list(dict.fromkeys([r for r in chosen if isinstance(r, str) and r] + split_lines(pasted)))


class ObjectRefsField(forms.MultipleChoiceField):
    """Visible object ids, offered as check boxes, or pasted (one per line) in the companion text box."""

    def valid_value(self, value):
        return True  # checked against the user's visible objects in the form's clean()


class ReportForm(_SharingMixin, forms.Form):
    REPORT_TYPES = [("threat-report", _l("Threat report")), ("attack-pattern", _l("Attack pattern")),
                    ("campaign", _l("Campaign")), ("indicator", _l("Indicators")), ("malware", _l("Malware")),
                    ("threat-actor", _l("Threat actor")), ("vulnerability", _l("Vulnerability"))]
    name = forms.CharField(label=_l("Name"), max_length=250)
    description = forms.CharField(label=_l("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    report_type = forms.ChoiceField(label=_l("Report type"), choices=REPORT_TYPES, initial="threat-report")
    published = forms.DateTimeField(label=_l("Published"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                    help_text=_l("Empty: now."))
    # The fieldset around it is "Objects in the report": the list is named for what it offers.
    object_refs = ObjectRefsField(label=_l("Recently added objects"), required=False,
                                  widget=CheckboxPicker(count=objects_chosen, legend=_l("Recently added objects"),
                                                        placeholder=_l("Filter by name or type")))  # whole at 360 px
    extra_refs = forms.CharField(label=_l("Other object ids"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text=_l("STIX ids of other objects you can see, one per line."))
    tlp = forms.ChoiceField(label=_l("TLP"), choices=Tlp.choices, initial=Tlp.AMBER)
    collection = CollectionChoiceField(label=_l("Collection"), queryset=Collection.objects.all())
    recipients = _recipients_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_sharing(user)
        from .search import display_name, latest_versions

        recent = (tlp.visible_versions(user).exclude(stix_type__in=["report", "relationship", "sighting",
                                                                    "marking-definition", "identity"])
                  .order_by().values("stix_id").annotate(last=Max("date_added")).order_by("-last")[:REPORT_PICK_LIMIT])
        ids = [r["stix_id"] for r in recent]
        latest = latest_versions(user, ids)
        # The most recently added first, as the help says; a withdrawn object is not offered (it can still be
        # pasted: a report may record what was revoked).
        self.fields["object_refs"].choices = [
            (o.stix_id, f"{stix_type_label(o.stix_type)}: {display_name(o)[:120]}")
            for o in (latest[i] for i in ids if i in latest) if not o.revoked]
        if len(ids) < REPORT_PICK_LIMIT:  # every object the user may pick is on the list: no "older ones" to paste
            offered = len(self.fields["object_refs"].choices)
            self.fields["object_refs"].help_text = ngettext(
                "The %(n)s object you can see, the most recently added first.",
                "All %(n)s objects you can see, the most recently added first.", offered) % {"n": offered}
        else:
            self.fields["object_refs"].help_text = _("The %(n)s objects you can see that were added last; paste the "
                                                     "ids of older ones below.") % {"n": REPORT_PICK_LIMIT}

    def clean(self):
        cleaned = super().clean()
        refs = report_refs(list(cleaned.get("object_refs") or []), cleaned.get("extra_refs", ""))
        if not refs:
            self.add_error("object_refs", _("Choose at least one object for the report."))
        else:
            found = set(tlp.visible_versions(self.user).filter(stix_id__in=refs).values_list("stix_id", flat=True))
            missing = [r for r in refs if r not in found]
            if missing:
                self.add_error("extra_refs", _("Unknown object: %(id)s") % {"id": missing[0][:300]})
        cleaned["refs"] = refs
        return self._clean_sharing(cleaned)

    def chosen_refs(self) -> list[str]:
        """The object ids chosen or pasted so far (as submitted), for the audience box."""
        if not self.is_bound:
            return []
        return report_refs(self.data.getlist("object_refs"), self.data.get("extra_refs", ""))

    def stix(self) -> dict:
        data = self.cleaned_data
        now = stamp()
        obj = {
            "type": "report", "spec_version": "2.1", "id": f"report--{uuid.uuid4()}",
            "created": now, "modified": now, "name": data["name"].strip(),
            "report_types": [data["report_type"]],
            "published": stamp(data["published"]) if data.get("published") else now,
            "object_refs": data["refs"], "object_marking_refs": self.marking(),
        }
        if data.get("description"):
            obj["description"] = data["description"]
        return obj


def respond_by_help() -> str:
    """The reply deadline's help, with its limit (`services_warnings.RESPOND_BY_MAX`): every form that sets a
    warning's deadline (this one, a campaign's warning) says the same."""
    return _("Optional: the time (Vietnam time) by which the targets should answer, at most %(days)d days ahead."
             ) % {"days": services_warnings.RESPOND_BY_MAX.days}


# The service's fields (`services_warnings.warning_problems`) the warning form names otherwise, or has not.
_WARNING_FORM_FIELD = {"vulnerability_refs": "vulnerabilities", "report_id": None}


class WarningForm(_WarningListedMixin, forms.Form):
    """An early warning; a value on a warning list (8.8.8.8, a private range…) is sent only once confirmed, as an
    indicator is stored (`_WarningListedMixin`)."""
    title = forms.CharField(label=_l("Title"), max_length=300)
    summary = forms.CharField(label=_l("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    severity = forms.ChoiceField(label=_l("Severity"), choices=WarningSeverity.choices, initial=WarningSeverity.HIGH)
    tlp = forms.ChoiceField(label=_l("TLP"), choices=Tlp.choices, initial=Tlp.AMBER)
    respond_by = forms.DateTimeField(label=_l("Respond by"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                format="%Y-%m-%dT%H:%M"))
    values = forms.CharField(label=_l("Indicator values"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_l("IP addresses, networks (CIDR) or domains, one per line."))
    # The stored indicators ticked in the form's picker (searched by value or name: `indicator_picker`; the page
    # lists each with its kind, value, name and TLP); the ids pasted (`indicator_refs`) are the way without it.
    indicators = forms.Field(label=_l("Stored indicators"), required=False, widget=forms.MultipleHiddenInput)
    indicator_refs = forms.CharField(label=_l("Indicator ids"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}),
                                     help_text=_l("STIX ids of indicators you can see, one per line: their values are matched too."))
    vulnerabilities = forms.CharField(label=_l("CVE ids"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                      help_text=_l("e.g. CVE-2026-12345, one per line."))
    cpes = forms.CharField(label=_l("Affected products (CPE 2.3)"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_l("e.g. cpe:2.3:a:vendor:product:*:*:*:*:*:*:*:*, one per line."))
    # Recipients: checkboxes (`CheckboxPicker`) with names in full; the organizations grouped by type.
    sectors = _picker_field(_l("Sectors"), Sector.objects.all(), sectors_chosen)
    provinces = _picker_field(_l("Provinces"), Province.objects.all(), provinces_chosen, narrow=True,
                              placeholder=_l("Filter by name, e.g. Huế"))
    isacs = _picker_field(_l("ISACs"), Isac.objects.none(), isacs_chosen)
    organizations = OrganizationsField(label=_l("Organizations"), required=False,
                                       queryset=Organization.objects.filter(is_active=True).order_by("code"),
                                       widget=OrganizationPicker, help_text=ORGANIZATIONS_HINT)
    auto_match = forms.BooleanField(
        label=_l("Also send to every organization whose registered systems match"), required=False, initial=True,
        help_text=_l("On: besides those you choose, the warning goes to EVERY organization with a registered "
                     "information system whose IP ranges or domains match the values, or whose products match the "
                     "affected products — this can be many organizations. Use “Count the recipients” to see how "
                     "many before sending."))
    collection = CollectionChoiceField(label=_l("Store as a STIX report in"), queryset=Collection.objects.all(),
                                       required=False, empty_label=_l("— do not store —"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["respond_by"].help_text = respond_by_help()
        self.fields["collection"].queryset = self.fields["collection"].queryset.filter(
            pk__in=[c.pk for c in writable_collections(user)])
        self.fields["isacs"].queryset = Isac.objects.visible_to(user)  # the others do not exist for the user
        field = self.fields["organizations"]
        operated = services_warnings.operated_isacs(user)
        if not is_national_coordinator(user) and operated.exists():
            # An ISAC's operator warns its members only (`services_warnings._candidate_targets`): offer just those.
            self.fields["isacs"].queryset = operated
            field.queryset = field.queryset.filter(isacs__in=operated).distinct()
            for name in ("sectors", "provinces"):
                self.fields[name].help_text = _("Only your ISACs' members in it receive the warning.")
        field.widget.choices = grouped_organization_choices(field.queryset)

    def clean(self):
        from khien.core.errors import Refused

        cleaned = super().clean()
        self.warning_listed = []
        lists = warninglists.compiled()
        for raw in split_lines(cleaned.get("values", "")):
            try:
                kind, value = services_warnings.classify(raw)
            except Refused:  # not a value: the service says so, with the others
                continue
            names = warninglists.hits(kind, value, lists)
            if names:
                self.warning_listed.append({"id": None, "kind": kind, "value": value, "warninglists": names})
        if self.warning_listed and not cleaned.get("confirm_warninglisted"):
            self.add_error("confirm_warninglisted", warninglists.listed_message(self.warning_listed))
        self._check_indicators(cleaned)
        self._add_service_problems()
        return cleaned

    MAX_INDICATORS = 1000  # ticked or pasted: more is no warning a reader can act on

    def _check_indicators(self, cleaned):
        """The indicators ticked and the ids pasted: every one that is no indicator the user may see is named (by
        `indicator_picker.check_ids`: the search's visibility), under the list it came from; the others are the
        ones the warning names (`self.picked`, ticked first), those pasted with a problem are kept to be shown."""
        from . import indicator_picker

        raw = cleaned.get("indicators") or []
        ticked = [str(i).strip() for i in (raw if isinstance(raw, (list, tuple)) else [raw])]
        pasted = split_lines(cleaned.get("indicator_refs", ""))
        if len(set(ticked) | set(pasted)) > self.MAX_INDICATORS:
            self.add_error("indicator_refs", _("Name at most %(n)d stored indicators.") % {"n": self.MAX_INDICATORS})
            ticked, pasted = [], []
        ok_ticked, problems = indicator_picker.check_ids(self.user, ticked)
        for problem in problems:
            self.add_error("indicators", problem)
        ok_pasted, problems = indicator_picker.check_ids(self.user, pasted)
        for problem in problems:
            self.add_error("indicator_refs", problem)
        self.picked = list(dict.fromkeys(ok_ticked + ok_pasted))
        self.pasted_rest = [i for i in dict.fromkeys(pasted) if i not in ok_pasted]

    def chosen_indicators(self) -> list:
        """The indicators the warning names so far, described as the picker lists them (`indicator_picker.Pick`)."""
        from . import indicator_picker

        ids = getattr(self, "picked", None) or []
        found = indicator_picker.describe(self.user, ids)
        return [found[i] for i in ids if i in found]

    def show_pasted_as_chosen(self):
        """On the form shown again, the ids pasted that name an indicator the user may see are listed with the ticked
        ones (kind, value, name, TLP: they are seen for what they are); the box keeps those with a problem."""
        if not self.is_bound or not hasattr(self, "picked"):
            return
        data = self.data.copy()
        if hasattr(data, "setlist"):  # a QueryDict (a request's)
            data.setlist("indicators", self.picked)
        else:
            data["indicators"] = list(self.picked)
        data["indicator_refs"] = "\n".join(self.pasted_rest)
        self.data = data

    def keep_only_indicator_errors(self):
        """A search among the stored indicators (the form without JavaScript) sends nothing: the form is not done,
        only the problems of the indicators named so far are said."""
        for name in list(self.errors):
            if name not in ("indicators", "indicator_refs"):
                del self.errors[name]

    def _add_service_problems(self):
        """Every problem the service finds too (a reply deadline in the past, a value that is not an address…),
        told with the form's own: the whole form is checked at once, not one problem per submission."""
        data, _targeting = self.service_args()
        for key, message in services_warnings.warning_problems(data, self.user):
            field = _WARNING_FORM_FIELD.get(key, key)
            if field is not None and field not in self.fields:
                field = None
            if field is not None and field in self.errors:
                continue  # the form says it already (a missing title…)
            self.add_error(field, message)

    def service_args(self) -> tuple[dict, dict]:
        d = self.cleaned_data
        data = {"title": d.get("title", ""), "summary": d.get("summary", ""), "severity": d.get("severity"),
                "tlp": d.get("tlp"),
                "values": split_lines(d.get("values", "")),
                "indicator_refs": list(getattr(self, "picked", [])),  # ticked and pasted (`_check_indicators`)
                "vulnerability_refs": [v.upper() if v.lower().startswith("cve-") else v
                                       for v in split_lines(d.get("vulnerabilities", ""))],
                "cpes": [c for c in re.split(r"[\n\s]+", d.get("cpes", "")) if c],
                "collection": d.get("collection"), "respond_by": d.get("respond_by")}
        targeting = {"sectors": list(d.get("sectors") or ()), "provinces": list(d.get("provinces") or ()),
                     "isacs": list(d.get("isacs") or ()), "organizations": list(d.get("organizations") or ()),
                     "auto_match": bool(d.get("auto_match"))}
        return data, targeting


class AcknowledgeForm(forms.Form):
    state = forms.ChoiceField(label=_l("Answer"), choices=AckState.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_l("Note"), required=False, max_length=10000,
                           widget=forms.Textarea(attrs={"rows": 3}))


class CollectionForm(forms.Form):
    title = forms.CharField(label=_l("Title"), max_length=200)
    description = forms.CharField(label=_l("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    kind = forms.ChoiceField(label=_l("Kind"), choices=CollectionKind.choices, initial=CollectionKind.GROUP)
    owner = forms.ModelChoiceField(label=_l("Owning organization"), queryset=Organization.objects.none())
    isac = forms.ModelChoiceField(label=_l("ISAC"), queryset=Isac.objects.none(), required=False,
                                  help_text=_l("Only for an ISAC collection: its members get read and write rights."))
    alias = forms.SlugField(label=_l("Alias"), max_length=63, required=False,
                            help_text=_l("The collection's short name in TAXII; empty: made from the title."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = manageable_organizations(user)
        self.fields["owner"].label_from_instance = lambda o: f"{o.code} — {o.name}"
        self.fields["isac"].queryset = Isac.objects.visible_to(user)  # the others do not exist for the user

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {"title": d["title"], "description": d.get("description", ""), "kind": d["kind"], "owner": d["owner"],
                "isac": d.get("isac"), "alias": d.get("alias") or None}


def manageable_organizations(user):
    """Organizations whose collections the user may manage (the services check `user_can(CHANGE)`)."""
    return Organization.objects.restrict(user, Action.CHANGE).order_by("code")


class MemberForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_l("Organization"), queryset=Organization.objects.filter(is_active=True).order_by("code"))
    can_read = forms.BooleanField(label=_l("Can read"), required=False, initial=True)
    can_write = forms.BooleanField(label=_l("Can write"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].label_from_instance = lambda o: f"{o.code} — {o.name}"


class AllowEntryForm(forms.Form):
    kind = forms.ChoiceField(label=_l("Kind"), choices=IndicatorKind.choices)
    value = forms.CharField(label=_l("Value"), max_length=2048)
    note = forms.CharField(label=_l("Note"), required=False, max_length=2000)


class SearchForm(forms.Form):
    q = forms.CharField(label=_l("Search"), required=False, max_length=2048)
    type = forms.ChoiceField(label=_l("Type"), required=False)
    tlp = forms.ChoiceField(label=_l("TLP"), required=False, choices=[("", _l("All"))] + list(Tlp.choices))
    producer = forms.ModelChoiceField(label=_l("Producer"), required=False, queryset=Organization.objects.none(),
                                      to_field_name="code", empty_label=_l("All"))
    collection = forms.ModelChoiceField(label=_l("Collection"), required=False, queryset=Collection.objects.none(),
                                        empty_label=_l("All"))
    added_after = forms.DateField(label=_l("Added from"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    added_before = forms.DateField(label=_l("Added until"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_l("Status"), required=False,
                               choices=[("", _l("All"))] + indicator_status.STATUS_CHOICES)

    TYPES = ["indicator", "report", "malware", "threat-actor", "intrusion-set", "campaign", "attack-pattern",
             "vulnerability", "tool", "infrastructure", "identity", "relationship", "sighting", "observed-data",
             "note", "grouping", "course-of-action", "location"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", _("All"))] + [(t, stix_type_label(t)) for t in self.TYPES]
        from .search import visible_producers

        self.fields["producer"].queryset = visible_producers(user)
        self.fields["producer"].label_from_instance = lambda o: o.code
        self.fields["collection"].queryset = tlp.collections_for(user).order_by("title")

    def filters(self) -> dict:
        d = self.cleaned_data
        return {k: d.get(k) for k in ("type", "tlp", "producer", "collection", "added_after", "added_before",
                                      "status") if d.get(k) not in (None, "")}
