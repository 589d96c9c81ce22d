"""(taxii) TAXII 2.1 paging: Khiên (SQLite and PostgreSQL) against medallion 3.0 in the same run.

What is measured (figures in bench/results/latest.json under "taxii"; see
docs/decisions/0010-taxii-paging.md):

* N indicators (KHIEN_BENCH_TAXII_N, default 100,000) in one collection, paged
  with taxii2-client `as_pages(collection.get_objects, per_request=1000)` by a
  reader member of the collection (HTTP Basic: e-mail + API token). Per page:
  the time between two pages as the client sees it (HTTP request, server work,
  transfer, the client's JSON decoding), p50/p95/p99; objects per second over
  the whole walk. Also the manifest endpoint.
* Khiên is served by `khien runserver --noreload --nothreading` (Django's
  single-threaded server, DEBUG off): one process, one request at a time —
  the same shape as medallion's own server (`medallion`, Flask/werkzeug, one
  process); no gunicorn on either side.
* medallion 3.0 (PyPI, memory backend) in bench/.venv-medallion (made on first
  run), loaded with the same objects and dates added. Its memory backend
  pairs each manifest entry with its object by a linear scan (quadratic in
  the collection size) before the first page: it is tried at N with a time
  limit (KHIEN_BENCH_TAXII_MEDALLION_TIMEOUT seconds, default 120), then at
  smaller sizes (KHIEN_BENCH_TAXII_MEDALLION_SIZES, default 10000,3000,1000);
  the comparison is made at the largest size it served, against a Khiên
  collection of the same size (the first objects of the main collection).
* A big collection (KHIEN_BENCH_TAXII_BIG, default 1,000,000): per-page
  latency of 50 pages from its start, from its middle and up to its end (the
  client continues from a `next` value made as the server makes it).
* Value lookup over the ≥ 1,000,000 indexed IndicatorValue rows that the two
  collections hold: 1,000 lookups (half hits, half misses), the bare indexed
  query and the platform's visibility-checked query (khien.intel.search).
* On PostgreSQL, EXPLAIN ANALYZE of the TAXII page query at the start and the
  end of the big collection.

PostgreSQL: a database `khien_bench_taxii` (KHIEN_BENCH_TAXII_PG_NAME) is
created, migrated and dropped by the bench; skipped with a note when the
server cannot be reached (KHIEN_BENCH_TAXII_POSTGRES=0 skips it too).
KHIEN_BENCH_TAXII_SQLITE=0 skips the SQLite pass and KHIEN_BENCH_TAXII_MEDALLION=0
the medallion runs (for a quicker look at one database; the figures of a
skipped part are absent, not zero).
Goals (issue: threat-intelligence hub): Khiên ≥ 10× medallion's objects/s,
page p99 < 50 ms, one lookup < 5 ms.
"""
from __future__ import annotations

import gc
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, emit, percentile

HERE = Path(__file__).resolve().parent
PY = sys.executable
N = int(os.environ.get("KHIEN_BENCH_TAXII_N", "100000"))
BIG = int(os.environ.get("KHIEN_BENCH_TAXII_BIG", "1000000"))
PER_PAGE = 1000
MED_TIMEOUT = float(os.environ.get("KHIEN_BENCH_TAXII_MEDALLION_TIMEOUT", "120"))
MED_SIZES = [int(s) for s in os.environ.get("KHIEN_BENCH_TAXII_MEDALLION_SIZES", "10000,3000,1000").split(",") if s]
MED_VENV = HERE / ".venv-medallion"
MED_VERSION = os.environ.get("KHIEN_BENCH_TAXII_MEDALLION_VERSION", "3.0.0")
PG_NAME = os.environ.get("KHIEN_BENCH_TAXII_PG_NAME", "khien_bench_taxii")
SEGMENT_LIMIT = float(os.environ.get("KHIEN_BENCH_TAXII_SEGMENT_LIMIT", "180"))
LOOKUPS = int(os.environ.get("KHIEN_BENCH_TAXII_LOOKUPS", "1000"))
GOAL_RATIO, GOAL_P99_MS, GOAL_LOOKUP_MS = 10, 50, 5


