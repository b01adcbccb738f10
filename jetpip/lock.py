"""pylock.toml (PEP 751): the Lock record, written from a Resolution and read back for sync."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LockedPackage:
    """One pinned wheel: everything the installer needs, nothing it must look up again."""

    name: str  # canonical
    version: str
    url: str  # exact wheel URL (credentials never stored)
    filename: str
    sha256: str | None  # None only for files from a trusted source without a hash
    size: int | None = None
    upload_time: str | None = None
    index: str | None = None  # the index (or flat page) URL it came from
    source: str | None = None  # the Source's human label
    guarded: bool = False
    requires: tuple[str, ...] = ()  # Requires-Dist, for jetpip's own consistency check
    requested: bool = False  # named by the user (top level)


@dataclass(frozen=True)
class Lock:
    """A whole solution for one Target."""

    packages: tuple[LockedPackage, ...]
    target: Mapping[str, Any] = field(default_factory=dict, hash=False)  # [tool.jetpip.target]
    requires_python: str | None = None
    environments: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()  # the user's requirement strings

    def by_name(self) -> dict[str, LockedPackage]:
        """Packages keyed by canonical name."""
        return {p.name: p for p in self.packages}

    def guarded(self) -> list[LockedPackage]:
        """The CUDA builds, in lock order."""
        return [p for p in self.packages if p.guarded]
