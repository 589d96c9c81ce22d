"""Demo incidents: a year of synthetic incident reports across the demo country (`khien demo`).

Called by `khien demo` after the registry (and the intelligence demo) with
`build(seed)`. Everything is invented: titles and descriptions are generic,
observables come from documentation IP space (RFC 5737), `*.demo.khien.vn`
domains and random hashes.

**Documented exception to "services own writes"** (like khien/registry/demo.py,
docs/decisions/0005): the demo writes with `bulk_create` instead of calling
`services.do_*` one object at a time, so that ~600 incidents with their
journals build in seconds. It keeps the invariants the services enforce:
references numbered per year in reporting order (and the counters set), the
status times and the journal agree (one status event per step, in order),
report stages in order, responders are active responder organizations,
evidence notes carry the SHA-256 of their text and a first custody step,
deadline notices already due are marked sent (so the escalation job does
not send a year of old notices at the first run), and one audit entry is
written per created incident, assignment, task, observable and evidence item
with `audit.record_many`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import uuid

from django.db import transaction
from django.utils import timezone, translation

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.roles import Role
from khien.core.scoping import reaching_line
from khien.registry.models import InformationSystem, Membership, Organization, OrgType

from . import content, deadlines, notices, services
from .models import (
    STATUS_TIME_FIELDS,
    CustodyAction,
    CustodyEvent,
    EventKind,
    Evidence,
    EvidenceKind,
    Incident,
    IncidentCounter,
    IncidentEvent,
    Observable,
    ReportingPolicy,
    ResponderAssignment,
    Status,
    Task,
    TaskParty,
    TaskStatus,
    TaskTemplates,
    Taxonomy,
)

DEFAULT_COUNT = 600
H = dt.timedelta(hours=1)

# Why a late report was late, as reporting organizations write it (the demo's late reports give one).
LATE_REASONS = (
    "Sự cố xảy ra ngoài giờ hành chính; cán bộ trực chỉ xác nhận được vào sáng hôm sau.",
    "Ban đầu nhận định là lỗi phần mềm, đến khi rà soát nhật ký mới xác định là sự cố an toàn thông tin.",
    "Nhà cung cấp dịch vụ thông báo chậm cho đơn vị về sự cố trên hệ thống do họ vận hành.",
    "Cán bộ phụ trách đang công tác; việc báo cáo chờ lãnh đạo đơn vị phê duyệt.",
)

# (category, weight, title templates, description)
CATEGORIES = [
    ("phishing", 14, ["Chiến dịch thư điện tử giả mạo nhắm vào cán bộ", "Trang đăng nhập giả mạo cổng dịch vụ công",
                      "Thư lừa đảo mạo danh lãnh đạo đơn vị"],
     "Nhiều cán bộ nhận được thư giả mạo dẫn tới trang đăng nhập không chính thức."),
    ("infected-system", 12, ["Máy trạm nhiễm mã độc", "Máy chủ nhiễm mã độc đào tiền ảo",
                             "Phát hiện mã độc đánh cắp thông tin trên máy trạm"],
     "Hệ thống giám sát phát hiện tiến trình lạ kết nối ra máy chủ điều khiển bên ngoài."),
    ("scanner", 10, ["Rà quét cổng dịch vụ từ bên ngoài", "Rà quét lỗ hổng ứng dụng web"],
     "Ghi nhận lưu lượng rà quét có hệ thống vào dải địa chỉ công khai của đơn vị."),
    ("ddos", 7, ["Tấn công từ chối dịch vụ phân tán vào cổng thông tin", "DDoS vào hệ thống dịch vụ công trực tuyến"],
     "Lưu lượng truy cập tăng đột biến khiến cổng thông tin phản hồi chậm hoặc gián đoạn."),
    ("brute-force", 8, ["Dò mật khẩu dịch vụ VPN", "Dò mật khẩu tài khoản thư điện tử"],
     "Nhiều lần đăng nhập thất bại liên tiếp từ các địa chỉ lạ."),
    ("exploit", 6, ["Khai thác lỗ hổng trên máy chủ ứng dụng", "Khai thác lỗ hổng phần mềm quản lý văn bản"],
     "Phát hiện yêu cầu khai thác lỗ hổng đã công bố trên máy chủ ứng dụng."),
    ("application-compromise", 5, ["Chèn mã độc vào trang thông tin điện tử", "Thay đổi giao diện trang web (deface)"],
     "Nội dung trang thông tin điện tử bị thay đổi trái phép."),
    ("privileged-account-compromise", 3, ["Lộ tài khoản quản trị hệ thống", "Tài khoản quản trị bị chiếm quyền"],
     "Tài khoản quản trị đăng nhập từ địa điểm và thời gian bất thường."),
    ("data-leak", 4, ["Rò rỉ dữ liệu cá nhân người dân", "Lộ cơ sở dữ liệu hồ sơ"],
     "Phát hiện dữ liệu của đơn vị được rao bán trên diễn đàn."),
    ("c2-server", 3, ["Máy chủ trong mạng liên lạc với máy chủ điều khiển (C2)"],
     "Phát hiện kết nối định kỳ tới tên miền điều khiển đã biết."),
    ("misconfiguration", 4, ["Cấu hình sai làm lộ dịch vụ quản trị ra Internet", "Dịch vụ lưu trữ mở công khai"],
     "Dịch vụ quản trị được mở ra Internet do cấu hình sai."),
    ("outage", 3, ["Gián đoạn hệ thống do sự cố hạ tầng"], "Hệ thống ngừng hoạt động ngoài kế hoạch."),
    ("spam", 3, ["Máy chủ thư bị lợi dụng phát tán thư rác"], "Máy chủ thư điện tử gửi số lượng lớn thư rác."),
    ("malware-distribution", 3, ["Trang web bị lợi dụng phát tán mã độc"], "Trang web của đơn vị chứa liên kết tải mã độc."),
    ("unauthorised-information-access", 3, ["Truy cập trái phép hệ thống thông tin"],
     "Phát hiện truy cập trái phép vào cơ sở dữ liệu nghiệp vụ."),
]
SEVERITIES = [("low", 34), ("medium", 36), ("high", 22), ("critical", 8)]
TLPS = [("amber", 70), ("green", 20), ("amber_strict", 6), ("red", 4)]
TASKS = ["Cô lập máy bị ảnh hưởng", "Thu thập nhật ký hệ thống", "Chặn địa chỉ nguồn tấn công trên tường lửa",
         "Đổi mật khẩu các tài khoản liên quan", "Rà soát và vá lỗ hổng", "Khôi phục dữ liệu từ bản sao lưu",
         "Báo cáo lãnh đạo đơn vị", "Phân tích mẫu mã độc"]
COMMENTS = ["Đã liên hệ đầu mối kỹ thuật của đơn vị.", "Đang chờ nhật ký từ nhà cung cấp dịch vụ.",
            "Đã xác định phạm vi ảnh hưởng ban đầu.", "Đề nghị đơn vị giữ nguyên hiện trạng để thu thập chứng cứ."]
NOTES = ["Ảnh chụp màn hình cảnh báo từ hệ thống giám sát.", "Bản ghi nhật ký tường lửa trong khoảng thời gian sự cố.",
         "Mô tả hiện trạng máy chủ tại thời điểm phát hiện."]


def _weighted(rng: random.Random, items):
    values, weights = zip(*[(i[0], i[1]) for i in items if i[1] > 0])
    return rng.choices(values, weights=weights)[0]


class _Builder:
    def __init__(self, seed: int, count: int, now: dt.datetime):
        self.rng = random.Random(f"incidents-{seed}")
        self.count = count
        self.now = now
        self.taxonomy, self.policy = Taxonomy.current(), ReportingPolicy.current()
        self.templates = TaskTemplates.current()
        self.incidents: list[Incident] = []
        self.events: list[IncidentEvent] = []
        self.assignments: list[ResponderAssignment] = []
        self.tasks: list[Task] = []
        self.observables: list[Observable] = []
        self.evidence: list[Evidence] = []
        self.custody: list[CustodyEvent] = []
        self.systems: list = []
        self.changes: list[Change] = []

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def load_people(self):
        orgs = list(Organization.objects.filter(is_active=True).order_by("code"))
        self.reporters = [o for o in orgs if o.org_type not in (OrgType.RESPONDER, OrgType.TRAINING)]
        self.responders = [o for o in orgs if o.org_type == OrgType.RESPONDER]
        members = list(Membership.objects.filter(role__in=[Role.ORG_ADMIN, Role.ORG_ANALYST, Role.RESPONDER,
                                                           Role.NATIONAL_COORDINATOR], user__is_active=True)
                       .select_related("user", "organization").order_by("organization__path", "user__email"))
        self.by_path: dict[str, list] = {}
        for m in members:
            self.by_path.setdefault(m.organization.path, []).append(m)
        self.coordinator = next((m.user for m in members if m.role == Role.NATIONAL_COORDINATOR), None)
        systems = InformationSystem.objects.filter(owner__in=self.reporters).values_list("pk", "owner_id")
        self.systems_of: dict = {}
        for pk, owner in systems.order_by("code"):
            self.systems_of.setdefault(owner, []).append(pk)

    def person_for(self, org):
        """Someone of the organization or of its nearest ancestor who may act for it (admin or analyst)."""
        boundaries = {path for path, ms in self.by_path.items() if any(m.role == Role.NATIONAL_COORDINATOR for m in ms)}
        for prefix in reversed(reaching_line(org, boundaries)):  # not from above the coordinator's organization
            found = [m.user for m in self.by_path.get(prefix, []) if m.role in (Role.ORG_ADMIN, Role.ORG_ANALYST)]
            if found:
                return self.rng.choice(found)
        return self.coordinator

    def responder_person(self, org):
        found = [m.user for paths in (self.by_path.get(org.path, []),) for m in paths]
        return found[0] if found else self.coordinator

    def event(self, incident, kind, actor, at, **fields):
        self.events.append(IncidentEvent(incident=incident, kind=kind, actor=actor,
                                         actor_email=getattr(actor, "email", "") or "", at=at, **fields))

    def step(self, incident, status, actor, at):
        """One workflow step: its journal line and its status time."""
        self.event(incident, EventKind.STATUS, actor, at, from_status=incident.status, to_status=status)
        incident.status = status
        setattr(incident, STATUS_TIME_FIELDS[status], at)

    def standard_tasks(self, incident, triager, reporter, responder):
        """The standard tasks of the category, planned at triage as `services.do_transition` does (one journal line
        listing them, due `due_hours` after triage), then worked on: those of a resolved incident done (a few
        cancelled), those of an incident still in response done when well past their due time, else in progress or
        open; each one done or cancelled has its journal line, as `services.do_set_task_status` writes it."""
        if self.templates is None:
            return
        r = self.rng
        entries = self.templates.for_category(self.taxonomy, incident.category)
        if not entries:
            return
        finished = incident.status in (Status.RESOLVED, Status.CLOSED)
        end = incident.resolved_at or self.now
        owners = {TaskParty.REPORTER: reporter, TaskParty.COORDINATOR: self.coordinator,
                  TaskParty.RESPONDER: self.responder_person(responder) if responder else None}
        tasks, worked = [], []
        for entry in entries:
            due_at = incident.triaged_at + entry["due_hours"] * H
            task = Task(id=self.uuid(), incident=incident, title=services.standard_task_text(entry, "title")[:300],
                        description=services.standard_task_text(entry, "description"), party=entry["party"],
                        template_code=entry["code"], owner=owners.get(entry["party"]), due_at=due_at,
                        status=TaskStatus.OPEN, created_by=triager)
            if finished:
                task.status = TaskStatus.CANCELLED if r.random() < 0.08 else TaskStatus.DONE
            elif due_at < self.now and r.random() < 0.75:
                task.status = TaskStatus.DONE
            elif r.random() < 0.5:
                task.status = TaskStatus.IN_PROGRESS
            if task.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
                # Done around its due time (a little late sometimes), never after the response ended nor in the future.
                at = min(incident.triaged_at + entry["due_hours"] * r.uniform(0.3, 1.2) * H, end, self.now)
                worked.append((task, max(at, incident.triaged_at)))  # journaled after the line that planned it
            tasks.append(task)
        self.tasks.extend(tasks)
        self.event(incident, EventKind.TASK, triager, incident.triaged_at, text="\n".join(t.title for t in tasks),
                   data={"action": "standard", "tasks": [str(t.pk) for t in tasks],
                         "codes": [t.template_code for t in tasks], "category": incident.category,
                         "version": self.templates.version})
        for task, at in worked:
            self.event(incident, EventKind.TASK, task.owner or triager, at, text=task.title,
                       data={"task_id": str(task.pk), "from": TaskStatus.OPEN, "status": task.status})

    def build_one(self, n: int):
        r = self.rng
        age_days = r.random() ** 1.15 * 364  # a little more recent activity
        reported_at = self.now - dt.timedelta(days=age_days, minutes=r.randint(5, 600))
        late = r.random() < 0.12
        delay = r.uniform(25, 60) if late else r.triangular(0.2, 23.5, 4)
        detected_at = reported_at - delay * H
        category = _weighted(r, CATEGORIES)
        spec = next(c for c in CATEGORIES if c[0] == category)
        severity = _weighted(r, SEVERITIES)
        if category in ("ddos", "data-leak", "privileged-account-compromise") and severity == "low":
            severity = "medium"
        org = r.choice(self.reporters)
        reporter = self.person_for(org)
        incident = Incident(
            id=self.uuid(), organization=org, title=r.choice(spec[2]), detected_at=detected_at,
            reported_at=reported_at, taxonomy=self.taxonomy, category=category, policy=self.policy,
            severity=severity, suspected_malicious=category not in ("outage", "misconfiguration"),
            impact_beyond_organization=r.random() < 0.2, description=spec[3] + " (dữ liệu demo)",
            tlp=_weighted(r, TLPS), status=Status.NEW, created_by=reporter,
            data_exposed=category in ("data-leak", "unauthorised-information-access") or r.random() < 0.05,
            # A late report gives its reason (the form and the service require it); picked without the generator,
            # so that the rest of the demo stays the same for a seed.
            late_reason=LATE_REASONS[n % len(LATE_REASONS)] if late else "",
        )
        incident.personal_data_exposed = incident.data_exposed and r.random() < 0.6
        self.event(incident, EventKind.REPORTED, reporter, reported_at, to_status=Status.NEW)

        # Workflow: each step happens unless it would be in the future; a few incidents stall.
        sla = deadlines.severity_sla(severity, self.policy.data)
        stall = r.random() < 0.06
        triage_in = sla["triage_hours"] * (r.uniform(0.1, 0.9) if r.random() < 0.85 else r.uniform(1.1, 3))
        contain_in = sla["contain_hours"] * (r.uniform(0.15, 0.9) if r.random() < 0.85 else r.uniform(1.05, 2))
        plan = [(Status.TRIAGED, reported_at + triage_in * H)]
        plan.append((Status.IN_RESPONSE, plan[-1][1] + r.uniform(0.3, 6) * H))
        plan.append((Status.CONTAINED, max(plan[-1][1] + 0.5 * H, reported_at + contain_in * H)))
        plan.append((Status.RESOLVED, plan[-1][1] + r.uniform(2, 96) * H))
        # Closing waits for the final report, itself given once resolved: see below.
        closes = not stall
        if stall:
            plan = plan[:r.randint(0, 2)]
        actors = {}
        assign = severity in ("high", "critical") or r.random() < 0.45
        responder = r.choice(self.responders) if assign and self.responders else None
        for status, at in plan:
            if at >= self.now:
                break
            actor = reporter
            if responder and status in (Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED) and r.random() < 0.7:
                actor = self.responder_person(responder)
            self.step(incident, status, actor, at)
            actors[status] = actor
        if responder and incident.triaged_at:
            at = incident.triaged_at + r.uniform(0.1, 2) * H
            if at < self.now:
                assigner = self.coordinator if r.random() < 0.7 else reporter
                self.assignments.append(ResponderAssignment(incident=incident, responder=responder,
                                                            assigned_by=assigner, at=at))
                self.event(incident, EventKind.ASSIGNMENT, assigner, at,
                           data={"responder_id": str(responder.pk), "responder_code": responder.code})

        # Report stages (in order): the detailed notification, then the final report once resolved.
        notify_at = detected_at + (r.uniform(20, 70) if r.random() < 0.88 else r.uniform(73, 120)) * H
        notify_at = max(notify_at, reported_at + 0.5 * H)
        if notify_at < self.now and (incident.triaged_at or r.random() < 0.5):
            incident.notified_at = notify_at
            incident.services_disrupted = r.choice(["Không", "Cổng thông tin gián đoạn khoảng 2 giờ",
                                                    "Dịch vụ thư điện tử chậm", "Một số máy trạm ngừng hoạt động"])
            incident.people_affected = r.choice([0, 0, 12, 150, 2300, 48000])
            self.event(incident, EventKind.STAGE, reporter, notify_at, data={"stage": "notification"})
            if incident.resolved_at:
                final_at = max(incident.resolved_at, notify_at) + r.uniform(24, 24 * 35) * H
                if final_at < self.now:
                    incident.final_report_at = final_at
                    incident.root_cause = r.choice(["Mật khẩu yếu", "Lỗ hổng chưa được vá", "Người dùng mở tệp đính kèm độc hại",
                                                    "Cấu hình sai dịch vụ"])
                    incident.mitigation = r.choice(["Vá lỗ hổng và đổi mật khẩu", "Cách ly và cài đặt lại máy",
                                                    "Bổ sung quy tắc tường lửa và giám sát"])
                    self.event(incident, EventKind.STAGE, reporter, final_at, data={"stage": "final"})
                    # Closed some days after the final report (closing needs every report stage).
                    close_at = final_at + r.uniform(2, 240) * H
                    if closes and close_at < self.now:
                        self.step(incident, Status.CLOSED, reporter, close_at)
        if incident.triaged_at:
            self.standard_tasks(incident, actors.get(Status.TRIAGED, reporter), reporter, responder)

        # Observables, tasks, comments and evidence notes for some incidents.
        if r.random() < 0.18:
            values = set()
            for _i in range(r.randint(1, 3)):
                kind = r.choice(["ipv4", "domain", "sha256", "url"])
                value = {"ipv4": lambda: f"{r.choice(['198.51.100', '203.0.113', '192.0.2'])}.{r.randint(1, 254)}",
                         "domain": lambda: f"{r.choice(['c2', 'cdn', 'update', 'login'])}{r.randint(1, 99)}.bad.demo.khien.vn",
                         "sha256": lambda: f"{r.getrandbits(256):064x}",
                         "url": lambda: f"https://login{r.randint(1, 99)}.phish.demo.khien.vn/dang-nhap"}[kind]()
                values.add((kind, value))
            for kind, value in sorted(values):
                self.observables.append(Observable(incident=incident, kind=kind, value=value, added_by=reporter,
                                                   added_at=reported_at))
            self.event(incident, EventKind.OBSERVABLE, reporter, reported_at, text=", ".join(v for _k, v in sorted(values)),
                       data={"action": "added", "observables": [list(x) for x in sorted(values)]})
        if incident.triaged_at and r.random() < 0.3:
            for title in r.sample(TASKS, r.randint(1, 3)):
                created = incident.triaged_at + r.uniform(0.1, 3) * H
                if created >= self.now:
                    continue
                done = incident.status in (Status.RESOLVED, Status.CLOSED)
                status = TaskStatus.DONE if done else r.choice([TaskStatus.OPEN, TaskStatus.IN_PROGRESS, TaskStatus.DONE])
                task = Task(id=self.uuid(), incident=incident, title=title, owner=reporter, status=status,
                            due_at=created + r.uniform(4, 72) * H, created_by=reporter)
                self.tasks.append(task)
                self.event(incident, EventKind.TASK, reporter, created, text=title,
                           data={"task_id": str(task.pk), "status": TaskStatus.OPEN, "owner_id": str(reporter.pk)})
        if incident.in_response_at and r.random() < 0.25:
            at = incident.in_response_at + r.uniform(0.2, 5) * H
            if at < self.now:
                self.event(incident, EventKind.COMMENT, reporter, at, text=r.choice(COMMENTS))
        if incident.triaged_at and r.random() < 0.1:
            note = r.choice(NOTES) + f" ({incident.title.lower()})"
            data = note.encode("utf-8")
            at = incident.triaged_at + r.uniform(0.2, 4) * H
            if at < self.now:
                ev = Evidence(id=self.uuid(), incident=incident, kind=EvidenceKind.NOTE, note=note,
                              sha256=hashlib.sha256(data).hexdigest(), size=len(data), uploaded_by=reporter,
                              uploaded_at=at)
                self.evidence.append(ev)
                self.custody.append(CustodyEvent(evidence=ev, action=CustodyAction.RECEIVED, from_party=org.name[:300],
                                                 to_party=reporter.email, actor=reporter, actor_email=reporter.email,
                                                 at=at))
                self.event(incident, EventKind.EVIDENCE, reporter, at, text=note[:300],
                           data={"evidence_id": str(ev.pk), "action": "added", "sha256": ev.sha256})
        systems = self.systems_of.get(org.pk, [])
        if systems and r.random() < 0.6:
            for pk in r.sample(systems, min(len(systems), r.randint(1, 2))):
                self.systems.append(Incident.systems.through(incident_id=incident.pk, informationsystem_id=pk))

        self.mark_notices(incident)
        self.incidents.append(incident)

    def mark_notices(self, incident: Incident):
        """Deadline notices already due are recorded as sent, escalations dated when the deadline was missed."""
        texts = notices.due_notices(incident, self.now, notices.lead_time())
        with translation.override("vi"):  # the journal's stored escalation line in Vietnamese, as the job writes it
            found = [(key, kind, str(text)) for key, kind, text in texts]
        incident.deadline_notices = [key for key, _kind, _t in found]
        missed = [key for key, kind, _t in found if kind == "missed"]
        if not missed:
            return
        times = []
        for key in missed:
            if key == "missed:stage:initial":
                times.append(incident.reported_at)
            elif key.startswith("missed:sla:"):
                times.append(deadlines.incident_sla_due_at(incident, key.rsplit(":", 1)[1]))
            else:
                nxt = deadlines.incident_next_stage(incident)
                times.append(nxt.due_at if nxt and nxt.due_at else incident.reported_at)
        at = min(min(times) + dt.timedelta(minutes=5), self.now)
        incident.escalated_at = at
        self.event(incident, EventKind.ESCALATION, None, at, text="\n".join(t for _k, kind, t in found if kind == "missed"),
                   data={"keys": missed, "texts": [t.as_data() for _k, kind, t in texts if kind == "missed"]})

    def number(self):
        """References per year (Vietnam time) in reporting order; the counters continue after them."""
        per_year: dict[int, int] = {
            c.year: c.last for c in IncidentCounter.objects.select_for_update().all()}
        for incident in sorted(self.incidents, key=lambda i: (i.reported_at, str(i.pk))):
            year = timezone.localtime(incident.reported_at).year
            per_year[year] = per_year.get(year, 0) + 1
            incident.reference = f"SC-{year}-{per_year[year]:06d}"
        for year, last in per_year.items():
            IncidentCounter.objects.update_or_create(year=year, defaults={"last": last})

    def build(self) -> dict[str, int]:
        self.load_people()
        if not self.reporters:
            return {"incidents": 0}
        for n in range(self.count):
            self.build_one(n)
        self.number()
        for incident in self.incidents:  # bulk_create does not call save()
            incident.refresh_search_text()
        Incident.objects.bulk_create(self.incidents, batch_size=500)
        Incident.systems.through.objects.bulk_create(self.systems, batch_size=1000)
        IncidentEvent.objects.bulk_create(sorted(self.events, key=lambda e: (e.at, str(e.incident_id))), batch_size=1000)
        ResponderAssignment.objects.bulk_create(self.assignments, batch_size=1000)
        Task.objects.bulk_create(self.tasks, batch_size=1000)
        Observable.objects.bulk_create(self.observables, batch_size=1000)
        Evidence.objects.bulk_create(self.evidence, batch_size=1000)
        CustodyEvent.objects.bulk_create(self.custody, batch_size=1000)
        for obj in [*self.incidents, *self.assignments, *self.tasks, *self.observables, *self.evidence]:
            org_id = getattr(obj, "organization_id", None) or obj.incident.organization_id
            self.changes.append(Change(action=Act.CREATE, obj=obj, after=audit.snapshot(obj),
                                       organization_id=str(org_id)))
        audit.record_many(self.changes, actor=None)
        return {
            "incidents": len(self.incidents), "journal_entries": len(self.events),
            "reported_late": sum(1 for i in self.incidents if deadlines.reported_late(i)),
            "escalated": sum(1 for i in self.incidents if i.escalated_at), "assignments": len(self.assignments),
            "tasks": len(self.tasks), "observables": len(self.observables), "evidence": len(self.evidence),
        }


def build(seed: int = 2026, count: int = DEFAULT_COUNT, now: dt.datetime | None = None) -> dict[str, int]:
    """Build the demo incidents in one transaction (the incident content files are loaded first if needed)."""
    started = time.perf_counter()
    with translation.override("vi"):
        if Taxonomy.current() is None or ReportingPolicy.current() is None or TaskTemplates.current() is None:
            content.load_all()
        with transaction.atomic():
            counts = _Builder(seed, count, now or timezone.now()).build()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts
