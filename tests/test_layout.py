"""The house rules as checks: the import contract of pyproject.toml, module sizes, ruff and mypy strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_the_import_contract_holds() -> None:
    # The layers (cli -> api -> install -> lock|doctor -> resolve -> index -> knowledge ->
    # device|interpreter -> model), click only in cli, httpx only in the transport, no cycles.
    proc = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_no_module_is_past_six_hundred_lines() -> None:
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "jetpip").rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert big == {}


def test_ruff_finds_nothing() -> None:
    proc = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_passes() -> None:
    proc = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
