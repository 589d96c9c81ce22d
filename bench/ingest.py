"""Bench: SOC alert ingestion against a million indicator values — Khiên embedded, Khiên JetStream +
PostgreSQL (1 and 2 workers), and IntelMQ 3.5 doing the equivalent work, in the same run.

`python bench/ingest.py` (or `make bench`, through bench/run.py) prints one JSON line. Scale down with
KHIEN_BENCH_INGEST_ALERTS (1,000,000), KHIEN_BENCH_INGEST_INDICATORS (1,000,000),
KHIEN_BENCH_JETSTREAM_ALERTS (200,000), KHIEN_BENCH_INTELMQ_ALERTS (20,000), KHIEN_BENCH_INGEST_BATCH (5000, the
JetStream batches), KHIEN_BENCH_EMBEDDED_BATCHES ("20000,5000": one embedded run per size, the first is the headline);
run only some phases with KHIEN_BENCH_INGEST_PHASES (e.g. "embedded,intelmq"; default all three).
The embedded phase ends with each of its two halves timed alone (`embedded_halves`, on the first
KHIEN_BENCH_HALVES_ALERTS alerts, 200,000): where the single process's ceiling lies.

Phases, each in its own process (peak RSS = that process's ru_maxrss / VmHWM):
1. embedded: fresh SQLite file, migrate, indicators loaded (bulk path below), four sources; the alert
   files are read as a stream in batches (20,000 as `khien ingest`, then 5,000 as the HTTP intake, each
   run on a fresh copy of the set-up database), one batch of each format in turn, through
   `services.ingest_stream` — `khien ingest`'s path: parse → normalize → match in the reading thread,
   persist (one transaction per batch) in a writer thread of the same process. The matcher is built
   before the clock starts (a running process has it) and its build time is reported.
2. jetstream: database khien_bench (created and dropped here), the same set-up, the alerts published
   once to the stream KHIEN_BENCH_ALERTS (subjects khien.bench.<source>); then for 1 and 2 workers
   (processes, durable consumer khien-bench, rewound and tables emptied between runs): time from
   "go" to the last batch committed.
3. IntelMQ 3.5.0 (bench/.venv-intelmq, installed from PyPI on first use): see bench/intelmq/run_intelmq.py.

Synthetic but realistic telemetry: indicator values and SOC alerts in four formats.

Deterministic (seeded). Indicator values: public IPv4 addresses, IPv4/IPv6
ranges, domains, URLs, MD5 and SHA-256 hashes, none on a warning list. Alerts:
Wazuh JSON, Suricata EVE JSON, ECS JSON and CEF lines as those tools write
them (nested objects, the usual extra fields), with repeats (brute force,
scans) so that alert folding has work, spread over three days (so the events
fall into several day partitions on PostgreSQL), and about HIT_RATE of them
carrying an observable that is a listed indicator value.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HIT_RATE = 0.02
TLDS = ("vn", "com", "net", "org", "xyz", "top", "info", "ru", "cn", "io")
WORDS = ("update", "cdn", "secure", "login", "mail", "static", "api", "files", "cloud", "portal", "bank", "pay",
         "gov", "news", "shop", "dl", "sync", "auth", "img", "vpn")
SIGS = [(2024897, "ET MALWARE Cobalt Strike Beacon Observed", "A Network Trojan was detected", 1),
        (2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 3),
        (2027865, "ET INFO Observed DNS Query to .top TLD", "Potentially Bad Traffic", 2),
        (2019401, "ET SCAN Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 2),
        (2030358, "ET EXPLOIT Apache Log4j RCE Attempt", "Attempted Administrator Privilege Gain", 1)]
WAZUH_RULES = [("5716", "sshd: authentication failed.", 5, ["syslog", "sshd", "authentication_failed"]),
               ("5712", "sshd: brute force trying to get access to the system.", 10,
                ["syslog", "sshd", "authentication_failures"]),
               ("31101", "Web server 400 error code.", 5, ["web", "accesslog", "attack"]),
               ("550", "Integrity checksum changed.", 7, ["ossec", "syscheck"]),
               ("87105", "VirusTotal: Alert - file detected as malicious", 12, ["virustotal", "malware"])]


def _public_ipv4(rng: random.Random) -> str:
    while True:
        a = rng.randint(23, 223)
        if a in (100, 127, 169, 172, 192, 198, 203):  # keep clear of private, shared, documentation ranges
            continue
        return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _domain(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}-{rng.getrandbits(40):010x}.{rng.choice(TLDS)}"


def indicator_values(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, value) pairs, all distinct: 45% IPv4, 25% domains, 10% URLs, 10% SHA-256, 5% MD5, 5% ranges."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        r = rng.random()
        if r < 0.45:
            kind, value = "ipv4", _public_ipv4(rng)
        elif r < 0.70:
            kind, value = "domain", _domain(rng)
        elif r < 0.80:
            kind, value = "url", f"http://{_domain(rng)}/{rng.choice(WORDS)}/{rng.getrandbits(32):08x}.php"
        elif r < 0.90:
            kind, value = "sha256", f"{rng.getrandbits(256):064x}"
        elif r < 0.95:
            kind, value = "md5", f"{rng.getrandbits(128):032x}"
        elif r < 0.99:
            ip = _public_ipv4(rng).rsplit(".", 1)[0]
            kind, value = "cidr", f"{ip}.0/24"
        else:
            kind, value = "cidr", f"2a0{rng.randint(1, 9)}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::/48"
        if value in seen:
            continue
        seen.add(value)
        out.append((kind, value))
    return out


class AlertMaker:
    """Alerts of one tool; observables drawn from a background pool, sometimes from the indicators."""

    def __init__(self, values: list[tuple[str, str]], seed: int):
        self.rng = random.Random(seed)
        by_kind: dict[str, list[str]] = {}
        for kind, value in values:
            by_kind.setdefault(kind, []).append(value)
        self.bad = by_kind
        self.internal = [f"10.{self.rng.randint(0, 30)}.{self.rng.randint(0, 255)}.{self.rng.randint(2, 250)}"
                         for _ in range(2000)]
        self.external = [_public_ipv4(self.rng) for _ in range(50000)]
        self.domains = [_domain(self.rng) for _ in range(20000)]
        self.start = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
        self.span = 3 * 86400
        self.count = 1
        self.made = 0
        self.last: bytes | None = None

    def hit(self) -> bool:
        return self.rng.random() < HIT_RATE

    def bad_ip(self) -> str:
        if self.rng.random() < 0.1 and self.bad.get("cidr"):
            cidr = self.rng.choice(self.bad["cidr"])
            if ":" not in cidr:
                return cidr.rsplit(".", 1)[0] + f".{self.rng.randint(1, 254)}"
        return self.rng.choice(self.bad.get("ipv4") or self.external)

    def ext_ip(self) -> str:
        return self.bad_ip() if self.hit() else self.rng.choice(self.external)

    def domain(self) -> str:
        if self.hit() and self.bad.get("domain"):
            d = self.rng.choice(self.bad["domain"])
            return d if self.rng.random() < 0.5 else f"{self.rng.choice(WORDS)}.{d}"
        return self.rng.choice(self.domains)

    def url(self, host: str) -> str:
        if self.hit() and self.bad.get("url"):
            return self.rng.choice(self.bad["url"])
        return f"http://{host}/{self.rng.choice(WORDS)}/{self.rng.getrandbits(24):06x}"

    def sha256(self) -> str:
        if self.hit() and self.bad.get("sha256"):
            return self.rng.choice(self.bad["sha256"])
        return f"{self.rng.getrandbits(256):064x}"

    def when(self) -> dt.datetime:
        """A stream in time order over three days, with the jitter of sensors' clocks and forwarders (±1 min)."""
        self.made += 1
        return self.start + dt.timedelta(seconds=self.span * self.made / self.count + self.rng.uniform(-60, 60))

    def repeat(self) -> bool:
        """About one alert in five repeats a recent one with a new time (brute force, scans)."""
        return self.last is not None and self.rng.random() < 0.2

    def wazuh(self) -> bytes:
        rng = self.rng
        rid, desc, level, groups = rng.choice(WAZUH_RULES)
        at = self.when()
        rec = {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000",
            "rule": {"level": level, "description": desc, "id": rid, "firedtimes": rng.randint(1, 50),
                     "mail": level >= 10, "groups": groups, "mitre": {"id": ["T1110"], "tactic": ["Credential Access"]}},
            "agent": {"id": f"{rng.randint(1, 400):03d}", "name": f"srv-{rng.randint(1, 400):03d}",
                      "ip": rng.choice(self.internal)},
            "manager": {"name": "wazuh-manager"},
            "id": f"{int(at.timestamp())}.{rng.randint(1, 10**7)}",
            "decoder": {"parent": "sshd", "name": "sshd"},
            "location": "/var/log/auth.log",
            "data": {"srcip": self.ext_ip(), "srcport": str(rng.randint(1024, 65535)), "dstuser": "root"},
        }
        rec["full_log"] = f"{at:%b %d %H:%M:%S} srv sshd[{rng.randint(100, 99999)}]: Failed password for root " \
                          f"from {rec['data']['srcip']} port {rec['data']['srcport']} ssh2"
        if rid == "550" or rid == "87105":
            rec["syscheck"] = {"path": "/usr/bin/.cache/x", "sha256_after": self.sha256(),
                               "md5_after": f"{rng.getrandbits(128):032x}"}
        return orjson.dumps(rec)

    def suricata(self) -> bytes:
        rng = self.rng
        sid, sig, cat, sev = rng.choice(SIGS)
        at = self.when().astimezone(dt.timezone(dt.timedelta(hours=7)))
        host = self.domain()
        rec = {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), "flow_id": rng.getrandbits(50),
            "in_iface": "eth1", "event_type": "alert", "src_ip": rng.choice(self.internal),
            "src_port": rng.randint(1024, 65535), "dest_ip": self.ext_ip(), "dest_port": rng.choice((80, 443, 8080)),
            "proto": "TCP", "community_id": f"1:{rng.getrandbits(120):x}",
            "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": rng.randint(1, 9), "signature": sig,
                      "category": cat, "severity": sev, "metadata": {"signature_severity": ["Major"]}},
            "http": {"hostname": host, "url": f"/{rng.choice(WORDS)}/{rng.getrandbits(24):06x}",
                     "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "http_method": "GET",
                     "protocol": "HTTP/1.1", "status": 200, "length": rng.randint(100, 90000)},
            "app_proto": "http", "flow": {"pkts_toserver": rng.randint(1, 40), "pkts_toclient": rng.randint(1, 40),
                                          "bytes_toserver": rng.randint(100, 9000), "bytes_toclient": rng.randint(100, 90000),
                                          "start": at.strftime("%Y-%m-%dT%H:%M:%S.%f%z")},
            "host": f"ids-{rng.randint(1, 20):02d}",
        }
        return orjson.dumps(rec)

    def ecs(self) -> bytes:
        rng = self.rng
        at = self.when()
        host = self.domain()
        rec = {
            "@timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event": {"kind": "alert", "category": [rng.choice(["malware", "network", "intrusion_detection"])],
                      "severity": rng.randint(1, 10), "module": "endpoint", "dataset": "endpoint.alerts"},
            "host": {"name": f"ws-{rng.randint(1, 3000):04d}", "os": {"family": "windows"}},
            "source": {"ip": rng.choice(self.internal), "port": rng.randint(1024, 65535)},
            "destination": {"ip": self.ext_ip(), "port": 443, "domain": host},
            "dns": {"question": {"name": host}},
            "url": {"full": self.url(host)},
            "file": {"name": f"{rng.choice(WORDS)}.exe", "hash": {"sha256": self.sha256()}},
            "rule": {"id": f"EDR-{rng.randint(1, 60)}", "name": "Suspicious outbound connection from process"},
            "agent": {"type": "endpoint", "version": "8.15.0"},
            "ecs": {"version": "8.11.0"},
        }
        return orjson.dumps(rec)

    def cef(self) -> bytes:
        rng = self.rng
        at = self.when()
        host = self.domain()
        sig, name, sev = rng.choice([("0419016384", "IPS: Apache Log4j RCE attempt", 8),
                                     ("13056", "Botnet C&C communication", 9),
                                     ("0100032001", "Web filter: blocked category", 5)])
        ext = (f"rt={int(at.timestamp() * 1000)} src={rng.choice(self.internal)} spt={rng.randint(1024, 65535)} "
               f"dst={self.ext_ip()} dpt=443 dhost={host} request={self.url(host)} act=blocked "
               f"cat=intrusion_detection dvchost=fw-{rng.randint(1, 30):02d} cs1Label=policy cs1=internet-out")
        line = f"<134>{at:%b %d %H:%M:%S} fw CEF:0|Fortinet|FortiGate-600E|7.2.5|{sig}|{name}|{sev}|{ext}"
        return line.encode()

    def make(self, fmt: str) -> bytes:
        if self.repeat() and self.rng.random() < 0.5:
            return self.last  # a forwarder's redelivery: the same record again (a duplicate)
        record = getattr(self, fmt)()
        self.last = record
        return record


