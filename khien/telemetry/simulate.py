"""Synthetic SOC alerts for the demo: Wazuh, Suricata, ECS and CEF records, streamed through ingestion.

Used by `khien simulate` (a living picture for `make run`) and by the demo's
48-hour backfill (demo.py). Records are shaped like the samples in
tests/samples/ and go through the real path (`services.ingest_batch`), so
matching, hits, alerts and hourly counts all happen as in production.

Most records are everyday noise (brute force, scans, web attacks, malware on
a workstation), from documentation/private address ranges that never match an
indicator. A few national campaigns hit demo intelligence values
(`khien.intel.demo.DEMO_CAMPAIGN_VALUES`, else active stored indicator values)
at several organizations at once, and one severe rule is raised everywhere by
a "ransomware" wave, so correlation raises campaigns.

Sources named "demo-…" are the demo's; `is_disconnected(name)` picks, once and
for all, those that never send, and `stopped_hours_ago(name)` those that sent
until some hours before the demo was built and stay silent after (the systems
they watch show as disconnected from national monitoring).
"""
from __future__ import annotations

import datetime as dt
import json
import random
import time
import zlib
from dataclasses import dataclass

from django.utils import timezone

DEMO_PREFIX = "demo-"
OBSERVABLE_KINDS = ("ipv4", "domain", "url", "sha256", "md5", "sha1")

@dataclass(frozen=True)
class Rule:
    """A rule as one tool names it: its id, its name, the category it files the alert under (Suricata's
    classtype text, Wazuh's rule groups, ECS event.category, FortiGate's log subtype), and the alert's
    severity on the tool's own scale (Wazuh rule.level 0–15, Suricata priority 1–3, ECS and CEF 0–10)."""
    id: str
    name: str
    category: str
    level: int


# What happens, in the words of each kind of tool: the same brute force is "sshd: brute force…" in Wazuh, a scan
# signature to a Suricata sensor, "Potential SSH Brute Force Detected" in a SIEM, a FortiGate IPS signature. Noise
# stays below the rule-campaign threshold (KHIEN_CAMPAIGN_RULE_MIN_SEVERITY, 8) in every tool's scale once read —
# Suricata's priority 1 (exploits, trojans) reads as 8, so its noise is the priority 2 and 3 signatures — and only
# the ransomware wave raises a rule campaign. Rule ids and names are those the tools ship (Emerging Threats Open
# sids and classtypes; Wazuh's ruleset; Elastic Security's prebuilt rules; FortiGuard IPS signatures).
NOISE = ["ssh-brute-force", "port-scan", "database-scan", "web-scan", "web-attack", "logon-failure", "file-added",
         "rdp-brute-force", "bad-reputation"]
WEB_BEHAVIOURS = frozenset({"web-scan", "web-attack"})  # their records carry a URL and a domain half the time
PORTS = {"ssh-brute-force": 22, "port-scan": 443, "database-scan": 1433, "web-scan": 80, "web-attack": 443,
         "logon-failure": 445, "file-added": 445, "rdp-brute-force": 3389, "bad-reputation": 443}

