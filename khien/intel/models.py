"""The STIX 2.1 store and its sharing structures: collections, TLP, recipients.

Invariants live here; every change goes through `services.py`; who may see a
stored object is decided only in `tlp.py`.

One `StixObject` row is one VERSION of one STIX object (`stix_id` + `modified`);
several versions coexist. `CollectionObject` says which versions a collection
holds and when each was added to it (TAXII `added_after` and the
X-TAXII-Date-Added-* headers refer to that date).
"""
import datetime as dt
import json
import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from khien.registry.models import Isac, Organization

# Namespace of the deterministic STIX identity ids of organizations (uuid5 of the org id).
IDENTITY_NAMESPACE = uuid.UUID("6f1b1d5e-3c0a-4a53-9d4f-6b68696e0001")
# Version stored for objects that carry neither `modified` nor `created` (cyber-observables).
UNVERSIONED = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def identity_id_for(organization_id) -> str:
    """The STIX identity id of an organization: stable, derived from its platform id."""
    return f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, str(organization_id))}"



# STIX 2.1 object types as people read them; a type not listed (custom, x-…) is shown as it is written.
STIX_TYPE_LABELS = {
    "attack-pattern": _("attack pattern"), "campaign": _("campaign"), "course-of-action": _("course of action"),
    "grouping": _("grouping"), "identity": _("identity"), "indicator": _("indicator"),
    "infrastructure": _("infrastructure"), "intrusion-set": _("intrusion set"), "location": _("location"),
    "malware": _("malware"), "malware-analysis": _("malware analysis"), "note": _("note"),
    "observed-data": _("observed data"), "opinion": _("opinion"), "report": _("report"),
    "threat-actor": _("threat actor"), "tool": _("tool"), "vulnerability": _("vulnerability"),
    "relationship": _("relationship"), "sighting": _("sighting"), "marking-definition": _("marking definition"),
    "ipv4-addr": pgettext_lazy("STIX type", "IPv4 address"), "ipv6-addr": pgettext_lazy("STIX type", "IPv6 address"), "domain-name": _("domain name"),
    "url": _("URL"), "file": _("file"), "email-addr": _("e-mail address"),
    # the other STIX 2.1 cyber-observables (what MISP events and sandboxes bring) and meta objects
    "artifact": _("artifact"), "autonomous-system": _("autonomous system"), "directory": _("directory"),
    "email-message": _("e-mail message"), "mac-addr": _("MAC address"), "mutex": _("mutex"),
    "network-traffic": _("network traffic"), "process": _("process"), "software": _("software"),
    "user-account": _("user account"), "windows-registry-key": _("registry key (Windows)"),
    "x509-certificate": _("certificate (X.509)"), "language-content": _("language content"),
    "extension-definition": _("extension definition"),
}
# The STIX 2.1 cyber-observable types (SCOs): values seen, not analysis; lists of objects show them last or not at all.
OBSERVABLE_TYPES = ("artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
                    "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software",
                    "url", "user-account", "windows-registry-key", "x509-certificate")


# STIX properties shown on an object's page, as people read them (the STIX name is shown beside).
STIX_PROPERTY_LABELS = {
    "indicator_types": _("indicator types"), "pattern_type": _("pattern language"), "report_types": _("report types"),
    "published": _("published"), "malware_types": _("malware types"), "is_family": _("malware family"),
    "aliases": _("aliases"), "first_seen": _("first seen"), "last_seen": _("last seen"),
    "threat_actor_types": _("threat actor types"), "sophistication": _("sophistication"),
    "kill_chain_phases": _("kill chain phases"), "external_references": _("external references"),
    "relationship_type": _("relationship"), "source_ref": _("source object"), "target_ref": _("target object"),
    "sighting_of_ref": _("sighting of"), "count": _("count"),
}


def stix_type_label(stix_type: str) -> str:
    return str(STIX_TYPE_LABELS.get(stix_type, stix_type))


