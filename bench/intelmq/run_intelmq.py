"""IntelMQ side of bench/ingest.py, run with bench/.venv-intelmq/bin/python (IntelMQ 3.5.0 from PyPI).

Pipeline over Redis 127.0.0.1:6379 (a database number of its own, flushed before and after):
JSON parser bot (intelmq.bots.parsers.json.parser, splitlines) → the lookup expert of this directory
(khien_lookup_expert.py, the same indicator values) → file output bot (intelmq.bots.outputs.file.output).
The bots start on empty queues and load their configuration (the expert its values); then the
reports are pushed into the parser's queue at once (t0) and the output file is watched until it
has one line per alert (t1). Bots run as `nobody` (IntelMQ refuses to run as root).

Usage: run_intelmq.py WORKDIR INPUT_LINES VALUES_FILE REDIS_DB
Prints one JSON line: alerts, seconds, alerts_per_s, peak RSS of the bots (VmHWM), hits.
"""
import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import redis


import intelmq

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
LINES_PER_REPORT = 500


def main(work: Path, input_path: Path, values: Path, db: int) -> dict:
    root = work / "intelmq-root"
    shutil.rmtree(root, ignore_errors=True)
    (root / "etc").mkdir(parents=True)
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "lib" / "bots").mkdir(parents=True)
    shutil.copy(Path(intelmq.__file__).parent / "etc" / "harmonization.conf", root / "etc" / "harmonization.conf")
    output = root / "var" / "events.txt"
    common = {"source_pipeline_db": db, "destination_pipeline_db": db, "statistics_database": db,
              "logging_level": "WARNING", "error_procedure": "pass", "error_dump_message": False}
    runtime = {
        "bench-parser": {"group": "Parser", "module": "intelmq.bots.parsers.json.parser",
                         "parameters": {**common, "splitlines": True,
                                        "destination_queues": {"_default": ["bench-expert-queue"]}}},
        "bench-expert": {"group": "Expert", "module": "khien_lookup_expert",
                         "parameters": {**common, "values_file": str(values),
                                        "destination_queues": {"_default": ["bench-output-queue"]}}},
        "bench-output": {"group": "Output", "module": "intelmq.bots.outputs.file.output",
                         "parameters": {**common, "file": str(output)}},
    }
    (root / "etc" / "runtime.yaml").write_text(json.dumps(runtime, indent=1))  # JSON is YAML
    os.chmod(work, 0o777)
    subprocess.run(["chmod", "-R", "a+rwX", str(root)], check=True)
    r = redis.Redis(host="127.0.0.1", port=6379, db=db)
    r.flushdb()
    env = dict(os.environ, INTELMQ_ROOT_DIR=str(root) + "/", PYTHONPATH=str(HERE))
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    commands = {
        "bench-output": [str(BIN / "intelmq.bots.outputs.file.output"), "bench-output"],
        "bench-expert": [sys.executable, str(HERE / "khien_lookup_expert.py"), "bench-expert"],
        "bench-parser": [str(BIN / "intelmq.bots.parsers.json.parser"), "bench-parser"],
    }
    procs = {name: subprocess.Popen(drop + cmd, env=env, cwd=root, stdout=subprocess.DEVNULL,
                                    stderr=open(root / "var" / "log" / f"{name}.stderr", "w"))
             for name, cmd in commands.items()}
    try:
        lines = input_path.read_bytes().splitlines()
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        reports = []
        for start in range(0, len(lines), LINES_PER_REPORT):
            raw = base64.b64encode(b"\n".join(lines[start:start + LINES_PER_REPORT])).decode()
            reports.append(json.dumps({"__type": "Report", "feed.name": "khien-bench", "raw": raw,
                                       "time.observation": now}))
        time.sleep(2)  # the bots connect to Redis and wait on their empty queues
        deadline = time.time() + 600
        while time.time() < deadline:
            if any(p.poll() is not None for p in procs.values()):
                raise RuntimeError("an IntelMQ bot exited: see " + str(root / "var" / "log"))
            if _ready(root, procs):
                break
            time.sleep(0.5)
        cpu_before = sum(_cpu_seconds(p.pid) for p in procs.values())
        started = time.perf_counter()
        pipe = r.pipeline()
        for report in reports:
            pipe.lpush("bench-parser-queue", report)
        pipe.execute()
        count = 0
        while count < len(lines):
            if any(p.poll() is not None for p in procs.values()):
                raise RuntimeError("an IntelMQ bot exited: see " + str(root / "var" / "log"))
            time.sleep(0.2)
            count = _lines(output)
        seconds = time.perf_counter() - started
        rss = {name: _vmhwm(p.pid) for name, p in procs.items()}
        cpu = sum(_cpu_seconds(p.pid) for p in procs.values()) - cpu_before
        hits = sum(1 for line in open(output, "rb") if b"khien_hit" in line)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        r.flushdb()
    return {"alerts": len(lines), "seconds": round(seconds, 2), "alerts_per_s": round(len(lines) / seconds),
            "indicator_hits": hits, "bots_cpu_seconds": round(cpu, 2),
            "alerts_per_bots_cpu_s": round(len(lines) / max(cpu, 1e-9)),
            "peak_rss_mb": round(sum(rss.values()), 1),
            "peak_rss_mb_per_bot": rss, "intelmq_version": intelmq.__version__}


def _ready(root: Path, procs) -> bool:
    """The expert has finished init() (loading the values) once its process has stopped growing."""
    pid = procs["bench-expert"].pid
    first = _rss(pid)
    time.sleep(1.0)
    return first > 0 and _rss(pid) == first


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (the Redis server's share is not counted)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _rss(pid: int) -> float:
    return _status(pid, "VmRSS:")


def _vmhwm(pid: int) -> float:
    return _status(pid, "VmHWM:")


def _status(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return 0


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
