"""The Resolution record: pins, the tree, notes, conflicts, the requirement record, the marker environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet

from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.target import Target

if TYPE_CHECKING:
    from jetpip.model.documents import ResolutionDocument, TreeNode

USER = "your request"


def marker_environment(target: Target) -> dict[str, str]:
    """A complete PEP 508 environment for the Target; nothing falls back to the machine jetpip runs on."""
    interp = target.interpreter
    full = interp.version if interp.version.count(".") >= 2 else f"{interp.python_version}.0"
    impl = interp.implementation
    env = {
        "implementation_name": impl,
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(impl, impl),
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": interp.python_version,
        "sys_platform": "linux",
    }
    env.update(target.marker_environment())
    return env


@dataclass(frozen=True)
class Req:
    """A requirement as the resolver sees it: what is asked, and who asks."""

    name: str  # canonical
    extras: frozenset[str]
    specifier: SpecifierSet
    text: str  # as written, for messages
    origin: str  # "your request", "constraint (route jp6-cu126)", or "foo 1.0"
    parent: str | None = None  # canonical name of the pinned package that asks; None: user or constraint
    authoritative: bool = True  # user, constraint, or a guarded parent: may steer a guarded pin

    @property
    def exact(self) -> bool:
        """True for a ``==X`` / ``===X`` pin (what lets a yanked file be used); ``==X.*`` is not one."""
        return any(s.operator in ("==", "===") and not s.version.endswith(".*") for s in self.specifier)


@dataclass(frozen=True)
class Pin:
    """One resolved package: the exact file, where it came from, and who needs it."""

    name: str
    version: str
    link: FileLink
    source: Source
    guarded: bool
    requires: tuple[str, ...]  # the dist's Requires-Dist, as published
    required_by: tuple[str, ...]  # canonical names; empty for a package only the user asked for
    requested: bool
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    """One dependency edge of the resolution tree (``parent`` None: the user's request)."""

    parent: str | None
    child: str
    requirement: str


@dataclass(frozen=True)
class Conflict:
    """One requirement that cannot be met, with who asked and the pin or versions it collides with."""

    package: str
    requirement: str
    origin: str
    pin: str | None = None  # "2.8.0 from jetson-ai-lab jp6/cu126" when a guarded pin is in the way
    available: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the error message."""
        who = "you ask for" if self.origin == USER else f"{self.origin} requires"
        if self.pin:
            return (f"{who} {self.requirement}, but {self.package} is pinned to {self.pin} "
                    "(a guarded CUDA build)")
        offered = ", ".join(self.available[:8]) or "none"
        return f"{who} {self.requirement} (versions on offer: {offered})"


@dataclass(frozen=True)
class Resolution:
    """A complete, frozen solution for one Target."""

    pins: tuple[Pin, ...]
    notes: tuple[str, ...]
    edges: tuple[Edge, ...]
    requested: tuple[str, ...]
    target: Target
    route_key: str
    constraints: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    downgrades: tuple[str, ...] = ()  # requests landed far below their newest release (also in warnings)

    def by_name(self) -> dict[str, Pin]:
        """Pins keyed by canonical name."""
        return {p.name: p for p in self.pins}

    def tree(self) -> list[TreeNode]:
        """The resolution as nested nodes from the user's requests down (each name expanded once)."""
        pins = self.by_name()
        children: dict[str | None, list[Edge]] = {}
        for edge in self.edges:
            children.setdefault(edge.parent, []).append(edge)
        shown: set[str] = set()

        def node(edge: Edge) -> TreeNode:
            pin = pins[edge.child]
            out: TreeNode = {
                "name": pin.name, "version": pin.version, "source": pin.source.name,
                "guarded": pin.guarded, "requirement": edge.requirement, "dependencies": [],
            }
            if pin.name in shown:
                out["seen"] = True
                return out
            shown.add(pin.name)
            out["dependencies"] = [node(e) for e in sorted(children.get(pin.name, []), key=_edge_key)
                                   if e.child in pins]
            return out

        return [node(e) for e in sorted(children.get(None, []), key=_edge_key) if e.child in pins]

    def tree_lines(self) -> list[str]:
        """The tree as indented text lines, each package with its source."""
        lines: list[str] = []

        def walk(nodes: list[TreeNode], depth: int) -> None:
            for n in nodes:
                mark = " [guarded]" if n["guarded"] else ""
                more = " (see above)" if n.get("seen") else ""
                lines.append(f"{'  ' * depth}{n['name']}=={n['version']}  ({n['source']}){mark}{more}")
                walk(n["dependencies"], depth + 1)

        walk(self.tree(), 0)
        return lines

    def to_json(self) -> ResolutionDocument:
        """The stable JSON form (schema ``jetpip.resolution/1``)."""
        return {
            "schema": "jetpip.resolution/1",
            "route": self.route_key,
            "requested": list(self.requested),
            "constraints": list(self.constraints),
            "packages": [
                {
                    "name": p.name, "version": p.version, "filename": p.link.filename,
                    "url": str(p.link.url), "source": p.source.name, "index": str(p.source.url),
                    "sha256": p.link.sha256, "guarded": p.guarded, "requested": p.requested,
                    "required_by": list(p.required_by), "requires": list(p.requires),
                }
                for p in self.pins
            ],
            "tree": self.tree(),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def _edge_key(edge: Edge) -> tuple[str, str]:
    return (edge.child, edge.requirement)
