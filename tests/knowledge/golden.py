"""A snapshot of what indexes.toml says for sample devices, kept as tests/knowledge/golden/targets.txt.

Regenerate after a knowledge edit:

    .venv/bin/python -m tests.knowledge.golden > tests/knowledge/golden/targets.txt
"""

from __future__ import annotations

import sys

from jetpip.knowledge.base import KnowledgeBase, load_builtin_knowledge
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides

# (L4T, SoC): every row of the versions table, its point releases, and releases it does not list.
DEVICES = [
    ("32.5.0", "tegra210"), ("32.5.2", "tegra210"), ("32.6.1", "tegra186"), ("32.7.1", "tegra210"),
    ("32.7.6", "tegra194"), ("34.1.0", "tegra234"), ("34.1.1", "tegra194"), ("35.1.0", "tegra194"),
    ("35.2.1", "tegra234"), ("35.4.1", "tegra194"), ("35.6.0", "tegra234"), ("35.6.1", "tegra234"),
    ("35.6.2", "tegra234"), ("35.6.3", "tegra234"), ("35.6.4", "tegra234"), ("36.0.0", "tegra234"),
    ("36.2.0", "tegra234"), ("36.3.0", "tegra234"), ("36.4.0", "tegra234"), ("36.4.2", "tegra234"),
    ("36.4.3", "tegra234"), ("36.4.4", "tegra234"), ("36.4.5", "tegra234"), ("36.4.7", "tegra234"),
    ("36.5.0", "tegra234"), ("36.5.2", "tegra234"), ("38.1.0", "tegra264"), ("38.2.2", "tegra264"),
    ("38.4.0", "tegra264"), ("39.0.0", "tegra234"), ("39.0.0", "tegra264"),
]
# (machine, driver, compute capability): machines with a discrete GPU.
GPUS = [
    ("x86_64", "580.159.04", "9.0"), ("x86_64", "570.133.20", "8.9"), ("x86_64", "550.127.05", "8.9"),
    ("x86_64", "535.230.02", "8.0"), ("x86_64", "470.256.02", "7.5"), ("aarch64", "580.95.05", "12.1"),
]


def _fact(f: Fact | None) -> str:
    return f"{f.value}{' (unconfirmed)' if f.source.endswith('(unconfirmed)') else ''}" if f else "-"


def render(kb: KnowledgeBase) -> str:
    """One line per sample device: the Target's facts from the tables and the Route it leads to."""
    lines = ["# L4T SoC | JetPack CUDA cuDNN TensorRT | Python glibc | capability arch | route: sources"]
    for l4t, soc in DEVICES:
        device = Device(root="(golden)", is_jetson=True, l4t=Fact(l4t, "golden"), soc=Fact(soc, "golden"))
        interp = Interpreter(executable=None, version="3.10.12", implementation="cpython",
                             platforms=("linux_aarch64",), markers={"platform_machine": "aarch64"})
        t = kb.make_target(device, interp, TargetOverrides())
        route = kb.route_for(t)
        python, glibc = kb.cross_defaults(device, TargetOverrides())
        lines.append(
            f"{l4t} {soc} | {_fact(t.jetpack)} {_fact(t.cuda)} {_fact(t.cudnn)} {_fact(t.tensorrt)} "
            f"| {python} {glibc} | {_fact(t.compute_capability)} {_fact(t.arch_kind)} "
            f"| {route.key}: {', '.join(s.id or s.name for s in route.sources)}"
            + (f" [constraints {', '.join(route.constraints)}]" if route.constraints else ""))
    lines.append("# machine driver capability | route: sources | guarded")
    for machine, driver, cc in GPUS:
        device = Device(root="(golden)", is_jetson=False, driver=Fact(driver, "golden"),
                        gpu_capability=Fact(cc, "golden"))
        interp = Interpreter(executable=None, version="3.12.3", implementation="cpython",
                             platforms=(f"linux_{machine}",), markers={"platform_machine": machine})
        t = kb.make_target(device, interp, TargetOverrides())
        route = kb.route_for(t)
        sources = ", ".join(s.id or s.name for s in route.sources)
        lines.append(f"{machine} {driver} {_fact(t.compute_capability)} | {route.key}: {sources} "
                     f"| {', '.join(sorted(route.guarded))}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(load_builtin_knowledge()))
