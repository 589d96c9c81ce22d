"""Settings the operator guide lists as environment variables are read from the environment.

Operators of an air-gapped installation configure Khiên only through `KHIEN_*` variables (operator
guide §4): a setting that is read with `getattr(settings, …)` alone ignored its variable silently.
"""
import json
import os
import subprocess
import sys


def settings_seen_with(environment: dict) -> dict:
    code = ("import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'khien.settings'; import django; django.setup(); "
            "from django.conf import settings; import sys; "
            "print(json.dumps({n: repr(getattr(settings, n, None)) for n in sys.argv[1:]}))")
    result = subprocess.run([sys.executable, "-c", code, *environment], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **environment})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_settings_the_operator_guide_lists_follow_their_environment_variables():
    wanted = {"KHIEN_RPZ_ZONE": "rpz.example.gov.vn.", "KHIEN_RPZ_TTL": "42", "KHIEN_FEDERATION_PAGE_SIZE": "17",
              "KHIEN_FEDERATION_TIMEOUT": "7.5", "KHIEN_TAXII_ASYNC_THRESHOLD": "123",
              "KHIEN_INTEL_IMPORT_MAX_BYTES": "4096", "KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS": "99",
              "KHIEN_INCIDENT_DEADLINE_LEAD_HOURS": "3", "KHIEN_INCIDENT_DEADLINE_LOOKBACK_DAYS": "30",
              "KHIEN_PDF_FONT_DIR": "/srv/fonts"}
    seen = settings_seen_with(wanted)
    for name, value in wanted.items():
        assert value in seen[name], f"{name}={value} in the environment, but the setting is {seen[name]}"


def test_make_run_links_e_mails_to_the_address_it_serves():
    """`make run PORT=8012`: the worker's e-mails (no request to take the address from) linked to :8000, dead."""
    import pathlib
    import shutil

    if shutil.which("make") is None:
        import pytest
        pytest.skip("make is not installed")
    root = pathlib.Path(__file__).resolve().parents[3]
    # PY and KHIEN replaced by commands that only print: nothing is installed, migrated or served.
    result = subprocess.run(["make", "-s", "run", "PORT=8123", "HOST=10.1.2.3", "PY=true",
                             'KHIEN=sh -c "echo URL=$$KHIEN_PUBLIC_URL" x'], cwd=root, capture_output=True,
                            text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "KHIEN_PUBLIC_URL"})
    assert result.returncode == 0, result.stderr[-2000:]
    urls = {line for line in result.stdout.splitlines() if line.startswith("URL=")}
    assert urls == {"URL=http://10.1.2.3:8123"}
