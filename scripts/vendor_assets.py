#!/usr/bin/env python3
"""Fetch the front-end assets Khiên serves itself (air-gapped networks: no CDN).

Today: Apache ECharts, for the dashboard charts, and the DejaVu Sans fonts
(regular and bold TTF, with Vietnamese glyphs) for the PDF incident reports.
`npm pack` downloads the published tarball from whatever npm registry the
machine is configured with (a local mirror on a closed network), the
tarball's SHA-512 is checked against the pinned integrity, and only the
listed files (e.g. `dist/echarts.min.js`) are kept under khien/static/vendor/
(not committed).

With `--dev` (run by `make setup-dev`, hence `make test`) it also fetches the
test-only assets: axe-core, the accessibility rules engine the browser test
injects into every main page (khien/core/tests/test_accessibility_browser.py).
Those go to .vendor-dev/ (not committed, never served by the platform).

- Does nothing when the file is already there.
- Without npm it prints a warning and exits 0: the pages still work, every
  chart also shows its numbers in a table.
- A tarball whose checksum differs is rejected (exit 1) and nothing is written.
"""
from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "khien" / "static" / "vendor"
DEV_VENDOR = ROOT / ".vendor-dev"

ASSETS = [
    {
        "package": "echarts",
        "version": "6.1.0",
        "integrity": "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
        "files": [("package/dist/echarts.min.js", VENDOR / "echarts" / "echarts.min.js")],
    },
    {
        # PDF incident reports (fpdf2 needs a Unicode TTF with Vietnamese glyphs).
        "package": "dejavu-fonts-ttf",
        "version": "2.37.3",
        "integrity": "sha512-f1hd7jJbeQa1VWcw+K2KrTXS50zTMaHpVC4XIKJpNcDeYR5ajMtj/iLlQDYNvLOKamUB3ARVVCf79lNwNVztSQ==",
        "files": [
            ("package/ttf/DejaVuSans.ttf", VENDOR / "dejavu" / "DejaVuSans.ttf"),
            ("package/ttf/DejaVuSans-Bold.ttf", VENDOR / "dejavu" / "DejaVuSans-Bold.ttf"),
            ("package/LICENSE", VENDOR / "dejavu" / "LICENSE"),
        ],
    },
    {
        # Test only: the WCAG 2.1 AA check of the main pages (never served, never loaded at page run time).
        "package": "axe-core",
        "version": "4.14.1",
        "integrity": "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        "files": [
            ("package/axe.min.js", DEV_VENDOR / "axe-core" / "axe.min.js"),
            ("package/LICENSE", DEV_VENDOR / "axe-core" / "LICENSE"),
        ],
        "dev": True,
    },
]


def integrity_of(path: Path, algorithm: str = "sha512") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{algorithm}-{base64.b64encode(digest.digest()).decode()}"


def fetch(asset: dict, npm: str) -> bool:
    spec = f"{asset['package']}@{asset['version']}"
    with tempfile.TemporaryDirectory(prefix="khien-assets-") as tmp:
        result = subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", tmp],
            cwd=tmp, capture_output=True, text=True, timeout=600,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            consequence = ("the accessibility browser test skips until it is fetched" if asset.get("dev") else
                           "charts show as tables and PDF reports are unavailable until it is fetched")
            print(f"warning: npm pack {spec} failed ({result.stderr.strip()[:500]}); {consequence}.", file=sys.stderr)
            return False
        tarball = tarballs[0]
        algorithm = asset["integrity"].split("-", 1)[0]
        actual = integrity_of(tarball, algorithm)
        if actual != asset["integrity"]:
            print(f"error: {spec}: integrity {actual} does not match the pinned {asset['integrity']}; "
                  "nothing written.", file=sys.stderr)
            sys.exit(1)
        with tarfile.open(tarball, "r:gz") as archive:
            for name, target in asset["files"]:
                try:
                    member = archive.getmember(name)
                except KeyError:
                    print(f"error: {spec} has no {name}", file=sys.stderr)
                    sys.exit(1)
                source = archive.extractfile(member)
                if source is None:
                    print(f"error: {spec}: {name} is not a file", file=sys.stderr)
                    sys.exit(1)
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(target.suffix + ".part")
                with source, partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                partial.replace(target)
    for _name, target in asset["files"]:
        print(f"{spec}: {target.relative_to(ROOT)} ({actual})")
    return True


def main(argv: list[str] | None = None) -> int:
    dev = "--dev" in (sys.argv[1:] if argv is None else argv)
    missing = [a for a in ASSETS if (dev or not a.get("dev"))
               and not all(target.exists() for _name, target in a["files"])]
    if not missing:
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("warning: npm is not installed; the chart library and the PDF fonts were not fetched. "
              "The dashboards show their figures as tables and PDF reports are unavailable. "
              "Install npm and run `make assets` (`make setup-dev` for the test-only axe-core too).",
              file=sys.stderr)
        return 0
    for asset in missing:
        fetch(asset, npm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