# Values of the STIX 2.1 open vocabularies as people read them, per property; a value not listed is shown as
# it is written (the written value stays in the title attribute on the object's page).
STIX_VOCABULARY_LABELS = {
    "indicator_types": {
        "anomalous-activity": _("Anomalous activity"), "anonymization": _("Anonymization"),
        "benign": _("Benign"), "compromised": _("Compromised"), "malicious-activity": _("Malicious activity"),
        "attribution": _("Attribution"), "unknown": _("Unknown"),
    },
    "report_types": {
        "attack-pattern": _("Attack pattern"), "campaign": _("Campaign"), "identity": _("identity"),
        "indicator": _("Indicators"), "intrusion-set": _("intrusion set"), "malware": _("Malware"),
        "observed-data": _("observed data"), "threat-actor": _("Threat actor"), "threat-report": _("Threat report"),
        "tool": _("tool"), "vulnerability": _("Vulnerability"),
    },
    "malware_types": {
        "adware": _("adware"), "backdoor": _("backdoor"), "bot": _("bot"), "bootkit": _("bootkit"),
        "ddos": _("DDoS tool"), "downloader": _("downloader"), "dropper": _("dropper"),
        "exploit-kit": _("exploit kit"), "keylogger": _("keylogger"), "ransomware": _("ransomware"),
        "remote-access-trojan": _("remote access trojan"), "resource-exploitation": _("resource exploitation"),
        "rogue-security-software": _("rogue security software"), "rootkit": _("rootkit"),
        "screen-capture": _("screen capture"), "spyware": _("spyware"), "trojan": _("trojan"),
        "unknown": _("Unknown"), "virus": _("virus"), "webshell": _("web shell"), "wiper": _("wiper"),
        "worm": _("worm"),
    },
    "threat_actor_types": {
        "activist": _("activist"), "competitor": _("competitor"), "crime-syndicate": _("crime syndicate"),
        "criminal": _("criminal"), "hacker": _("hacker"), "insider-accidental": _("accidental insider"),
        "insider-disgruntled": _("disgruntled insider"), "nation-state": _("nation state"),
        "sensationalist": _("sensationalist"), "spy": _("spy"), "terrorist": _("terrorist"), "unknown": _("Unknown"),
    },
    "pattern_type": {"stix": "STIX", "pcre": "PCRE", "sigma": "Sigma", "snort": "Snort", "suricata": "Suricata",
                     "yara": "YARA"},
    "sophistication": {
        "none": _("none"), "minimal": _("minimal"), "intermediate": _("intermediate"), "advanced": _("advanced"),
        "expert": _("expert"), "innovator": _("innovator"), "strategic": _("strategic"),
    },
    # The relationship types of STIX 2.1 (§4 and the SDOs' relationship tables) most met in shared intelligence.
    "relationship_type": {
        "indicates": pgettext_lazy("STIX relationship", "indicates"),
        "based-on": pgettext_lazy("STIX relationship", "based on"),
        "derived-from": pgettext_lazy("STIX relationship", "derived from"),
        "duplicate-of": pgettext_lazy("STIX relationship", "duplicate of"),
        "related-to": pgettext_lazy("STIX relationship", "related to"),
        "uses": pgettext_lazy("STIX relationship", "uses"),
        "targets": pgettext_lazy("STIX relationship", "targets"),
        "attributed-to": pgettext_lazy("STIX relationship", "attributed to"),
        "mitigates": pgettext_lazy("STIX relationship", "mitigates"),
        "variant-of": pgettext_lazy("STIX relationship", "variant of"),
        "communicates-with": pgettext_lazy("STIX relationship", "communicates with"),
        "drops": pgettext_lazy("STIX relationship", "drops"),
        "downloads": pgettext_lazy("STIX relationship", "downloads"),
        "exploits": pgettext_lazy("STIX relationship", "exploits"),
        "delivers": pgettext_lazy("STIX relationship", "delivers"),
        "hosts": pgettext_lazy("STIX relationship", "hosts"),
        "located-at": pgettext_lazy("STIX relationship", "located at"),
        "resolves-to": pgettext_lazy("STIX relationship", "resolves to"),
        "compromises": pgettext_lazy("STIX relationship", "compromises"),
        "consists-of": pgettext_lazy("STIX relationship", "consists of"),
        "controls": pgettext_lazy("STIX relationship", "controls"),
        "impersonates": pgettext_lazy("STIX relationship", "impersonates"),
        "originates-from": pgettext_lazy("STIX relationship", "originates from"),
        "authored-by": pgettext_lazy("STIX relationship", "authored by"),
        "beacons-to": pgettext_lazy("STIX relationship", "beacons to"),
        "exfiltrates-to": pgettext_lazy("STIX relationship", "exfiltrates to"),
        "investigates": pgettext_lazy("STIX relationship", "investigates"),
        "remediates": pgettext_lazy("STIX relationship", "remediates"),
    },
}