def log(message):
    print(f"bench/taxii: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def figures(samples: list[float]) -> dict:
    ms = [s * 1000 for s in samples]
    if not ms:
        return {}
    return {"pages": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


# --- The client side: taxii2-client, the same code for both servers ---------------------------------


def walk(url: str, user: str, password: str, *, manifest: bool = False, deadline: float | None = None,
         pages: int | None = None, start: str | None = None) -> dict:
    """Page through a collection with taxii2-client (`as_pages`, or from a `next` value `start`):
    per-page latencies and throughput."""
    from taxii2client.v21 import Collection, as_pages

    collection = Collection(url, user=user, password=password)
    try:
        method = collection.get_manifest if manifest else collection.get_objects

        def from_cursor():
            token = start
            while token:
                envelope = method(limit=PER_PAGE, next=token)
                yield envelope
                token = envelope.get("next") if envelope.get("more") else None

        samples, ids, stopped = [], 0, False
        unique = set()
        # The client's own long-lived objects (taxii2-client, requests, stix2 imports) out of its garbage
        # collector's full passes, as the server does at start (core/apps.py): otherwise one page in a few
        # dozen carries a collection of the client's whole heap. Same for Khiên and medallion walks.
        gc.collect()
        gc.freeze()
        started = last = time.perf_counter()
        for page in (from_cursor() if start else as_pages(method, per_request=PER_PAGE)):
            now = time.perf_counter()
            samples.append(now - last)
            objects = page.get("objects", [])
            ids += len(objects)
            unique.update(o["id"] for o in objects)
            last = time.perf_counter()  # the client's own bookkeeping is not counted
            if pages and len(samples) >= pages:
                break
            if deadline and last > deadline:
                stopped = True
                break
        elapsed = sum(samples)
        return {"objects": ids, "distinct_ids": len(unique), "stopped_by_time_limit": stopped,
                "seconds": round(elapsed, 2),
                "objects_per_s": round(ids / elapsed) if elapsed else None, "wall_seconds": round(last - started, 2),
                **figures(samples), "_samples": samples}
    finally:
        collection.close()


# --- Khiên ----------------------------------------------------------------------------------------


def khien_env(base: dict, backend: str) -> dict:
    env = dict(base, DJANGO_SETTINGS_MODULE="khien.settings", KHIEN_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
               KHIEN_DEBUG="0")
    if backend == "postgres":
        env.update(KHIEN_DB="postgres", KHIEN_PG_NAME=PG_NAME)
    return env


def pg_admin(sql: str, env: dict) -> None:
    import psycopg

    with psycopg.connect(host=env.get("KHIEN_PG_HOST", "127.0.0.1"), port=env.get("KHIEN_PG_PORT", "5432"),
                         user=env.get("KHIEN_PG_USER", "postgres"), password=env.get("KHIEN_PG_PASSWORD", ""),
                         dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def run_json(args: list[str], env: dict) -> dict:
    proc = subprocess.run([PY, *args], cwd=HERE, env=env, stdout=subprocess.PIPE, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{args[0]} exited with {proc.returncode}")
    return json.loads(lines[-1])


def bench_khien(backend: str, env: dict, med_sizes: list[int]) -> dict:
    out: dict = {}
    if backend == "postgres":
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)', env)
        pg_admin(f'CREATE DATABASE "{PG_NAME}"', env)
        log("postgres: migrate…")
        subprocess.run([PY, "-m", "khien.cli", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    log(f"{backend}: loading {N:,} + {BIG:,} objects…")
    loaded = run_json(["taxii_load.py", str(N), str(BIG), *map(str, med_sizes)], env)
    out["load"] = {"main": loaded["load_main"], "big": loaded.get("load_big"),
                   "analyze_seconds": loaded["analyze_seconds"],
                   "loader": "bench/taxii_data.py bulk_load (the rows do_add_objects writes; no validator)"}
    reader = loaded["reader"]
    out["identity_id"], out["base_added"] = loaded["identity_id"], loaded["base_added"]
    port = free_port()
    server = subprocess.Popen([PY, "-m", "khien.cli", "runserver", "--noreload", "--nothreading",
                               f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server)
        base = f"http://127.0.0.1:{port}/taxii2/api/collections/"
        cols = loaded["collections"]
        # Warm-up: one short walk of a small collection (imports, first connection, caches).
        if med_sizes:
            walk(f"{base}{cols[f'small_{min(med_sizes)}']}/", reader["email"], reader["token"])
        log(f"{backend}: paging {N:,} objects…")
        main = walk(f"{base}{cols['main']}/", reader["email"], reader["token"],
                    deadline=time.perf_counter() + 4 * SEGMENT_LIMIT)
        main.pop("_samples")
        out["objects"] = main
        out["manifest"] = {k: v for k, v in walk(f"{base}{cols['main']}/", reader["email"], reader["token"],
                                                  manifest=True).items() if k != "_samples"}
        out["same_size"] = {}
        for size in med_sizes:
            result = walk(f"{base}{cols[f'small_{size}']}/", reader["email"], reader["token"])
            result.pop("_samples")
            out["same_size"][str(size)] = result
        if BIG:
            log(f"{backend}: paging the big collection ({BIG:,}): start, middle, end…")
            url = f"{base}{cols['big']}/"
            limit = time.perf_counter
            big = {"pages_per_segment": 50, "segment_time_limit_s": SEGMENT_LIMIT,
                   "start": walk(url, reader["email"], reader["token"], pages=50,
                                 deadline=limit() + SEGMENT_LIMIT)}
            for part, cursor in loaded["big_cursors"].items():
                big[part] = walk(url, reader["email"], reader["token"], pages=50, start=cursor["next"],
                                 deadline=limit() + SEGMENT_LIMIT)
                big[part]["from_position"] = cursor["position"]
            for part in ("start", "middle", "end"):
                big[part].pop("_samples")
            out["big"] = big
        out["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        stop(server)
    log(f"{backend}: value lookups…")
    try:
        out["lookup"] = run_json(["taxii_lookup.py", str(N), str(BIG), str(LOOKUPS)], env)
    except Exception as exc:  # noqa: BLE001 - reported; the paging figures still stand
        out["lookup"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


# --- medallion ------------------------------------------------------------------------------------


def ensure_medallion() -> Path:
    exe = MED_VENV / "bin" / "medallion"
    if not exe.exists():
        log(f"creating {MED_VENV} (medallion=={MED_VERSION}) …")
        subprocess.run([shutil.which("python3.11") or PY, "-m", "venv", str(MED_VENV)], check=True)
        subprocess.run([str(MED_VENV / "bin" / "pip"), "install", "-q", f"medallion=={MED_VERSION}"], check=True)
    return exe


def bench_medallion_size(exe: Path, tmp: Path, size: int, identity_id: str, base_added, deadline_s: float) -> dict:
    import taxii_data

    port = free_port()
    api_root = f"http://127.0.0.1:{port}/bench/"
    collection_id = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    data = tmp / f"medallion-{size}.json"
    taxii_data.medallion_data(data, identity_id, size, base_added, api_root, collection_id)
    config = tmp / f"medallion-{size}.conf.json"
    config.write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(data), "session_timeout": 3600},
        "users": {"bench": "bench-pass"},
        "taxii": {"max_page_size": PER_PAGE},
    }))
    server = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port), str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # werkzeug logs each request
    result: dict = {"size": size}
    try:
        wait_port(port, server, timeout=300)
        def give_up():  # a hung first page: note the memory, stop the server, the client gets an error
            result["server_peak_rss_mb"] = peak_rss_mb(server.pid)
            server.kill()

        killer = threading.Timer(deadline_s, give_up)
        killer.start()
        try:
            walked = walk(f"{api_root}collections/{collection_id}/", "bench", "bench-pass",
                          deadline=time.perf_counter() + deadline_s)
            walked.pop("_samples")
            result.update(walked)
            result["ok"] = walked["objects"] == size
        except Exception as exc:  # noqa: BLE001 - the failure is the result
            result.update(ok=False, error=f"{type(exc).__name__}: {str(exc)[:300]}",
                          time_limit_s=deadline_s)
        finally:
            killer.cancel()
        if server.poll() is None:
            result["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        stop(server)
        data.unlink(missing_ok=True)
    return result


def bench_medallion(identity_id: str, base_added) -> dict:
    import datetime as dt

    exe = ensure_medallion()
    version = subprocess.run([str(MED_VENV / "bin" / "python"), "-c",
                              "import medallion; print(medallion.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    out = {"version": version, "server": "medallion CLI (Flask/werkzeug), memory backend", "runs": []}
    base_added = dt.datetime.fromisoformat(base_added)
    with tempfile.TemporaryDirectory(prefix="khien-bench-medallion-") as tmp:
        for size in [N, *MED_SIZES]:
            log(f"medallion: {size:,} objects…")
            run = bench_medallion_size(exe, Path(tmp), size, identity_id, base_added, MED_TIMEOUT)
            out["runs"].append(run)
            if run.get("ok"):
                out["largest_served"] = size
                break
    return out


# --- Orchestration --------------------------------------------------------------------------------


def main():
    tmp_db = None
    base_env = dict(os.environ)
    if not base_env.get("KHIEN_SQLITE_PATH"):  # run on its own, not by run.py
        tmp_db = tempfile.mkdtemp(prefix="khien-bench-taxii-")
        base_env["KHIEN_SQLITE_PATH"] = str(Path(tmp_db) / "bench.sqlite3")
        base_env["KHIEN_MEDIA_ROOT"] = str(Path(tmp_db) / "media")
        subprocess.run([PY, "-m", "khien.cli", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                       env=khien_env(dict(base_env, KHIEN_DB="sqlite"), "sqlite"), check=True,
                       stdout=subprocess.DEVNULL)
    base_env["KHIEN_DB"] = "sqlite"
    result: dict = {"name": "taxii", "n": N, "big": BIG, "per_request": PER_PAGE,
                    "client": "taxii2-client as_pages(get_objects, per_request=1000)",
                    "khien_server": "khien runserver --noreload --nothreading (DEBUG off)",
                    "goals": {"ratio_min": GOAL_RATIO, "page_p99_ms_max": GOAL_P99_MS,
                              "lookup_ms_max": GOAL_LOOKUP_MS}}
    try:
        with_medallion = os.environ.get("KHIEN_BENCH_TAXII_MEDALLION", "1") != "0"
        med_sizes = [s for s in MED_SIZES if s < N] if with_medallion else []
        if os.environ.get("KHIEN_BENCH_TAXII_SQLITE", "1") != "0":
            result["sqlite"] = bench_khien("sqlite", khien_env(base_env, "sqlite"), med_sizes)
        else:
            result["sqlite"] = {"skipped": "KHIEN_BENCH_TAXII_SQLITE=0"}
        if os.environ.get("KHIEN_BENCH_TAXII_POSTGRES", "1") != "0":
            env = khien_env(base_env, "postgres")
            try:
                pg_admin("SELECT 1", env)
            except Exception as exc:  # noqa: BLE001
                result["postgres"] = {"skipped": f"PostgreSQL not reachable: {exc}"}
            else:
                try:
                    result["postgres"] = bench_khien("postgres", env, med_sizes)
                    import psycopg

                    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
                        result["postgres"]["server_version"] = conn.info.server_version
                finally:
                    pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)', env)
        metas = [result.get(backend, {}).get("lookup", {}).pop("_meta", None) for backend in ("sqlite", "postgres")]
        meta = next((m for m in metas if m), None)
        if meta is None:  # the lookup step failed: read the producer's identity from the loader's objects
            ran = next((result[b] for b in ("sqlite", "postgres") if "identity_id" in result.get(b, {})), None)
            meta = ran and {"identity_id": ran["identity_id"], "base_added": ran["base_added"]}
        if not with_medallion or meta is None:
            result["medallion"] = {"skipped": "KHIEN_BENCH_TAXII_MEDALLION=0" if not with_medallion
                                   else "no Khiên pass ran", "runs": []}
        else:
            try:
                result["medallion"] = bench_medallion(meta["identity_id"], meta["base_added"])
            except Exception as exc:  # noqa: BLE001 - reported, the Khiên figures still stand
                result["medallion"] = {"error": f"{type(exc).__name__}: {exc}", "runs": []}
        result["comparison"] = compare(result)
    finally:
        if tmp_db:
            shutil.rmtree(tmp_db, ignore_errors=True)
    emit(result)


def compare(result: dict) -> dict:
    med = result["medallion"]
    served = med.get("largest_served")
    med.setdefault("runs", [])
    out = {}
    for backend in ("sqlite", "postgres"):
        k = result.get(backend)
        if not k or "objects" not in k:
            continue
        row = {"objects_per_s": k["objects"]["objects_per_s"], "page_p99_ms": k["objects"]["p99_ms"]}
        if served:
            med_run = next(r for r in med["runs"] if r.get("ok"))
            same = k["objects"] if served == N else k["same_size"][str(served)]
            row["at_size"] = served
            row["khien_objects_per_s_at_size"] = same["objects_per_s"]
            row["medallion_objects_per_s_at_size"] = med_run["objects_per_s"]
            row["ratio_same_size"] = round(same["objects_per_s"] / med_run["objects_per_s"], 1)
            row["ratio_khien_n_vs_medallion_largest"] = round(k["objects"]["objects_per_s"]
                                                              / med_run["objects_per_s"], 1)
            row["goal_ratio_met"] = row["ratio_same_size"] >= GOAL_RATIO
        row["goal_p99_met"] = k["objects"]["p99_ms"] < GOAL_P99_MS
        lookup = k["lookup"]
        if "index_query" in lookup:
            row["lookup_index_p99_ms"] = lookup["index_query"]["p99_ms"]
            row["lookup_platform_p99_ms"] = lookup["platform_query"].get("p99_ms")
            row["goal_lookup_met_index"] = lookup["index_query"]["p99_ms"] < GOAL_LOOKUP_MS
            row["goal_lookup_met_platform"] = (lookup["platform_query"].get("p99_ms") or 1e9) < GOAL_LOOKUP_MS
        if "big" in k:
            row["big_page_p50_ms"] = {part: k["big"][part]["p50_ms"] for part in ("start", "middle", "end")}
            row["big_page_p99_ms"] = {part: k["big"][part]["p99_ms"] for part in ("start", "middle", "end")}
            row["big_end_vs_n_p50_ratio"] = round(k["big"]["end"]["p50_ms"] / k["objects"]["p50_ms"], 2)
        out[backend] = row
    out["medallion_failed_at_n"] = next((r for r in med["runs"] if r["size"] == N and not r.get("ok")), None)
    return out


if __name__ == "__main__":
    random.seed(1)
    main()
