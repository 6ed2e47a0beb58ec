""".ci/audit (make audit) with a stand-in pip-audit that writes a given report: a vulnerable
package fails the build, a clean audit passes, and an audit that could look nothing up (this
machine's PyPI has no per-version data) is reported as SKIPPED instead of a false all-clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit"


def run_audit(tmp_path: Path, report: dict[str, Any] | None, exit_code: int) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    written = tmp_path / "report.json"
    written.write_text(json.dumps(report) if report is not None else "")
    fake = bin_dir / "pip-audit"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'while [ $# -gt 0 ]; do if [ "$1" = --output ]; then out=$2; fi; shift; done\n'
        f'cp "{written}" "$out"\n'
        f"exit {exit_code}\n"
    )
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "BIN": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def dep(name: str, vulns: list[dict[str, Any]] | None = None, skip: str | None = None) -> dict:
    entry: dict[str, Any] = {"name": name, "version": "1.0"}
    if skip:
        entry["skip_reason"] = skip
    else:
        entry["vulns"] = vulns or []
    return entry


def test_a_vulnerable_package_fails(tmp_path: Path) -> None:
    vuln = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["1.1"]}
    report = {"dependencies": [dep("fastapi"), dep("jinja2", [vuln])]}
    code, output = run_audit(tmp_path, report, exit_code=1)
    assert code == 1
    assert "jinja2 1.0: GHSA-xxxx-yyyy-zzzz (fixed in 1.1)" in output
    assert "2 packages audited" in output


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    code, output = run_audit(tmp_path, {"dependencies": [dep("fastapi"), dep("jinja2")]}, 0)
    assert code == 0
    assert "0 known vulnerabilities" in output


@pytest.mark.parametrize("report", [None, {"dependencies": []}])
def test_an_audit_that_could_not_run_is_skipped(tmp_path: Path, report: Any) -> None:
    code, output = run_audit(tmp_path, report, exit_code=1)
    assert code == 0
    assert "SKIPPED" in output


def test_an_audit_that_looked_nothing_up_is_skipped_not_clean(tmp_path: Path) -> None:
    reason = "Dependency not found on PyPI and could not be audited: fastapi (0.165.0)"
    report = {"dependencies": [dep("fastapi", skip=reason), dep("jinja2", skip=reason)]}
    code, output = run_audit(tmp_path, report, exit_code=0)
    assert code == 0
    assert "SKIPPED" in output and "could not be fetched for any of the 2" in output