def relationship_label(relationship_type) -> str:
    """A STIX relationship type in the reader's language ("indicates", "based-on"…); an unknown one as written."""
    return stix_value_label("relationship_type", relationship_type) if isinstance(relationship_type, str) else ""


def kill_chain_label(phases) -> str:
    """Kill chain phases as people read them: one "phase (kill chain)" a line."""
    lines = [f"{p.get('phase_name', '')} ({p.get('kill_chain_name', '')})" for p in phases if isinstance(p, dict)]
    return "\n".join(lines)


def stix_value_label(prop: str, value) -> str:
    """A STIX property value in the reader's language: vocabulary values named, lists joined, yes/no."""
    vocabulary = STIX_VOCABULARY_LABELS.get(prop, {})
    if prop == "kill_chain_phases" and isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return kill_chain_label(value)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, str):
        return str(vocabulary.get(value, value))
    if isinstance(value, list) and all(isinstance(i, str) for i in value):
        return ", ".join(str(vocabulary.get(i, i)) for i in value)
    return json.dumps(value, ensure_ascii=False)


class Tlp(models.TextChoices):
    CLEAR = "clear", _("TLP:CLEAR")
    GREEN = "green", _("TLP:GREEN")
    AMBER = "amber", _("TLP:AMBER")
    AMBER_STRICT = "amber_strict", _("TLP:AMBER+STRICT")
    RED = "red", _("TLP:RED")


class CollectionKind(models.TextChoices):
    NATIONAL = "national", _("National")
    ISAC = "isac", _("ISAC")
    BILATERAL = "bilateral", _("Bilateral")
    GROUP = "group", _("Ad hoc group")


