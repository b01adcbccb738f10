"""Sources and routes: where a Target's CUDA wheels live, and the rules that protect them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from jetpip.model.urls import Url

SourceKind = Literal["devpi", "simple", "flat"]

_CC_TEXT = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True)
class ArchRule:
    """The compute capabilities one project's builds on a source carry (for ``versions`` only, if given)."""

    project: str  # canonical name
    arch_list: tuple[str, ...]  # () = not known for these builds: assume they run
    versions: str = ""  # a PEP 440 specifier; "" = every version
    unconfirmed: bool = False  # taken from a build recipe, not from the wheels themselves

    def applies(self, project: str, version: Version) -> bool:
        """True when this rule speaks for ``project`` at ``version``."""
        if project != self.project:
            return False
        return not self.versions or SpecifierSet(self.versions).contains(version, prereleases=True)


@dataclass(frozen=True)
class Source:
    """One place wheels come from: a devpi index, a simple API root, or a flat link page/dir."""

    name: str  # human label: "jetson-ai-lab jp6/cu126", "base index", "pytorch.org cu130"
    kind: SourceKind
    url: Url  # devpi: index root (.../jp6/cu126); simple: API root (.../simple); flat: page or dir URL
    jetson: bool = False  # a Jetson build source (re-uploads under one name are known to happen)
    platforms: tuple[str, ...] = ()  # platform tags its guarded builds must carry; () = any
    arch_list: tuple[str, ...] = ()  # compute capabilities its builds carry, when known
    trusted: bool = False  # files without a hash are allowed from it
    note: str | None = None
    id: str | None = None  # the [sources.ID] key in indexes.toml
    mirror_of: Url | None = None  # the original URL when a mirror override rewrote ``url``
    projects: tuple[str, ...] = ()  # guarded names it is known to carry; () = unknown, ask it
    arch_rules: tuple[ArchRule, ...] = ()  # per project and version; the first that applies wins

    def project_url(self, project: str) -> Url:
        """The URL of ``project``'s page on this source (devpi always via ``/+simple/``)."""
        if self.kind == "devpi":
            return self.url.child(f"+simple/{project}/")
        if self.kind == "simple":
            return self.url.child(f"{project}/")
        return self.url

    def covers(self, compute_capability: str) -> bool:
        """True when the builds' arch list runs on ``compute_capability`` (unknown list: assume so)."""
        return arch_list_covers(self.arch_list, compute_capability)

    def arch_for(self, project: str, version: Version) -> tuple[tuple[str, ...], ArchRule | None]:
        """The arch list of ``project``'s ``version`` builds here: its rule's, else the source's."""
        rule = next((r for r in self.arch_rules if r.applies(project, version)), None)
        return (rule.arch_list if rule else self.arch_list), rule


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
    line: str | None = None  # "jp6"
    cuda: str | None = None  # the route's CUDA, major.minor
    arch_kind: str | None = None
    note: str | None = None
    alternatives: tuple[str, ...] = ()
    # Kept for the route JSON: arch coverage is judged per wheel by the finder, so routing drops nothing.
    dropped: tuple[Source, ...] = ()
    # companion -> the first version whose builds run with their torch and every later one
    # (torchaudio's stable ABI from 2.11): pinned to torch>=X.Y, not ==X.Y.*
    stable_abi: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Guarded names under the `preferred` policy: the route's CUDA build when it has one, else the
    # base index's build (which runs without CUDA), with a warning. The rest of `guarded` is required.
    preferred: frozenset[str] = frozenset()
    constraint_reasons: Mapping[str, str] = field(default_factory=dict, hash=False)  # constraint -> why

    def companion_for(self, torch_version: str, name: str) -> str | None:
        """The major.minor of ``name`` built for ``torch_version`` ("2.8.0" -> torchvision "0.23")."""
        return companion_for(self.companions, torch_version, name)


def arch_list_covers(arch_list: Sequence[str], compute_capability: str) -> bool:
    """True when code for one of ``arch_list`` runs on ``compute_capability``.

    sm_XY code runs on sm_XZ for Z >= Y (same major): sm_80 runs on Orin's 8.7,
    sm_110 and sm_121 do not.
    """
    if not arch_list or not _CC_TEXT.match(compute_capability):
        return True
    major, minor = (int(p) for p in compute_capability.split("."))
    for arch in arch_list:
        a_major, a_minor = (int(p) for p in arch.split("."))
        if a_major == major and a_minor <= minor:
            return True
    return False


def companion_for(companions: Mapping[str, Mapping[str, str]], torch_version: str, name: str) -> str | None:
    """Look up a companion's major.minor for a torch version (any local label or pre-release)."""
    match = re.match(r"^(\d+)\.(\d+)", torch_version)
    if not match:
        return None
    return companions.get(f"{match.group(1)}.{match.group(2)}", {}).get(name)
