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

NOISE = [
    # (rule id, rule name, category, severity 0–10): everyday noise stays below the rule-campaign
    # threshold (KHIEN_CAMPAIGN_RULE_MIN_SEVERITY, 8), so only the ransomware wave raises a rule campaign.
    ("5712", "sshd: brute force trying to get access to the system", "authentication", 6),
    ("31151", "Multiple web server 400 error codes from same source ip", "web", 5),
    ("31106", "A web attack returned code 200 (success)", "web", 7),
    ("2024897", "ET MALWARE Possible Cobalt Strike Beacon HTTP GET", "malware", 7),
    ("2010935", "ET SCAN Suspicious inbound to MSSQL port 1433", "network", 4),
    ("2001219", "ET SCAN Potential SSH Scan", "network", 3),
    ("60122", "Logon failure - Unknown user or bad password", "authentication", 5),
    ("554", "File added to the system", "file", 3),
    ("87105", "Windows Defender: malware detected", "malware", 7),
    ("siem-rdp-bruteforce", "Multiple failed RDP logons from one address", "authentication", 7),
    ("0419016384", "IPS: Apache Log4j RCE attempt", "intrusion_detection", 7),
]
WAVE_RULE = ("92657", "Ransomware note written to several shares", "malware", 10)
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
    """What one synthetic record says, whatever the format."""
    when: dt.datetime
    rule_id: str
    rule_name: str
    category: str
    severity: int
    src_ip: str
    dst_ip: str
    dst_port: int
    host: str
    domain: str = ""
    url: str = ""
    sha256: str = ""
    md5: str = ""
    sha1: str = ""


def _iso(when: dt.datetime, offset_hours: int = 0) -> str:
    local = when.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    sign = "+" if offset_hours >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + f"{sign}{abs(offset_hours):02d}00"


def wazuh(s: Spec, rng: random.Random) -> bytes:
    data = {"srcip": s.src_ip, "srcport": str(rng.randint(1024, 65535)), "dstip": s.dst_ip, "dstport": str(s.dst_port)}
    if s.url:
        data["url"] = s.url
    if s.domain:
        data["hostname"] = s.domain
    record = {
        "timestamp": _iso(s.when, 7),
        "rule": {"level": max(0, min(15, round(s.severity * 1.5))), "description": s.rule_name, "id": s.rule_id,
                 "groups": [s.category], "firedtimes": 1},
        "agent": {"id": "%03d" % rng.randint(1, 200), "name": s.host, "ip": s.dst_ip},
        "manager": {"name": "wazuh-manager-01"},
        "id": f"{s.when.timestamp():.0f}.{rng.randint(100000, 9999999)}",
        "full_log": f"{s.rule_name} from {s.src_ip}",
        "data": data, "location": "/var/log/auth.log",
    }
    if s.sha256 or s.md5 or s.sha1:
        record["syscheck"] = {"path": "C:\\Users\\Public\\update.exe", "md5_after": s.md5, "sha1_after": s.sha1,
                              "sha256_after": s.sha256}
    return json.dumps(record, ensure_ascii=False).encode()


def suricata(s: Spec, rng: random.Random) -> bytes:
    record = {
        "timestamp": _iso(s.when, 0)[:-5] + "+0000",
        "flow_id": rng.randint(10**14, 10**16), "in_iface": "ens192", "event_type": "alert",
        "src_ip": s.src_ip, "src_port": rng.randint(1024, 65535), "dest_ip": s.dst_ip, "dest_port": s.dst_port,
        "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": int(s.rule_id) if s.rule_id.isdigit() else 2100000 + zlib.crc32(s.rule_id.encode()) % 100000,
                  "rev": 3, "signature": s.rule_name, "category": s.category,
                  "severity": 1 if s.severity >= 9 else 2 if s.severity >= 5 else 3},
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
    record = {
        "@timestamp": _iso(s.when, 0)[:-5] + "Z", "ecs": {"version": "8.11.0"},
        "event": {"kind": "alert", "category": [s.category], "severity": s.severity, "module": "siem"},
        "source": {"ip": s.src_ip, "port": rng.randint(1024, 65535)},
        "destination": {"ip": s.dst_ip, "port": s.dst_port},
        "rule": {"id": s.rule_id, "name": s.rule_name},
        "observer": {"name": s.host, "vendor": "Demo SIEM"},
        "message": s.rule_name,
    }
    if s.url or s.domain:
        record["url"] = {k: v for k, v in (("full", s.url), ("domain", s.domain)) if v}
    hashes = {k: v for k, v in (("sha256", s.sha256), ("md5", s.md5), ("sha1", s.sha1)) if v}
    if hashes:
        record["file"] = {"hash": hashes}
    return json.dumps(record).encode()


def _cef_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=")


def cef(s: Spec, rng: random.Random) -> bytes:
    ext = [f"rt={int(s.when.timestamp() * 1000)}", f"src={s.src_ip}", f"spt={rng.randint(1024, 65535)}",
           f"dst={s.dst_ip}", f"dpt={s.dst_port}", f"cat={s.category}", f"dvchost={s.host}"]
    if s.domain:
        ext.append(f"dhost={s.domain}")
    if s.url:
        ext.append(f"request={_cef_escape(s.url)}")
    if s.sha256 or s.sha1 or s.md5:
        ext.append(f"fileHash={s.sha256 or s.sha1 or s.md5}")
    name = s.rule_name.replace("|", "/")
    return (f"<134>{s.when:%b %d %H:%M:%S} {s.host} CEF:0|Demo|NGFW|7.2|{s.rule_id}|{name}|{s.severity}|"
            + " ".join(ext)).encode()


WRITERS = {"wazuh": wazuh, "suricata": suricata, "ecs": ecs, "cef": cef}


def _internal(rng: random.Random, org_index: int) -> str:
    return f"10.{org_index % 250}.{rng.randint(0, 20)}.{rng.randint(2, 250)}"


def noise_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str) -> Spec:
    rule_id, name, category, severity = rng.choice(NOISE)
    spec = Spec(when=when, rule_id=rule_id, rule_name=name, category=category, severity=severity,
                src_ip=rng.choice(ATTACKERS), dst_ip=_internal(rng, org_index), dst_port=rng.choice([22, 80, 443, 3389, 1433]),
                host=host)
    if category == "web" and rng.random() < 0.5:
        spec.domain = rng.choice(DOMAINS)
        spec.url = f"https://{spec.domain}/{rng.choice(['login', 'wp-admin', 'api/v1/auth'])}"
    return spec


def campaign_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str, kind: str, value: str) -> Spec:
    spec = Spec(when=when, rule_id="2027865", rule_name="ET POLICY Connection to known malicious infrastructure",
                category="malware", severity=7, src_ip=_internal(rng, org_index),
                dst_ip=f"203.0.113.{rng.randint(1, 250)}", dst_port=443, host=host)
    if kind == "ipv4":
        spec.dst_ip = value
    elif kind == "domain":
        spec.domain = value
    elif kind == "url":
        spec.url = value
        spec.domain = value.split("/")[2] if "://" in value else ""
    elif kind in ("sha256", "md5", "sha1"):
        setattr(spec, kind, value)
        spec.rule_name, spec.category = "Known malicious file hash seen", "malware"
    return spec


def wave_spec(rng: random.Random, when: dt.datetime, org_index: int, host: str) -> Spec:
    rule_id, name, category, severity = WAVE_RULE
    return Spec(when=when, rule_id=rule_id, rule_name=name, category=category, severity=severity,
                src_ip=_internal(rng, org_index), dst_ip=_internal(rng, org_index), dst_port=445, host=host)


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