class OrganizationIdentity(models.Model):
    """An organization's STIX identity and its sharing defaults (one row per organization, made on first use)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True,
                                        related_name="stix_identity")
    stix_id = models.CharField(_("STIX identity id"), max_length=100, unique=True)
    default_tlp = models.CharField(_("default TLP for unmarked objects"), max_length=20, choices=Tlp.choices,
                                   default=Tlp.AMBER)

    class Meta:
        verbose_name = _("organization STIX identity")
        verbose_name_plural = _("organization STIX identities")

    def __str__(self):
        return self.stix_id


alias_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,62}$",
                                 _("Use 1–63 lowercase letters, digits or dashes, starting with a letter or digit."))


class Collection(models.Model):
    """A TAXII collection: a set of object versions shared with its member organizations."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CollectionKind.choices, default=CollectionKind.GROUP)
    owner = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="owned_collections",
                              verbose_name=_("owner organization"))
    isac = models.ForeignKey(Isac, on_delete=models.PROTECT, null=True, blank=True, related_name="collections",
                             verbose_name=_("ISAC"))
    alias = models.CharField(_("alias"), max_length=63, unique=True, validators=[alias_validator])
    # Served (its TLP:CLEAR content only) to unauthenticated callers when KHIEN_PUBLIC_CLEAR_FEED is on.
    is_public = models.BooleanField(_("public CLEAR feed"), default=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("collection")
        verbose_name_plural = _("collections")

    def __str__(self):
        return self.title


class CollectionMember(models.Model):
    """A member organization's rights on a collection (the owner has both rights without a row)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="members",
                                   verbose_name=_("collection"))
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="collection_memberships",
                                     verbose_name=_("organization"))
    can_read = models.BooleanField(_("can read"), default=True)
    can_write = models.BooleanField(_("can write"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "organization"], name="one_member_row_per_org")]
        verbose_name = _("collection member")
        verbose_name_plural = _("collection members")

    def __str__(self):
        return f"{self.organization} @ {self.collection}"


class StixDataField(models.JSONField):
    """`StixObject.data`: a JSON field that reads a version stored before the intake refused deep nesting with
    its too-deep parts summarized (`services.summarized_json`), instead of failing every page, API answer and
    export that holds it with a RecursionError. Writes as a JSONField."""

    def from_db_value(self, value, expression, connection):
        if isinstance(value, str):
            from . import services

            summarized = services.summarized_json(value)
            if summarized is not None:
                data = super().from_db_value(summarized, expression, connection)
                return services.SummarizedData(data) if isinstance(data, dict) else data
        return super().from_db_value(value, expression, connection)


class StixObject(models.Model):
    """One version of one STIX object, as canonical JSON plus indexed columns."""

    stix_id = models.CharField(_("STIX id"), max_length=300)
    stix_type = models.CharField(_("type"), max_length=250, db_index=True)
    spec_version = models.CharField(_("spec version"), max_length=10, default="2.1")
    created = models.DateTimeField(_("created"), null=True, blank=True)
    # The version: `modified`, else `created`, else UNVERSIONED (cyber-observables).
    modified = models.DateTimeField(_("version (modified)"))
    created_by_ref = models.CharField(_("created by"), max_length=300, blank=True, db_index=True)
    producer = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="produced_stix_objects", verbose_name=_("producer organization"))
    tlp = models.CharField(_("TLP"), max_length=20, choices=Tlp.choices, db_index=True)
    marking_refs = models.JSONField(_("marking references"), default=list, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)
    # STIX `indicator_types` holds "benign" (a known-good value): never blocked nor matched
    # (`indicator_status`); a column so that the blocklists and the matcher build need not read `data`.
    benign = models.BooleanField(_("benign"), default=False, db_default=False)
    confidence = models.PositiveSmallIntegerField(_("confidence"), null=True, blank=True)
    labels = models.JSONField(_("labels"), default=list, blank=True)
    data = StixDataField(_("STIX JSON"))
    # `data` as canonical JSON text (services.stix_text), written with it by services._row_for: TAXII
    # serves it as is instead of converting `jsonb` to text per object and page (decision 0010). NULL only
    # for rows written around the services (a bench loader); readers then fall back to casting `data`.
    data_text = models.TextField(null=True, blank=True, editable=False)
    date_added = models.DateTimeField(_("date added"), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stix_id", "modified"], name="one_row_per_stix_version")]
        verbose_name = _("STIX object version")
        verbose_name_plural = _("STIX object versions")

    def __str__(self):
        return f"{self.stix_id} @ {self.modified.isoformat()}"


class StixRecipient(models.Model):
    """An organization named as a recipient of a (TLP:RED) object version."""

    object = models.ForeignKey(StixObject, on_delete=models.CASCADE, related_name="recipients")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="received_stix_objects")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object", "organization"], name="one_recipient_row")]


class CollectionObject(models.Model):
    """An object version held by a collection, with the date it was added to it."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="entries")
    object = models.ForeignKey(StixObject, on_delete=models.CASCADE, related_name="collection_entries")
    date_added = models.DateTimeField(_("date added"))
    # The collection holds a newer version of the same object (kept by services.do_add_objects):
    # TAXII `match[version]=last` then needs no anti-join for the entries that are the newest.
    superseded = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "object"], name="one_entry_per_version")]
        indexes = [models.Index(fields=["collection", "date_added", "id"], name="intel_coll_added_idx")]