FORMATS = ("wazuh", "suricata", "ecs", "cef")


def alerts(n: int, values: list[tuple[str, str]], seed: int = 11) -> dict[str, list[bytes]]:
    """n alerts, a quarter per format: {format: [line bytes]}."""
    out: dict[str, list[bytes]] = {}
    for i, fmt in enumerate(FORMATS):
        maker = AlertMaker(values, seed + i)
        count = n // len(FORMATS) + (1 if i < n % len(FORMATS) else 0)
        maker.count = max(count, 1)
        out[fmt] = [maker.make(fmt) for _ in range(count)]
    return out


# --- set-up shared by the Khiên phases -----------------------------------------------------------

ORG_CODE = "BENCHSOC"
INDICATOR_PATTERN = {"ipv4": "ipv4-addr:value", "cidr": "ipv4-addr:value", "domain": "domain-name:value",
                     "url": "url:value", "sha256": "file:hashes.'SHA-256'", "md5": "file:hashes.MD5"}


def read_values(path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in fh if line.strip()]


def load_indicators(values: list[tuple[str, str]]) -> float:
    """Bulk path for the bench set-up only: one CLEAR STIX indicator per value, written as plain rows
    (StixObject + IndicatorValue, as intel.services.do_add_objects would store them, without validating
    a million patterns with stix2-validator). Returns the seconds taken."""
    import uuid as _uuid

    from django.db import connection, transaction
    from django.utils import timezone

    from khien.intel.models import IndicatorValue, StixObject
    from khien.intel.services import stix_text
    from khien.telemetry import store

    started = time.perf_counter()
    now = timezone.now()
    created = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    first = (StixObject.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    first_value = (IndicatorValue.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    names = ("id", "stix_id", "stix_type", "spec_version", "created", "modified", "created_by_ref", "producer",
             "tlp", "marking_refs", "valid_from", "valid_until", "revoked", "confidence", "labels", "data", "data_text",
             "date_added")
    rng = random.Random(3)
    for start in range(0, len(values), 20000):
        part = values[start:start + 20000]
        rows, value_rows = [], []
        for offset, (kind, value) in enumerate(part):
            pk = first + start + offset
            stix_id = f"indicator--{_uuid.UUID(int=rng.getrandbits(128), version=4)}"
            literal = value.replace("\\", "\\\\").replace("'", "\\'")
            pattern = f"[{INDICATOR_PATTERN[kind]} = '{literal}']"
            data = {"type": "indicator", "spec_version": "2.1", "id": stix_id, "created": "2026-11-01T00:00:00.000Z",
                    "modified": "2026-11-01T00:00:00.000Z", "name": f"Bench indicator {kind}",
                    "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
                    "valid_from": "2026-11-01T00:00:00Z",
                    "object_marking_refs": ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}
            rows.append((pk, stix_id, "indicator", "2.1", created, created, "", None, "clear",
                         data["object_marking_refs"], created, None, False, 80, [], data, stix_text(data), now))
            value_rows.append((first_value + start + offset, pk, kind, value))
        with transaction.atomic():
            store.insert_rows(StixObject, names, rows)
            store.insert_rows(IndicatorValue, ("id", "object", "kind", "value"), value_rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (StixObject, IndicatorValue):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    return time.perf_counter() - started


def make_sources() -> dict:
    """One organization with two sources per format (formats mixed in the run)."""
    from khien.registry.models import Organization
    from khien.telemetry import services
    from khien.telemetry.models import AlertSource

    org = Organization.objects.filter(code=ORG_CODE).first()
    if org is None:  # bench fixture, written as the test fixtures do (khien/conftest.py _org)
        org = Organization(code=ORG_CODE, name_vi="SOC đo hiệu năng", name_en="Bench SOC", org_type="ministry")
        org.path = org.compute_path()
        org.save()
    sources = {}
    for fmt in FORMATS:
        name = f"bench-{fmt}"
        source = AlertSource.objects.filter(name=name).first()
        if source is None:
            source, _key = services.do_create_source(org, name, fmt, acting_user=None)
        sources[fmt] = source
    return sources


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (reset at exec), not ru_maxrss, which Linux carries
    over from the parent across fork and exec (a phase started by the bench reported the bench's own
    peak after generating the alerts)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_parts_mb() -> dict:
    """This process's resident memory now, split as Linux counts it: `anon` (the heap: Python objects, the
    matcher) and `file` (file pages mapped into the process — SQLite's memory-mapped database, `PRAGMA mmap_size`,
    is page cache shared with the OS and given back under pressure, yet counted in VmHWM)."""
    parts = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("RssAnon:", "RssFile:")):
                    parts[line.split(":")[0][3:].lower()] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return parts


def interleaved_batches(files: dict, size: int):
    """(format, batch of lines): one batch of each format in turn, read from the alert files as a stream."""
    from khien.telemetry.batches import file_batches

    streams = {fmt: open(path, "rb") for fmt, path in files.items()}
    iterators = {fmt: file_batches(fh, size) for fmt, fh in streams.items()}
    try:
        while iterators:
            for fmt in list(iterators):
                batch = next(iterators[fmt], None)
                if batch is None:
                    del iterators[fmt]
                    continue
                yield fmt, batch
    finally:
        for fh in streams.values():
            fh.close()


# --- phase: embedded (SQLite, one process) --------------------------------------------------------


def phase_embedded_setup(tmp: Path) -> dict:
    """migrate, indicators (bulk) and sources in the embedded database, in a process of its own."""
    from common import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    load_s = load_indicators(read_values(tmp / "values.tsv"))
    make_sources()
    from django.db import connection

    # The last connection to close checkpoints the WAL into the database file and removes it: the file is
    # then complete by itself (main() copies it for each run and deletes the copies' -wal files).
    connection.close()
    (tmp / "embedded_setup_s").write_text(str(load_s))
    return {"indicator_load_s": round(load_s, 1)}


def phase_embedded(tmp: Path) -> dict:
    from common import setup_django

    setup_django()
    from khien.telemetry import matcher, services

    load_s = float((tmp / "embedded_setup_s").read_text())  # set-up ran in its own process (its memory is not ours)
    sources = make_sources()
    started = time.perf_counter()
    compiled = matcher.current_matcher()
    build_s = time.perf_counter() - started
    rss_after_matcher, rss_parts_after_matcher = peak_rss_mb(), rss_parts_mb()
    files = {fmt: tmp / f"alerts_{fmt}.log" for fmt in FORMATS}
    profile = os.environ.get("KHIEN_BENCH_PROFILE")
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    written_before = resource.getrusage(resource.RUSAGE_SELF).ru_oublock
    # The replay path of `khien ingest`: batch n+1 is parsed and matched (this thread) while batch n is
    # written (a writer thread).
    thread_cpu = time.thread_time()
    batch_size = int(os.environ.get("KHIEN_BENCH_EMBEDDED_BATCH", "20000"))
    result = services.ingest_stream(((sources[fmt], batch) for fmt, batch in interleaved_batches(files, batch_size)),
                                    max_batch=batch_size)
    prepare_cpu = time.thread_time() - thread_cpu
    totals = result.as_dict()
    count = sum(totals.values())
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    written_mb = (usage.ru_oublock - written_before) * 512 / 1e6  # blocks of 512 bytes written to disk (WAL, database)
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    from khien.telemetry.models import IndicatorHit

    return {"alerts": count, "seconds": round(seconds, 2), "alerts_per_s": round(count / seconds),
            "cpu_seconds": round(cpu_seconds, 2), "alerts_per_cpu_s": round(count / cpu_seconds),
            "cpu_us_per_alert": {"parse_normalize_match (reading thread)": round(prepare_cpu / count * 1e6, 1),
                                 "persist (writer thread)": round((cpu_seconds - prepare_cpu) / count * 1e6, 1)},
            "disk_written_mb": round(written_mb), "disk_written_kb_per_alert": round(written_mb * 1000 / count, 2),
            **totals, "indicator_hits": IndicatorHit.objects.count(),
            "events_with_hits": IndicatorHit.objects.values("event_id").distinct().count(),
            "matcher_values": compiled.size,
            "matcher_build_s": round(build_s, 2), "indicator_load_s": round(load_s, 1),
            "rss_after_matcher_mb": rss_after_matcher, "rss_after_matcher_parts_mb": rss_parts_after_matcher,
            "peak_rss_mb": peak_rss_mb(), "rss_at_end_parts_mb": rss_parts_mb(), "batch": batch_size}


N_HALVES = int(os.environ.get("KHIEN_BENCH_HALVES_ALERTS", "200000"))


def phase_embedded_halves(tmp: Path) -> dict:
    """Each half of the embedded path alone, on one core, to show where its ceiling lies: the reading half
    (parse → normalize → match: `services.prepare_batch`) over the first KHIEN_BENCH_HALVES_ALERTS alerts
    with nothing written, then the writing half (`services.write_batch`: one transaction per batch) of
    those batches prepared beforehand, into a fresh copy of the set-up database. `ingest_stream` runs the
    two halves on two threads of one process: its rate cannot pass the slower half, and stays below it
    since both need Python's lock for their Python parts."""
    import gc

    from common import setup_django

    setup_django()
    from khien.telemetry import matcher, services

    sources = make_sources()
    matcher.current_matcher()
    files = {fmt: tmp / f"alerts_{fmt}.log" for fmt in FORMATS}
    batches = []
    for fmt, batch in interleaved_batches(files, 20000):
        batches.append((sources[fmt], batch))
        if sum(len(b) for _s, b in batches) >= N_HALVES:
            break
    count = sum(len(b) for _s, b in batches)
    gc.disable()  # as ingest_stream does while it runs
    try:
        started, cpu = time.perf_counter(), time.thread_time()
        prepared = [services.prepare_batch(source, records, max_batch=20000) for source, records in batches]
        read_s, read_cpu = time.perf_counter() - started, time.thread_time() - cpu
        started, cpu = time.perf_counter(), time.thread_time()
        for batch in prepared:
            services.write_batch(batch)
        write_s, write_cpu = time.perf_counter() - started, time.thread_time() - cpu
    finally:
        gc.enable()
    return {"alerts": count, "batch": 20000,
            "read_half_per_s": round(count / read_s), "read_half_cpu_us_per_alert": round(read_cpu / count * 1e6, 1),
            "write_half_per_s": round(count / write_s), "write_half_cpu_us_per_alert": round(write_cpu / count * 1e6, 1),
            "note": "each half alone on one core; ingest_stream overlaps them on two threads of one process"}


BATCH = int(os.environ.get("KHIEN_BENCH_INGEST_BATCH", "5000"))  # JetStream: published and fetched per batch
# Embedded runs, one per batch size (records per transaction), each on a fresh copy of the set-up database:
# 20,000 is `khien ingest`'s default, 5,000 the HTTP intake's largest batch.
EMBEDDED_BATCHES = [int(b) for b in os.environ.get("KHIEN_BENCH_EMBEDDED_BATCHES", "20000,5000").split(",") if b.strip()]
N_JETSTREAM = int(os.environ.get("KHIEN_BENCH_JETSTREAM_ALERTS", "200000"))
N_INTELMQ = int(os.environ.get("KHIEN_BENCH_INTELMQ_ALERTS", "20000"))
BENCH_PG_NAME = "khien_bench"
STREAM, PREFIX, DURABLE = "KHIEN_BENCH_ALERTS", "khien.bench", "khien-bench"
INTELMQ_REDIS_DB = int(os.environ.get("KHIEN_BENCH_INTELMQ_REDIS_DB", "13"))
N_ALERTS = int(os.environ.get("KHIEN_BENCH_INGEST_ALERTS", "1000000"))
N_INDICATORS = int(os.environ.get("KHIEN_BENCH_INGEST_INDICATORS", "1000000"))
# Which phases run (comma-separated, default all): e.g. "embedded" or "embedded,intelmq".
PHASES = {p.strip() for p in os.environ.get("KHIEN_BENCH_INGEST_PHASES", "embedded,jetstream,intelmq").split(",")}


def generate(tmp: Path) -> None:
    values = indicator_values(N_INDICATORS)
    with open(tmp / "values.tsv", "w", encoding="utf-8") as fh:
        fh.writelines(f"{kind}\t{value}\n" for kind, value in values)
    for fmt, lines in alerts(N_ALERTS, values).items():
        with open(tmp / f"alerts_{fmt}.log", "wb") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        del lines



# --- IntelMQ input: the same alerts, as IntelMQ events (JSON lines) ------------------------------------

INTELMQ_KEYS = (("src_ip", "source.ip"), ("src_port", "source.port"), ("dst_ip", "destination.ip"),
                ("dst_port", "destination.port"), ("domain", "destination.fqdn"), ("url", "destination.url"),
                ("file_md5", "malware.hash.md5"), ("file_sha1", "malware.hash.sha1"),
                ("file_sha256", "malware.hash.sha256"), ("rule_name", "event_description.text"),
                ("observer", "feed.name"))


def intelmq_lines(files: dict, n: int) -> list[bytes]:
    """The first `n` alerts (formats interleaved as in the Khiên run) in IntelMQ's own event format.

    IntelMQ's JSON parser reads IntelMQ-format JSON, so the tools' formats are mapped beforehand with
    Khiên's parsers: IntelMQ is spared the format parsing Khiên does (in its favour)."""
    from khien.telemetry.parsers import PARSERS

    out: list[bytes] = []
    for fmt, batch in interleaved_batches(files, BATCH):
        for line in batch:
            record = line.decode() if fmt == "cef" else orjson.loads(line)
            fields = PARSERS[fmt](record)
            event = {"time.source": fields["time"].isoformat(), "classification.type": "undetermined",
                     "classification.identifier": fields["rule_id"] or "unknown", "extra.severity": fields["severity"]}
            for ours, theirs in INTELMQ_KEYS:
                if fields.get(ours) not in (None, ""):
                    event[theirs] = fields[ours]
            out.append(orjson.dumps(event))
            if len(out) >= n:
                return out
    return out


# --- phase: JetStream + PostgreSQL, 1 and 2 workers ----------------------------------------------------


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(sql)


def phase_jetstream(tmp: Path) -> dict:
    """Set up khien_bench (migrate, indicators, sources), publish the alerts once, then for 1 and 2
    workers: empty the telemetry tables, rewind the consumer, start the workers (each builds its
    matcher, then waits), and time from "go" to the last batch committed."""
    _pg_admin(f"DROP DATABASE IF EXISTS {BENCH_PG_NAME} WITH (FORCE)")
    _pg_admin(f"CREATE DATABASE {BENCH_PG_NAME}")
    from common import setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from khien.telemetry import nats as tnats
    from khien.telemetry import services
    from khien.telemetry.batches import file_batches

    call_command("migrate", "--no-input", verbosity=0)
    load_indicators(read_values(tmp / "values.tsv"))
    sources = make_sources()
    # Each message carries its source's key (the worker stores nothing without it): keys issued afresh here.
    keys = {fmt: services.do_rotate_source_key(source, acting_user=None) for fmt, source in sources.items()}
    per_format = N_JETSTREAM // len(FORMATS)
    link = tnats.JetStreamLink()
    try:
        try:
            link.call(link.js.delete_stream(STREAM))
        except Exception:
            pass
        tnats.ensure_stream(link, STREAM, PREFIX)
        published = {"stored": 0, "broker_duplicates": 0}
        started = time.perf_counter()
        for fmt in FORMATS:
            with open(tmp / f"alerts_{fmt}.log", "rb") as fh:
                sent = 0
                for batch in file_batches(fh, BATCH):
                    batch = batch[:per_format - sent]
                    result = tnats.publish(sources[fmt], batch, key=keys[fmt], link=link, prefix=PREFIX)
                    published["stored"] += result.stored
                    published["broker_duplicates"] += result.duplicates
                    sent += len(batch)
                    if sent >= per_format:
                        break
        publish_s = time.perf_counter() - started
    finally:
        link.close()
    runs = {}
    connection.close()
    for workers in (1, 2):
        runs[f"{workers}_worker{'s' if workers > 1 else ''}"] = _drain(tmp, workers, published["stored"])
    return {"alerts_published": per_format * len(FORMATS), **published, "publish_s": round(publish_s, 1),
            "publish_per_s": round(per_format * len(FORMATS) / publish_s), "database": BENCH_PG_NAME, **runs}


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telemetry_event, telemetry_indicatorhit, telemetry_hourlycount, "
                       "telemetry_deadletter, telemetry_alert CASCADE")
        cursor.execute("UPDATE telemetry_alertsource SET accepted = 0, rejected = 0")
    connection.close()


def _drain(tmp: Path, workers: int, messages: int) -> dict:
    from khien.telemetry import nats as tnats

    _reset()
    link = tnats.JetStreamLink()
    try:
        try:
            link.call(link.js.delete_consumer(STREAM, DURABLE))
        except Exception:
            pass
    finally:
        link.close()
    go = tmp / "go"
    go.unlink(missing_ok=True)
    procs = []
    for i in range(workers):
        (tmp / f"ready-{i}").unlink(missing_ok=True)
        procs.append(subprocess.Popen([sys.executable, __file__, "phase", "worker", str(tmp), str(i)],
                                      stdout=subprocess.PIPE, text=True, env=os.environ))
    deadline = time.time() + 900
    while not all((tmp / f"ready-{i}").exists() for i in range(workers)):
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError("a bench worker did not start")
        time.sleep(0.2)
    started = time.time()
    go.write_text(str(started))
    results = []
    for p in procs:
        out, _err = p.communicate(timeout=3600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    ended = max(r["last_commit"] for r in results)
    processed = sum(r["messages"] for r in results)
    seconds = ended - started
    return {"workers": workers, "messages": processed, "accepted": sum(r["accepted"] for r in results),
            "duplicates": sum(r["duplicates"] for r in results), "seconds": round(seconds, 2),
            "alerts_per_s": round(processed / seconds),
            "worker_cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 2),
            "alerts_per_worker_cpu_s": round(processed / max(sum(r["cpu_seconds"] for r in results), 1e-9)),
            "peak_rss_mb_per_worker": [r["peak_rss_mb"] for r in results],
            "complete": processed >= messages}


def phase_worker(tmp: Path, index: str = "0") -> dict:
    from common import setup_django

    setup_django()
    from khien.telemetry import matcher
    from khien.telemetry import nats as tnats

    matcher.current_matcher()  # built before the clock starts, as a long-running worker has it
    link = tnats.JetStreamLink()
    worker = tnats.Worker(link, stream=STREAM, prefix=PREFIX, durable=DURABLE, batch=BATCH)
    (tmp / f"ready-{index}").write_text("ready")
    while not (tmp / "go").exists():
        time.sleep(0.05)
    total = tnats.WorkerStats()
    last_commit = time.time()
    cpu_started = cpu_last = time.process_time()
    idle = 0
    while idle < 3:
        messages = worker.fetch(timeout=1.0)
        if not messages:
            idle += 1
            continue
        idle = 0
        stats = worker.process(messages)
        last_commit, cpu_last = time.time(), time.process_time()
        for name in ("messages", "accepted", "duplicates", "rejected", "failed"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
    link.close()
    return {**total.__dict__, "last_commit": last_commit, "cpu_seconds": cpu_last - cpu_started,
            "peak_rss_mb": peak_rss_mb()}



# --- the bench -------------------------------------------------------------------------------------------

INTELMQ_VENV = Path(__file__).resolve().parent / ".venv-intelmq"


def ensure_intelmq() -> Path:
    """bench/.venv-intelmq with IntelMQ 3.5.0 from PyPI (made once; git-ignored)."""
    python = INTELMQ_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(INTELMQ_VENV)], check=True)
    check = subprocess.run([str(python), "-c", "import intelmq, async_timeout; print(intelmq.__version__)"],
                           capture_output=True, text=True)
    if check.returncode != 0 or check.stdout.strip() != "3.5.0":
        # async-timeout: redis' asyncio module imports it and IntelMQ's pins do not pull it in.
        subprocess.run([str(python), "-m", "pip", "install", "-q", "intelmq==3.5.0", "async-timeout"], check=True)
    return python


def _phase(name: str, tmp: Path, env: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "phase", name, str(tmp)], cwd=Path(__file__).parent,
                          env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}", "stderr_tail": (proc.stderr or proc.stdout).strip().splitlines()[-8:]}
    return json.loads(lines[-1])


