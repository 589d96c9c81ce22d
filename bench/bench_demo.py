"""(a) Building the demo country: seconds and systems per second (on an empty, migrated database)."""
import os
import sys

from common import emit, setup_django

setup_django()

from khien.registry import demo  # noqa: E402

n = int(os.environ.get("KHIEN_BENCH_SYSTEMS", "2000"))
result = demo.build(n)
emit({
    "name": "demo_build",
    "systems": n,
    "seconds": round(result.seconds, 3),
    "systems_per_s": round(n / result.seconds, 1) if result.seconds else None,
    "objects": result.counts,
})
sys.exit(0)
