"""The compatibility matrix (docs/matrix.md), generated from indexes.toml.

Run ``python -m jetpip.knowledge.matrix`` to regenerate it.
"""

from __future__ import annotations

import sys

from jetpip.knowledge.base import KnowledgeBase, load_builtin_knowledge
from jetpip.knowledge.schema import VersionRow, version_tuple
from jetpip.model.sources import Route, Source
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides

HEADER = """\
# Compatibility matrix

Generated from `indexes.toml` by `python -m jetpip.knowledge.matrix > docs/matrix.md`; a
test keeps the two in sync, so edit `indexes.toml`, never this page.

Each row is one JetPack release line on one SoC. "torch" and "onnxruntime-gpu"
name the sources jetpip asks, in order. Arch coverage is judged per wheel: a build
whose arch list (the "Sources" table) lacks the SoC's compute capability is passed
over with the reason, and the next source is asked. The CUDA shown is the table's:
when the device has another CUDA installed, jetpip routes by the installed one.
"""


def _route(kb: KnowledgeBase, row: VersionRow, soc: str) -> Route:
    device = Device(root="(matrix)", is_jetson=True, l4t=Fact(row.l4t[0], "matrix"),
                    soc=Fact(soc, "matrix"))
    interpreter = Interpreter(executable=None, version=row.python, implementation="cpython",
                              platforms=("linux_aarch64",), markers={"platform_machine": "aarch64"})
    return kb.route_for(kb.make_target(device, interpreter, TargetOverrides()))


def _sources_for(route: Route, project: str) -> str:
    if project not in route.guarded:
        return "the base index"
    names = [s.name for s in route.sources if not s.projects or project in s.projects]
    if not names:
        return "none: source build (`jetpip hint " + project + "`)"
    return " → ".join(names)


def _arch(source: Source) -> str:
    parts = [f"{', '.join(source.arch_list)}" if source.arch_list else ""]
    for rule in source.arch_rules:
        scope = f"{rule.project} {rule.versions}".strip()
        parts.append(f"{scope}: {', '.join(rule.arch_list)}" + (" (unconfirmed)" if rule.unconfirmed else ""))
    return "; ".join(p for p in parts if p) or "not recorded"


def _gpu_rows(kb: KnowledgeBase) -> list[str]:
    lines = ["", "## Machines with a discrete NVIDIA GPU", "",
             "Not a Jetson, but an NVIDIA driver is loaded (x86_64, SBSA servers, DGX Spark): the driver "
             "names the newest CUDA it runs, and the route for that CUDA on the machine is taken.", "",
             "| machine | driver at least | CUDA | route | torch | onnxruntime-gpu |",
             "| --- | --- | --- | --- | --- | --- |"]
    minimum = {d.cuda: d.driver_min for d in kb.drivers}
    for rule in sorted(kb.gpu_routes, key=lambda g: (g.machine, version_tuple(g.cuda)), reverse=True):
        route = Route(key=rule.key, summary=rule.summary, sources=tuple(kb.sources[s] for s in rule.sources),
                      guarded=frozenset(rule.guarded))
        lines.append(f"| {rule.machine} | {minimum.get(rule.cuda, '?')} | {rule.cuda} | `{rule.key}` "
                     f"| {_sources_for(route, 'torch')} | {_sources_for(route, 'onnxruntime-gpu')} |")
    return lines


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
                     f"| {_arch(source)} |")
    lines += _gpu_rows(kb)
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- `{key}`: {note}" for key, note in notes.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the matrix for the built-in knowledge base only (user files and env are left out)."""
    sys.stdout.write(render(load_builtin_knowledge()))


if __name__ == "__main__":
    main()
