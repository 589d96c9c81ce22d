"""One FilterSet per model, shared by the API (and later the pages and exports)."""
import ipaddress
import re

import django_filters
import orjson
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from khien.core.filters import BooleanFilter, DateTimeFilter, PlatformFilterSet, UntilFilter
from khien.registry import places
from khien.registry.models import InformationSystem, Organization, Sector

from . import health, store
from .correlation import campaign_alerts
from .models import (SEVERITY_BANDS, Alert, AlertSource, AlertStatus, AlertSuppression, Campaign, DeadLetter, Event,
                     HourlyCount, IndicatorHit, SourceFormat)
from .parsers import ParseError, parse_hash
from .services import address_search_days, dead_letters_with_reason, newest_events_first
from .triage import in_incident


def _subtree(queryset, value):
    """Rows of the organization with this code and of its units (scoping has already been applied)."""
    org = Organization.objects.filter(code=value).only("path").first()
    if org is None:
        return queryset.none()
    # The organizations' ids first: matched on the rows' own column, which leads their indexes, rather than a
    # join on every row's organization path (1.2 s → 0.002 s for one province's events among a million).
    return queryset.filter(organization_id__in=Organization.objects.filter(path__startswith=org.path).values("pk"))


def unknown_source_message():
    return _("No source with this name among those you may see.")


class KnownFilterSet(PlatformFilterSet):
    """A filter set whose `organization` (a code, `PlatformFilterSet.organization_filters`) and `source` (a name)
    must name one the reader may see: a typo is a 400 that says so (a script would otherwise read "nothing
    happened"), and an organization or source out of the reader's scope is refused with the very same answer as
    one that does not exist."""

    organization_filters = ("organization",)

    def get_form_class(self):
        base = super().get_form_class()
        request, filters = self.request, self.filters

        class KnownForm(base):
            def clean(self):
                data = super().clean()
                name = (data.get("source") or "").strip() if "source" in filters else ""
                if name and not AlertSource.objects.visible_to(getattr(request, "user", None)).filter(
                        name=name).exists():
                    self.add_error("source", unknown_source_message())
                return data

        return KnownForm


class ListedChoicesMixin:
    """A choice field whose refusal names the values it takes (Django's says only "not one of the available
    choices": a script's author is left to guess)."""

    def validate(self, value):
        try:
            super().validate(value)
        except ValidationError as exc:
            if getattr(exc, "code", None) != "invalid_choice":
                raise
            choices = ", ".join(str(key) for key, _label in self.choices if key not in ("", None))
            wrong = next((v for v in (value if isinstance(value, (list, tuple)) else [value])
                          if not self.valid_value(v)), value)
            raise ValidationError(_("Unknown value “%(v)s”: use one of %(choices)s."), code="invalid_choice",
                                  params={"v": wrong, "choices": choices}) from None


class ListedChoiceField(ListedChoicesMixin, django_filters.fields.ChoiceField):
    pass


class ListedMultipleChoiceField(ListedChoicesMixin, django_filters.fields.MultipleChoiceField):
    pass


class ListedChoiceFilter(django_filters.ChoiceFilter):
    field_class = ListedChoiceField


class ListedMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = ListedMultipleChoiceField


SEVERITY_SCALE_HELP = _("From 0 (information) to 10 (critical): the common scale all sources are converted to.")


SEVERITY_LABELS = {}  # "low" → (0, 3), "medium" → (4, 6), …: the bands of `severity_label`
_lower = 0
for _upper, _label in SEVERITY_BANDS:
    SEVERITY_LABELS[_label] = (_lower, _upper)
    _lower = _upper + 1


class SeverityField(forms.Field):
    """A severity on the 0–10 scale, or the name of a band as results carry it (`severity_label`: low, medium,
    high, critical, in any case): cleans to the (lowest, highest) severities it means."""

    def to_python(self, value):
        value = (value or "").strip() if isinstance(value, str) else value
        if value in (None, ""):
            return None
        if isinstance(value, str) and value.lower() in SEVERITY_LABELS:
            return SEVERITY_LABELS[value.lower()]
        try:
            number = int(str(value))
        except (TypeError, ValueError):
            number = None
        if number is None or not 0 <= number <= 10:
            raise ValidationError(_("Enter a severity from 0 to 10, or low, medium, high or critical."),
                                  code="invalid")
        return number, number


