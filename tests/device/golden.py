"""What jetpip makes of every fixture root, kept as tests/device/golden/roots.txt.

Regenerate after a knowledge or detection edit:

    .venv/bin/python -m tests.device.golden > tests/device/golden/roots.txt
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from jetpip.device.detect import NvidiaSmi, detect_device
from jetpip.knowledge.base import KnowledgeBase, load_builtin_knowledge
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ROOTS = FIXTURES / "roots"
SMI = FIXTURES / "nvidia-smi"


def fixture_smi(root: str) -> NvidiaSmi:
    """nvidia-smi as it answered on the machine ``root`` was taken from (absent: no such tool)."""
    def run(args: Sequence[str]) -> str | None:
        name = "L.txt" if list(args) == ["-L"] else "query.csv"
        path = SMI / f"{root}.{name}"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return run


def fixture_device(root: str) -> Device:
    """``detect_device`` over a fixture root, with the nvidia-smi output its machine printed."""
    return detect_device(ROOTS / root, nvidia_smi=fixture_smi(root))


def _interpreter(machine: str) -> Interpreter:
    return Interpreter(executable=None, version="3.12.3", implementation="cpython",
                       platforms=(f"linux_{machine}",), markers={"platform_machine": machine})


def _v(fact: Fact | None) -> str:
    return fact.value if fact else "-"


def render(kb: KnowledgeBase) -> str:
    """One line per fixture root: the facts read, the Target's, and the Route."""
    lines = ["# root | jetson l4t jetpack cuda capability arch | driver gpu | route: sources"]
    for root in sorted(p.name for p in ROOTS.iterdir() if p.is_dir()):
        device = fixture_device(root)
        # Fixture roots without Jetson evidence are x86_64 machines.
        target = kb.make_target(device, _interpreter("aarch64" if device.is_jetson else "x86_64"),
                                TargetOverrides())
        route = kb.route_for(target)
        kind = "jetson" if target.is_jetson else "not-jetson"
        lines.append(
            f"{root} | {kind} {_v(target.l4t)} {_v(target.jetpack)} "
            f"{_v(target.cuda)} {_v(target.compute_capability)} {_v(target.arch_kind)} "
            f"| {_v(device.driver)} {_v(device.gpu_name)} "
            f"| {route.key}: {', '.join(s.id or s.name for s in route.sources)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(load_builtin_knowledge()))
