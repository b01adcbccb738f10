"""The exception tree: every failure jetpip reports is a JetpipError with a message and a hint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JetpipError(Exception):
    """Root of every error jetpip raises on purpose.

    The message (``str(err)``) says what happened; ``hint`` says the next step.
    The CLI prints ``error: <message>`` then ``hint: <hint>`` and exits with
    ``exit_code``.
    """

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(JetpipError):
    """The command line or a requirement the user typed cannot be understood."""

    exit_code = 2


class KnowledgeError(JetpipError):
    """An indexes.toml (built-in, user or override) is malformed or contradicts itself."""

    def __init__(self, path: str, key: str, problem: str, hint: str | None = None) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        super().__init__(
            f"{path}: [{key}] {problem}",
            hint or f"fix the key '{key}' in {path}; docs/indexes.md describes the schema",
        )


class InterpreterError(JetpipError):
    """The target interpreter cannot be found, probed or used."""


class ExternallyManagedError(InterpreterError):
    """The target interpreter is marked externally managed (PEP 668)."""


class NoPipError(InterpreterError):
    """The target interpreter has no pip."""


class IndexFetchError(JetpipError):
    """An index or file could not be fetched (dead host, 5xx after retries, timeout)."""

    exit_code = 3
    status: int | None = None  # the HTTP status that ended the fetch, when an answer did


class IndexUnreachableError(IndexFetchError):
    """No try reached the index (refused, timed out, 5xx): a cached copy of a page may stand in."""

    reason: str = ""  # the last failure, short: "HTTP 503", "no answer within 15 s", "Connection refused"


class HashMismatchError(IndexFetchError):
    """A downloaded file does not match the hash its index or lock advertised."""

    cut_short: bool = False  # the download ended early: another try may mend it, a re-lock will not
    actual: str | None = None  # the digest of what arrived


class LockedFileError(IndexFetchError):
    """A file the lock (or the plan) names is gone from its index (HTTP 404/410) or has other bytes now.

    Indexes such as devpi move a re-uploaded file to a new URL and answer 410 at the old one;
    another try fails the same way, so the hint gives the ways on: re-lock, or a wheelhouse.
    """

    def __init__(self, filename: str, entry: str, source: str, problem: str, hint: str | None = None) -> None:
        self.filename = filename
        self.entry = entry  # the lock entry, ``name==version``
        self.source = source
        super().__init__(
            f"{filename} ({entry}, from {source}) {problem}\n"
            "this index re-uploads or removes files: a locked file can vanish from its URL, or come "
            "back under the same name with other bytes, and the lock still names the old one",
            hint or "lock again with --refresh, so the lock names the files the index serves now",
        )


class OfflineMissError(IndexFetchError):
    """``--offline`` was asked for and the cache lacks something the run needs."""


class ResolutionError(JetpipError):
    """The requirements cannot be satisfied for the Target."""

    exit_code = 4


class ForeignBuildError(ResolutionError):
    """An installed guarded distribution is not the route's build, and the route has none to replace it."""


class LockError(JetpipError):
    """A pylock.toml cannot be read, validated, or does not fit this Target."""


class PipStepError(JetpipError):
    """A pip invocation of the install plan failed; later steps did not run."""

    exit_code = 5


class BuildError(PipStepError):
    """An sdist could not be built into a wheel for the target, or must not be built."""


class BrokenRequirementsError(JetpipError):
    """Every planned step ran, but the environment has requirements that are not met."""

    exit_code = 6


def format_list(items: Sequence[str], limit: int = 12) -> str:
    """Render items as an indented list, eliding the tail past ``limit``."""
    shown = [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"  ... and {len(items) - limit} more")
    return "\n".join(shown)


