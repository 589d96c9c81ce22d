#!/usr/bin/env python3
"""Run the whole test suite: on SQLite, then on PostgreSQL when it answers.

Called by `make test` with the virtualenv's python. Extra arguments go to both
pytest runs (e.g. `scripts/run_tests.py -k demo`).

- Pass 1: SQLite, every test (the browser test included).
- Pass 2: PostgreSQL (KHIEN_DB=postgres, 127.0.0.1:5432, user postgres, trust
  auth; pytest-django creates the test database `test_khien` with --create-db),
  every test except the browser test. When PostgreSQL does not answer the pass
  is skipped with a loud message, unless KHIEN_REQUIRE_SERVICES=1 (set by
  .ci/run): then it fails.

Exit status is non-zero if any pass fails; "no tests collected" (pytest exit
code 5) counts as a failure.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = {
    "KHIEN_DB": "postgres",
    "KHIEN_PG_HOST": os.environ.get("KHIEN_PG_HOST", "127.0.0.1"),
    "KHIEN_PG_PORT": os.environ.get("KHIEN_PG_PORT", "5432"),
    "KHIEN_PG_USER": os.environ.get("KHIEN_PG_USER", "postgres"),
    "KHIEN_PG_PASSWORD": os.environ.get("KHIEN_PG_PASSWORD", ""),
}
BANNER = "=" * 78


def postgres_answers() -> tuple[bool, str]:
    """Can we connect to the `postgres` database with the test credentials?"""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a pinned dependency
        return False, f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(
            host=PG_ENV["KHIEN_PG_HOST"], port=PG_ENV["KHIEN_PG_PORT"], user=PG_ENV["KHIEN_PG_USER"],
            password=PG_ENV["KHIEN_PG_PASSWORD"] or None, dbname="postgres", connect_timeout=3,
        ) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return True, f"PostgreSQL {version}"
    except Exception as exc:  # any failure to connect means "not available"
        return False, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_pytest(label: str, args: list[str], env_extra: dict[str, str]) -> tuple[int, float]:
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, "-m", "pytest", *args]
    print(f"\n{BANNER}\n{label}: {' '.join(cmd[2:])}\n{BANNER}", flush=True)
    started = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    return code, time.monotonic() - started


def describe(code: int) -> str:
    return {
        0: "passed",
        1: "FAILED (some tests failed)",
        2: "FAILED (interrupted)",
        3: "FAILED (internal error)",
        4: "FAILED (usage error)",
        5: "FAILED (no tests collected)",
    }.get(code, f"FAILED (exit code {code})")


def main(argv: list[str]) -> int:
    require = os.environ.get("KHIEN_REQUIRE_SERVICES") == "1"
    summary: list[tuple[str, str, bool]] = []

    code, secs = run_pytest("Pass 1/2 — SQLite (all tests)", list(argv), {"KHIEN_DB": "sqlite"})
    summary.append(("SQLite", f"{describe(code)} in {secs:.0f} s", code == 0))

    ok, detail = postgres_answers()
    if ok:
        code, secs = run_pytest(
            f"Pass 2/2 — {detail} on {PG_ENV['KHIEN_PG_HOST']}:{PG_ENV['KHIEN_PG_PORT']} (all but the browser test)",
            ["--create-db", "-m", "not browser", *argv],
            PG_ENV,
        )
        summary.append(("PostgreSQL", f"{describe(code)} in {secs:.0f} s", code == 0))
    else:
        where = f"{PG_ENV['KHIEN_PG_HOST']}:{PG_ENV['KHIEN_PG_PORT']}"
        if require:
            print(f"\n{BANNER}\nPostgreSQL does not answer on {where} ({detail})\n"
                  f"KHIEN_REQUIRE_SERVICES=1: the PostgreSQL pass is required -> FAILING.\n{BANNER}", flush=True)
            summary.append(("PostgreSQL", f"FAILED (not reachable on {where}: {detail})", False))
        else:
            print(f"\n{BANNER}\n!!! PostgreSQL does not answer on {where} ({detail}).\n"
                  f"!!! SKIPPING the PostgreSQL pass: the suite ran on SQLite only.\n"
                  f"!!! Start PostgreSQL (or run .ci/run) to test on both databases;\n"
                  f"!!! set KHIEN_REQUIRE_SERVICES=1 to make this a failure.\n{BANNER}", flush=True)
            summary.append(("PostgreSQL", f"SKIPPED (not reachable on {where})", True))

    print(f"\n{BANNER}\nTest summary")
    for name, text, _ok in summary:
        print(f"  {name:<11} {text}")
    failed = [name for name, _t, passed in summary if not passed]
    print(f"  => {'FAILED: ' + ', '.join(failed) if failed else 'OK'}\n{BANNER}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