@extend_schema_field(OpenApiTypes.STR)
class SeverityFilter(django_filters.Filter):
    """`severity`: that severity, or the severities of a band (`severity=high`: 7 and 8); with `at_least`, that
    severity and above (`severity_min=high`: 7 to 10)."""

    field_class = SeverityField

    def __init__(self, *args, at_least: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.at_least = at_least

    def filter(self, qs, value):
        if value is None:
            return qs
        lowest, highest = value
        if self.at_least:
            return qs.filter(**{f"{self.field_name}__gte": lowest})
        return qs.filter(**{f"{self.field_name}__gte": lowest, f"{self.field_name}__lte": highest})


def severity_at_least():
    """`severity_min`: an alert severity on the 0–10 scale every source is normalized to, or a band's name (its
    lowest severity); anything else is a 400."""
    return SeverityFilter(field_name="severity", at_least=True, label=_("Severity at least"),
                          help_text=SEVERITY_SCALE_HELP)


def clean_severity_min(raw):
    """The alert list's `severity_min` read as the API reads it (`severity_at_least`): (the lowest severity or
    None, the errors of a bad value)."""
    if raw in (None, ""):
        return None, []
    try:
        value = severity_at_least().field.clean(raw)
    except ValidationError as exc:
        return None, exc.messages
    return (value[0] if value else None), []

class FileHashField(forms.CharField):
    """A file hash read as ingestion reads one (the kind from its length, lowercase): cleans to
    (event field, digest), so a bad value is a form error before any query is built."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            parsed = parse_hash(value, "hash")
        except ParseError:
            parsed = None
        if parsed is None:
            raise ValidationError(_("Enter an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hexadecimal digits)."))
        return parsed


class FileHashFilter(django_filters.CharFilter):
    field_class = FileHashField


# The shortest range prefix an address search takes: a wider range matches most events of the days it reads,
# which the newest-first order then sorts in full (a province's networks fit in a /16).
MIN_RANGE_PREFIX = {4: 16, 6: 32}
# On SQLite (text addresses), a range is read as at most this many text prefixes (see `address_range_terms`).
MAX_TEXT_PREFIXES = 256


def address_message():
    return _("Enter an IPv4 or IPv6 address, or a range in CIDR notation (10.10.5.0/24, 2001:db8::/32).")


class AddressOrRangeField(forms.CharField):
    """An address (normalized as Django stores one: IPv6 compressed) or a CIDR range (an `ip_network`, its host
    bits dropped: 10.10.5.7/24 is 10.10.5.0/24). A range shorter than MIN_RANGE_PREFIX is refused saying so."""

    def clean(self, value):
        value = (super().clean(value) or "").strip()
        if not value:
            return None
        if "/" not in value:  # an address: Django's field and its message, as before ranges were taken
            return forms.GenericIPAddressField().clean(value)
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError(address_message(), code="invalid") from None
        if network.prefixlen == network.max_prefixlen:  # /32, /128: the address itself
            return forms.GenericIPAddressField().clean(str(network.network_address))
        shortest = MIN_RANGE_PREFIX[network.version]
        if network.prefixlen < shortest:
            raise ValidationError(
                _("The range %(range)s is too wide: an IPv%(version)d range must be /%(shortest)d or narrower "
                  "(it would read most of the events of the period)."),
                code="too_wide", params={"range": str(network), "version": network.version, "shortest": shortest})
        return network


def _text_prefixes(network) -> list[str] | None:
    """The text prefixes the addresses of `network` start with, as stored in a text column (SQLite): IPv4 dotted,
    IPv6 compressed (Python's and Django's form). The range is widened to whole octets (IPv4) or groups (IPv6)
    and split into those: 10.10.0.0/20 is 10.10.0. … 10.10.15.; an exact address is the whole text. None when
    that cannot be done exactly: more than MAX_TEXT_PREFIXES prefixes, or an IPv6 group of zeros before the end of
    the prefix (an address compresses it into "::" or not depending on its other groups)."""
    unit = 8 if network.version == 4 else 16
    whole = -(-network.prefixlen // unit) * unit
    if 2 ** (whole - network.prefixlen) > MAX_TEXT_PREFIXES:
        return None
    prefixes = []
    for part in network.subnets(new_prefix=whole):
        if whole == network.max_prefixlen:
            prefixes.append(str(part.network_address))
        elif network.version == 4:
            prefixes.append(".".join(str(part.network_address).split(".")[:whole // 8]) + ".")
        else:
            groups = part.network_address.exploded.split(":")[:whole // 16]
            if any(int(group, 16) == 0 for group in groups):
                return None
            prefixes.append(":".join(format(int(group, 16), "x") for group in groups) + ":")
    return prefixes


def address_range_terms(network, vendor: str) -> list[tuple[str, str, bool]] | None:
    """(lowest, highest, highest included) bounds of the stored address column for the addresses of `network`,
    such that a range scan of the (day, address) indexes reads them and nothing else.

    PostgreSQL stores an `inet`, whose order for host addresses is numeric (IPv4 before IPv6): one range, first
    to last address. SQLite stores the text: one range per text prefix (`_text_prefixes`), from the prefix up to
    the prefix with its last character (. or :) replaced by the next one (/ or ;). None when this database cannot
    read the range through its index (SQLite, IPv6 ranges with a zero group): refused rather than read in full."""
    if vendor == "postgresql":
        return [(str(network.network_address), str(network.broadcast_address), True)]
    prefixes = _text_prefixes(network)
    if prefixes is None:
        return None
    terms = []
    for prefix in prefixes:
        if prefix[-1] in ".:":
            terms.append((prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1), False))
        else:
            terms.append((prefix, prefix, True))
    return terms


class AddressFilter(django_filters.CharFilter):
    field_class = AddressOrRangeField


class CodeChoiceField(forms.ModelChoiceField):
    """A province or sector given by its code; a code that is not one is refused naming the codes there are."""

    def to_python(self, value):
        try:
            return super().to_python(value.strip() if isinstance(value, str) else value)
        except ValidationError:
            codes = ", ".join(self.queryset.order_by("code").values_list("code", flat=True))
            raise ValidationError(_("Unknown code “%(code)s”: use one of %(codes)s.") % {"code": str(value)[:40],
                                                                                          "codes": codes})


class CodeFilter(django_filters.ModelChoiceFilter):
    field_class = CodeChoiceField


class PlaceField(forms.CharField):
    """A place (`registry.places`): "central" for the central agencies, or a province code; anything else is
    refused naming the values there are, as `CodeChoiceField`."""

    def to_python(self, value):
        value = super().to_python(value)
        if value and value not in places.codes():
            raise ValidationError(_("Unknown code “%(code)s”: use one of %(codes)s.") % {
                "code": value[:40], "codes": ", ".join(places.codes())})
        return value


@extend_schema_field(OpenApiTypes.STR)
class PlaceFilter(django_filters.Filter):
    """The events of the organizations counted at that place (the dashboard's bar): the central agencies — a
    ministry's line, wherever its seat — or a province without them."""

    field_class = PlaceField

    def filter(self, qs, value):
        return qs.filter(organization__in=places.organizations_in(value)) if value else qs


class EventFilter(KnownFilterSet):
    source = django_filters.CharFilter(field_name="source__name", label=_("Source (name)"))
    organization = django_filters.CharFilter(field_name="organization__code", method="filter_organization",
                                         label=_("Organization (code, with its units)"))
    severity = SeverityFilter(field_name="severity", label=_("Severity (0–10, or low, medium, high, critical)"))
    severity_min = severity_at_least()
    # The event's own time, as its device wrote it: a record sent late has an old time (`ingested_*` below).
    since = DateTimeFilter(field_name="time", lookup_expr="gte", label=_("Since"))
    until = UntilFilter(field_name="time", label=_("Until"))
    # When the platform received it: what a program polling for new events follows (a window of arrival times
    # is closed once it is past, so paging through it neither repeats nor skips an event).
    ingested_since = DateTimeFilter(field_name="ingested_at", lookup_expr="gte", label=_("Received since"))
    ingested_until = UntilFilter(field_name="ingested_at", label=_("Received before"))
    ip = AddressFilter(method="filter_ip",
                       label=_("IP address or CIDR range (source or destination; 10.10.5.0/24)"))
    domain = django_filters.CharFilter(method="filter_domain", label=_("Domain (and its subdomains)"))
    hash = FileHashFilter(method="filter_hash", label=_("File hash (MD5, SHA-1 or SHA-256)"))
    # One value whatever its kind, as the alert list's `observable`: an indicator's value pasted as it is.
    observable = django_filters.CharFilter(
        method="filter_any_observable", max_length=2048,
        label=_("Address, domain, URL or file hash, exactly (an address: source or destination)"))
    rule_id = django_filters.CharFilter(field_name="rule_id", label=_("Rule id"))
    rule = django_filters.CharFilter(method="filter_rule", max_length=200,
                                     label=_("Rule name or id contains (any case)"))
    observer = django_filters.CharFilter(method="filter_observer", max_length=200,
                                         label=_("Observer (the agent or sensor that saw it)"))
    category = django_filters.CharFilter(field_name="category", label=_("Category"))
    hit = BooleanFilter(method="filter_hit", label=_("Hit an indicator"))
    # The dashboard's place and sector bars open these: the events of the organizations counted at that place
    # (`registry.places`: "central" or a province code) or in that sector.
    province = PlaceFilter(label=_("Province (code), or central for the central agencies"))
    sector = CodeFilter(field_name="organization__sectors", to_field_name="code", queryset=Sector.objects.all(),
                        label=_("Sector (code)"), distinct=False)

    class Meta:
        model = Event
        fields = ["source", "organization", "severity", "severity_min", "since", "until", "ingested_since",
                  "ingested_until", "ip", "domain", "hash", "observable", "rule_id", "rule", "observer", "category", "hit", "province",
                  "sector"]

    periods = (("since", "until"), ("ingested_since", "ingested_until"))

    @property
    def qs(self):
        # Newest first, in the way that reads the least for this user (`services.newest_events_first`).
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return newest_events_first(super().qs, self.request.user, since=data.get("since"), until=data.get("until"),
                                   narrowed=bool(data.get("source") or data.get("organization")))

    def filter_organization(self, queryset, name, value):
        return _subtree(queryset, value)

    def filter_ip(self, queryset, name, address):
        # The address indexes lead with the event's day: look day by day (each term can use its index).
        days = address_search_days(self.form.cleaned_data.get("since"), self.form.cleaned_data.get("until"))
        if isinstance(address, str):
            return queryset.filter(Q(day__in=days, src_ip=address) | Q(day__in=days, dst_ip=address))
        # A range: bounds on the stored address, so each term stays a range scan of a (day, address) index
        # (`address_range_terms`), never a read of every event of the days. Checked by the form (`clean`).
        terms = address_range_terms(address, connections[queryset.db].vendor) or []
        match = Q(pk__in=[])
        for column in ("src_ip", "dst_ip"):
            for lowest, highest, included in terms:
                match |= Q(**{"day__in": days, f"{column}__gte": lowest,
                              f"{column}__lte" if included else f"{column}__lt": highest})
        return queryset.filter(match)

    def filter_any_observable(self, queryset, name, value):
        """The events with this value among their observables: an address (source or destination, as `ip`), a
        file hash (by its length), a URL (with its scheme), else a domain — each exactly."""
        value = value.strip()
        if not value:
            return queryset
        try:
            address = forms.GenericIPAddressField().clean(value)
        except ValidationError:
            address = None
        if address is not None:
            return self.filter_ip(queryset, "ip", address)
        try:
            digest = parse_hash(value, "observable")  # (event field, digest), as the `hash` filter reads one
        except ParseError:
            digest = None
        if digest is not None:
            return queryset.filter(**{digest[0]: digest[1]})
        if "://" in value:
            return queryset.filter(url=value)
        return queryset.filter(domain=value.rstrip(".").lower())

    def filter_rule(self, queryset, name, value):
        # No index: `clean` requires a start, so that the search reads the events of a period, not all of them.
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(rule_name__icontains=value) | Q(rule_id__icontains=value))

    def filter_observer(self, queryset, name, value):
        # The rule of the alert list's filter (`AlertFilter.filter_observer`): the observer's name exactly.
        value = value.strip()
        return queryset.filter(observer=value) if value else queryset

    def get_form_class(self):
        base = super().get_form_class()
        vendor = connections[self._meta.model.objects.db].vendor

        class EventForm(base):
            def clean(self):
                data = super().clean()
                address = data.get("ip")
                if address is not None and not isinstance(address, str) \
                        and address_range_terms(address, vendor) is None:
                    self.add_error("ip", _(
                        "This IPv6 range cannot be searched on this installation (SQLite database): a range is "
                        "searched when none of the groups before its length is zero and its length is a multiple "
                        "of 8 (2001:db8::/32 or 2001:db8:ab00::/40, but not 2001:db8:0:5::/64). Search the "
                        "address itself, or a narrower range."))
                if (data.get("rule") or "").strip() and not (data.get("since") or data.get("ingested_since")):
                    self.add_error("rule", _("Give a start (since or ingested_since) with a rule search: it reads "
                                             "every event of the period."))
                return data

        return EventForm

    def filter_domain(self, queryset, name, value):
        value = value.strip().rstrip(".").lower()
        return queryset.filter(Q(domain=value) | Q(domain__endswith="." + value))

    def filter_hit(self, queryset, name, value):
        # The events the dashboard counts as hits: those with an indicator hit (its `event_id` is indexed).
        if value is None:
            return queryset
        hit = Exists(IndicatorHit.objects.filter(event_id=OuterRef("id")))
        return queryset.filter(hit if value else ~hit)

    def filter_hash(self, queryset, name, value):
        # No index: a hash search reads the events of the time range.
        field, digest = value
        return queryset.filter(**{field: digest})


_HASH = re.compile(r"[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}")


def observable_needle(value: str) -> store.JsonText:
    """What an alert's observables (JSON text, `{"src_ip": "…", …}`) contain when one of them is `value`: the value
    as ingestion writes it (an address in its canonical form, a domain or file hash in lower case), quoted and
    after a colon, so that "10.0.0.1" does not find "10.0.0.15"."""
    value = value.strip()
    try:
        value = str(ipaddress.ip_address(value))
    except ValueError:
        if _HASH.fullmatch(value):
            value = value.lower()
        elif "/" not in value and ":" not in value:  # a domain; a URL is kept as it was sent
            value = value.lower().rstrip(".")
    return store.JsonText(":" + orjson.dumps(value).decode())


class AlertFilter(KnownFilterSet):
    source = django_filters.CharFilter(field_name="source__name", label=_("Source (name)"))
    organization = django_filters.CharFilter(field_name="organization__code", method="filter_organization",
                                         label=_("Organization (code, with its units)"))
    severity_min = severity_at_least()
    # A time range on the last sighting: what an analyst triaging "since this morning" asks.
    since = DateTimeFilter(field_name="last_seen", lookup_expr="gte", label=_("Last seen since"))
    until = UntilFilter(field_name="last_seen", label=_("Last seen before"))
    observable = django_filters.CharFilter(
        method="filter_observable", max_length=2048,
        label=_("Address, domain, URL or file hash (one of the alert's observables, exactly)"))
    observer = django_filters.CharFilter(method="filter_observer", max_length=200,
                                         label=_("Observer (the agent or sensor that saw it)"))
    rule_id = django_filters.CharFilter(field_name="rule_id", label=_("Rule id"))
    # distinct=False: one value per row; the default DISTINCT made counting a million alerts take seconds.
    status = ListedMultipleChoiceFilter(choices=AlertStatus.choices, label=_("Status (repeat for several)"),
                                        distinct=False)

    incident = django_filters.CharFilter(method="filter_incident", label=_("Incident (reference or id)"))
    campaign = django_filters.UUIDFilter(method="filter_campaign",
                                         label=_("National campaign (id; the national coordinator's)"))

    class Meta:
        model = Alert
        fields = ["source", "organization", "severity_min", "since", "until", "observable", "observer", "rule_id",
                  "status", "incident", "campaign"]

    def filter_organization(self, queryset, name, value):
        return _subtree(queryset, value.strip())

    def filter_observable(self, queryset, name, value):
        # No index: read within the other filters (time, organization, status) of the list.
        return queryset.filter(observables__contains=observable_needle(value)) if value.strip() else queryset

    def filter_observer(self, queryset, name, value):
        # An alert's observer is that of its events (the alert does not keep one): those with an event seen by it.
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Exists(Event.objects.filter(alert_id=OuterRef("pk"), observer=value)))

    def filter_incident(self, queryset, name, value):
        return in_incident(queryset, value)

    def filter_campaign(self, queryset, name, value):
        # The alerts behind a campaign the user sees (only the national coordinator sees campaigns).
        campaign = Campaign.objects.visible_to(self.request.user).filter(pk=value).first()
        return campaign_alerts(campaign, queryset) if campaign else queryset.none()


