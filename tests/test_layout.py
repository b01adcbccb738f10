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


def test_the_httpx_contract_names_every_index_module_but_the_transport() -> None:
    # import-linter has no "all but one", so a new module under jetpip/index must join the list.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    contract = text.split('name = "Only the transport imports httpx"', 1)[1].split("forbidden_modules", 1)[0]
    index = {f"jetpip.index.{p.stem}" for p in (ROOT / "jetpip" / "index").glob("*.py")
             if p.stem != "__init__"}
    missing = {m for m in index - {"jetpip.index.transport"} if f'"{m}"' not in contract}
    assert missing == set()


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
