"""The benchmark's smoke mode: each tool once on a tiny closure served from 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_bench_writes_a_table_and_json_with_a_row_per_tool(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    for scenario, cache in [("lock", "warm"), ("lock", "cold"), ("install", "warm"), ("noop", "warm"),
                            ("sync", "cold"), ("sync", "warm")]:
        tools = {r["tool"]: r for r in rows if (r["scenario"], r["cache"]) == (scenario, cache)}
        # jetpip with --installer pip runs the installs only; uv-files the installs without their no-op.
        expected = {"jetpip", "pip", "uv"} | ({"jetpip-pip"} if scenario in ("install", "noop") else set())
        expected |= {"uv-files"} if scenario == "install" else set()
        assert set(tools) == expected, (scenario, cache, tools)
        for name, row in tools.items():
            # A tool may be skipped only visibly, with the reason in the output.
            if row["status"] == "skipped":
                assert row["note"] and f"SKIPPED {name}" in done.stdout
                continue
            assert row["status"] == "ok", row
            assert row["wall_s"]["min"] <= row["wall_s"]["median"] <= row["wall_s"]["max"]
            assert row["cpu_s"] > 0 and row["peak_rss_mb"] > 0
    # A cold sync fetches every locked file from the mirror, and reads no page: the lock names the files.
    for row in (r for r in rows if (r["scenario"], r["cache"]) == ("sync", "cold")):
        assert row["requests"]["file"] > 0 and row["requests"].get("page", 0) == 0, row
    # pip always runs; a cold lock must have read pages and metadata from the mirror.
    cold_pip = next(r for r in rows if (r["scenario"], r["cache"], r["tool"]) == ("lock", "cold", "pip"))
    assert cold_pip["requests"]["page"] > 0 and cold_pip["requests"]["metadata"] > 0
    # uv-files installs jetpip's plan from files already on disk: it asks the mirror for nothing.
    for row in (r for r in rows if r["tool"] == "uv-files"):
        assert row["status"] == "ok" and row["requests"]["total"] == 0, row
    md = (out / "performance.md").read_text()
    assert "| scenario | cache | latency | tool |" in md
    for name in ("jetpip", "jetpip-pip", "pip", "uv", "uv-files"):
        assert f"| {name} |" in md
    assert "jetpip/pip" in md and "jetpip/uv" in md
    assert "| sync of jetpip's lock |" in md
    assert "The part after the fetch" in md and "- install, cold cache, 0 ms: uv-files " in md
    # The JSON block is in the page too, one row to a line, and reads back as the run's rows.
    page_json = json.loads(md.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert page_json["rows"] == rows and page_json["targets"]
