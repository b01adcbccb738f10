"""Lock a corpus case with jetpip's library, as `jetpip lock -r FILE` does for a cross target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jetpip.api import index_client, load_target, read_requirement_inputs, resolve_and_lock
from jetpip.errors import JetpipError
from jetpip.model.target import TargetOverrides
from jetpip.report import NullReporter
from tests.support.corpus import Case, CorpusTarget


class Collecting(NullReporter):
    """Keeps the warnings a lock reports, as the terminal would show them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@dataclass
class Locked:
    """What one lock gave: the pins, where each came from, the warnings, or the error."""

    pins: dict[str, str] = field(default_factory=dict)  # canonical name -> version
    urls: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's URL
    requested: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def lock_case(case: Case, target: CorpusTarget, index_url: str, overlay: Path, workdir: Path) -> Locked:
    """Lock ``case`` for ``target`` with ``index_url`` as the base index and ``overlay`` over indexes.toml."""
    workdir.mkdir(parents=True, exist_ok=True)
    reqs = workdir / f"{case.name}-{target.key}.txt"
    reqs.write_text(case.requirements, encoding="utf-8")
    reporter = Collecting()
    overrides = TargetOverrides(python_version=target.python, platform="linux_aarch64", glibc=target.glibc)
    try:
        kb, tgt, route = load_target(root=target.root, overrides=overrides, indexes_file=overlay, env={})
        inputs = read_requirement_inputs([], [str(reqs)], env={})
        with index_client(tgt.interpreter, {"index_url": index_url}, reporter=reporter, env={},
                          files=inputs.settings()) as client:
            resolution, _ = resolve_and_lock(inputs.requirements, inputs.constraints, kb=kb, target=tgt,
                                             route=route, client=client, reporter=reporter)
    except JetpipError as err:
        return Locked(warnings=reporter.warnings, error=f"{err.message}\nhint: {err.hint}")
    warnings = [*reporter.warnings, *(w for w in resolution.warnings if w not in reporter.warnings)]
    return Locked(
        pins={p.name: p.version for p in resolution.pins},
        urls={p.name: str(p.link.url) for p in resolution.pins},
        requested=resolution.requested,
        warnings=warnings,
    )