class IndicatorKind(models.TextChoices):
    IPV4 = "ipv4", _("IPv4 address")
    IPV6 = "ipv6", _("IPv6 address")
    CIDR = "cidr", _("IP network (CIDR)")
    DOMAIN = "domain", _("Domain name")
    URL = "url", _("URL")
    EMAIL = "email", _("E-mail address")
    MD5 = "md5", _("MD5")
    SHA1 = "sha1", _("SHA-1")
    SHA256 = "sha256", _("SHA-256")


def indicator_kind_label(kind: str) -> str:
    """A value's kind as people read it (ipv4 → IPv4 address), in their language; an unknown kind as it is."""
    return str(IndicatorKind(kind).label) if kind in IndicatorKind.values else kind


class IndicatorValue(models.Model):
    """An observable value extracted from a simple indicator pattern, for fast lookup."""

    object = models.ForeignKey(StixObject, on_delete=models.CASCADE, related_name="indicator_values")
    kind = models.CharField(_("kind"), max_length=10, choices=IndicatorKind.choices)
    value = models.CharField(_("value"), max_length=2048)

    class Meta:
        indexes = [models.Index(fields=["value", "kind"], name="intel_indicator_value_idx")]


class TaxiiStatus(models.Model):
    """The status resource of one TAXII add-objects request.

    Complete when returned for a request up to ``KHIEN_TAXII_ASYNC_THRESHOLD``
    objects; above it "pending" while a background thread validates
    (`validated_count`, `updated_at` move) and stores the objects — see
    `services.do_submit_objects_async`. A pending status keeps the objects
    (`payload`) until it completes, so that a restart of the web process loses
    nothing: the worker resumes it (`services.resume_stale_submissions`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="statuses")
    submitted_by = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="taxii_statuses")
    request_timestamp = models.DateTimeField()
    status = models.CharField(max_length=20, default="complete")
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    pending_count = models.PositiveIntegerField(default=0)
    successes = models.JSONField(default=list)
    failures = models.JSONField(default=list)
    pendings = models.JSONField(default=list)
    validated_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)
    # The submitted objects as JSON text while the status is pending; emptied when it completes.
    payload = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)  # processing runs started (the first in the web process)


# --- Warning lists, early warnings -----------------------------------------------------------------


class AllowListEntry(models.Model):
    """A value the platform must never treat as malicious (edited by the national coordinator).

    Read through `khien.intel.warninglists`, which compiles the lists once and
    recompiles when this table changes.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=IndicatorKind.choices)
    value = models.CharField(_("value"), max_length=2048)
    note = models.TextField(_("note"), blank=True)
    added_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("added by"))
    at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="one_allow_entry_per_value")]
        verbose_name = _("allow-list entry")
        verbose_name_plural = _("allow-list entries")

    def __str__(self):
        return f"{self.kind}:{self.value}"


