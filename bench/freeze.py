"""Write bench/closure.txt: pin the benchmark closure once, with pip, against the base index.

Run `python bench/freeze.py` only to move the benchmark to a new closure; the file is committed
so every run measures the same packages. The guarded names (torch) are not pinned from the
base index: the mirror serves a stand-in CUDA build of them, so the closure follows the
stand-in's requirements instead of the base index build's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mirror import CLOSURE, stand_in_specs

ROOTS = ["transformers", "gliner2[local]", "numpy<2"]
STAND_IN = {canonicalize_name(s.name): s for s in stand_in_specs()}
USED_STAND_INS = ["torch==2.8.0"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cons = Path(tmp) / "constraints.txt"
        cons.write_text("".join(f"{s}\n" for s in USED_STAND_INS))
        env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "-q",
                "--only-binary=:all:",
                "--report",
                str(report),
                "-c",
                str(cons),
                *ROOTS,
            ],
            check=True,
            env=env,
        )
        items = {
            canonicalize_name(i["metadata"]["name"]): i for i in json.loads(report.read_text())["install"]
        }
    env_markers = default_environment()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in ROOTS]
    reached: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        reached.add(name)
        if name in STAND_IN:
            requires = list(STAND_IN[name].requires)
        else:
            requires = items[name]["metadata"].get("requires_dist", [])
        for text in requires:
            dep = Requirement(text)
            extras = ["", *sorted(req.extras)]
            if dep.marker is None or any(dep.marker.evaluate({**env_markers, "extra": e}) for e in extras):
                todo.append(dep)
    lines = [
        "# The benchmark closure, pinned by bench/freeze.py (pip --dry-run --report on the base index).",
        f"# python: cp{sys.version_info[0]}{sys.version_info[1]} on {sys.platform} {os.uname().machine}",
        f"# roots: {' '.join(ROOTS)}",
        f"# stand-ins: {' '.join(USED_STAND_INS)}",
    ]
    for name in sorted(reached - set(STAND_IN)):
        info = items[name]
        url = info["download_info"]["url"]
        sha = info["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{name}=={info['metadata']['version']} --hash=sha256:{sha}  # {url.rsplit('/', 1)[1]}")
    CLOSURE.write_text("\n".join(lines) + "\n")
    print(f"wrote {CLOSURE}: {len(reached - set(STAND_IN))} pins + {len(USED_STAND_INS)} stand-in(s)")


if __name__ == "__main__":
    main()
