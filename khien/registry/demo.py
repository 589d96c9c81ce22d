"""`khien demo`: a synthetic but realistic country, built deterministically.

Everything here is invented: people's names are drawn from lists of common
Vietnamese family, middle and given names; companies carry "Demo" in their
names; phone numbers are of the obviously fake form "+84 24 0000 …"; e-mail
addresses and domains live under `demo.khien.vn`; IP ranges come only from
private (RFC 1918), CGNAT (RFC 6598) and documentation (RFC 5737) space.
Public bodies (ministries, provinces) carry their real names.

**Documented exception to "services own writes"** (docs/decisions/0005):
the demo writes with `bulk_create` instead of calling `services.do_*` one
object at a time, so that ~2,000 systems build in seconds. It keeps the
invariants those services enforce (paths computed from parents, suggested
level from the criteria, "in operation" only with an approved level, a
submitter never appraises or approves their own proposal, layer 3 "in place"
has a date) and writes one audit entry per created object with
`audit.record_many`, so the hash chain stays complete.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.models import User
from khien.core.roles import Role

from . import content, levels
from .models import (
    DossierFile,
    InformationSystem,
    Isac,
    LayerState,
    LevelEvent,
    LevelFramework,
    LevelStatus,
    Membership,
    OperationalStatus,
    Organization,
    OrgType,
    Province,
    Sector,
)
from .validators import normalize_domains

SEED = 2026
DEMO_DOMAIN = "demo.khien.vn"

# --- The printed demo accounts (one per role; the national coordinator first) -------------


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    org_code: str
    full_name: str


ACCOUNTS: list[DemoAccount] = [
    DemoAccount(Role.NATIONAL_COORDINATOR, f"coordinator@ncsc.{DEMO_DOMAIN}", "Demo-Khien-Coordinator-2026", "NCSC", "Nguyễn Văn Điều Phối"),
    DemoAccount(Role.ORG_ADMIN, f"admin@btc.{DEMO_DOMAIN}", "Demo-Khien-OrgAdmin-2026", "BTC", "Trần Thị Quản Trị"),
    DemoAccount(Role.ORG_ANALYST, f"analyst@ubnd-79.{DEMO_DOMAIN}", "Demo-Khien-Analyst-2026", "UBND-79", "Lê Minh Phân Tích"),
    DemoAccount(Role.RESPONDER, f"responder@ir-lachan.{DEMO_DOMAIN}", "Demo-Khien-Responder-2026", "IR-LACHAN", "Phạm Quốc Ứng Cứu"),
    DemoAccount(Role.AUDITOR, f"auditor@byt.{DEMO_DOMAIN}", "Demo-Khien-Auditor-2026", "BYT", "Hoàng Thu Kiểm Định"),
    DemoAccount(Role.TRAINEE, f"trainee@hv-antt.{DEMO_DOMAIN}", "Demo-Khien-Trainee-2026", "HV-ANTT", "Vũ Ngọc Học Viên"),
    # A member of the banking ISAC: its channels and AMBER sharing are seen from inside, not only from outside.
    DemoAccount(Role.ORG_ANALYST, f"analyst@nh-demo-bd.{DEMO_DOMAIN}", "Demo-Khien-Isac-2026", "NH-DEMO-BD",
                "Đặng Thị Lan"),
]
COORDINATOR = ACCOUNTS[0]
# The coordinator's TOTP key: deterministic so that the printed secret stays valid across rebuilds.
COORDINATOR_TOTP_KEY = hashlib.sha1(b"khien-demo-coordinator-totp").hexdigest()  # 20 bytes, hex


def totp_secret_base32(hex_key: str) -> str:
    return base64.b32encode(bytes.fromhex(hex_key)).decode().rstrip("=")


# --- Name lists (common names; any combination is synthetic) -----------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Quốc", "Ngọc", "Thu", "Anh", "Hoài", "Xuân", "Gia", "Bảo"]
GIVEN = [
    "An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh",
    "Long", "Mai", "Minh", "Nam", "Nga", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tâm", "Thảo", "Thắng", "Trang",
    "Trung", "Tuấn", "Vân", "Việt", "Yến",
]
HEAD_TITLES = [
    "Trưởng phòng An ninh mạng", "Giám đốc Trung tâm Công nghệ thông tin", "Phó Giám đốc phụ trách an toàn thông tin",
    "Trưởng bộ phận chuyên trách an ninh mạng",
]

# Ministries and ministerial-level agencies after the 2025 reorganisation (real public bodies).
MINISTRIES = [
    ("BQP", "Bộ Quốc phòng", "Ministry of National Defence", ["defence_security"]),
    ("BCA", "Bộ Công an", "Ministry of Public Security", ["defence_security"]),
    ("BNG", "Bộ Ngoại giao", "Ministry of Foreign Affairs", []),
    ("BNV", "Bộ Nội vụ", "Ministry of Home Affairs", ["egov"]),
    ("BTP", "Bộ Tư pháp", "Ministry of Justice", []),
    ("BTC", "Bộ Tài chính", "Ministry of Finance", ["finance"]),
    ("BCT", "Bộ Công Thương", "Ministry of Industry and Trade", ["energy", "commerce"]),
    ("BNNMT", "Bộ Nông nghiệp và Môi trường", "Ministry of Agriculture and Environment", ["water"]),
    ("BXD", "Bộ Xây dựng", "Ministry of Construction", ["transport"]),
    ("BVHTTDL", "Bộ Văn hóa, Thể thao và Du lịch", "Ministry of Culture, Sports and Tourism", ["media"]),
    ("BKHCN", "Bộ Khoa học và Công nghệ", "Ministry of Science and Technology", ["telecom", "egov"]),
    ("BGDDT", "Bộ Giáo dục và Đào tạo", "Ministry of Education and Training", ["education"]),
    ("BYT", "Bộ Y tế", "Ministry of Health", ["health"]),
    ("BDTTG", "Bộ Dân tộc và Tôn giáo", "Ministry of Ethnic and Religious Affairs", []),
    ("NHNN", "Ngân hàng Nhà nước Việt Nam", "State Bank of Viet Nam", ["banking"]),
    ("TTCP", "Thanh tra Chính phủ", "Government Inspectorate", []),
    ("VPCP", "Văn phòng Chính phủ", "Office of the Government", ["egov"]),
]
MINISTRY_UNITS = [
    ("CNTT", "Trung tâm Công nghệ thông tin", "IT Centre"),
    ("CDS", "Cục Chuyển đổi số", "Digital Transformation Department"),
    ("VP", "Văn phòng", "Office"),
    ("TTDL", "Trung tâm Dữ liệu", "Data Centre"),
    ("TTRA", "Thanh tra", "Inspectorate"),
    ("KHTC", "Vụ Kế hoạch – Tài chính", "Planning and Finance Department"),
    ("TCCB", "Vụ Tổ chức cán bộ", "Personnel Department"),
]
POLITICAL = [
    ("VPQH", "Văn phòng Quốc hội", "Office of the National Assembly"),
    ("TANDTC", "Tòa án nhân dân tối cao", "Supreme People's Court"),
]
PROVINCE_UNITS = [
    ("SKHCN", "Sở Khoa học và Công nghệ", "Department of Science and Technology", ["telecom", "egov"]),
    ("STC", "Sở Tài chính", "Department of Finance", ["finance"]),
    ("SYT", "Sở Y tế", "Department of Health", ["health"]),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training", ["education"]),
    ("SXD", "Sở Xây dựng", "Department of Construction", ["transport"]),
    ("SNV", "Sở Nội vụ", "Department of Home Affairs", ["egov"]),
    ("VP", "Văn phòng UBND", "Office of the People's Committee", ["egov"]),
]
COMMUNES = [
    "Phường An Phú", "Phường Tân Tiến", "Phường Trung Tâm", "Phường Hòa Bình", "Phường Thống Nhất", "Xã Tân Lập",
    "Xã Đồng Tâm", "Xã Quyết Thắng", "Xã Hòa Thuận", "Xã Phú Xuân", "Xã Tân Hòa", "Xã Bình Minh", "Phường Đông Hải",
    "Xã Thanh Sơn", "Xã Vĩnh Phúc",
]
# Fictional companies (every name carries "Demo"): no security gap is attributed to a real company.
COMPANIES = [
    # code, name_vi, name_en, type, sectors
    ("EVN-DEMO-MB", "Tổng công ty Điện lực Demo Miền Bắc", "Demo Northern Power Corporation", OrgType.SOE, ["energy"]),
    ("EVN-DEMO-MT", "Tổng công ty Điện lực Demo Miền Trung", "Demo Central Power Corporation", OrgType.SOE, ["energy"]),
    ("EVN-DEMO-MN", "Tổng công ty Điện lực Demo Miền Nam", "Demo Southern Power Corporation", OrgType.SOE, ["energy"]),
    ("TTD-DEMO", "Tổng công ty Truyền tải điện Demo", "Demo Power Transmission Corporation", OrgType.SOE, ["energy"]),
    ("DK-DEMO", "Tổng công ty Dầu khí Demo Biển Đông", "Demo East Sea Oil and Gas Corporation", OrgType.SOE, ["energy"]),
    ("XD-DEMO", "Tổng công ty Xăng dầu Demo", "Demo Petroleum Corporation", OrgType.SOE, ["energy", "commerce"]),
    ("VT-DEMO-SV", "Tổng công ty Viễn thông Demo Sao Việt", "Demo Sao Viet Telecom Corporation", OrgType.SOE, ["telecom"]),
    ("HTS-DEMO-PN", "Công ty Cổ phần Hạ tầng số Demo Phương Nam", "Demo Phuong Nam Digital Infrastructure JSC", OrgType.ENTERPRISE, ["telecom"]),
    ("BC-DEMO", "Tổng công ty Bưu chính Demo", "Demo Postal Corporation", OrgType.SOE, ["telecom"]),
    ("VT-DEMO-TS", "Công ty Cổ phần Viễn thông Demo Trường Sơn", "Demo Truong Son Telecom JSC", OrgType.ENTERPRISE, ["telecom"]),
    ("DS-DEMO", "Tổng công ty Đường sắt Demo", "Demo Railway Corporation", OrgType.SOE, ["transport"]),
    ("CHK-DEMO", "Tổng công ty Cảng hàng không Demo", "Demo Airports Corporation", OrgType.SOE, ["transport"]),
    ("HH-DEMO", "Tổng công ty Hàng hải Demo", "Demo Maritime Corporation", OrgType.SOE, ["transport"]),
    ("CT-DEMO", "Tổng công ty Đường cao tốc Demo", "Demo Expressway Corporation", OrgType.SOE, ["transport"]),
    ("VTSH-DEMO", "Công ty Cổ phần Vận tải Demo Sông Hồng", "Demo Song Hong Transport JSC", OrgType.ENTERPRISE, ["transport"]),
    ("NH-DEMO-SL", "Ngân hàng Thương mại Demo Sông Lam", "Demo Song Lam Commercial Bank", OrgType.SOE, ["banking"]),
    ("NH-DEMO-HS", "Ngân hàng Thương mại Demo Hoa Sen", "Demo Hoa Sen Commercial Bank", OrgType.SOE, ["banking"]),
    ("NH-DEMO-CL", "Ngân hàng Thương mại Demo Cửu Long", "Demo Cuu Long Commercial Bank", OrgType.ENTERPRISE, ["banking"]),
    ("NH-DEMO-BD", "Ngân hàng Thương mại Demo Bạch Đằng", "Demo Bach Dang Commercial Bank", OrgType.ENTERPRISE, ["banking"]),
    ("NH-DEMO-TN", "Ngân hàng Thương mại Demo Tây Nguyên", "Demo Tay Nguyen Commercial Bank", OrgType.ENTERPRISE, ["banking"]),
    ("NH-DEMO-HH", "Ngân hàng Thương mại Demo Hồng Hà", "Demo Hong Ha Commercial Bank", OrgType.ENTERPRISE, ["banking"]),
    ("NH-DEMO-PS", "Ngân hàng Chính sách Demo", "Demo Policy Bank", OrgType.SOE, ["banking"]),
    ("TTTT-DEMO", "Công ty Cổ phần Trung gian thanh toán Demo", "Demo Payment Switching JSC", OrgType.ENTERPRISE, ["banking", "finance"]),
    ("CK-DEMO-TL", "Công ty Cổ phần Chứng khoán Demo Thăng Long", "Demo Thang Long Securities JSC", OrgType.ENTERPRISE, ["finance"]),
    ("CK-DEMO-SG", "Công ty Cổ phần Chứng khoán Demo Sài Gòn Mới", "Demo New Saigon Securities JSC", OrgType.ENTERPRISE, ["finance"]),
    ("BH-DEMO", "Tổng công ty Bảo hiểm Demo", "Demo Insurance Corporation", OrgType.SOE, ["finance"]),
    ("BHNT-DEMO", "Công ty TNHH Bảo hiểm nhân thọ Demo An Khang", "Demo An Khang Life Insurance Ltd", OrgType.ENTERPRISE, ["finance"]),
    ("SGD-DEMO", "Trung tâm Lưu ký và Giao dịch Demo", "Demo Depository and Trading Centre", OrgType.SOE, ["finance"]),
    ("CN-DEMO-SH", "Công ty TNHH MTV Cấp nước Demo Sông Hồng", "Demo Song Hong Water Supply Ltd", OrgType.SOE, ["water"]),
    ("CN-DEMO-SG", "Công ty TNHH MTV Cấp nước Demo Sông Gianh", "Demo Song Gianh Water Supply Ltd", OrgType.SOE, ["water"]),
    ("TMDT-DEMO", "Công ty Cổ phần Thương mại điện tử Demo Chợ Số", "Demo Cho So e-Commerce JSC", OrgType.ENTERPRISE, ["commerce"]),
    ("BV-DEMO-PK", "Công ty Cổ phần Bệnh viện Demo Phúc Khang", "Demo Phuc Khang Hospital JSC", OrgType.ENTERPRISE, ["health"]),
]
HOSPITALS = [  # units under the Ministry of Health (fictional)
    ("BVDK-DEMO", "Bệnh viện Đa khoa Demo Trung ương", "Demo Central General Hospital"),
    ("BVNHI-DEMO", "Bệnh viện Nhi Demo", "Demo Children's Hospital"),
    ("BVUB-DEMO", "Bệnh viện Ung bướu Demo", "Demo Oncology Hospital"),
    ("BVTM-DEMO", "Bệnh viện Tim mạch Demo", "Demo Cardiology Hospital"),
]
RESPONDERS = [
    ("IR-LACHAN", "Công ty Cổ phần An ninh mạng Demo Lá Chắn", "Demo La Chan Cybersecurity JSC"),
    ("IR-SAOMAI", "Công ty TNHH Ứng cứu sự cố Demo Sao Mai", "Demo Sao Mai Incident Response Ltd"),
    ("IR-THANHTRI", "Công ty Cổ phần Giám sát an ninh Demo Thành Trì", "Demo Thanh Tri Security Monitoring JSC"),
    ("IR-VEQUOC", "Công ty TNHH Bảo mật Demo Vệ Quốc", "Demo Ve Quoc Security Ltd"),
    ("IR-KIEMDINH", "Công ty Cổ phần Đánh giá an toàn Demo Kiểm Định", "Demo Kiem Dinh Security Assessment JSC"),
]
TRAINING = [
    ("HV-ANTT", "Học viện Đào tạo An ninh mạng Demo", "Demo Cybersecurity Training Academy"),
    ("TT-SHATTT", "Trung tâm Sát hạch An toàn thông tin Demo", "Demo Information Security Examination Centre"),
    ("VIEN-KNS", "Viện Kỹ năng số Demo", "Demo Digital Skills Institute"),
]
ISACS = [
    # code, sector, operator code, name_vi, name_en, province-unit codes whose Sở join
    ("ISAC-FIN", "finance", "BTC", "ISAC lĩnh vực Tài chính", "Finance ISAC", ["STC"]),
    ("ISAC-BANK", "banking", "NHNN", "ISAC lĩnh vực Ngân hàng", "Banking ISAC", []),
    ("ISAC-ENERGY", "energy", "BCT", "ISAC lĩnh vực Năng lượng", "Energy ISAC", []),
    ("ISAC-TELECOM", "telecom", "BKHCN", "ISAC lĩnh vực Viễn thông", "Telecommunications ISAC", ["SKHCN"]),
    ("ISAC-TRANSPORT", "transport", "BXD", "ISAC lĩnh vực Giao thông vận tải", "Transport ISAC", ["SXD"]),
    ("ISAC-HEALTH", "health", "BYT", "ISAC lĩnh vực Y tế", "Health ISAC", ["SYT"]),
]

# System names per kind of system (the `system_kind` criterion), with a domain label.
SYSTEM_NAMES = {
    "internal_admin": [
        ("Hệ thống quản lý văn bản và điều hành", "qlvb"), ("Hệ thống thư điện tử công vụ", "mail"),
        ("Hệ thống quản lý cán bộ", "nhansu"), ("Hệ thống kế toán nội bộ", "ketoan"), ("Mạng nội bộ trụ sở", "lan"),
    ],
    "public_service": [
        ("Cổng dịch vụ công trực tuyến", "dichvucong"), ("Cổng thông tin điện tử", "portal"),
        ("Hệ thống một cửa điện tử", "motcua"), ("Ứng dụng di động phục vụ người dân", "app"),
    ],
    "infrastructure": [
        ("Trung tâm dữ liệu", "dc"), ("Hạ tầng điện toán đám mây", "cloud"), ("Mạng truyền số liệu chuyên dùng", "wan"),
    ],
    "sector_operations": [
        ("Hệ thống điều hành chuyên ngành", "dieuhanh"), ("Cơ sở dữ liệu chuyên ngành", "csdl"),
        ("Hệ thống báo cáo thống kê ngành", "baocao"),
    ],
    "industrial_control": [("Hệ thống SCADA điều độ", "scada"), ("Hệ thống điều khiển trạm", "dcs")],
    "national_platform": [("Cơ sở dữ liệu quốc gia", "csdlqg"), ("Nền tảng dùng chung quốc gia", "nentang")],
}
SECTOR_SYSTEM_NAMES = {
    "banking": [("Hệ thống ngân hàng lõi", "corebanking"), ("Hệ thống thanh toán điện tử", "thanhtoan"),
                ("Ngân hàng điện tử", "ebanking")],
    "health": [("Hệ thống bệnh án điện tử", "benhan"), ("Hệ thống quản lý bệnh viện", "his")],
    "finance": [("Hệ thống giao dịch trực tuyến", "giaodich"), ("Hệ thống quản lý hợp đồng bảo hiểm", "hopdong")],
    "energy": [("Hệ thống quản lý khách hàng dùng điện", "cmis"), ("Hệ thống đo đếm từ xa", "amr")],
    "telecom": [("Hệ thống tính cước", "billing"), ("Hệ thống quản lý thuê bao", "thuebao")],
    "transport": [("Hệ thống bán vé điện tử", "banve"), ("Hệ thống điều hành vận tải", "vantai")],
}
CPES = [
    "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*",
    "cpe:2.3:a:f5:nginx:1.24.0:*:*:*:*:*:*:*",
    "cpe:2.3:a:postgresql:postgresql:15.4:*:*:*:*:*:*:*",
    "cpe:2.3:a:oracle:database_server:19c:*:*:*:*:*:*:*",
    "cpe:2.3:a:microsoft:exchange_server:2019:*:*:*:*:*:*:*",
    "cpe:2.3:a:vmware:vcenter_server:8.0:*:*:*:*:*:*:*",
    "cpe:2.3:a:liferay:liferay_portal:7.4.3:*:*:*:*:*:*:*",
    "cpe:2.3:a:wordpress:wordpress:6.4.2:*:*:*:*:*:*:*",
    "cpe:2.3:a:moodle:moodle:4.1.5:*:*:*:*:*:*:*",
    "cpe:2.3:a:zimbra:collaboration:8.8.15:*:*:*:*:*:*:*",
    "cpe:2.3:a:apache:tomcat:9.0.80:*:*:*:*:*:*:*",
    "cpe:2.3:a:redis:redis:7.0.12:*:*:*:*:*:*:*",
]
# Private, CGNAT and documentation space only: never a real organization's public range.
PRIVATE_NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]
TEST_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]

# Level weights by kind of owner: mostly 2–3, few 5.
LEVEL_WEIGHTS = {
    "ministry": {1: 5, 2: 30, 3: 42, 4: 19, 5: 4},
    "province": {1: 10, 2: 52, 3: 33, 4: 5},
    "commune": {1: 45, 2: 50, 3: 5},
    "company": {1: 3, 2: 27, 3: 48, 4: 19, 5: 3},
    "political": {2: 20, 3: 50, 4: 25, 5: 5},
    "small": {1: 40, 2: 50, 3: 10},
}
STATUS_WEIGHTS = {
    LevelStatus.APPROVED: 55, LevelStatus.DRAFT: 17, LevelStatus.SUBMITTED: 12,
    LevelStatus.APPRAISED: 8, LevelStatus.RETURNED: 8,
}
OWNER_WEIGHTS = {  # how many systems an organization of each kind tends to own
    "ministry": 22, "ministry_unit": 7, "province": 14, "province_unit": 4, "commune": 1.5,
    "company": 12, "political": 6, "small": 1.5,
}
RETURN_NOTES = [
    "Hồ sơ thiếu phương án bảo đảm an ninh mạng theo cấp độ; đề nghị bổ sung.",
    "Chưa thuyết minh đầy đủ phạm vi dữ liệu cá nhân; đề nghị làm rõ.",
    "Đề nghị rà soát lại cấp độ đề xuất so với tiêu chí về phạm vi phục vụ.",
]
APPRAISAL_NOTES = [
    "Hồ sơ đầy đủ, cấp độ đề xuất phù hợp tiêu chí; đề nghị phê duyệt.",
    "Thống nhất cấp độ đề xuất; lưu ý bổ sung giám sát 24/7 trước khi vận hành.",
    "Phương án bảo đảm an ninh mạng đáp ứng yêu cầu của cấp độ đề xuất.",
]


# --- Builder -----------------------------------------------------------------------------


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class _Builder:
    def __init__(self, n_systems: int, seed: int):
        self.rng = random.Random(seed)
        self.n_systems = n_systems
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.orgs: list[Organization] = []
        self.by_code: dict[str, Organization] = {}
        self.kind_of: dict[str, str] = {}  # org code -> owner kind (for weights)
        self.org_sectors: dict[str, list[str]] = {}
        self.users: list[User] = []
        self.memberships: list[Membership] = []
        self.admin_of: dict[str, User] = {}  # root org code -> admin
        self.appraiser_of: dict[str, User] = {}  # root org code -> a second admin, who appraises (four eyes)
        self.analyst_of: dict[str, User] = {}
        self.changes: list[Change] = []
        self.sectors = {s.code: s for s in Sector.objects.all()}
        self.phone_n = 0

    # helpers
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def person(self) -> str:
        r = self.rng
        return f"{r.choice(FAMILY)} {r.choice(MIDDLE)} {r.choice(GIVEN)}"

    @staticmethod
    def fixed_person(n: int) -> str:
        """The n-th of a series of names drawn without the random generator."""
        return f"{FAMILY[n % len(FAMILY)]} {MIDDLE[(n // 3) % len(MIDDLE)]} {GIVEN[(n * 7) % len(GIVEN)]}"

    def phone(self) -> str:
        self.phone_n += 1
        return f"+84 24 0000 {self.phone_n:04d}"

    @staticmethod
    def slug(code: str) -> str:
        return code.lower().replace("_", "-").replace(".", "-")

    def add_org(self, code, name_vi, name_en, org_type, *, parent=None, province=None, sectors=(), kind="small"):
        org = Organization(
            id=self.uuid(), code=code, name_vi=name_vi, name_en=name_en, org_type=org_type, parent=parent,
            province=province if province is not None else (parent.province if parent is not None else None),
        )
        org.path = org.compute_path()
        slug = self.slug(code)
        org.hotline = self.phone()
        org.contact_email = f"soc@{slug}.{DEMO_DOMAIN}"
        org.duty_officer = self.person()
        org.duty_officer_phone = self.phone()
        org.head_name = self.person()
        org.head_title = self.rng.choice(HEAD_TITLES)
        org.head_email = f"truongphong@{slug}.{DEMO_DOMAIN}"
        org.head_phone = self.phone()
        org.address = f"Số {self.rng.randint(1, 300)}, đường Demo {self.rng.choice(GIVEN)}"
        self.orgs.append(org)
        self.by_code[code] = org
        self.kind_of[code] = kind
        self.org_sectors[code] = list(sectors)
        return org

    def root_of(self, org: Organization) -> Organization:
        while org.parent is not None:
            org = org.parent
        return org

    # organizations
    def build_organizations(self):
        r = self.rng
        provinces = list(Province.objects.order_by("code"))
        hanoi = next((p for p in provinces if p.code == "01"), None)
        for code, vi, en, sectors in MINISTRIES:
            ministry = self.add_org(code, vi, en, OrgType.MINISTRY, province=hanoi, sectors=sectors, kind="ministry")
            if code == "BCA":
                self.add_org("NCSC", "Trung tâm An ninh mạng quốc gia", "National Cybersecurity Centre", OrgType.AGENCY,
                             parent=ministry, sectors=["cybersecurity", "defence_security"], kind="ministry_unit")
            for ucode, uvi, uen in r.sample(MINISTRY_UNITS, r.randint(2, 4)):
                self.add_org(f"{code}-{ucode}", f"{uvi} – {vi}", f"{uen}, {en}", OrgType.AGENCY, parent=ministry,
                             sectors=sectors, kind="ministry_unit")
            if code == "BYT":
                for hcode, hvi, hen in HOSPITALS:
                    self.add_org(hcode, hvi, hen, OrgType.AGENCY, parent=ministry, sectors=["health"], kind="ministry_unit")
        for code, vi, en in POLITICAL:
            self.add_org(code, vi, en, OrgType.POLITICAL, province=hanoi, kind="political")
        for prov in provinces:
            short_vi = prov.name_vi.removeprefix("Thành phố ").removeprefix("Tỉnh ")
            pcode = f"UBND-{prov.code}"
            top = self.add_org(pcode, f"Ủy ban nhân dân {prov.name_vi}", f"People's Committee of {prov.name_en}",
                               OrgType.PROVINCE, province=prov, sectors=["egov"], kind="province")
            for ucode, uvi, uen, usectors in r.sample(PROVINCE_UNITS, r.randint(2, 4)):
                name_vi = f"{uvi} {short_vi}" if ucode != "VP" else f"{uvi} {prov.name_vi}"
                self.add_org(f"{pcode}-{ucode}", name_vi, f"{uen}, {prov.name_en}", OrgType.AGENCY, parent=top,
                             sectors=usectors, kind="province_unit")
            for i, commune in enumerate(r.sample(COMMUNES, r.randint(2, 4)), start=1):
                self.add_org(f"{pcode}-X{i:02d}", commune, f"{commune} (commune), {prov.name_en}", OrgType.COMMUNE,
                             parent=top, kind="commune")
        for code, vi, en, org_type, sectors in COMPANIES:
            self.add_org(code, vi, en, org_type, province=r.choice(provinces), sectors=sectors, kind="company")
        for code, vi, en in RESPONDERS:
            self.add_org(code, vi, en, OrgType.RESPONDER, province=r.choice(provinces), sectors=["cybersecurity"])
        for code, vi, en in TRAINING:
            self.add_org(code, vi, en, OrgType.TRAINING, province=r.choice(provinces), sectors=["cybersecurity", "education"])

        Organization.objects.bulk_create(self.orgs, batch_size=500)
        through = Organization.sectors.through
        links = [
            through(organization_id=org.id, sector_id=self.sectors[s].id)
            for org in self.orgs for s in self.org_sectors[org.code] if s in self.sectors
        ]
        through.objects.bulk_create(links, batch_size=1000)
        self.changes += [Change(action=Act.CREATE, obj=o, after=audit.snapshot(o)) for o in self.orgs]

    def build_isacs(self):
        r = self.rng
        isacs = []
        member_links = []
        through = Isac.members.through
        for code, sector, operator_code, vi, en, unit_codes in ISACS:
            # Members: the sector's organizations, and the provinces' departments of that sector.
            pool = [o for o in self.orgs if o.code != operator_code and (
                (sector in self.org_sectors[o.code] and not o.code.startswith("UBND-"))
                or (o.code.startswith("UBND-") and o.code.split("-")[-1] in unit_codes))]
            members = r.sample(pool, min(len(pool), r.randint(5, 20)))
            isac = Isac(id=self.uuid(), code=code, name_vi=vi, name_en=en, sector=self.sectors.get(sector),
                        operator=self.by_code[operator_code],
                        description=f"Cộng đồng chia sẻ thông tin an ninh mạng {vi.removeprefix('ISAC ')} (dữ liệu demo).")
            isacs.append(isac)
            member_links += [through(isac_id=isac.id, organization_id=m.id) for m in members]
        Isac.objects.bulk_create(isacs)
        through.objects.bulk_create(member_links, batch_size=1000)
        self.changes += [Change(action=Act.CREATE, obj=i, after=audit.snapshot(i), organization_id=str(i.operator_id))
                         for i in isacs]
        self.isacs = isacs

    # people
    def build_people(self):
        printed = {(a.org_code, a.role): a for a in ACCOUNTS}
        hashed = {a.email: self._hash(a.password) for a in ACCOUNTS}

        def make_user(email, full_name, password_hash=None):
            u = User(id=self.uuid(), email=email, full_name=full_name, date_joined=self.now)
            if password_hash:
                u.password = password_hash
            else:
                u.set_unusable_password()
            self.users.append(u)
            return u

        def member(user, org, role):
            self.memberships.append(Membership(user=user, organization=org, role=role))

        # The printed accounts.
        for a in ACCOUNTS:
            u = make_user(a.email, a.full_name, hashed[a.email])
            member(u, self.by_code[a.org_code], a.role)
            if a.role == Role.ORG_ADMIN:
                self.admin_of[a.org_code] = u
            if a.role == Role.ORG_ANALYST:
                self.analyst_of[a.org_code] = u
        self.coordinator = self.users[0]
        # One administrator and one analyst per top-level organization: the people in the level history.
        for org in self.orgs:
            if org.parent is not None:
                continue
            slug = self.slug(org.code)
            if org.code not in self.admin_of:
                self.admin_of[org.code] = u = make_user(f"admin@{slug}.{DEMO_DOMAIN}", self.person())
                member(u, org, Role.ORG_ADMIN)
            if org.code not in self.analyst_of:
                self.analyst_of[org.code] = u = make_user(f"analyst@{slug}.{DEMO_DOMAIN}", self.person())
                member(u, org, Role.ORG_ANALYST)
        # Four eyes: whoever appraised a level does not approve it, so the history's appraisals are by a second
        # person — the organization's security unit, and a national appraiser — and the printed accounts can still
        # approve what waits for them. Their names use no random draw: the rest of the demo stays as it was; their
        # addresses sort after the printed ones, which later demo parts take as "the" administrator or coordinator.
        roots = [o for o in self.orgs if o.parent is None]
        for n, org in enumerate(roots):
            self.appraiser_of[org.code] = u = make_user(f"thamdinh@{self.slug(org.code)}.{DEMO_DOMAIN}",
                                                        self.fixed_person(n))
            member(u, org, Role.ORG_ADMIN)
        national = self.by_code[COORDINATOR.org_code]
        self.national_appraiser = make_user(f"thamdinh@{self.slug(national.code)}.{DEMO_DOMAIN}",
                                            self.fixed_person(len(roots)))
        member(self.national_appraiser, national, Role.NATIONAL_COORDINATOR)
        assert all(key in {(m.organization.code, m.role) for m in self.memberships} for key in printed)
        User.objects.bulk_create(self.users, batch_size=500)
        Membership.objects.bulk_create(self.memberships, batch_size=500)
        self.changes += [Change(action=Act.CREATE, obj=u, after=audit.snapshot(u)) for u in self.users]
        self.changes += [Change(action=Act.CREATE, obj=m, after=audit.snapshot(m), organization_id=str(m.organization_id))
                         for m in self.memberships]
        device = TOTPDevice.objects.create(user=self.coordinator, name="Khiên (demo)", confirmed=True, key=COORDINATOR_TOTP_KEY)
        # The key is a secret: it never enters the log (as in core.services.do_confirm_totp_device).
        self.changes.append(Change(action=Act.CREATE, obj=device, after={"user": str(self.coordinator.pk), "confirmed": True}))

    @staticmethod
    def _hash(password: str) -> str:
        from django.contrib.auth.hashers import make_password

        return make_password(password)

    # systems
    def _criteria_for(self, fw_questions, level: int, owner: Organization) -> dict[str, str]:
        """Answers whose highest level is exactly `level` (the suggestion then equals it)."""
        r = self.rng
        sectors = self.org_sectors[owner.code] + self.org_sectors.get(self.root_of(owner).code, [])
        answers = {}
        for q in fw_questions:
            options = [o for o in q["options"] if int(o["min_level"]) <= level]
            if q["id"] == "system_kind":
                allowed = {"internal_admin", "public_service", "infrastructure"}
                if owner.org_type not in (OrgType.COMMUNE, OrgType.RESPONDER, OrgType.TRAINING):
                    allowed.add("sector_operations")
                if {"energy", "water", "transport"} & set(sectors) and owner.org_type in (OrgType.SOE, OrgType.ENTERPRISE):
                    allowed.add("industrial_control")
                if owner.org_type in (OrgType.MINISTRY, OrgType.AGENCY) and owner.code.split("-")[0] in {m[0] for m in MINISTRIES}:
                    allowed.add("national_platform")
                options = [o for o in options if o["id"] in allowed] or options
            # Lean towards answers near the level: realistic, and fewer forced fixes below.
            weights = [1 + 2 * int(o["min_level"] >= level - 1) for o in options]
            answers[q["id"]] = r.choices(options, weights)[0]["id"]
        reached = max(int(o["min_level"]) for q in fw_questions for o in q["options"] if o["id"] == answers[q["id"]])
        if reached < level:
            candidates = [(q["id"], o["id"]) for q in fw_questions for o in q["options"]
                          if int(o["min_level"]) == level and q["id"] != "system_kind"]
            qid, oid = r.choice(candidates)
            answers[qid] = oid
        return answers

    def _name_for(self, kind: str, owner: Organization) -> tuple[str, str]:
        sectors = self.org_sectors[owner.code]
        pool = list(SYSTEM_NAMES[kind])
        if kind in ("sector_operations", "public_service", "internal_admin"):
            for s in sectors:
                pool += SECTOR_SYSTEM_NAMES.get(s, []) if kind != "internal_admin" else []
        return self.rng.choice(pool)

    def _ip_ranges(self, internet_facing: bool) -> list[str]:
        r = self.rng
        nets = []
        for _i in range(r.randint(1, 3)):
            base = r.choice(PRIVATE_NETS)
            prefix = r.choice([22, 24, 24, 26])
            count = 2 ** (prefix - base.prefixlen)
            sub = ipaddress.ip_network((int(base.network_address) + r.randrange(count) * 2 ** (32 - prefix), prefix))
            nets.append(str(sub))
        if internet_facing:
            base = r.choice(TEST_NETS)
            sub = ipaddress.ip_network((int(base.network_address) + r.randrange(16) * 16, 28))
            nets.append(str(sub))
        return sorted(set(nets))

    def _layers(self, system: InformationSystem, level: int, providers: list[str]):
        r = self.rng
        good = 0.45 + 0.1 * level  # higher levels are better covered, never perfectly

        def state():
            x = r.random()
            return LayerState.IN_PLACE if x < good else (LayerState.PARTIAL if x < good + 0.2 else LayerState.MISSING)

        system.layer1_status = state()
        system.layer1_evidence = "Quyết định thành lập bộ phận chuyên trách an ninh mạng (demo)." if system.layer1_status != LayerState.MISSING else ""
        system.layer2_status = state()
        if system.layer2_status != LayerState.MISSING:
            system.layer2_provider = r.choice(providers + ["Tự giám sát (SOC nội bộ)"])
            system.layer2_evidence = "Hợp đồng dịch vụ giám sát 24/7 (demo)."
        system.layer3_status = state()
        if system.layer3_status != LayerState.MISSING:
            # Some assessments are older than a year: a gap even though the layer was "in place".
            system.layer3_assessed_on = self.today - dt.timedelta(days=r.randint(20, 720))
            system.layer3_assessor = r.choice(providers)
            system.layer3_evidence = "Báo cáo đánh giá độc lập (demo)."
        system.layer4_status = state() if level >= 3 else r.choice([LayerState.MISSING, LayerState.MISSING, LayerState.PARTIAL, LayerState.IN_PLACE])
        if system.layer4_status == LayerState.IN_PLACE:
            system.layer4_connected_on = self.today - dt.timedelta(days=r.randint(30, 900))
            system.layer4_evidence = "Biên bản kết nối với hệ thống giám sát quốc gia (demo)."

    def _forced_plan(self):
        """The first systems cover every level x status (and every operational status) for sure."""
        plan = []
        statuses = [LevelStatus.DRAFT, LevelStatus.SUBMITTED, LevelStatus.APPRAISED, LevelStatus.APPROVED, LevelStatus.RETURNED]
        op_cycle = [OperationalStatus.IN_OPERATION, OperationalStatus.SUSPENDED, OperationalStatus.RETIRED, OperationalStatus.PLANNED]
        for i, (level, status) in enumerate((lvl, st) for lvl in range(1, 6) for st in statuses):
            plan.append((level, status, op_cycle[i % 4] if status == LevelStatus.APPROVED else None))
        return plan

    def build_systems(self):
        r = self.rng
        fw = levels.current_framework()
        fw_questions = fw.data["questions"]
        owners = [o for o in self.orgs]
        weights = [OWNER_WEIGHTS[self.kind_of[o.code]] for o in owners]
        ministries = [o for o in self.orgs if o.org_type == OrgType.MINISTRY]
        providers = [n for _c, n, _e in RESPONDERS]
        data_centre = self.by_code["VT-DEMO-SV"]
        forced = self._forced_plan()
        per_owner: dict[str, int] = {}
        systems, events, dossiers = [], [], []
        status_choices, status_weights = zip(*STATUS_WEIGHTS.items())
        same_name: dict[tuple[str, str], int] = {}
        for i in range(self.n_systems):
            if i < len(forced):
                level, status, op = forced[i]
                owner = r.choice(ministries)
            else:
                owner = r.choices(owners, weights)[0]
                lw = LEVEL_WEIGHTS[{"ministry_unit": "ministry", "province_unit": "province"}.get(self.kind_of[owner.code], self.kind_of[owner.code])]
                level = r.choices(list(lw), list(lw.values()))[0]
                status = r.choices(status_choices, status_weights)[0]
                op = None
            answers = self._criteria_for(fw_questions, level, owner)
            suggestion = levels.suggest_level(fw, answers)
            assert suggestion.level == level, (answers, level, suggestion.level)
            kind = answers["system_kind"]
            name, label = self._name_for(kind, owner)
            per_owner[owner.code] = n = per_owner.get(owner.code, 0) + 1
            # The same kind twice in one organization: numbered, so pickers and lists tell the systems apart.
            same_name[owner.code, name] = repeat = same_name.get((owner.code, name), 0) + 1
            if repeat > 1:
                name = f"{name} (hệ thống {repeat})"
            slug = self.slug(owner.code)
            internet_facing = kind == "public_service" or r.random() < 0.25
            system = InformationSystem(
                id=self.uuid(), code=f"HT-{owner.code}-{n:03d}", name=f"{name} – {owner.name_vi}", owner=owner,
                operator=data_centre if (kind != "industrial_control" and r.random() < 0.12) else None,
                purpose=f"{name} phục vụ hoạt động của {owner.name_vi} (dữ liệu demo).",
                framework=fw, criteria=answers, suggested_level=level, suggestion_reason=suggestion.reason_text,
                proposed_level=level, level_status=status,
                important_to_national_security=answers["impact"] in ("national_security", "national_security_severe")
                or (level >= 4 and r.random() < 0.5),
                internet_facing=internet_facing,
                ip_ranges=self._ip_ranges(internet_facing),
                # Stored as every write path stores them (normalize_domains: sorted), so an export re-imports unchanged.
                domains=normalize_domains([f"{label}.{slug}.{DEMO_DOMAIN}"]
                                          + ([f"api-{label}.{slug}.{DEMO_DOMAIN}"] if r.random() < 0.2 else [])),
                products=sorted(set(r.sample(CPES, r.randint(0, 3)))),
            )
            self._layers(system, level, providers)
            events += self._history(system, owner, status)
            if system.approved_level is not None:
                system.operational_status = op or r.choices(
                    [OperationalStatus.IN_OPERATION, OperationalStatus.SUSPENDED, OperationalStatus.RETIRED, OperationalStatus.PLANNED],
                    [85, 4, 3, 8])[0]
            else:
                system.operational_status = r.choices([OperationalStatus.PLANNED, OperationalStatus.SUSPENDED], [95, 5])[0]
            if system.level_status != LevelStatus.DRAFT or system.approved_level is not None:
                dossiers.append(self._dossier(system, owner))
            systems.append(system)
        InformationSystem.objects.bulk_create(systems, batch_size=500)
        LevelEvent.objects.bulk_create(events, batch_size=1000)
        DossierFile.objects.bulk_create(dossiers, batch_size=500)
        self.changes += [Change(action=Act.CREATE, obj=s, after=audit.snapshot(s)) for s in systems]
        owner_of = {s.id: str(s.owner_id) for s in systems}
        self.changes += [Change(action=Act.CREATE, obj=d, after=audit.snapshot(d), organization_id=owner_of[d.system_id])
                         for d in dossiers]
        # Named by the event's own text (its system's id, shown as the system's name): the log keeps the text as
        # written, and the step and statuses read as words on the entry's page (the model's choices), not as codes.
        self.changes += [Change(action=Act.CREATE, obj=e, after=audit.snapshot(e), organization_id=owner_of[e.system_id])
                         for e in events]
        self.systems, self.events, self.dossiers = systems, events, dossiers

    def _dossier(self, system: InformationSystem, owner: Organization) -> DossierFile:
        body = (f"HỒ SƠ ĐỀ XUẤT CẤP ĐỘ (DỮ LIỆU DEMO)\nHệ thống: {system.name}\nChủ quản: {owner.name_vi}\n"
                f"Cấp độ đề xuất: {system.proposed_level}\n").encode()
        d = DossierFile(id=self.uuid(), system=system, original_name="ho-so-de-xuat-cap-do.txt", size=len(body),
                        sha256=hashlib.sha256(body).hexdigest(), content_type="text/plain",
                        uploaded_by=self.analyst_of[self.root_of(owner).code], uploaded_at=self._first_submit_at)
        d.file.name = f"dossiers/{system.id}/{d.id.hex}"
        self._files.append((d.file.name, body))
        return d

    def _history(self, system: InformationSystem, owner: Organization, status: str) -> list[LevelEvent]:
        """Level events consistent with `status`: who submitted, appraised, approved or returned, and when."""
        r = self.rng
        root = self.root_of(owner).code
        analyst, admin = self.analyst_of[root], self.admin_of[root]
        level = system.proposed_level
        fw = system.framework

        def who(stage):
            if levels.authority(fw, level, stage) == "owner":
                return self.appraiser_of[root] if stage == "appraised_by" else admin
            return self.national_appraiser if stage == "appraised_by" else self.coordinator

        # At most six steps of at most ~41 days each: starting 250+ days ago keeps every step in the past.
        t = self.now - dt.timedelta(days=r.randint(250, 1100))
        events: list[LevelEvent] = []

        def step(action, frm, to, actor, note="", **extra):
            nonlocal t
            t = t + dt.timedelta(days=r.randint(2, 40), hours=r.randint(0, 8))
            events.append(LevelEvent(system=system, action=action, from_status=frm, to_status=to, level=level, actor=actor,
                                     actor_email=actor.email, at=t, note=note, **extra))

        S = LevelStatus
        revised = status == S.DRAFT and r.random() < 0.25
        resubmitted = status == S.SUBMITTED and r.random() < 0.2
        if status == S.DRAFT and not revised:
            self._first_submit_at = t
            return events
        step("submit", S.DRAFT, S.SUBMITTED, analyst)
        self._first_submit_at = events[0].at
        if resubmitted:
            step("return", S.SUBMITTED, S.RETURNED, who("appraised_by"), r.choice(RETURN_NOTES))
            step("submit", S.RETURNED, S.SUBMITTED, analyst)
        if status == S.SUBMITTED:
            return events
        if status == S.RETURNED:
            if r.random() < 0.5:
                step("return", S.SUBMITTED, S.RETURNED, who("appraised_by"), r.choice(RETURN_NOTES))
            else:
                opinion = r.choice(APPRAISAL_NOTES)
                step("appraise", S.SUBMITTED, S.APPRAISED, who("appraised_by"), opinion)
                system.appraisal_opinion = opinion
                step("return", S.APPRAISED, S.RETURNED, who("approved_by"), r.choice(RETURN_NOTES))
            return events
        opinion = r.choice(APPRAISAL_NOTES)
        step("appraise", S.SUBMITTED, S.APPRAISED, who("appraised_by"), opinion)
        system.appraisal_opinion = opinion
        if status == S.APPRAISED:
            return events
        step("approve", S.APPRAISED, S.APPROVED, who("approved_by"))
        approve = events[-1]
        approve.decision_date = timezone.localtime(approve.at).date()
        approve.decision_number = f"{r.randint(100, 4999)}/QĐ-{root}"
        system.approved_level = level
        system.decision_number = approve.decision_number
        system.decision_date = approve.decision_date
        if revised:
            step("revise", S.APPROVED, S.DRAFT, analyst, "Nâng cấp hệ thống; lập lại hồ sơ đề xuất cấp độ.")
        return events

    def write_files(self):
        root = Path(settings.MEDIA_ROOT)
        for name, body in self._files:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)

    def build(self) -> Result:
        self._files: list[tuple[str, bytes]] = []
        self._first_submit_at = self.now
        self.build_organizations()
        self.build_isacs()
        self.build_people()
        self.build_systems()
        audit.record_many(self.changes, actor=None)
        self.write_files()
        return Result(counts={
            "organizations": len(self.orgs), "isacs": len(self.isacs), "users": len(self.users),
            "systems": len(self.systems), "level_events": len(self.events), "dossier_files": len(self.dossiers),
            "audit_entries": len(self.changes),
        })


def build(n_systems: int = 2000, seed: int = SEED) -> Result:
    """Build the demo country in one transaction (content files are loaded first if needed)."""
    started = time.perf_counter()
    with translation.override("vi"):
        if not LevelFramework.objects.filter(is_current=True).exists() or not Province.objects.exists():
            content.load_all()
        with transaction.atomic():
            result = _Builder(n_systems, seed).build()
    result.seconds = time.perf_counter() - started
    return result


def accounts_table() -> str:
    """The demo accounts with their passwords (the national coordinator first)."""
    rows = [("Role", "E-mail", "Password", "Organization")]
    present = {u.email: u for u in User.objects.filter(email__in=[a.email for a in ACCOUNTS])}
    for a in ACCOUNTS:
        mark = "" if a.email in present else "  (missing: run `khien demo`)"
        rows.append((str(a.role), a.email, a.password, a.org_code + mark))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["Demo accounts (synthetic data; change or delete them before any real use):"]
    for i, row in enumerate(rows):
        lines.append("  " + "  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    device = TOTPDevice.objects.filter(user__email=COORDINATOR.email, confirmed=True).first()
    if device is not None:
        lines.append("")
        lines.append(f"The national coordinator signs in with a second factor (TOTP). Secret (base32): "
                     f"{totp_secret_base32(device.key)}")
        lines.append(f"  add it to an authenticator app, or print the current code with: khien totp {COORDINATOR.email}")
    return "\n".join(lines)
