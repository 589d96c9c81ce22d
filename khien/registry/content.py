"""Loading the registry's content files (sectors, provinces, level frameworks).

Idempotent: loading the same files twice changes nothing; a changed file
updates the rows with the same code or version.
"""
import datetime as dt
import hashlib
from pathlib import Path

import yaml
from django.db import transaction

from khien.core import audit

from .models import LevelFramework, Province, Sector

DATA_DIR = Path(__file__).resolve().parent / "data"


def _upsert(model, rows: list[dict], key: str) -> int:
    changed = 0
    for row in rows:
        obj, created = model.objects.get_or_create(**{key: row[key]}, defaults=row)
        if created:
            changed += 1
            audit.record(audit.Act.CREATE, obj)
    return changed


@transaction.atomic
def load_framework(path: Path) -> tuple[LevelFramework, bool]:
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    for key in ("version", "questions", "levels"):
        if key not in data:
            raise ValueError(f"{path.name}: missing '{key}'")
    data["levels"] = {str(k): v for k, v in data["levels"].items()}
    if data.get("effective_from") is not None:
        data["effective_from"] = str(data["effective_from"])
    digest = hashlib.sha256(raw).hexdigest()
    existing = LevelFramework.objects.filter(version=data["version"]).first()
    if existing and existing.source_sha256 == digest:
        return existing, False
    fw, _created = LevelFramework.objects.update_or_create(
        version=data["version"],
        defaults={
            "title": data.get("title_vi") or data["version"],
            "effective_from": dt.date.fromisoformat(data.get("effective_from") or "2000-01-01"),
            "data": data,
            "source_sha256": digest,
            "is_current": bool(data.get("current")),
        },
    )
    if fw.is_current:
        LevelFramework.objects.exclude(pk=fw.pk).update(is_current=False)
    audit.record(audit.Act.UPDATE if existing else audit.Act.CREATE, fw, after={"version": fw.version, "sha256": digest})
    return fw, True


@transaction.atomic
def load_all() -> dict[str, int]:
    counts = {
        "sectors": _upsert(Sector, yaml.safe_load((DATA_DIR / "sectors.yaml").read_text()), "code"),
        "provinces": _upsert(Province, yaml.safe_load((DATA_DIR / "provinces.yaml").read_text()), "code"),
        "level_frameworks": 0,
    }
    for path in sorted((DATA_DIR / "levels").glob("*.yaml")):
        _fw, changed = load_framework(path)
        counts["level_frameworks"] += int(changed)
    return counts
