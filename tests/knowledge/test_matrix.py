"""docs/matrix.md is generated from indexes.toml and must match it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jetpip.knowledge.base import load_builtin_knowledge
from jetpip.knowledge.matrix import render

DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "matrix.md"


def test_committed_matrix_matches_indexes_toml() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(load_builtin_knowledge()), (
        "docs/matrix.md is stale: run `python -m jetpip.knowledge.matrix > docs/matrix.md`")


def test_module_prints_the_matrix_and_ignores_user_overlays(tmp_path: Path) -> None:
    # A user's mirror must not leak into the committed page.
    env_file = tmp_path / "site.toml"
    env_file.write_text('[mirrors]\n"https://pypi.jetson-ai-lab.io" = "http://127.0.0.1:9/m"\n',
                        encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "jetpip.knowledge.matrix"], capture_output=True, text=True,
                         check=True,
                         env={"JETPIP_INDEXES": str(env_file), "PATH": "/usr/bin:/bin"})
    assert out.stdout == DOCS.read_text(encoding="utf-8")
    assert "127.0.0.1" not in out.stdout


def test_matrix_rows_say_where_torch_comes_from() -> None:
    text = render(load_builtin_knowledge())
    rows = {line.split(" | ")[0].lstrip("| ") + "/" + line.split(" | ")[5].split()[0]: line
            for line in text.splitlines() if line.startswith("| ") and "`jp" in line}
    assert "jetson-ai-lab jp6/cu126 → NVIDIA redist jp/v61 pytorch" in rows["6.1 to 6.2.2/tegra234"]
    assert "(11.0)" in rows["7.0/tegra264"]
    assert "jetson-ai-lab sbsa/cu132 → jetson-ai-lab sbsa/cu130 → pytorch.org cu130" in rows["7.2/tegra234"]
    assert "| x86_64 | 580.65.06 | 13.0 | `gpu-x86_64-cu130` |" in text
    assert "| 3.6 | 18.04 (2.27) |" in rows["4.6 to 4.6.6/tegra210"]
