"""The compatibility matrix (docs/matrix.md), generated from indexes.toml.

Run ``python -m jetpip.knowledge.matrix`` to regenerate it.
"""

from __future__ import annotations

import sys

from jetpip.knowledge.base import KnowledgeBase, load_builtin_knowledge
from jetpip.knowledge.schema import VersionRow
from jetpip.model.sources import Route
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides

HEADER = """\
# Compatibility matrix

Generated from `indexes.toml` by `python -m jetpip.knowledge.matrix > docs/matrix.md`; a
test keeps the two in sync, so edit `indexes.toml`, never this page.

Each row is one JetPack release line on one SoC. "torch" and "onnxruntime-gpu"
name the sources jetpip asks, in order; a source listed as *left out* is skipped
because its builds lack kernels for that SoC. The CUDA shown is the table's: when
the device has another CUDA installed, jetpip routes by the installed one.
"""


def _route(kb: KnowledgeBase, row: VersionRow, soc: str) -> Route:
    device = Device(root="(matrix)", is_jetson=True, l4t=Fact(row.l4t[0], "matrix"),
                    soc=Fact(soc, "matrix"))
    interpreter = Interpreter(executable=None, version=row.python, implementation="cpython",
                              platforms=("linux_aarch64",), markers={"platform_machine": "aarch64"})
    return kb.route_for(kb.make_target(device, interpreter, TargetOverrides()))


def _sources_for(route: Route, project: str) -> str:
    names = [s.name for s in route.sources if not s.projects or project in s.projects]
    left_out = [f"*left out: {s.name}*" for s in route.dropped if not s.projects or project in s.projects]
    if not names:
        return "none: source build (`jetpip hint " + project + "`)" + (
            "; " + "; ".join(left_out) if left_out else "")
    return " → ".join(names) + ("; " + "; ".join(left_out) if left_out else "")


def _l4t(row: VersionRow) -> str:
    return ", ".join(f"R{p}.x" if p.count(".") < 2 else f"R{p}" for p in row.l4t)


def _jetpack(row: VersionRow) -> str:
    names = sorted(set(row.jetpacks()), key=lambda v: tuple(int(p) for p in v.split(".")))
    text = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"
    return text + (" DP" if row.preview else "")


def render(kb: KnowledgeBase) -> str:
    """The whole page as Markdown."""
    lines = [HEADER, "| JetPack | L4T | CUDA | Python | Ubuntu (glibc) | SoC (compute capability) | route "
             "| torch | onnxruntime-gpu |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    notes: dict[str, str] = {}
    for row in kb.versions:
        for soc in row.socs or ("",):
            route = _route(kb, row, soc)
            info = kb.soc.get(soc)
            capability = info.capability(row.cuda) if info else "?"
            modules = f" {', '.join(info.modules)}" if info and info.modules else ""
            lines.append(
                f"| {_jetpack(row)} | {_l4t(row)} | {row.cuda} | {row.python} "
                f"| {row.ubuntu} ({kb.ubuntu.get(row.ubuntu, '?')}) | {soc}{modules} ({capability}) "
                f"| `{route.key}` | {_sources_for(route, 'torch')} "
                f"| {_sources_for(route, 'onnxruntime-gpu')} |"
            )
            if route.note:
                notes[route.key] = route.note
    lines += ["", "## Sources", "", "| source | kind | URL | platform tags | arch list |",
              "| --- | --- | --- | --- | --- |"]
    for source in kb.sources.values():
        platforms = ", ".join(source.platforms) or "any"
        lines.append(f"| {source.name} | {source.kind} | {source.url} | {platforms} "
                     f"| {', '.join(source.arch_list) or 'not recorded'} |")
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- `{key}`: {note}" for key, note in notes.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the matrix for the built-in knowledge base only (user files and env are left out)."""
    sys.stdout.write(render(load_builtin_knowledge()))


if __name__ == "__main__":
    main()
