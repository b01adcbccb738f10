"""Projects built from source trees: a local directory (``-e`` or not) or a version-control checkout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from jetpip.model.urls import redact_text

ProjectKind = Literal["directory", "vcs"]
#: The ``Source.id`` of the one-file source that offers a packed source tree to the resolver.
TREE_SOURCE_ID = "source-tree"


@dataclass(frozen=True)
class ProjectRef:
    """Where a project's source tree is, as a requirements line names it, and what it resolved to.

    A directory is an absolute path. A VCS project is the repository URL without its ``git+`` prefix,
    revision or fragment (credentials kept: they reach git only, never a message); ``commit`` is the
    commit its requested revision named when it was cloned.
    """

    kind: ProjectKind
    location: str  # absolute directory, or repository URL
    editable: bool = False
    name: str | None = None  # from 'name @ ...' or '#egg=name', when given
    vcs: str | None = None  # "git"
    revision: str | None = None  # as requested: a branch, tag or commit; None = the default branch
    commit: str | None = None  # the full commit id the revision resolved to
    subdirectory: str | None = None  # of the project inside the checkout
    extras: tuple[str, ...] = ()  # asked of the project by the line, sorted
    marker: str | None = None  # the line's environment marker

    def __repr__(self) -> str:
        return redact_text(f"ProjectRef({self.kind!r}, {self.location!r}, editable={self.editable}, "
                           f"revision={self.revision!r}, commit={self.commit!r})")

    def shown(self) -> str:
        """The location for messages: a URL without its password."""
        if self.kind == "directory":
            return self.location
        at = f"@{self.revision}" if self.revision else ""
        return redact_text(f"{self.vcs}+{self.location}{at}")

    def public_url(self) -> str:
        """The repository URL a lock records: without credentials, which stay in the user's file."""
        parts = urlsplit(self.location)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    def requirement_text(self, name: str, version: str | None = None) -> str:
        """``name[extras]==version ; marker``: the line as a requirement, once the tree's metadata is read."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        pin = f"=={version}" if version else ""
        marker = f" ; {self.marker}" if self.marker else ""
        return f"{name}{extras}{pin}{marker}"

    def with_commit(self, commit: str) -> ProjectRef:
        """The same reference, resolved to ``commit``."""
        return replace(self, commit=commit)

    def to_json(self) -> dict[str, str | bool | None]:
        """JSON form (the packed sdist's provenance record); the location as written."""
        return {"kind": self.kind, "location": self.location, "editable": self.editable, "name": self.name,
                "vcs": self.vcs, "revision": self.revision, "commit": self.commit,
                "subdirectory": self.subdirectory}  # extras and marker belong to the line, not the tree

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProjectRef:
        """Read ``to_json``'s form back; ValueError when it is not one."""
        kind = data.get("kind")
        location = data.get("location")
        if kind not in ("directory", "vcs") or not isinstance(location, str):
            raise ValueError("not a project record")

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls("directory" if kind == "directory" else "vcs", location, data.get("editable") is True,
                   text("name"), text("vcs"), text("revision"), text("commit"), text("subdirectory"))