class AlertSourceFilter(KnownFilterSet):
    organization = django_filters.CharFilter(field_name="organization__code", method="filter_organization",
                                         label=_("Organization (code, with its units)"))
    format = ListedChoiceFilter(choices=SourceFormat.choices, label=_("Format"))
    # As each source's `status` reads (health.source_status: live, silent, rejecting, never, disabled);
    # `never_sent`, the monitoring states' word, too.
    status = ListedChoiceFilter(choices=[(name, label) for name, label in health.SOURCE_STATUS_LABELS.items()],
                                method="filter_status", label=_("Status"))

    class Meta:
        model = AlertSource
        fields = ["organization", "format", "enabled", "status"]

    def get_form_class(self):
        base = super().get_form_class()

        class StatusForm(base):
            def __init__(self, data=None, *args, **kwargs):
                if data is not None and data.get("status") == "never_sent":
                    data = data.copy()
                    data["status"] = "never"
                super().__init__(data, *args, **kwargs)

        return StatusForm

    def filter_organization(self, queryset, name, value):
        return _subtree(queryset, value)

    def filter_status(self, queryset, name, value):
        return health.sources_in_status(queryset, value) if value else queryset

    @property
    def qs(self):
        # Whether each source sends only refused records, read in the list's own query: its `status`
        # (health.source_status) then asks nothing more per source.
        return health.with_refusing(super().qs)


class DeadLetterFilter(KnownFilterSet):
    source = django_filters.CharFilter(field_name="source__name", label=_("Source (name)"))
    since = DateTimeFilter(field_name="received_at", lookup_expr="gte", label=_("Since"))
    reason = django_filters.CharFilter(method="filter_reason", max_length=200, label=_("Reason contains"))

    class Meta:
        model = DeadLetter
        fields = ["source", "since", "reason"]

    def filter_reason(self, queryset, name, value):
        return dead_letters_with_reason(queryset, value)  # as the source's dead-letter page searches


class HourlyCountFilter(KnownFilterSet):
    organization = django_filters.CharFilter(field_name="organization__code", method="filter_organization",
                                         label=_("Organization (code, with its units)"))
    since = DateTimeFilter(field_name="hour", lookup_expr="gte", label=_("Since"))
    until = UntilFilter(field_name="hour", label=_("Until"))
    category = django_filters.CharFilter(field_name="category", label=_("Category"))
    severity_min = severity_at_least()

    class Meta:
        model = HourlyCount
        fields = ["organization", "since", "until", "category", "severity_min"]

    def filter_organization(self, queryset, name, value):
        return _subtree(queryset, value)


class SuppressionFilter(KnownFilterSet):
    source = django_filters.CharFilter(field_name="source__name", label=_("Source (name)"))
    active = BooleanFilter(method="filter_active", label=_("Active (neither lifted nor expired)"))

    class Meta:
        model = AlertSuppression
        fields = ["source", "active"]

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.active() if value else queryset.exclude(pk__in=queryset.active().values("pk"))


class MonitoredSystemFilter(PlatformFilterSet):
    """Level-3+ systems by their monitoring state (`health.monitored_systems` annotates it)."""

    monitoring = ListedChoiceFilter(choices=[(state, health.Monitoring.LABELS[state])
                                             for state in health.Monitoring.STATES],
                                    field_name="monitoring", label=_("Monitoring state"))

    class Meta:
        model = InformationSystem
        fields = ["monitoring"]
