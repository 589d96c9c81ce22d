#!/usr/bin/env python3
"""Run every benchmark and print one JSON document (also written to bench/results/latest.json).

Each bench runs in its own subprocess against one temporary SQLite database
(KHIEN_SQLITE_PATH), prepared with migrate + load_content; the demo bench
builds the demo country in it, and the later benches use that country.

Issue 2 names no target figure: these are the baseline later issues compare with.
Set KHIEN_BENCH_SYSTEMS (default 2000) to change the size of the country.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHES = ["bench_demo.py", "bench_api.py", "bench_import.py", "taxii.py"]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "db": {"engine": "sqlite", "version": sqlite3.sqlite_version},
        "commit": commit,
    }


def khien(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "khien.cli", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def run_bench(script: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"name": script.removeprefix("bench_").removesuffix(".py"), "error": f"exit {proc.returncode}",
                "stderr_tail": tail}
    return json.loads(lines[-1])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="khien-bench-") as tmp:
        env = dict(os.environ, KHIEN_DB="sqlite", KHIEN_SQLITE_PATH=str(Path(tmp) / "bench.sqlite3"),
                   KHIEN_MEDIA_ROOT=str(Path(tmp) / "media"), DJANGO_SETTINGS_MODULE="khien.settings",
                   KHIEN_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        print("bench: preparing a temporary SQLite database (migrate, load_content)…", file=sys.stderr, flush=True)
        khien(env, "migrate", "--no-input", "-v", "0")
        khien(env, "load_content")
        results = {}
        for script in BENCHES:
            print(f"bench: {script}…", file=sys.stderr, flush=True)
            result = run_bench(script, env)
            results[result.pop("name", script)] = result
    document = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "note": "Baseline (issue 2 names no target figure).",
        "benches": results,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(text + "\n", encoding="utf-8")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
