"""SOC alert sources, the events they send, dead letters and aggregated alerts.

Severity is one integer scale, 0–10 (ECS `event.severity` is numeric): each
parser maps its tool's scale onto it (see parsers.py), and `severity_label()`
names the bands: 0–3 low, 4–6 medium, 7–8 high, 9–10 critical.

Writes go through `services.py` only (ingestion is a batch path: bulk inserts).
"""
import datetime as dt
import uuid
import zoneinfo
from functools import lru_cache

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from khien.core.scoping import OrgScopedQuerySet
from khien.core.texts import Text

from .parsers import reason_text
from .severity import SEVERITY_BANDS, severity_label
from .store import json_text

SOURCE_NAME_TAKEN = _("A source with this name in other upper and lower case letters already exists: names that "
                      "differ only in case count as the same.")
source_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$",
    _("Use 1–80 letters, digits, dashes or underscores, starting with a letter or digit."),
)


# The zone a new source's clock is taken to keep: devices in Vietnam mostly keep local time, and a wrong zone
# files their zone-less times 7 hours off (times written with their zone are read as written, whatever this is).
DEFAULT_SOURCE_TIME_ZONE = "Asia/Ho_Chi_Minh"
# The zones offered in the forms: the region/city names, not the aliases and legacy names (Factory, localtime,
# GMT+0, US/…) that zoneinfo also knows and that the API still accepts.
_TIME_ZONE_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/",
                      "Pacific/")


@lru_cache(maxsize=1)
def offered_time_zones() -> tuple[str, ...]:
    return tuple(sorted(name for name in time_zone_names() if name.startswith(_TIME_ZONE_REGIONS)))


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(_("Unknown time zone “%(value)s”; use a name such as Asia/Ho_Chi_Minh or UTC."),
                              code="bad_time_zone", params={"value": value[:64]})


class SourceFormat(models.TextChoices):
    WAZUH = "wazuh", _("Wazuh alert JSON")
    SURICATA = "suricata", _("Suricata EVE JSON")
    ECS = "ecs", _("Elastic Common Schema JSON")
    CEF = "cef", _("CEF lines")


HIGH_SEVERITY = next(upper for upper, label in SEVERITY_BANDS if label == "medium") + 1  # "high" and above


# ECS `event.category` values (what the parsers write), as people read them; another value is shown as it is.
EVENT_CATEGORY_LABELS = {
    "authentication": _("authentication"), "configuration": _("configuration"), "database": _("database"),
    "email": _("e-mail"), "file": _("file"), "host": _("host"), "iam": _("identity and access"),
    "intrusion_detection": _("intrusion detection"), "malware": _("malware"), "network": _("network"),
    "process": _("process"), "session": _("session"), "threat": _("threat"), "vulnerability": _("vulnerability"),
    "web": _("web"),
}


class TelemetryQuerySet(OrgScopedQuerySet):
    org_path_lookups = ("organization__path",)
    org_id_field = "organization_id"  # events and alerts: millions of rows, indexes led by the organization


class JsonTextField(models.TextField):
    """JSON kept as text: written as given (a record's canonical JSON, `store.JsonText`) or dumped, read back
    decoded. Not a JSONField: SQLite would run JSON_VALID on every insert (about half of an event's insert
    time) and PostgreSQL would parse the text into jsonb; nothing searches inside a raw record, and the text
    written by ingestion is valid JSON by construction (orjson's output)."""

    stores_json_text = True  # store.py adapts values with the same rule

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # not written by ingestion: shown as the text it is
            return value

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        return None if value is None else json_text(value)

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))