class WheelNameError(JetpipError):
    """A wheel filename cannot be parsed, even leniently; pages keep such files as rejects."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(
            f"cannot read the wheel filename '{filename}': {reason}",
            "a wheel is named name-version(-build)-python-abi-platform.whl; rename the file or "
            "ask its publisher to",
        )


class CacheDamagedError(IndexFetchError):
    """A cache entry that passed its first check turned out damaged while it was being read."""


class MetadataError(IndexFetchError):
    """A file's core metadata cannot be read (no METADATA, a broken zip, missing Name/Version)."""


class UntrustedFileError(IndexFetchError):
    """A file without a known hash comes from a source the configuration does not trust."""


# The records the errors below carry live in higher layers; these say what the messages use of them.


class SourceLike(Protocol):
    """A place that was searched: jetpip.model.sources.Source fits."""

    @property
    def name(self) -> str:
        """The human label, e.g. ``jetson-ai-lab jp6/cu126``."""
        ...

    @property
    def url(self) -> object:
        """The URL, formatted with ``str()`` (jetpip's Url hides its password there)."""
        ...


class RejectLike(Protocol):
    """A file passed over, and why: jetpip.resolve.finder.Reject fits."""

    @property
    def filename(self) -> str:
        """The file's name."""
        ...

    @property
    def source(self) -> str:
        """The label of the source it was found on."""
        ...

    @property
    def reason(self) -> str:
        """Why it does not fit."""
        ...


class ConflictLike(Protocol):
    """One requirement that cannot be met: jetpip.resolve.resolution.Conflict fits."""

    def describe(self) -> str:
        """One line for the error message."""
        ...


class NoCandidateError(ResolutionError):
    """No file of a project fits the Target: what was looked for, where, and why each file was passed over.

    ``searched`` holds the sources asked, in order (jetpip.model.sources.Source records);
    ``found`` the files passed over (jetpip.resolve.finder.Reject records: filename, source label, reason).
    """

    def __init__(
        self,
        package: str,
        specifier: str,
        tags: Sequence[str],
        python: str,
        searched: Sequence[SourceLike],
        found: Sequence[RejectLike],
        hint: str | None = None,
        required_by: Sequence[str] = (),
    ) -> None:
        self.package = package
        self.specifier = specifier
        self.tags = tuple(tags)
        self.python = python
        self.searched = tuple(searched)
        self.found = tuple(found)
        self.required_by = tuple(required_by)
        wanted = f"{package}{specifier}" if specifier else f"{package} (any version)"
        shown_tags = ", ".join(self.tags[:3]) + (", ..." if len(self.tags) > 3 else "")
        lines = [f"no wheel or sdist of {wanted} fits the Target (Python {python}; tags {shown_tags})"]
        if self.required_by:
            lines.append(f"required by: {', '.join(self.required_by)}")
        lines.append("searched:")
        lines.append(format_list([f"{s.name} ({s.url})" for s in self.searched]) or "  (no source)")
        if self.found:
            lines.append("found, and passed over:")
            lines.append(format_list([f"{r.filename} ({r.source}): {r.reason}" for r in self.found], 20))
        else:
            lines.append("found: nothing")
        super().__init__(
            "\n".join(lines),
            hint or "check the name and version; `jetpip detect` shows the Target the tags come from",
        )


class GuardedWheelMissingError(NoCandidateError):
    """A guarded (CUDA) name has no wheel for the Target on any of the route's sources.

    It carries what jetpip.knowledge.hints needs for the source-build recipe: ``package``, ``searched``
    (the route's Sources) and ``found`` (the files seen, each with its reason).
    """


class ConflictError(ResolutionError):
    """Requirements that cannot hold together, each with the package that asked and the pin it hits.

    ``conflicts`` holds jetpip.resolve.resolution.Conflict records.
    """

    def __init__(self, conflicts: Sequence[ConflictLike], hint: str | None = None) -> None:
        self.conflicts = tuple(conflicts)
        lines = ["the requirements conflict:"]
        for c in self.conflicts:
            lines.append(f"  {c.describe()}")
        super().__init__("\n".join(lines), hint)