_ET_RECON, _ET_MISC_ATTACK = "Attempted Information Leak", "Misc Attack"
RULES: dict[str, dict[str, Rule]] = {
    "suricata": {
        "ssh-brute-force": Rule("2001219", "ET SCAN Potential SSH Scan", _ET_RECON, 2),
        "port-scan": Rule("2009582", "ET SCAN NMAP -sS window 1024", _ET_RECON, 2),
        "database-scan": Rule("2010935", "ET SCAN Suspicious inbound to MSSQL port 1433", _ET_RECON, 2),
        "web-scan": Rule("2013028", "ET POLICY curl User-Agent Outbound", _ET_RECON, 2),
        "web-attack": Rule("2402000", "ET DROP Dshield Block Listed Source", _ET_MISC_ATTACK, 2),
        "logon-failure": Rule("2002911", "ET SCAN Potential VNC Scan 5900-5920", _ET_RECON, 2),
        "file-added": Rule("2014520", "ET INFO EXE - Served Attached HTTP", "Misc activity", 3),
        "rdp-brute-force": Rule("2403342", "ET CINS Active Threat Intelligence Poor Reputation IP group 43",
                                _ET_MISC_ATTACK, 2),
        "bad-reputation": Rule("2500004", "ET COMPROMISED Known Compromised or Hostile Host Traffic TCP group 3",
                               _ET_MISC_ATTACK, 2),
        # The campaigns' records: traffic to the values of the national feed.
        "to-address": Rule("2500004", "ET COMPROMISED Known Compromised or Hostile Host Traffic TCP group 3",
                           _ET_MISC_ATTACK, 2),
        "to-domain": Rule("2014520", "ET INFO EXE - Served Attached HTTP", "Misc activity", 3),
        "file": Rule("2014520", "ET INFO EXE - Served Attached HTTP", "Misc activity", 3),
    },
    "wazuh": {
        "ssh-brute-force": Rule("5712", "sshd: brute force trying to get access to the system. Non existent user.",
                                "syslog,sshd,authentication_failures", 10),
        "port-scan": Rule("5710", "sshd: Attempt to login using a non-existent user",
                          "syslog,sshd,authentication_failed,invalid_login", 5),
        "database-scan": Rule("5716", "sshd: authentication failed.", "syslog,sshd,authentication_failed", 5),
        "web-scan": Rule("31151", "Multiple web server 400 error codes from same source ip.",
                         "web,accesslog,web_scan,recon", 10),
        "web-attack": Rule("31103", "SQL injection attempt.", "web,accesslog,attack,sql_injection", 7),
        "logon-failure": Rule("60122", "Logon Failure - Unknown user or bad password",
                              "windows,windows_security,authentication_failed", 5),
        "file-added": Rule("554", "File added to the system.", "ossec,syscheck,syscheck_entry_added,syscheck_file",
                           5),
        "rdp-brute-force": Rule("60204", "Multiple Windows Logon Failures",
                                "windows,windows_security,authentication_failures", 10),
        "bad-reputation": Rule("550", "Integrity checksum changed.",
                               "ossec,syscheck,syscheck_entry_modified,syscheck_file", 7),
        # The agent's Suricata (Wazuh's Suricata rules) and its file integrity monitoring see the campaigns.
        "to-address": Rule("86601", "Suricata: Alert - ET COMPROMISED Known Compromised or Hostile Host Traffic "
                                    "TCP group 3", "ids,suricata", 3),
        "to-domain": Rule("86601", "Suricata: Alert - ET INFO EXE - Served Attached HTTP", "ids,suricata", 3),
        "file": Rule("554", "File added to the system.", "ossec,syscheck,syscheck_entry_added,syscheck_file", 5),
    },
    "ecs": {  # Elastic Security's prebuilt detection rules (rule.id: the rule's id in the SIEM)
        "ssh-brute-force": Rule("siem-ssh-brute-force", "Potential SSH Brute Force Detected", "authentication", 5),
        "port-scan": Rule("siem-network-scan", "Potential Network Scan Detected", "network", 3),
        "database-scan": Rule("siem-network-sweep", "Potential Network Sweep Detected", "network", 3),
        "web-scan": Rule("siem-sqlmap-ua", "Web Application Suspicious Activity: sqlmap User Agent", "web", 5),
        "web-attack": Rule("siem-web-shell", "Potential Web Shell Activity", "web", 7),
        "logon-failure": Rule("siem-logon-failures", "Multiple Logon Failure from the same Source Address",
                              "authentication", 5),
        "file-added": Rule("siem-malware-detection", "Malware Detection Alert", "malware", 7),
        "rdp-brute-force": Rule("siem-rdp-brute-force", "Potential RDP Brute Force Attack", "authentication", 7),
        "bad-reputation": Rule("siem-unusual-process", "Unusual Parent-Child Relationship", "process", 5),
        "to-address": Rule("siem-ti-ip", "Threat Intel IP Address Indicator Match", "threat", 7),
        "to-domain": Rule("siem-ti-url", "Threat Intel URL Indicator Match", "threat", 7),
        "file": Rule("siem-ti-hash", "Threat Intel Hash Indicator Match", "threat", 7),
    },
    "cef": {  # a FortiGate: its IPS, antivirus and web filter, named by the FortiGuard signature (FTNTFGTattack)
        "ssh-brute-force": Rule("15221", "SSH.Connection.Brute.Force", "ips", 5),
        "port-scan": Rule("19305", "Nmap.Script.Scanner", "ips", 3),
        "database-scan": Rule("16393", "MS.SQL.Server.Login.Brute.Force", "ips", 5),
        "web-scan": Rule("44135", "HTTP.URI.SQL.Injection", "ips", 5),
        "web-attack": Rule("51006", "Apache.Log4j.Error.Log.Remote.Code.Execution", "ips", 7),
        "logon-failure": Rule("24012", "MS.SMB.Server.Login.Brute.Force", "ips", 5),
        "file-added": Rule("10035", "EICAR_TEST_FILE", "virus", 5),
        "rdp-brute-force": Rule("33361", "MS.RDP.Connection.Brute.Force", "ips", 7),
        "bad-reputation": Rule("48576", "Mirai.Botnet", "ips", 7),
        "to-address": Rule("48576", "Mirai.Botnet", "ips", 7),
        "to-domain": Rule("", "utm:webfilter ftgd_blk", "webfilter", 7),  # a web filter log: no signature
        "file": Rule("8193", "W32/Agent.ABCD!tr", "virus", 7),
    },
}
# The ransomware wave: one national detection rule the coordinator gave every SOC (the same id and name in every
# tool, as a rule distributed for a campaign is), at severity 10 — the one rule campaign of the demo.
WAVE_RULE = ("100210", "NCSC: ransomware note written to several file shares", "malware", 10)
ATTACKERS = ["203.0.113.%d" % i for i in range(10, 250, 7)] + ["198.51.100.%d" % i for i in range(5, 250, 11)]
DOMAINS = ["login-portal.example.net", "cdn-update.example.org", "mail-verify.example.com"]