class WarningSeverity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class EarlyWarning(models.Model):
    """An early warning (cảnh báo sớm): a STIX report plus the organizations it is sent to.

    Who sees a warning is decided in `khien.intel.services_warnings.warnings_visible_to`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=WarningSeverity.choices,
                                default=WarningSeverity.MEDIUM)
    tlp = models.CharField(_("TLP"), max_length=20, choices=Tlp.choices, default=Tlp.AMBER)
    # The STIX report the warning wraps (stored in `collection`, or only referenced).
    report_id = models.CharField(_("STIX report id"), max_length=300, blank=True)
    collection = models.ForeignKey(Collection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("collection"))
    indicator_refs = models.JSONField(_("indicator references"), default=list, blank=True)
    vulnerability_refs = models.JSONField(_("vulnerability references"), default=list, blank=True)
    # Observable values ({"kind", "value"}) and affected products (CPE 2.3) the targets were matched with.
    values = models.JSONField(_("observable values"), default=list, blank=True)
    cpes = models.JSONField(_("affected products (CPE)"), default=list, blank=True)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("created by"))
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sent_warnings",
                                     verbose_name=_("sender organization"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # The time by which the targets are asked to answer (optional; checked in `services_warnings`).
    respond_by = models.DateTimeField(_("respond by"), null=True, blank=True)
    # "Told once" mark of the job that tells the sender the deadline passed with targets still silent.
    overdue_told_at = models.DateTimeField(_("sender told of the missed deadline at"), null=True, blank=True,
                                           editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("early warning")
        verbose_name_plural = _("early warnings")

    def __str__(self):
        return self.title


class TargetReason(models.TextChoices):
    # The organization's own monitoring saw what the warning is about (a national campaign's warning); the matched
    # value holds how many events.
    SEEN = "seen", _("Seen by your monitoring")
    SECTOR = "sector", _("Sector")
    PROVINCE = "province", _("Province")
    ISAC = "isac", _("ISAC membership")
    MATCHED_IP = "matched_ip", _("Registered IP range matches")
    MATCHED_DOMAIN = "matched_domain", _("Registered domain matches")
    MATCHED_PRODUCT = "matched_product", _("Registered product matches")
    CHOSEN = "chosen", _("Chosen by the sender")


class AckState(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACTED = "acted", _("Acted")
    NOT_AFFECTED = "not_affected", _("Not affected")


class WarningTarget(models.Model):
    """One organization a warning is sent to, why, and its acknowledgement (null: not yet)."""

    warning = models.ForeignKey(EarlyWarning, on_delete=models.CASCADE, related_name="targets",
                                verbose_name=_("early warning"))
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="warning_targets",
                                     verbose_name=_("organization"))
    # The main reason (the most specific, `services_warnings.REASON_ORDER`) and its value; `reasons` keeps every
    # reason that applies, the main one first: [{"reason", "value", "systems": [names of the matching systems]}]
    # (empty for a target made before it was kept: then only the main one is known).
    reason = models.CharField(_("reason"), max_length=20, choices=TargetReason.choices)
    matched_value = models.CharField(_("matched value"), max_length=2048, blank=True)
    reasons = models.JSONField(_("every reason"), default=list, blank=True)
    state = models.CharField(_("acknowledgement"), max_length=20, choices=AckState.choices, null=True, blank=True)
    acknowledged_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # The last time the sender reminded this organization to answer (`do_remind_warning`).
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)

    class Meta:
        ordering = ["warning", "organization__code"]
        constraints = [models.UniqueConstraint(fields=["warning", "organization"], name="one_target_per_org")]
        indexes = [models.Index(fields=["organization", "state"], name="intel_target_inbox_idx")]
        verbose_name = _("warning target")
        verbose_name_plural = _("warning targets")

    def __str__(self):
        return f"{self.warning} → {self.organization}"


class WarningUpdate(models.Model):
    """An update (amendment) to an issued warning: a text saying what changed and/or a new reply deadline.

    The warning's own title and summary stay as issued; its updates are kept in order (`number` 1, 2, …) with who
    made them, in whose name and when. Written by `khien.intel.services_warnings.do_update_warning` only.
    """

    warning = models.ForeignKey(EarlyWarning, on_delete=models.CASCADE, related_name="updates",
                                verbose_name=_("early warning"))
    number = models.PositiveIntegerField(_("number"))
    text = models.TextField(_("update text"), blank=True)
    # The reply deadline before and after the update (equal, and `deadline_changed` false, when only text was added).
    deadline_changed = models.BooleanField(_("reply deadline changed"), default=False)
    respond_by_before = models.DateTimeField(_("previous reply deadline"), null=True, blank=True)
    respond_by = models.DateTimeField(_("new reply deadline"), null=True, blank=True)
    # In whose name: the sender organization, or the national coordinator's organization when it updates another
    # organization's warning.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                     verbose_name=_("updated in the name of"))
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("updated by"))
    created_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["warning", "number"]
        constraints = [models.UniqueConstraint(fields=["warning", "number"], name="one_warning_update_number")]
        verbose_name = _("warning update")
        verbose_name_plural = _("warning updates")

    def __str__(self):
        return f"{self.warning} #{self.number}"
from .models_federation import FeedSubscription  # noqa: E402,F401  (federation models live in their own module)
