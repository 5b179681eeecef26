"""The benchmark command runs end to end (``--quick``) and reports every row and figure.

It needs nginx-light and wrk (the command apt-gets them when missing) and PyPI for
Locust's venv; without them this test fails, with the command's own message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "wrk",
    "bare-requests",
    "bare-ghc",
    "locust-http",
    "locust-fast",
    "plugin-requests",
    "plugin-fast",
)
FIGURES = ("stats-path", "memory", "entry-cap", "load-startup", "plain-overhead")


def _fast_client_wired(tmp_path: Path) -> bool:
    """Whether this plugin offers ``--load-client fast`` (else that row says "n/a")."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pytest.ini", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    fastclient = ROOT / "pytest_loadtest" / "fastclient.py"
    return "--load-client" in help_text and fastclient.exists()


def _run_quick(out: Path) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (
        f"`{' '.join(command)}` exited {result.returncode}; it needs root for apt-get "
        f"(nginx-light, wrk) and PyPI for locust:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def test_quick_run_reports_every_row_and_figure(tmp_path: Path) -> None:
    fast = _fast_client_wired(tmp_path)
    data = _run_quick(tmp_path / "out")

    rows = {row["key"]: row for row in data["rows"]}
    assert tuple(rows) == ROWS
    measured = ROWS if fast else ROWS[:-1]
    for key in measured:
        row = rows[key]
        assert row["requests"] > 0, row
        assert row["rps"] > 0, row
        assert row["cpu_per_10k"] > 0, row
    if not fast:
        assert rows["plugin-fast"]["requests"] is None
        assert "--load-client" in rows["plugin-fast"]["note"]

    ratios = {ratio["key"]: ratio for ratio in data["ratios"]}
    for key, ratio in ratios.items():
        if key.startswith("plugin-fast/") and not fast:
            assert ratio["rps"] is ratio["per_cpu"] is None, ratio
        else:
            assert ratio["rps"] > 0, ratio
            assert ratio["per_cpu"] > 0, ratio
            assert ratio["target"].startswith(">= "), ratio
            assert ratio["verdict"] in ("PASS", "MISS"), ratio
    assert len(ratios) == 4

    figures = {figure["key"]: figure for figure in data["figures"]}
    assert tuple(figures) == FIGURES
    for figure in figures.values():
        assert figure["value"] > 0, figure
        assert figure["passed"] in (True, False), figure
        assert figure["target"], figure
    # Deterministic: 20,000 distinct names against the cap of 10,000 entries, plus "(other)".
    assert figures["entry-cap"]["value"] == 10_001
    assert figures["entry-cap"]["passed"] is True

    markdown = (tmp_path / "out" / "results.md").read_text()
    for item in [*data["rows"], *data["ratios"], *data["figures"]]:
        assert f"| {item['label']}" in markdown
    verdicts = len(FIGURES) + sum(ratio["verdict"] != "-" for ratio in ratios.values())
    assert markdown.count("| PASS") + markdown.count("| MISS") == verdicts
