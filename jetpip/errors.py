"""The exception tree: every failure jetpip reports is a JetpipError with a message and a hint."""

from __future__ import annotations

from collections.abc import Sequence


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


class HashMismatchError(IndexFetchError):
    """A downloaded file does not match the hash its index or lock advertised."""


class OfflineMissError(IndexFetchError):
    """``--offline`` was asked for and the cache lacks something the run needs."""


class ResolutionError(JetpipError):
    """The requirements cannot be satisfied for the Target."""

    exit_code = 4


class LockError(JetpipError):
    """A pylock.toml cannot be read, validated, or does not fit this Target."""


class PipStepError(JetpipError):
    """A pip invocation of the install plan failed; later steps did not run."""

    exit_code = 5


def format_list(items: Sequence[str], limit: int = 12) -> str:
    """Render items as an indented list, eliding the tail past ``limit``."""
    shown = [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"  ... and {len(items) - limit} more")
    return "\n".join(shown)
