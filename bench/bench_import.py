"""(c) Importing 2,000 information systems from a CSV file (rows per second), all-or-nothing.

The file is the demo's own systems exported with `imports.export_file`, given
new codes (and "planned", as a new system has no approved level) so that every
row creates a system; the import runs as the national
coordinator through `imports.import_file` (every row through the service,
validation, audit entry), as `khien import_data` does.
"""
import csv
import io
import os
import tempfile
import time
from pathlib import Path

from common import emit, setup_django

setup_django()

try:
    from khien.registry import imports  # noqa: E402
except ImportError as exc:  # written in parallel by another part of the project
    emit({"name": "import_systems_csv", "skipped": f"khien.registry.imports not available ({exc})"})
    raise SystemExit(0)

from khien.core.models import User  # noqa: E402
from khien.registry import demo  # noqa: E402
from khien.registry.models import ImportStatus, InformationSystem  # noqa: E402

N = int(os.environ.get("KHIEN_BENCH_IMPORT_ROWS", "2000"))

if not hasattr(imports, "import_file") or not hasattr(imports, "export_file"):
    emit({"name": "import_systems_csv", "skipped": "imports.import_file/export_file not available yet"})
    raise SystemExit(0)

content, _ctype, _name = imports.export_file("systems", InformationSystem.objects.all(), "csv")
text = content.decode("utf-8-sig")
reader = csv.DictReader(io.StringIO(text))
rows = list(reader)[:N]
out = io.StringIO(newline="")
writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\r\n")
writer.writeheader()
for row in rows:
    row["code"] = ("B" + row["code"])[:40]
    # New systems have no approved level yet, so none may be "in operation" (the import would refuse the file).
    row["operational_status"] = "planned"
    writer.writerow(row)

coordinator = User.objects.get(email=demo.COORDINATOR.email)
before = InformationSystem.objects.count()
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "systems.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    started = time.perf_counter()
    job = imports.import_file("systems", path, acting_user=coordinator)
    seconds = time.perf_counter() - started
created = InformationSystem.objects.count() - before
result = {"name": "import_systems_csv", "rows": len(rows), "status": job.status, "created": created,
          "seconds": round(seconds, 3), "rows_per_s": round(len(rows) / seconds, 1) if seconds else None}
if job.status != ImportStatus.DONE:
    result["first_errors"] = job.errors[:5]
emit(result)