def is_disconnected(source_name: str) -> bool:
    """Demo sources that never send: about one in eight, always the same ones."""
    return zlib.crc32(source_name.encode()) % 8 == 0


def stopped_hours_ago(source_name: str) -> int | None:
    """Demo sources that sent until some hours before the demo was built, then stopped for good (shown silent):
    about one in sixteen of the others, always the same ones, and how many hours before the build each stopped
    (3–12). The one rule for both: the demo backfills them up to then, `khien simulate` leaves them alone."""
    if is_disconnected(source_name):
        return None
    mark = zlib.crc32(b"stopped:" + source_name.encode())
    return None if mark % 16 else 3 + (mark // 16) % 10


def _interleaved(values: list) -> list:
    """One value of each kind in turn (domain, URL, hash, …), so that campaigns show every kind."""
    by_kind: dict = {}
    for kind, value in values:
        by_kind.setdefault(kind, []).append((kind, value))
    out = []
    while any(by_kind.values()):
        for kind in list(by_kind):
            if by_kind[kind]:
                out.append(by_kind[kind].pop(0))
    return out


def campaign_values(limit: int = 6) -> list[tuple[str, str]]:
    """(kind, value) pairs the campaigns hit: the intel demo's list, else active stored indicator values."""
    try:
        from khien.intel.demo import DEMO_CAMPAIGN_VALUES
        values = [(k, v) for k, v in DEMO_CAMPAIGN_VALUES if k in OBSERVABLE_KINDS]
        if values:
            return _interleaved(values)[:limit]
    except ImportError:
        pass
    from django.db.models import Q

    from khien.intel import warninglists
    from khien.intel.models import IndicatorValue

    now = timezone.now()
    rows = (IndicatorValue.objects.filter(kind__in=OBSERVABLE_KINDS, object__stix_type="indicator",
                                          object__revoked=False)
            .filter(Q(object__valid_until__isnull=True) | Q(object__valid_until__gt=now))
            .order_by("object__stix_id", "kind", "value").values_list("kind", "value").distinct()[:200])
    out = []
    for kind, value in rows:
        if (kind, value) not in out and not warninglists.hits(kind, value):
            out.append((kind, value))
    return _interleaved(out)[:limit]


@dataclass
class Spec:
    """What one synthetic record says, whatever the format: what happened (`behaviour`, a key of RULES' lists,
    or "wave"), which each format's writer names with its tool's rule."""
    when: dt.datetime
    behaviour: str
    src_ip: str
    dst_ip: str
    dst_port: int
    host: str
    domain: str = ""
    url: str = ""
    sha256: str = ""
    md5: str = ""
    sha1: str = ""


# The wave's rule on each tool's severity scale: Wazuh's top level, Suricata's priority 1, 10 elsewhere.
_WAVE_LEVELS = {"wazuh": 15, "suricata": 1, "ecs": 10, "cef": 10}


def rule_for(fmt: str, spec: Spec) -> Rule:
    """The rule the tool of `fmt` raises for what `spec` says happened."""
    if spec.behaviour == "wave":
        rule_id, name, category, _severity = WAVE_RULE
        return Rule(rule_id, name, category, _WAVE_LEVELS[fmt])
    return RULES[fmt][spec.behaviour]


def _iso(when: dt.datetime, offset_hours: int = 0) -> str:
    local = when.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    sign = "+" if offset_hours >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + f"{sign}{abs(offset_hours):02d}00"


# Where each kind of Wazuh rule reads its log (`location`).
_WAZUH_LOCATIONS = {"sshd": "/var/log/auth.log", "web": "/var/log/nginx/access.log", "windows": "EventChannel",
                    "syscheck": "syscheck", "suricata": "/var/log/suricata/eve.json"}


def wazuh(s: Spec, rng: random.Random) -> bytes:
    rule = rule_for("wazuh", s)
    groups = rule.category.split(",")
    data = {"srcip": s.src_ip, "srcport": str(rng.randint(1024, 65535)), "dstip": s.dst_ip, "dstport": str(s.dst_port)}
    if "sshd" in groups or "windows" in groups:
        data["dstuser"] = rng.choice(["root", "admin", "administrator", "oracle", "test", "ubuntu"])
    if s.url:
        data["url"] = s.url
    if s.domain:
        data["hostname"] = s.domain
    record = {
        "timestamp": _iso(s.when, 7),
        "rule": {"level": rule.level, "description": rule.name, "id": rule.id, "groups": groups, "firedtimes": 1},
        "agent": {"id": "%03d" % rng.randint(1, 200), "name": s.host, "ip": s.dst_ip},
        "manager": {"name": "wazuh-manager-01"},
        "id": f"{s.when.timestamp():.0f}.{rng.randint(100000, 9999999)}",
        "full_log": f"{rule.name} from {s.src_ip}",
        "data": data,
        "location": next((where for group, where in _WAZUH_LOCATIONS.items() if group in groups), "/var/log/syslog"),
    }
    if s.sha256 or s.md5 or s.sha1:
        record["syscheck"] = {"path": "C:\\Users\\Public\\update.exe", "event": "added", "md5_after": s.md5,
                              "sha1_after": s.sha1, "sha256_after": s.sha256}
    return json.dumps(record, ensure_ascii=False).encode()


def suricata(s: Spec, rng: random.Random) -> bytes:
    rule = rule_for("suricata", s)
    sid = int(rule.id) if rule.id.isdigit() else 2100000 + zlib.crc32(rule.id.encode()) % 100000
    record = {
        "timestamp": _iso(s.when, 0)[:-5] + "+0000",
        "flow_id": rng.randint(10**14, 10**16), "in_iface": "ens192", "event_type": "alert",
        "src_ip": s.src_ip, "src_port": rng.randint(1024, 65535), "dest_ip": s.dst_ip, "dest_port": s.dst_port,
        "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 3, "signature": rule.name,
                  "category": rule.category, "severity": rule.level},
        "host": s.host,
    }
    if s.domain or s.url:
        path = "/" + s.url.split("/", 3)[3] if s.url.count("/") >= 3 else "/"
        host = s.domain or (s.url.split("/")[2] if "://" in s.url else "")
        record["http"] = {"hostname": host, "url": s.url if s.url else path, "http_method": "GET", "status": 200}
        record["app_proto"] = "http"
    if s.sha256 or s.md5 or s.sha1:
        record["fileinfo"] = {k: v for k, v in (("md5", s.md5), ("sha1", s.sha1), ("sha256", s.sha256)) if v}
    return json.dumps(record).encode()


