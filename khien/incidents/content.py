"""Loading the incident content files: the RSIT taxonomy, the reporting policy and the standard tasks.

Idempotent like `khien.registry.content`: loading an unchanged file changes
nothing; a changed file updates the row with the same version. Files are
checked before anything is stored, so a typo in a field name fails at load
time, not when an incident is reported.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from django.db import transaction

from khien.core import audit

from .models import Incident, ReportingPolicy, Status, TaskParty, TaskTemplates, Taxonomy

DATA_DIR = Path(__file__).resolve().parent / "data"

# Incident times a stage deadline may count from, and the times that record a stage as given.
ANCHOR_FIELDS = {"detected_at", "reported_at", "notified_at", "final_report_at"}
DELAY_KEYS = {"hours", "days", "months"}


class ContentError(ValueError):
    pass


def check_taxonomy(data: dict, name: str = "taxonomy") -> None:
    for key in ("version", "classes"):
        if key not in data:
            raise ContentError(f"{name}: missing '{key}'")
    seen: set[str] = set()
    for cls in data["classes"]:
        if not cls.get("value") or not cls.get("types"):
            raise ContentError(f"{name}: every class needs a 'value' and 'types'")
        for typ in cls["types"]:
            value = typ.get("value")
            if not value or not typ.get("name_vi"):
                raise ContentError(f"{name}: class {cls['value']}: every type needs 'value' and 'name_vi'")
            if value in seen:
                raise ContentError(f"{name}: type '{value}' appears twice (types must be unique across classes)")
            seen.add(value)


def check_policy(data: dict, name: str = "policy") -> None:
    for key in ("version", "stages", "severities"):
        if key not in data:
            raise ContentError(f"{name}: missing '{key}'")
    field_names = {f.name for f in Incident._meta.get_fields()}
    given = set()
    for stage in data["stages"]:
        code = stage.get("code")
        due = stage.get("due") or {}
        if not code:
            raise ContentError(f"{name}: a stage has no 'code'")
        if due.get("from") not in ANCHOR_FIELDS:
            raise ContentError(f"{name}: stage {code}: 'due.from' must be one of {sorted(ANCHOR_FIELDS)}")
        if not DELAY_KEYS & set(due) or set(due) - DELAY_KEYS - {"from"}:
            raise ContentError(f"{name}: stage {code}: 'due' needs hours, days and/or months, nothing else")
        if stage.get("given_field") not in ANCHOR_FIELDS - {"detected_at"}:
            raise ContentError(f"{name}: stage {code}: 'given_field' must be reported_at, notified_at or final_report_at")
        if stage["given_field"] in given:
            raise ContentError(f"{name}: stage {code}: 'given_field' used by two stages")
        given.add(stage["given_field"])
        if "given_from_status" in stage and stage["given_from_status"] not in Status.values:
            raise ContentError(f"{name}: stage {code}: 'given_from_status' must be one of {Status.values}")
        unknown = set(stage.get("required_fields", [])) - field_names
        if unknown:
            raise ContentError(f"{name}: stage {code}: unknown incident fields {sorted(unknown)}")
    if data["stages"][0]["given_field"] != "reported_at":
        raise ContentError(f"{name}: the first stage must be the initial report (given_field: reported_at)")
    codes = set()
    for sev in data["severities"]:
        sla = sev.get("sla") or {}
        if not sev.get("code") or not sev.get("name_vi"):
            raise ContentError(f"{name}: every severity needs 'code' and 'name_vi'")
        if sev["code"] in codes:
            raise ContentError(f"{name}: severity '{sev['code']}' appears twice")
        codes.add(sev["code"])
        for key in ("triage_hours", "contain_hours"):
            if not isinstance(sla.get(key), (int, float)) or sla[key] <= 0:
                raise ContentError(f"{name}: severity {sev['code']}: 'sla.{key}' must be a positive number of hours")


# `done_when` of a standard task: the platform actions that do it (besides `stage:<code>` of the reporting policy).
TASK_DONE_ACTIONS = {"responder_assigned", "observables_shared"}
# `after` of a standard task: the status it belongs after (it does not hold up reaching it).
TASK_AFTER_STATUSES = {"resolved"}

TASK_TEXT_LIMITS = {"title_vi": 300, "title_en": 300, "description_vi": 2000, "description_en": 2000}
TASK_CODE_MAX = 60  # Task.template_code


def check_task_templates(data: dict, name: str = "tasks", *, taxonomy: dict, policy: dict | None = None) -> None:
    """Every task has both titles, a known party and a positive due offset, and a known `after` and `done_when`
    when it has them (a `stage:<code>` naming a stage of `policy`, the reporting policy loaded with it, when given);
    every category is a class or a type of `taxonomy` (the data of the taxonomy file loaded with it) and names only
    tasks of the file."""
    stages = {stage.get("code") for stage in (policy or {}).get("stages", [])}
    for key in ("version", "tasks", "categories"):
        if key not in data:
            raise ContentError(f"{name}: missing '{key}'")
    tasks, categories = data["tasks"], data["categories"]
    if not isinstance(tasks, dict) or not isinstance(categories, dict):
        raise ContentError(f"{name}: 'tasks' and 'categories' must be mappings")
    for code, task in tasks.items():
        if not isinstance(code, str) or not code or len(code) > TASK_CODE_MAX:
            raise ContentError(f"{name}: task code {code!r} must be a text of at most {TASK_CODE_MAX} characters")
        if not isinstance(task, dict):
            raise ContentError(f"{name}: task {code}: must be a mapping")
        unknown = set(task) - set(TASK_TEXT_LIMITS) - {"party", "due_hours", "after", "done_when"}
        if unknown:
            raise ContentError(f"{name}: task {code}: unknown keys {sorted(unknown)}")
        for key, limit in TASK_TEXT_LIMITS.items():
            value = task.get(key, "")
            if not isinstance(value, str) or (key.startswith("title") and not value.strip()) or len(value) > limit:
                raise ContentError(f"{name}: task {code}: '{key}' must be a text of at most {limit} characters"
                                   + (" (required)" if key.startswith("title") else ""))
        if task.get("party") not in TaskParty.values:
            raise ContentError(f"{name}: task {code}: 'party' must be one of {TaskParty.values}")
        hours = task.get("due_hours")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
            raise ContentError(f"{name}: task {code}: 'due_hours' must be a positive number of hours")
        if "after" in task and task["after"] not in TASK_AFTER_STATUSES:
            raise ContentError(f"{name}: task {code}: 'after' must be one of {sorted(TASK_AFTER_STATUSES)}")
        if "done_when" in task:
            action = task["done_when"]
            kind, _sep, stage = action.partition(":") if isinstance(action, str) else ("", "", "")
            if not (action in TASK_DONE_ACTIONS or (kind == "stage" and stage and (not stages or stage in stages))):
                raise ContentError(f"{name}: task {code}: 'done_when' must be stage:<a stage code of the reporting "
                                   f"policy> or one of {sorted(TASK_DONE_ACTIONS)}")
    known = {cls.get("value") for cls in taxonomy.get("classes", [])}
    known |= {typ.get("value") for cls in taxonomy.get("classes", []) for typ in cls.get("types", [])}
    for category, codes in categories.items():
        if category not in known:
            raise ContentError(f"{name}: category '{category}' is not a class or type of the taxonomy")
        if not isinstance(codes, list) or not codes:
            raise ContentError(f"{name}: category {category}: give a list of task codes")
        missing = [c for c in codes if c not in tasks]
        if missing:
            raise ContentError(f"{name}: category {category}: unknown tasks {missing}")
        if len(set(codes)) != len(codes):
            raise ContentError(f"{name}: category {category}: a task is listed twice")


@transaction.atomic
def load_file(model, path: Path, check) -> tuple[object, bool]:
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    check(data, path.name)
    data["version"] = str(data["version"])
    digest = hashlib.sha256(raw).hexdigest()
    existing = model.objects.filter(version=data["version"]).first()
    if existing and existing.source_sha256 == digest:
        return existing, False
    obj, _created = model.objects.update_or_create(
        version=data["version"],
        defaults={
            "title": data.get("title_vi") or data["version"],
            "data": data,
            "source_sha256": digest,
            "is_current": bool(data.get("current")),
        },
    )
    if obj.is_current:
        model.objects.exclude(pk=obj.pk).update(is_current=False)
    audit.record(audit.Act.UPDATE if existing else audit.Act.CREATE, obj, after={"version": obj.version, "sha256": digest})
    return obj, True


@transaction.atomic
def load_all() -> dict[str, int]:
    _tax, tax_changed = load_file(Taxonomy, DATA_DIR / "rsit.yaml", check_taxonomy)
    _pol, pol_changed = load_file(ReportingPolicy, DATA_DIR / "reporting.yaml", check_policy)
    # The standard tasks name classes and types of the taxonomy file loaded just before them.
    _tasks, tasks_changed = load_file(TaskTemplates, DATA_DIR / "tasks.yaml",
                                      lambda data, name: check_task_templates(data, name, taxonomy=_tax.data,
                                                                              policy=_pol.data))
    return {"incident_taxonomies": int(tax_changed), "reporting_policies": int(pol_changed),
            "incident_task_templates": int(tasks_changed)}