def epoch_day(seconds: float) -> int:
    """The UTC day (days since 1970-01-01) of a time given as seconds since 1970: the day an event is filed under."""
    return int(seconds // 86400)


def utc_day(when) -> int:
    return epoch_day(when.timestamp())


class EventDayField(models.IntegerField):
    """An event's UTC day (`utc_day`), kept from its time whenever the ORM writes the row (ingestion writes it
    itself). It leads the address indexes, so that a batch of today's events writes into today's part of
    those indexes instead of at random places across every day kept (decision 0009)."""

    def pre_save(self, model_instance, add):
        value = utc_day(model_instance.time) if model_instance.time is not None else None
        setattr(model_instance, self.attname, value)
        return value


def epoch_hour(seconds: float) -> int:
    """Hours since 1970 (UTC) of a time given as seconds since 1970: the hour an alert is filed under."""
    return int(seconds // 3600)


def hour_start(when: dt.datetime) -> dt.datetime:
    """The start of the UTC hour `when` falls in (the hour a count is filed under)."""
    return when.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


class AlertSeenHourField(models.IntegerField):
    """An alert's last sighting as `epoch_hour`, kept from `last_seen` whenever the ORM writes the row (ingestion
    writes it itself). It leads the alert key index: new alerts and the updates of repeats then write into the
    last hours' part of that index instead of at random places across every alert kept (decision 0009)."""

    def pre_save(self, model_instance, add):
        last_seen = model_instance.last_seen
        value = epoch_hour(last_seen.timestamp()) if last_seen is not None else None
        setattr(model_instance, self.attname, value)
        return value


class AlertSource(models.Model):
    """A SOC tool of one organization that sends alerts, authenticated by its own key (shown once)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "registry.Organization", on_delete=models.PROTECT, related_name="alert_sources", verbose_name=_("organization")
    )
    name = models.CharField(_("name"), max_length=80, unique=True, validators=[source_name_validator])
    format = models.CharField(_("format"), max_length=10, choices=SourceFormat.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("key prefix"), max_length=12, editable=False)
    # The key before the last rotation, and when it was rotated: records that a sender had already put on
    # the NATS stream with the old key are still taken (they were sent before), later ones are not.
    previous_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    key_rotated_at = models.DateTimeField(_("key rotated at"), null=True, blank=True, editable=False)
    # A bcrypt hash of the key, made with it, for the NATS server's per-source user (nats_auth.py): the source
    # connects with its name and key and may publish on its own subject only. Empty for a key made before.
    nats_password_hash = models.CharField(max_length=60, blank=True, default="", editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    # The zone of the tool's clock: a record time written without a zone (CEF's "Nov 24 2026 14:03:11", a
    # syslog header) is read in it.
    time_zone = models.CharField(_("time zone of the device's clock"), max_length=64, default=DEFAULT_SOURCE_TIME_ZONE,
                                 validators=[validate_time_zone],
                                 help_text=_("Used for record times written without a zone."))
    accepted = models.BigIntegerField(_("accepted records"), default=0)
    rejected = models.BigIntegerField(_("rejected records"), default=0)
    last_event_at = models.DateTimeField(_("last event received at"), null=True, blank=True)
    # When the organization was last told this source fell silent; a later event starts a new episode
    # (health.notify_source_health tells once per silence, and once when it sends again).
    silence_notified_at = models.DateTimeField(_("silence notified at"), null=True, blank=True, editable=False)
    # Requests carrying the source's key refused because it is disabled, since it was (last) disabled: a tool
    # still sending to it, whose alerts are lost (services.note_refused_while_disabled).
    refused_while_disabled = models.BigIntegerField(_("requests refused while disabled"), default=0, editable=False)
    last_refused_while_disabled_at = models.DateTimeField(_("last request refused while disabled"), null=True,
                                                          blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The information systems this tool watches: a level-3+ system whose sources all fall silent
    # shows as disconnected from national monitoring (layer 4), see health.py.
    systems = models.ManyToManyField("registry.InformationSystem", blank=True, related_name="alert_sources",
                                     verbose_name=_("monitored information systems"))

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert source")
        verbose_name_plural = _("alert sources")
        # A name is the source's NATS user and subject and its Elasticsearch user: two that differ only in case
        # would be told apart by case alone. One name ignoring case (services.do_create_source says so first).
        constraints = [models.UniqueConstraint(Lower("name"), name="telemetry_source_name_ignoring_case",
                                               violation_error_message=SOURCE_NAME_TAKEN)]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> dt.tzinfo:
        return dt.timezone.utc if self.time_zone == "UTC" else zoneinfo.ZoneInfo(self.time_zone)


class Event(models.Model):
    """One normalized record, ECS-aligned. `id` is derived from source and content (idempotent ingestion)."""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    # No single-column index on source or organization: the composite (source, time) and
    # (organization, time) indexes lead with them (each index on events costs ingestion time, decision 0009).
    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="events", verbose_name=_("source"),
                               db_index=False)
    organization = models.ForeignKey(
        "registry.Organization", on_delete=models.PROTECT, related_name="+", verbose_name=_("organization"),
        db_index=False,
    )
    alert = models.ForeignKey("Alert", on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    time = models.DateTimeField(_("time"))
    day = EventDayField(_("day (UTC)"), null=True, editable=False)
    ingested_at = models.DateTimeField(_("ingested at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20, default="alert")
    category = models.CharField(_("category"), max_length=40, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity (0–10)"), default=0, validators=[MaxValueValidator(10)])
    observer = models.CharField(_("observer"), max_length=200, blank=True)
    src_ip = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    src_port = models.PositiveIntegerField(_("source port"), null=True, blank=True)
    dst_ip = models.GenericIPAddressField(_("destination address"), null=True, blank=True)
    dst_port = models.PositiveIntegerField(_("destination port"), null=True, blank=True)
    # Not indexed: the domain search also matches subdomains (`= v OR LIKE '%.v'`), which no B-tree serves.
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    url = models.TextField(_("URL"), blank=True)
    file_md5 = models.CharField(max_length=32, blank=True)
    file_sha1 = models.CharField(max_length=40, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    rule_id = models.CharField(_("rule id"), max_length=100, blank=True)
    rule_name = models.CharField(_("rule name"), max_length=500, blank=True)
    raw = JsonTextField(_("raw record"))

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["-time"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["organization", "time"], name="telemetry_event_org_time"),
            models.Index(fields=["source", "time"], name="telemetry_event_source_time"),
            # Led by the day: the address search looks day by day (filters.EventFilter.filter_ip).
            models.Index(fields=["day", "src_ip"], name="telemetry_event_day_src_ip"),
            models.Index(fields=["day", "dst_ip"], name="telemetry_event_day_dst_ip"),
            # A program polling for new events asks by arrival time (`ingested_since`): without these indexes each
            # poll read every event kept (the coordinator's) or every event of the organization. A batch's events
            # share one organization and one arrival time: written at each index's right edge, not at random.
            models.Index(fields=["ingested_at"], name="telemetry_event_ingested"),
            models.Index(fields=["organization", "ingested_at"], name="telemetry_event_org_ingested"),
        ]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.rule_name or self.rule_id}"

    @property
    def raw_indented(self) -> str:
        """The record as the SOC sent it, indented for reading (the analyst checks what the normalization kept)."""
        if isinstance(self.raw, str):
            return self.raw
        return orjson.dumps(self.raw, option=orjson.OPT_INDENT_2).decode()

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity)

    @property
    def category_label(self) -> str:
        return str(EVENT_CATEGORY_LABELS.get(self.category, self.category))


class DeadLetter(models.Model):
    """A record that could not be parsed, kept with the reason for the source's operators."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="dead_letters",
                               verbose_name=_("source"))
    organization = models.ForeignKey("registry.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("organization"))
    # Same derivation as Event.id: a bad record sent twice is kept (and counted) once.
    digest = models.CharField(_("record digest"), max_length=64, unique=True, editable=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=300)
    raw = models.TextField(_("raw record"))
    # Where the record was in what its sender sent, to find it there: its place in the batch (1-based), or its
    # line number for a file replayed with `khien ingest`. Apart from the reason, so that reasons stay grouped;
    # empty when there is no such batch (a JetStream message is one record) or for letters kept before.
    position = models.PositiveIntegerField(_("position in its batch"), null=True, blank=True, editable=False)

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        indexes = [models.Index(fields=["source", "received_at"], name="telemetry_dead_source_time")]

    @property
    def reason_text(self) -> str:
        """The reason in the reader's language (stored in English: stable for the API and for searching)."""
        return reason_text(self.reason)


class AlertStatus(models.TextChoices):
    """Where an organization's analysts are with an alert (triage, `services.do_triage_alerts`)."""

    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    FALSE_POSITIVE = "false_positive", _("False positive")
    ESCALATED = "escalated", _("Incident reported")


# Alerts still waiting for someone: what the alert list shows first.
OPEN_ALERT_STATUSES = (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED)


class Alert(models.Model):
    """Repeats of one source's rule on the same observables, folded together.

    An event joins the latest alert with the same `key` (source, rule, observables)
    when its time is within KHIEN_ALERT_WINDOW_SECONDS of that alert's
    first/last sighting; otherwise it opens a new alert.

    Triage fields have database defaults: ingestion inserts alerts with plain
    SQL naming only the columns it fills (decision 0009). A repeat of a resolved
    alert sets it back to new (the activity came back); a false positive stays
    one (its repeats are counted, not shown again).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on source or organization: the (source, last_seen) and (organization,
    # last_seen) indexes lead with them and serve the same lookups (decision 0009).
    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="alerts", db_index=False,
                               verbose_name=_("source"))
    organization = models.ForeignKey("registry.Organization", on_delete=models.PROTECT, related_name="+",
                                     db_index=False, verbose_name=_("organization"))
    key = models.CharField(_("repeat key"), max_length=64, editable=False)
    rule_id = models.CharField(_("rule id"), max_length=100, blank=True)
    rule_name = models.CharField(_("rule name"), max_length=500, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity (0–10)"), default=0)
    observables = JsonTextField(_("observables"), default=dict)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    seen_hour = AlertSeenHourField(_("hour last seen (UTC)"), null=True, editable=False)
    count = models.PositiveIntegerField(_("count"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.NEW,
                              db_default=AlertStatus.NEW)
    # No index on the triage foreign keys: each would be one more B-tree written per alert ingested, and
    # nothing lists alerts by them (deleting a user, which scans, is rare). The incident's has a partial
    # index (Meta): only alerts linked to an incident have an entry, so ingestion writes none.
    assignee = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("handled by"), db_index=False)
    triage_note = models.TextField(_("triage note"), blank=True, default="", db_default="")
    triaged_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("status set by"), db_index=False)
    triaged_at = models.DateTimeField(_("status set at"), null=True, blank=True)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("incident"), db_index=False)
    suppression = models.ForeignKey("AlertSuppression", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("suppressed by"), db_index=False)

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            # Led by the hour of the last sighting: an alert folds repeats only within the window, so the
            # lookup asks the window's hours, and writes stay in the last hours' part (the key is a hash).
            models.Index(fields=["seen_hour", "key"], name="telemetry_alert_hour_key"),
            models.Index(fields=["source", "last_seen"], name="telemetry_alert_source_seen"),
            models.Index(fields=["organization", "last_seen"], name="telemetry_alert_org_seen"),
            # The incident's page lists the alerts behind it.
            models.Index(fields=["incident"], name="telemetry_alert_incident",
                         condition=models.Q(incident__isnull=False)),
        ]

    def __str__(self):
        return f"{self.rule_name or self.rule_id} ×{self.count}"

    @property
    def taken_into_national_incident(self) -> bool:
        """Taken into the national incident the coordinator made from a campaign, not reported by its organization:
        its pages say so instead of "Incident reported" (`triage.note_taken_into_national_incidents`)."""
        if "_taken_into_national" not in self.__dict__:
            from .triage import note_taken_into_national_incidents

            note_taken_into_national_incidents([self])
        return self.__dict__["_taken_into_national"]


class AlertSuppressionQuerySet(TelemetryQuerySet):
    def active(self, now: dt.datetime | None = None):
        now = now or timezone.now()
        return self.filter(lifted_at__isnull=True, expires_at__gt=now)


class AlertSuppression(models.Model):
    """An analyst's decision that one source's rule on the same observables is not a threat (an internal
    scanner, a known tool): until it expires or is lifted, alerts with that key start as false positives.

    The key is the alert key (source, rule, observables): the same rule on other observables, or another
    source, is not suppressed. Events and indicator hits are still stored and counted (`triage.py`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="suppressions",
                               verbose_name=_("source"))
    organization = models.ForeignKey("registry.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("organization"))
    key = models.CharField(_("repeat key"), max_length=64, editable=False)
    rule_id = models.CharField(_("rule id"), max_length=100, blank=True)
    rule_name = models.CharField(_("rule name"), max_length=500, blank=True)
    observables = JsonTextField(_("observables"), default=dict)
    reason = models.CharField(_("reason"), max_length=500)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    lifted_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                  verbose_name=_("lifted by"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)

    objects = AlertSuppressionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("alert suppression")
        verbose_name_plural = _("alert suppressions")
        indexes = [models.Index(fields=["source", "key"], name="telemetry_suppression_key")]

    def __str__(self):
        return f"{self.rule_name or self.rule_id} ({self.source_id})"


class HourlyCount(models.Model):
    """Events per hour, organization, category and severity, maintained as events arrive (for dashboards)."""

    organization = models.ForeignKey("registry.Organization", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(_("hour (UTC)"))
    category = models.CharField(_("category"), max_length=40, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity (0–10)"))
    count = models.BigIntegerField(_("events"), default=0)

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["-hour", "organization", "category", "severity"]
        verbose_name = _("hourly event count")
        verbose_name_plural = _("hourly event counts")
        constraints = [
            models.UniqueConstraint(fields=["organization", "hour", "category", "severity"], name="telemetry_hourly_unique"),
        ]
        indexes = [models.Index(fields=["hour"], name="telemetry_hourly_hour")]


class SourceHourlyCount(models.Model):
    """Records received per source and hour of arrival (UTC): the source's rate for its health.

    One upsert per ingested batch (services.write_batch); kept like the hourly counts by retention."""

    # No index of its own: the unique (source, hour) leads with it.
    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="hourly_counts", db_index=False)
    hour = models.DateTimeField(_("hour of arrival (UTC)"))
    accepted = models.BigIntegerField(_("accepted records"), default=0)
    rejected = models.BigIntegerField(_("rejected records"), default=0)

    class Meta:
        ordering = ["-hour"]
        verbose_name = _("hourly source count")
        verbose_name_plural = _("hourly source counts")
        constraints = [models.UniqueConstraint(fields=["source", "hour"], name="telemetry_source_hour_unique")]


class IndicatorHit(models.Model):
    """An event observable that matched an active indicator the event's organization may see.

    Written in bulk by `matching.record_hits` inside the ingestion transaction; the
    periodic jobs turn new rows into STIX sightings (`sighted`), notifications
    (`notified`) and campaigns. No foreign key to Event (partitioned by day on
    PostgreSQL): `event_id` is the event's id. `indicator_pk` is the StixObject
    primary key of the indicator version matched (intel versions are never deleted).
    """

    event_id = models.CharField(_("event"), max_length=64, db_index=True)
    alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="hits")
    organization = models.ForeignKey("registry.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("organization"))
    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="hits", verbose_name=_("source"))
    indicator_pk = models.BigIntegerField(_("indicator version"), db_index=True)
    indicator_id = models.CharField(_("indicator"), max_length=300, db_index=True)
    kind = models.CharField(_("kind"), max_length=10)
    value = models.CharField(_("value"), max_length=2048)
    field = models.CharField(_("event field"), max_length=20)
    time = models.DateTimeField(_("time"))
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    sighted = models.BooleanField(_("sighting recorded"), default=False)
    notified = models.BooleanField(_("organization notified"), default=False)

    objects = TelemetryQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = _("indicator hit")
        verbose_name_plural = _("indicator hits")
        constraints = [
            models.UniqueConstraint(fields=["event_id", "indicator_pk", "field"], name="telemetry_hit_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "time"], name="telemetry_hit_org_time"),
            models.Index(fields=["time"], name="telemetry_hit_time"),
            models.Index(fields=["sighted"], name="telemetry_hit_sighted"),
            models.Index(fields=["notified"], name="telemetry_hit_notified"),
        ]

    def __str__(self):
        return f"{self.value} ({self.field}) {self.time:%Y-%m-%d %H:%M}"


class CampaignKind(models.TextChoices):
    INDICATOR = "indicator", _("Same indicator")
    RULE = "rule", _("Same rule")


class CampaignStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WARNED = "warned", _("Early warning issued")
    INCIDENT = "incident", _("Incident opened")
    DISMISSED = "dismissed", _("Dismissed")


class CampaignQuerySet(models.QuerySet):
    """Campaigns are national: only the national coordinator sees them."""

    def visible_to(self, user):
        from khien.core.scoping import is_national_coordinator

        return self if is_national_coordinator(user) else self.none()

    def restrict(self, user, action=None):
        return self.visible_to(user)


def campaign_title_text(kind: str, value: str, rule_name: str, key: str, organizations: int) -> Text:
    """A campaign's title, kept untranslated (a notification's: each reader reads it in their language)."""
    if kind == CampaignKind.INDICATOR:
        return Text(_("Indicator %(value)s seen at %(n)d organizations"), {"value": value[:300], "n": organizations})
    return Text(_("Rule “%(rule)s” raised at %(n)d organizations"), {"rule": (rule_name or key)[:300],
                                                                     "n": organizations})


def campaign_title(kind: str, value: str, rule_name: str, key: str, organizations: int) -> str:
    """A campaign's title in the current language (stored once in the platform's, for warnings and e-mails;
    pages write it again in the reader's)."""
    return campaign_title_text(kind, value, rule_name, key, organizations).render()


class Campaign(models.Model):
    """The same indicator, or the same rule, seen at several organizations within the window.

    Raised and updated by `correlation.correlate` (one campaign per key while it keeps
    being seen within the window); the coordinator turns it into an early warning or an
    incident, or dismisses it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=CampaignKind.choices)
    # STIX id of the indicator, or the rule id.
    key = models.CharField(_("key"), max_length=300, db_index=True)
    title = models.CharField(_("title"), max_length=500)
    indicator_kind = models.CharField(_("indicator kind"), max_length=10, blank=True)
    value = models.CharField(_("value"), max_length=2048, blank=True)
    rule_name = models.CharField(_("rule name"), max_length=500, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity (0–10)"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    organizations = models.ManyToManyField("registry.Organization", related_name="+",
                                           verbose_name=_("organizations involved"))
    organization_count = models.PositiveIntegerField(_("organizations"), default=0)
    count = models.PositiveIntegerField(_("hits"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices,
                              default=CampaignStatus.OPEN, db_index=True)
    warning = models.ForeignKey("intel.EarlyWarning", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("early warning"))
    incident = models.ForeignKey("incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("incident"))
    decided_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # Why it was dismissed, in the coordinator's words (kept when it is reopened: the history is in the audit log).
    decision_note = models.TextField(_("reason for the decision"), blank=True)
    created_at = models.DateTimeField(_("raised at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        indexes = [models.Index(fields=["kind", "key", "last_seen"], name="telemetry_campaign_key")]

    def __str__(self):
        return self.title

    @property
    def title_text(self) -> Text:
        """The title as it reads now (organizations counted so far), kept untranslated for a notification."""
        return campaign_title_text(self.kind, self.value, self.rule_name, self.key, self.organization_count)

    @property
    def display_title(self) -> str:
        return self.title_text.render()