def ecs(s: Spec, rng: random.Random) -> bytes:
    rule = rule_for("ecs", s)
    record = {
        "@timestamp": _iso(s.when, 0)[:-5] + "Z", "ecs": {"version": "8.11.0"},
        "event": {"kind": "alert", "category": [rule.category], "severity": rule.level, "module": "siem"},
        "source": {"ip": s.src_ip, "port": rng.randint(1024, 65535)},
        "destination": {"ip": s.dst_ip, "port": s.dst_port},
        "rule": {"id": rule.id, "name": rule.name},
        "observer": {"name": s.host, "vendor": "Elastic", "product": "Elastic Security"},
        "message": rule.name,
    }
    if s.url or s.domain:
        record["url"] = {k: v for k, v in (("full", s.url), ("domain", s.domain)) if v}
    hashes = {k: v for k, v in (("sha256", s.sha256), ("md5", s.md5), ("sha1", s.sha1)) if v}
    if hashes:
        record["file"] = {"hash": hashes}
    return json.dumps(record).encode()


def _cef_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=")


# FortiGate's log ids and CEF names of its UTM logs, by subtype; its signature is in FTNTFGTattack (IPS) or
# FTNTFGTvirus (antivirus), the web filter's reason in msg.
_FORTIGATE = {"ips": ("0419016384", "utm:ips signature", "attack"), "virus": ("0211008192", "utm:virus infected", "virus"),
              "webfilter": ("0316013056", "utm:webfilter ftgd_blk", "")}