def main() -> dict:
    load_start = os.getloadavg()
    result: dict = {"name": "ingest", "alerts": N_ALERTS, "indicator_values": N_INDICATORS, "formats": list(FORMATS),
                    "batch": BATCH, "hit_rate_per_observable": HIT_RATE}
    base = {k: v for k, v in os.environ.items() if not k.startswith("KHIEN_PG_") and k != "KHIEN_DB"}
    with tempfile.TemporaryDirectory(prefix="khien-ingest-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        generate(tmp)
        result["generate_s"] = round(time.perf_counter() - started, 1)
        result["embedded_sqlite"] = {"skipped": "KHIEN_BENCH_INGEST_PHASES"}
        if "embedded" in PHASES:
            print("bench ingest: embedded (SQLite, one process)…", file=sys.stderr, flush=True)
            database = tmp / "embedded.sqlite3"
            embedded_env = dict(base, KHIEN_DB="sqlite", KHIEN_SQLITE_PATH=str(database))
            setup = _phase("embedded_setup", tmp, embedded_env)
            if "error" in setup:
                result["embedded_sqlite"] = setup
            else:
                database.rename(tmp / "embedded_setup.sqlite3")
                for index, size in enumerate(EMBEDDED_BATCHES):
                    for suffix in ("-wal", "-shm"):
                        Path(f"{database}{suffix}").unlink(missing_ok=True)
                    shutil.copyfile(tmp / "embedded_setup.sqlite3", database)
                    run = _phase("embedded", tmp, dict(embedded_env, KHIEN_BENCH_EMBEDDED_BATCH=str(size)))
                    result["embedded_sqlite" if index == 0 else f"embedded_sqlite_batch_{size}"] = run
                for suffix in ("-wal", "-shm"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)
                shutil.copyfile(tmp / "embedded_setup.sqlite3", database)
                result["embedded_halves"] = _phase("embedded_halves", tmp, embedded_env)
                (tmp / "embedded_setup.sqlite3").unlink(missing_ok=True)
        database = tmp / "embedded.sqlite3"
        database.unlink(missing_ok=True)
        js: dict = {"skipped": "KHIEN_BENCH_INGEST_PHASES"}
        if "jetstream" in PHASES:
            print("bench ingest: JetStream + PostgreSQL…", file=sys.stderr, flush=True)
            js = _phase("jetstream", tmp, dict(base, KHIEN_DB="postgres", KHIEN_PG_NAME=BENCH_PG_NAME))
            try:
                _pg_admin(f"DROP DATABASE IF EXISTS {BENCH_PG_NAME} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                js["cleanup_error"] = str(exc)
        result["jetstream_postgresql"] = js
        if "intelmq" in PHASES:
            print("bench ingest: IntelMQ 3.5.0…", file=sys.stderr, flush=True)
        try:
            if "intelmq" not in PHASES:
                raise RuntimeError("skipped (KHIEN_BENCH_INGEST_PHASES)")
            python = ensure_intelmq()
            files = {fmt: tmp / f"alerts_{fmt}.log" for fmt in FORMATS}
            lines = intelmq_lines(files, min(N_INTELMQ, N_ALERTS))
            (tmp / "intelmq_input.jsonl").write_bytes(b"\n".join(lines) + b"\n")
            proc = subprocess.run([str(python), str(Path(__file__).parent / "intelmq" / "run_intelmq.py"), str(tmp),
                                   str(tmp / "intelmq_input.jsonl"), str(tmp / "values.tsv"), str(INTELMQ_REDIS_DB)],
                                  capture_output=True, text=True, timeout=7200)
            out = [line for line in proc.stdout.splitlines() if line.startswith("{")]
            intel = json.loads(out[-1]) if proc.returncode == 0 and out else \
                {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr.strip().splitlines()[-8:]}
        except Exception as exc:  # noqa: BLE001 - reported in the JSON
            intel = {"error": str(exc)}
        if "intelmq" not in PHASES:
            intel = {"skipped": "KHIEN_BENCH_INGEST_PHASES"}
        else:
            intel["pipeline"] = ("Redis 127.0.0.1:6379 db %d: intelmq.bots.parsers.json.parser (splitlines) -> "
                                 "bench/intelmq/khien_lookup_expert.py -> intelmq.bots.outputs.file.output" % INTELMQ_REDIS_DB)
            intel["note"] = ("IntelMQ has no generic 'value in a set' expert: a minimal expert bot (bench/intelmq/) loads "
                             "the same indicator values into sets/dicts (equivalent work). Its input is the same alerts "
                             "already mapped to IntelMQ's event format (its JSON parser reads only that), so it does not "
                             "parse the tools' formats, and it has no de-duplication or aggregation step. Run on the first "
                             f"{min(N_INTELMQ, N_ALERTS)} alerts (KHIEN_BENCH_INTELMQ_ALERTS): at its rate a million alerts "
                             "take over ten minutes; time from the reports pushed to the last line written.")
        result["intelmq"] = intel
    embedded = result["embedded_sqlite"].get("alerts_per_s")
    js = result["jetstream_postgresql"]
    theirs = result["intelmq"].get("alerts_per_s")
    result["ratio_embedded_vs_intelmq"] = round(embedded / theirs, 1) if embedded and theirs else None
    if theirs and isinstance(js.get("2_workers"), dict):
        result["ratio_jetstream_2_workers_vs_intelmq"] = round(js["2_workers"]["alerts_per_s"] / theirs, 1)
    per_cpu = result["embedded_sqlite"].get("alerts_per_cpu_s")
    theirs_cpu = result["intelmq"].get("alerts_per_bots_cpu_s")
    result["ratio_embedded_vs_intelmq_per_cpu_s"] = round(per_cpu / theirs_cpu, 1) if per_cpu and theirs_cpu else None
    result["goals"] = {"embedded_at_least_50000_per_s": bool(embedded and embedded >= 50000),
                       "at_least_10x_intelmq": bool(result["ratio_embedded_vs_intelmq"]
                                                    and result["ratio_embedded_vs_intelmq"] >= 10)}
    result["load_average_start_end"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
    result["cores"] = os.cpu_count()
    return result


if __name__ == "__main__" and len(sys.argv) == 1:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import emit, setup_django

    setup_django()
    emit(main())


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "phase":
        name, tmp = sys.argv[2], Path(sys.argv[3])
        print(json.dumps(globals()[f"phase_{name}"](tmp, *sys.argv[4:])))
        raise SystemExit(0)
