"""Demo intelligence: a believable, entirely synthetic year of shared threat intelligence.

Called by `khien demo` after the country is built (`registry/demo.py`):
`build(seed)` creates, deterministically for a seed,

- collections: the national one (owned by NCSC; every top-level organization
  reads it, the ISAC operators and two provinces also write), one per ISAC
  (owned by its operator, members read and write) and one bilateral
  collection (finance ↔ banking);
- ~2,000 indicators from several producers (NCSC, the ISAC operators, two
  provincial committees), with Vietnamese names and descriptions, spread over
  the past year (`created`, `valid_from`), all five TLP levels, some expired
  (`valid_until` in the past), some revoked (a revoking new version), and a
  set of campaign values (`DEMO_CAMPAIGN_VALUES`) reported by several
  producers each — identical values, several provenances;
- malware, threat actors, attack patterns (ATT&CK technique ids), a few
  vulnerabilities (CVE), relationships between them and the indicators, and
  monthly reports;
- early warnings sent to demo organizations, some acknowledged.

Every object is stored through `services.do_store_generated`: the write path
of `do_add_objects` (rights, rows, TLP from the markings, producer identity,
value index, one audit entry per submission) without the per-object
stix2-validator pass, which alone would take a minute or more for ~2,500
objects; the objects come from the fixed templates below and the demo's test
validates a sample of every kind with stix2-validator. The early warnings go
through `services_warnings.do_issue_warning` / `do_acknowledge` (their reports
through `do_add_objects`). Consequence: `date_added` is the build time (the
objects' own `created`/`valid_from` carry the year).

Nothing here is real: domains are subdomains of `demo-khien.vn`, IPv4
addresses come from the documentation ranges (RFC 5737, so the warning lists
flag them and blocklists leave them out), hashes are derived from the seed,
actor and malware names carry "Demo". ATT&CK technique ids and CVE ids are
public identifiers, used as references only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from khien.core.roles import Role
from khien.registry.models import Isac, Membership, Organization

from . import services, services_warnings, tlp
from .models import AckState, Collection, CollectionKind, CollectionObject, StixObject, Tlp, WarningTarget

DEMO_DOMAIN = "demo-khien.vn"
NAMESPACE = uuid.UUID("6f1b1d5e-3c0a-4a53-9d4f-6b68696e0d30")
N_INDICATORS = 2000
INDICATOR_PRODUCERS = ("NCSC", "BTC", "NHNN", "BCT", "BKHCN", "BXD", "BYT", "UBND-79", "UBND-01")

# Values that several producers report, and that the telemetry simulator's multi-organization
# campaigns hit (only kinds the warning lists do not flag: domains, URLs and hashes).
_CAMPAIGN_DOMAINS = [
    "cap-nhat-vpn.demo-khien.vn", "hoadon-dientu.demo-khien.vn", "xac-thuc-ngan-hang.demo-khien.vn",
    "cdn-tailieu.demo-khien.vn", "dich-vu-cong-gia.demo-khien.vn", "mail-noibo.demo-khien.vn",
    "update-antivirus.demo-khien.vn", "c2-rongxam.demo-khien.vn",
]
_CAMPAIGN_HASHES = [hashlib.sha256(f"khien-demo-campaign-{n}".encode()).hexdigest() for n in range(6)]
DEMO_CAMPAIGN_VALUES: list[tuple[str, str]] = (
    [("domain", d) for d in _CAMPAIGN_DOMAINS]
    + [("url", f"http://{d}/tai-ve/cap-nhat.exe") for d in _CAMPAIGN_DOMAINS[:3]]
    + [("sha256", h) for h in _CAMPAIGN_HASHES]
)

WORDS = ["an-toan", "bao-mat", "cap-nhat", "tai-lieu", "hop-dong", "thue", "bhxh", "ngan-hang", "vi-dien-tu",
         "dang-nhap", "xac-minh", "khuyen-mai", "tuyen-dung", "giao-hang", "cong-van", "thong-bao", "he-thong",
         "email", "vpn", "cloud", "portal", "download", "secure", "sync", "cdn", "api", "static", "office"]
DOC_NETS = ["192.0.2", "198.51.100", "203.0.113"]

MALWARE = [
    ("Rồng Xám Loader (demo)", "Trình tải mã độc lây qua tệp đính kèm giả công văn, tải thêm mô-đun điều khiển.",
     ["trojan", "dropper"]),
    ("SaoBăng RAT (demo)", "Mã độc điều khiển từ xa, đánh cắp tài liệu văn phòng và thông tin đăng nhập.",
     ["remote-access-trojan"]),
    ("KhoaĐá Ransomware (demo)", "Mã độc tống tiền mã hóa máy chủ tệp, xóa bản sao lưu bóng.", ["ransomware"]),
    ("MưaĐêm Stealer (demo)", "Mã độc đánh cắp mật khẩu trình duyệt và ví điện tử.", ["spyware"]),
    ("CầuVồng Botnet (demo)", "Mạng máy tính ma tấn công từ chối dịch vụ vào cổng thông tin.", ["bot", "ddos"]),
    ("LáThu Webshell (demo)", "Webshell cài trên máy chủ web chưa vá, dùng để di chuyển ngang.", ["backdoor"]),
    ("SóngNgầm Miner (demo)", "Mã độc đào tiền ảo trên máy chủ có cấu hình yếu.", ["resource-exploitation"]),
    ("GióLào Keylogger (demo)", "Mã độc ghi phím nhắm vào kế toán và thủ quỹ.", ["keylogger"]),
]
ACTORS = [
    ("Nhóm Rồng Xám (demo)", "Nhóm tấn công có chủ đích nhắm vào cơ quan nhà nước, dùng thư giả mạo công văn.",
     ["nation-state"], "espionage"),
    ("Nhóm Sao Băng (demo)", "Nhóm tội phạm mạng đánh cắp thông tin tài chính.", ["crime-syndicate"],
     "personal-gain"),
    ("Nhóm Khóa Đá (demo)", "Nhóm mã độc tống tiền hoạt động theo mô hình dịch vụ.", ["crime-syndicate"],
     "personal-gain"),
    ("Nhóm Cầu Vồng (demo)", "Nhóm tin tặc gây rối tấn công từ chối dịch vụ các cổng thông tin.", ["hacktivist"],
     "ideology"),
]
ATTACK_PATTERNS = [
    ("T1566.001", "Thư lừa đảo có tệp đính kèm", "Spearphishing Attachment"),
    ("T1566.002", "Thư lừa đảo có liên kết", "Spearphishing Link"),
    ("T1190", "Khai thác ứng dụng công khai", "Exploit Public-Facing Application"),
    ("T1078", "Dùng tài khoản hợp lệ", "Valid Accounts"),
    ("T1486", "Mã hóa dữ liệu để tống tiền", "Data Encrypted for Impact"),
    ("T1071.001", "Giao tiếp điều khiển qua HTTP", "Web Protocols"),
    ("T1505.003", "Cài webshell", "Web Shell"),
    ("T1498", "Tấn công từ chối dịch vụ mạng", "Network Denial of Service"),
    ("T1555.003", "Lấy mật khẩu từ trình duyệt", "Credentials from Web Browsers"),
    ("T1110", "Dò mật khẩu", "Brute Force"),
]
VULNERABILITIES = [
    ("CVE-2021-44228", "Lỗ hổng thực thi mã từ xa trong thư viện ghi nhật ký Log4j."),
    ("CVE-2023-4966", "Lỗ hổng lộ thông tin phiên trên thiết bị cổng truy cập từ xa."),
    ("CVE-2024-3400", "Lỗ hổng chèn lệnh trên tường lửa có bật cổng VPN."),
    ("CVE-2023-34362", "Lỗ hổng chèn SQL trong phần mềm truyền tệp được quản lý."),
    ("CVE-2022-41040", "Lỗ hổng giả mạo yêu cầu phía máy chủ trên máy chủ thư điện tử."),
]
# (TLP, weight) of the indicators.
TLP_WEIGHTS = [(Tlp.CLEAR, 15), (Tlp.GREEN, 40), (Tlp.AMBER, 30), (Tlp.AMBER_STRICT, 8), (Tlp.RED, 7)]


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Builder:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.seed = seed
        self.now = timezone.now().replace(microsecond=0)
        self.start = self.now - dt.timedelta(days=365)
        self.counts: dict[str, int] = {}

    def sid(self, kind: str, *parts) -> str:
        return f"{kind}--{uuid.uuid5(NAMESPACE, '/'.join(str(p) for p in (self.seed, kind, *parts)))}"

    def when(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.r.randrange(0, 365 * 86400 - 3600))

    def count(self, name: str, n: int = 1):
        self.counts[name] = self.counts.get(name, 0) + n

    # --- People and organizations ----------------------------------------------------------------

    def user(self, code: str, roles=(Role.ORG_ANALYST, Role.ORG_ADMIN, Role.NATIONAL_COORDINATOR)):
        for role in roles:
            m = (Membership.objects.filter(organization__code=code, role=role).select_related("user")
                 .order_by("user__email").first())
            if m is not None:
                return m.user
        return None

    # --- Collections -------------------------------------------------------------------------------

    def collections(self):
        coordinator = self.user("NCSC", (Role.NATIONAL_COORDINATOR,))
        ncsc = Organization.objects.get(code="NCSC")
        self.coordinator = coordinator
        self.national = services.do_create_collection(
            {"title": "Kênh chia sẻ quốc gia", "alias": "quoc-gia", "kind": CollectionKind.NATIONAL, "owner": ncsc,
             "description": "Tình báo mối đe dọa do Trung tâm An ninh mạng quốc gia và các ISAC chia sẻ (dữ liệu demo)."},
            acting_user=coordinator)
        writers = set(INDICATOR_PRODUCERS) - {"NCSC"}
        for org in Organization.objects.filter(parent__isnull=True, is_active=True).exclude(pk=ncsc.pk).order_by("code"):
            services.do_set_collection_member(self.national, org, can_read=True, can_write=org.code in writers,
                                              acting_user=coordinator)
        self.count("collections")
        self.isac_collections = {}
        for isac in Isac.objects.select_related("operator").order_by("code"):
            admin = self.user(isac.operator.code, (Role.ORG_ADMIN,))
            if admin is None:
                continue
            self.isac_collections[isac.operator.code] = services.do_create_collection(
                {"title": f"{isac.name_vi} – kênh thành viên", "alias": isac.code.lower(), "kind": CollectionKind.ISAC,
                 "owner": isac.operator, "isac": isac,
                 "description": f"Chia sẻ trong {isac.name_vi} (dữ liệu demo)."}, acting_user=admin)
            self.count("collections")
        btc, nhnn = Organization.objects.filter(code__in=["BTC", "NHNN"]).order_by("code")
        self.bilateral = services.do_create_collection(
            {"title": "Song phương Tài chính – Ngân hàng", "alias": "song-phuong-btc-nhnn",
             "kind": CollectionKind.BILATERAL, "owner": btc,
             "description": "Kênh song phương giữa Bộ Tài chính và Ngân hàng Nhà nước (dữ liệu demo)."},
            acting_user=self.user("BTC", (Role.ORG_ADMIN,)))
        services.do_set_collection_member(self.bilateral, nhnn, can_read=True, can_write=True,
                                          acting_user=self.user("BTC", (Role.ORG_ADMIN,)))
        self.count("collections")

    # --- Threat knowledge -------------------------------------------------------------------------

    def knowledge(self) -> list[dict]:
        first = _stamp(self.start)
        green = [tlp.TLP_MARKING[Tlp.GREEN]]
        objs = []
        self.malware_ids, self.actor_ids, self.pattern_ids, self.vuln_ids = [], [], [], []
        for name, description, types in MALWARE:
            self.malware_ids.append(self.sid("malware", name))
            objs.append({"type": "malware", "spec_version": "2.1", "id": self.malware_ids[-1], "created": first,
                         "modified": first, "name": name, "description": description, "malware_types": types,
                         "is_family": True, "object_marking_refs": green})
        for name, description, types, motivation in ACTORS:
            self.actor_ids.append(self.sid("threat-actor", name))
            objs.append({"type": "threat-actor", "spec_version": "2.1", "id": self.actor_ids[-1], "created": first,
                         "modified": first, "name": name, "description": description, "threat_actor_types": types,
                         "primary_motivation": motivation, "object_marking_refs": green})
        for technique, name_vi, name_en in ATTACK_PATTERNS:
            self.pattern_ids.append(self.sid("attack-pattern", technique))
            objs.append({"type": "attack-pattern", "spec_version": "2.1", "id": self.pattern_ids[-1],
                         "created": first, "modified": first, "name": name_vi, "description": name_en,
                         "external_references": [{"source_name": "mitre-attack", "external_id": technique}],
                         "object_marking_refs": [tlp.TLP_MARKING[Tlp.CLEAR]]})
        for cve, description in VULNERABILITIES:
            self.vuln_ids.append(self.sid("vulnerability", cve))
            objs.append({"type": "vulnerability", "spec_version": "2.1", "id": self.vuln_ids[-1], "created": first,
                         "modified": first, "name": cve, "description": description,
                         "external_references": [{"source_name": "cve", "external_id": cve}],
                         "object_marking_refs": [tlp.TLP_MARKING[Tlp.CLEAR]]})
        r = self.r
        for n, actor in enumerate(self.actor_ids):
            for malware in r.sample(self.malware_ids, 2):
                objs.append(self.relationship(actor, "uses", malware, first, green))
            for pattern in r.sample(self.pattern_ids, 3):
                objs.append(self.relationship(actor, "uses", pattern, first, green))
        for malware in self.malware_ids:
            objs.append(self.relationship(malware, "uses", r.choice(self.pattern_ids), first, green))
            if r.random() < 0.5:
                objs.append(self.relationship(malware, "targets", r.choice(self.vuln_ids), first, green))
        return objs

    def relationship(self, source, kind, target, stamp, markings) -> dict:
        self.count("relationships")
        return {"type": "relationship", "spec_version": "2.1", "id": self.sid("relationship", source, kind, target),
                "created": stamp, "modified": stamp, "relationship_type": kind, "source_ref": source,
                "target_ref": target, "object_marking_refs": markings}

    # --- Indicators -------------------------------------------------------------------------------

    def value(self, n: int) -> tuple[str, str, str]:
        """(kind, value, STIX pattern) of the n-th synthetic value."""
        r = self.r
        pick = n % 10
        if pick < 4:
            name = f"{r.choice(WORDS)}-{r.choice(WORDS)}{r.randrange(1, 99)}.{DEMO_DOMAIN}"
            return "domain", name, f"[domain-name:value = '{name}']"
        if pick < 6:
            ip = f"{r.choice(DOC_NETS)}.{r.randrange(1, 255)}"
            return "ipv4", ip, f"[ipv4-addr:value = '{ip}']"
        if pick < 7:
            url = f"http://{r.choice(WORDS)}.{DEMO_DOMAIN}/{r.choice(WORDS)}/{r.randrange(1000, 9999)}.php"
            return "url", url, f"[url:value = '{url}']"
        digest = hashlib.sha256(f"khien-demo-{self.seed}-{n}".encode()).hexdigest()
        return "sha256", digest, f"[file:hashes.'SHA-256' = '{digest}']"

    def indicator(self, key, kind, value, pattern, created: dt.datetime, level: str, *, expired=False) -> dict:
        r = self.r
        labels = {"domain": "Tên miền", "ipv4": "Địa chỉ IP", "url": "Đường dẫn", "sha256": "Tệp"}
        purpose = r.choice(["máy chủ điều khiển", "phát tán mã độc", "trang lừa đảo", "thu thập thông tin đăng nhập",
                            "dò quét", "tải thêm mã độc"])
        obj = {
            "type": "indicator", "spec_version": "2.1", "id": self.sid("indicator", *key),
            "created": _stamp(created), "modified": _stamp(created),
            "name": f"{labels[kind]} {purpose}: {value[:80]}",
            "description": f"{labels[kind]} liên quan đến hoạt động {purpose} ghi nhận trong hệ thống giám sát (dữ liệu demo).",
            "indicator_types": [r.choice(["malicious-activity", "compromised", "anomalous-activity"])],
            "pattern": pattern, "pattern_type": "stix", "valid_from": _stamp(created),
            "confidence": r.choice([30, 50, 60, 70, 80, 85, 90, 95]),
            "labels": [kind],
            "object_marking_refs": [tlp.TLP_MARKING[level]],
        }
        if expired:
            obj["valid_until"] = _stamp(min(created + dt.timedelta(days=r.randrange(14, 90)),
                                            self.now - dt.timedelta(days=1)))
        elif r.random() < 0.5:
            obj["valid_until"] = _stamp(self.now + dt.timedelta(days=r.randrange(30, 365)))
        return obj

    def indicators(self) -> dict[str, list[dict]]:
        """Indicators per producer code (campaign values repeated across producers)."""
        r = self.r
        levels, weights = zip(*TLP_WEIGHTS)
        by_producer: dict[str, list[dict]] = {code: [] for code in INDICATOR_PRODUCERS}
        made = 0
        # Campaign values: each reported by 2–4 producers, each with its own indicator.
        for n, (kind, value) in enumerate(DEMO_CAMPAIGN_VALUES):
            path = {"domain": "domain-name:value", "url": "url:value", "sha256": "file:hashes.'SHA-256'"}[kind]
            created = self.when()
            for code in r.sample(INDICATOR_PRODUCERS, r.randrange(2, 5)):
                level = r.choice([Tlp.CLEAR, Tlp.GREEN, Tlp.GREEN, Tlp.AMBER])
                # Never dated after now: an indicator "valid from" next week reads as a mistake.
                obj = self.indicator(("campaign", n, code), kind, value, f"[{path} = '{value}']",
                                     min(created + dt.timedelta(hours=r.randrange(0, 240)), self.now), level)
                obj.pop("valid_until", None)  # campaigns are live
                by_producer[code].append(obj)
                made += 1
        n = 0
        while made < N_INDICATORS:
            kind, value, pattern = self.value(n)
            code = r.choice(INDICATOR_PRODUCERS)
            level = r.choices(levels, weights)[0]
            created = self.when()
            expired = created < self.now - dt.timedelta(days=120) and r.random() < 0.45
            by_producer[code].append(self.indicator(("n", n), kind, value, pattern, created, level, expired=expired))
            made += 1
            # A few values are independently reported by a second producer.
            if r.random() < 0.04 and made < N_INDICATORS:
                other = r.choice([c for c in INDICATOR_PRODUCERS if c != code])
                by_producer[other].append(self.indicator(("dup", n), kind, value, pattern,
                                                         min(created + dt.timedelta(days=r.randrange(0, 5)), self.now),
                                                         r.choice([Tlp.GREEN, Tlp.AMBER])))
                made += 1
            n += 1
        return by_producer

    # --- Storing ----------------------------------------------------------------------------------

    def store(self):
        r = self.r
        knowledge = self.knowledge()
        services.do_store_generated(self.national, knowledge, acting_user=self.coordinator)
        self.count("threat_objects", len(knowledge))
        by_producer = self.indicators()
        all_indicators: list[dict] = []
        for code, objs in by_producer.items():
            user = self.user(code)
            if user is None or not objs:
                continue
            # Most go to the national collection; the ISAC operators keep a share in their ISAC collection,
            # finance and banking a few in the bilateral one.
            red = [o for o in objs if o["object_marking_refs"] == [tlp.TLP_MARKING[Tlp.RED]]]
            rest = [o for o in objs if o not in red]
            targets = {"national": [], "isac": [], "bilateral": []}
            for obj in rest:
                roll = r.random()
                if code in ("BTC", "NHNN") and roll < 0.1:
                    targets["bilateral"].append(obj)
                elif code in self.isac_collections and roll < 0.4:
                    targets["isac"].append(obj)
                else:
                    targets["national"].append(obj)
            if targets["national"]:
                services.do_store_generated(self.national, targets["national"], acting_user=user)
            if targets["isac"]:
                services.do_store_generated(self.isac_collections[code], targets["isac"], acting_user=user)
            if targets["bilateral"]:
                services.do_store_generated(self.bilateral, targets["bilateral"], acting_user=user)
            if red:
                # TLP:RED goes to a few named recipients only.
                recipients = list(Organization.objects.filter(code__in=r.sample(
                    [c for c in INDICATOR_PRODUCERS if c != code], 2)))
                services.do_store_generated(self.national, red, acting_user=user, recipients=recipients)
            all_indicators += objs
            self.count("indicators", len(objs))

        # Revocations: a new version of a few indicators, revoked.
        revoked_by: dict[str, list[dict]] = {}
        for code, objs in by_producer.items():
            for obj in objs:
                if obj["object_marking_refs"] != [tlp.TLP_MARKING[Tlp.RED]] and r.random() < 0.03:
                    modified = services.parse_timestamp(obj["created"]) + dt.timedelta(days=r.randrange(5, 60))
                    revoked_by.setdefault(code, []).append(
                        {**obj, "modified": _stamp(min(modified, self.now)), "revoked": True})
        for code, objs in revoked_by.items():
            services.do_store_generated(self.national, objs, acting_user=self.user(code))
            self.count("revoked", len(objs))

        # Indicators indicate malware; monthly reports by NCSC.
        green = [tlp.TLP_MARKING[Tlp.GREEN]]
        shared = [o for o in all_indicators
                  if o["object_marking_refs"][0] in (tlp.TLP_MARKING[Tlp.CLEAR], tlp.TLP_MARKING[Tlp.GREEN])]
        links = [self.relationship(o["id"], "indicates", r.choice(self.malware_ids), o["created"], green)
                 for o in r.sample(shared, min(300, len(shared)))]
        reports = []
        for month in range(12):
            start = self.start + dt.timedelta(days=30 * month)
            refs = [o["id"] for o in shared if start <= services.parse_timestamp(o["created"])
                    < start + dt.timedelta(days=30)][:40]
            refs += r.sample(self.malware_ids, 2) + r.sample(self.actor_ids, 1)
            stamp = _stamp(start + dt.timedelta(days=30))
            reports.append({
                "type": "report", "spec_version": "2.1", "id": self.sid("report", month),
                "created": stamp, "modified": stamp, "published": stamp,
                "name": f"Bản tin tình báo mối đe dọa tháng {(start + dt.timedelta(days=30)).month}"
                        f"/{(start + dt.timedelta(days=30)).year}",
                "description": "Tổng hợp chỉ báo, mã độc và nhóm tấn công ghi nhận trong tháng (dữ liệu demo).",
                "report_types": ["threat-report"], "object_refs": refs, "object_marking_refs": green,
            })
        services.do_store_generated(self.national, links + reports, acting_user=self.coordinator)
        self.count("reports", len(reports))
        self.all_indicators = all_indicators

    # --- Early warnings ---------------------------------------------------------------------------

    def warnings(self):
        r = self.r
        plans = [
            ("Chiến dịch thư giả mạo công văn phát tán Rồng Xám Loader", Tlp.AMBER, "high",
             ["BTC", "BYT", "UBND-79", "UBND-01"], _CAMPAIGN_DOMAINS[:2], ["CVE-2023-4966"]),
            ("Khai thác lỗ hổng cổng VPN trên tường lửa", Tlp.GREEN, "critical",
             ["BCT", "BKHCN", "NHNN", "BXD"], [], ["CVE-2024-3400"]),
            ("Mã độc tống tiền KhoaĐá nhắm vào máy chủ tệp", Tlp.AMBER, "high",
             ["BYT", "BXD", "UBND-79"], _CAMPAIGN_DOMAINS[4:6], []),
            ("Trang lừa đảo giả mạo xác thực ngân hàng", Tlp.RED, "medium",
             ["NHNN", "BTC"], [_CAMPAIGN_DOMAINS[2]], []),
        ]
        for title, level, severity, codes, values, cves in plans:
            orgs = list(Organization.objects.filter(code__in=codes).order_by("code"))
            if not orgs:
                continue
            warning = services_warnings.do_issue_warning(
                {"title": title, "severity": severity, "tlp": level, "values": values, "vulnerability_refs": cves,
                 "summary": f"{title}. Các đơn vị kiểm tra nhật ký, chặn các giá trị nêu trong cảnh báo và báo cáo "
                            "kết quả xử lý (dữ liệu demo).",
                 "collection": self.national,
                 # High and critical warnings ask for an answer within three days (the follow-up is shown).
                 "respond_by": timezone.now() + dt.timedelta(days=3) if severity in ("high", "critical") else None},
                acting_user=self.coordinator, organizations=orgs, auto_match=False)
            self.count("warnings")
            for target in WarningTarget.objects.filter(warning=warning).select_related("organization") \
                    .order_by("organization__code"):
                roll = r.random()
                if roll < 0.5:
                    continue  # not acknowledged yet
                user = self.user(target.organization.code, (Role.ORG_ADMIN, Role.ORG_ANALYST))
                if user is None:
                    continue
                state = AckState.ACTED if roll < 0.8 else r.choice([AckState.RECEIVED, AckState.NOT_AFFECTED])
                services_warnings.do_acknowledge(target, state, "Đã kiểm tra và xử lý (dữ liệu demo).",
                                                 acting_user=user)
                self.count("acknowledgements")
            if severity == "critical":  # a follow-up, as a warning gets when the vendor publishes its fix
                services_warnings.do_update_warning(
                    warning, text="Hãng đã phát hành bản vá. Các đơn vị cập nhật firmware ngay, kiểm tra lại nhật ký "
                                  "truy cập VPN từ ngày công bố lỗ hổng và báo cáo kết quả (dữ liệu demo).",
                    respond_by=timezone.now() + dt.timedelta(days=5), acting_user=self.coordinator)
                self.count("warning updates")


def build(seed: int = 2026) -> dict[str, int]:
    """Build the demo intelligence (after `registry.demo.build`); returns what was made, by kind."""
    if Collection.objects.filter(alias="quoc-gia").exists():
        return {"skipped (already built)": 1}
    if not Organization.objects.filter(code="NCSC").exists():
        return {"skipped (no demo country)": 1}
    b = _Builder(seed)
    with transaction.atomic():
        b.collections()
        b.store()
        b.warnings()
        _spread_over_the_year()
    return b.counts


def _spread_over_the_year() -> None:
    """Date each demo object as added when it was created (a year of sharing), not at build time,
    so that the weekly chart and TAXII `added_after` look like a platform in use. Demo data only."""
    now = timezone.now()
    StixObject.objects.filter(created__isnull=False, created__lt=now).update(date_added=F("created"))
    CollectionObject.objects.update(date_added=Subquery(
        StixObject.objects.filter(pk=OuterRef("object_id")).values("date_added")[:1]))