def cef(s: Spec, rng: random.Random) -> bytes:
    rule = rule_for("cef", s)
    ext = [f"rt={int(s.when.timestamp() * 1000)}", f"src={s.src_ip}", f"spt={rng.randint(1024, 65535)}",
           f"dst={s.dst_ip}", f"dpt={s.dst_port}", f"dvchost={s.host}"]
    if rule.category in _FORTIGATE:
        log_id, name, field = _FORTIGATE[rule.category]
        ext += [f"cat=utm:{rule.category}", f"FTNTFGTlogid={log_id}", f"FTNTFGTsubtype={rule.category}",
                f"act={'blocked' if rule.category == 'webfilter' else 'dropped'}"]
        if field:
            ext += [f"FTNTFGT{field}={rule.name}", f"FTNTFGT{field}id={rule.id}"]
        else:
            ext.append("msg=URL belongs to a denied category in policy")
    else:  # a rule given to the device as written (the wave's)
        log_id, name = rule.id, rule.name.replace("|", "/")
        ext.append(f"cat={rule.category}")
    if s.domain:
        ext.append(f"dhost={s.domain}")
    if s.url:
        ext.append(f"request={_cef_escape(s.url)}")
    if s.sha256 or s.sha1 or s.md5:
        ext.append(f"fileHash={s.sha256 or s.sha1 or s.md5}")
    return (f"<134>{s.when:%b %d %H:%M:%S} {s.host} CEF:0|Fortinet|Fortigate|v7.2.5|{log_id}|{name}|{rule.level}|"
            + " ".join(ext)).encode()


WRITERS = {"wazuh": wazuh, "suricata": suricata, "ecs": ecs, "cef": cef}


def _internal(rng: random.Random, org_index: int) -> str:
    return f"10.{org_index % 250}.{rng.randint(0, 20)}.{rng.randint(2, 250)}"


def noise_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str) -> Spec:
    behaviour = rng.choice(NOISE)
    spec = Spec(when=when, behaviour=behaviour, src_ip=rng.choice(ATTACKERS), dst_ip=_internal(rng, org_index),
                dst_port=PORTS[behaviour], host=host)
    if behaviour in WEB_BEHAVIOURS and rng.random() < 0.5:
        spec.domain = rng.choice(DOMAINS)
        spec.url = f"https://{spec.domain}/{rng.choice(['login', 'wp-admin', 'api/v1/auth'])}"
    return spec


def campaign_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str, kind: str, value: str) -> Spec:
    spec = Spec(when=when, behaviour="to-address", src_ip=_internal(rng, org_index),
                dst_ip=f"203.0.113.{rng.randint(1, 250)}", dst_port=443, host=host)
    if kind == "ipv4":
        spec.dst_ip = value
    elif kind == "domain":
        spec.domain, spec.behaviour = value, "to-domain"
    elif kind == "url":
        spec.url, spec.behaviour = value, "to-domain"
        spec.domain = value.split("/")[2] if "://" in value else ""
    elif kind in ("sha256", "md5", "sha1"):
        setattr(spec, kind, value)
        spec.behaviour = "file"
    return spec


def wave_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str) -> Spec:
    return Spec(when=when, behaviour="wave", src_ip=_internal(rng, org_index), dst_ip=_internal(rng, org_index),
                dst_port=445, host=host)


