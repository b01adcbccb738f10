"""The knowledge base: load and validate indexes.toml (+ user file, overrides) and route a Target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SourceKind = Literal["devpi", "simple", "flat"]


@dataclass(frozen=True)
class Source:
    """One place wheels come from: a devpi index, a simple API root, or a flat link page/dir."""

    name: str  # human label: "jetson-ai-lab jp6/cu126", "base index", "pytorch.org cu130"
    kind: SourceKind
    url: str  # devpi: index root (.../jp6/cu126); simple: API root (.../simple); flat: page or dir URL
    jetson: bool = False  # a Jetson build source (re-uploads under one name are known to happen)
    platforms: tuple[str, ...] = ()  # platform tags its guarded builds must carry; () = any
    arch_list: tuple[str, ...] = ()  # compute capabilities its builds carry, when known
    trusted: bool = False  # files without a hash are allowed from it
    note: str | None = None

    def project_url(self, project: str) -> str:
        """The URL of ``project``'s page on this source (devpi always via ``/+simple/``)."""
        base = self.url.rstrip("/")
        if self.kind == "devpi":
            return f"{base}/+simple/{project}/"
        if self.kind == "simple":
            return f"{base}/{project}/"
        return self.url


@dataclass(frozen=True)
class Route:
    """Where a Target's CUDA wheels live and the rules that protect them."""

    key: str  # "jp6-cu126"
    summary: str
    sources: tuple[Source, ...]  # CUDA sources in order; () when the line has none
    guarded: frozenset[str]
    substitutions: Mapping[str, str] = field(default_factory=dict, hash=False)
    constraints: tuple[str, ...] = ()  # PEP 508 strings, e.g. "numpy<2"
    companions: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    recipe: str | None = None  # key of a [recipes] entry for the source-build hint
    no_source_reason: str | None = None
    warnings: tuple[str, ...] = ()