class Simulator:
    """Makes batches of records for the demo sources. Deterministic for a given seed."""

    def __init__(self, sources, *, seed: int = 2026, campaign_share: float = 0.04):
        self.rng = random.Random(seed)
        self.sources = list(sources)
        self.values = campaign_values()
        # Each campaign value is hit by a fixed group of 3–6 organizations.
        orgs = sorted({s.organization_id for s in self.sources}, key=str)
        self.groups = [set(self.rng.sample(orgs, min(len(orgs), self.rng.randint(3, 6)))) for _v in self.values]
        self._include_demo_account_organizations()
        self.wave_orgs = set(self.rng.sample(orgs, min(len(orgs), 5)))
        self.campaign_share = campaign_share
        self.index = {org: i for i, org in enumerate(orgs)}

    def _include_demo_account_organizations(self):
        """The organizations people sign in as on the demo (an analyst's province…) each get hit by a campaign, so
        their own dashboard shows indicator hits, not only the national one."""
        from khien.registry.demo import ACCOUNTS

        codes = {account.org_code for account in ACCOUNTS}
        signed_in = sorted({s.organization_id for s in self.sources if s.organization.code in codes}, key=str)
        unhit = [org for org in signed_in if not any(org in group for group in self.groups)]
        for i, org in enumerate(unhit if self.groups else []):
            self.groups[i % len(self.groups)].add(org)

    def record(self, source, when: dt.datetime) -> bytes:
        rng = self.rng
        org = source.organization_id
        host = f"{source.name.removeprefix(DEMO_PREFIX)}-{rng.randint(1, 9):02d}"
        spec = None
        if self.values and rng.random() < self.campaign_share:
            choices = [i for i, group in enumerate(self.groups) if org in group]
            if choices:
                kind, value = self.values[rng.choice(choices)]
                spec = campaign_spec(rng, when, self.index[org], host, kind, value)
        if spec is None and org in self.wave_orgs and rng.random() < 0.01:
            spec = wave_spec(rng, when, self.index[org], host)
        if spec is None:
            spec = noise_spec(rng, when, self.index[org], host)
        return WRITERS[source.format](spec, rng)

    def batch(self, source, n: int, start: dt.datetime, end: dt.datetime) -> list[bytes]:
        span = max((end - start).total_seconds(), 1.0)
        return [self.record(source, start + dt.timedelta(seconds=self.rng.random() * span)) for _i in range(n)]


def demo_sources(*, with_stopped: bool = False):
    """The enabled demo sources that send: not the disconnected ones, nor (unless `with_stopped`, for the demo's
    backfill) those that stopped hours before the demo was built."""
    from .models import AlertSource

    return [s for s in AlertSource.objects.filter(name__startswith=DEMO_PREFIX, enabled=True)
            .select_related("organization").order_by("name")
            if not is_disconnected(s.name) and (with_stopped or stopped_hours_ago(s.name) is None)]


def run(*, rate: float = 20.0, duration: float | None = None, once: bool = False, seed: int | None = None,
        out=None, batch_seconds: float = 2.0) -> int:
    """Stream `rate` records per second (in batches every `batch_seconds`) until `duration` ends; returns how many."""
    from .services import ingest_batch

    sources = demo_sources()
    if not sources:
        if out:
            out("No demo source (run `khien demo` first).")
        return 0
    sim = Simulator(sources, seed=seed if seed is not None else int(time.time()))
    started = time.monotonic()
    since = timezone.now() - dt.timedelta(seconds=batch_seconds)
    sent = hits = 0
    while True:
        tick = time.monotonic()
        now = timezone.now()
        budget = max(1, round(rate * batch_seconds))
        per_source: dict = {}
        for _i in range(budget):
            source = sim.rng.choice(sources)
            per_source.setdefault(source.pk, (source, []))[1].append(
                sim.record(source, now - dt.timedelta(seconds=sim.rng.random() * batch_seconds)))
        for source, records in per_source.values():
            result = ingest_batch(source, records)
            sent += result.accepted
        if out:
            from .models import IndicatorHit

            hits = IndicatorHit.objects.filter(time__gte=since).count()
            out(f"simulate: {sent} events sent in {time.monotonic() - started:.0f} s ({hits} indicator hits stored)")
        if once or (duration is not None and time.monotonic() - started >= duration):
            return sent
        time.sleep(max(0.0, batch_seconds - (time.monotonic() - tick)))
