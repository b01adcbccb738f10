"""Requirement inputs: PEP 508 strings and pip requirements files (a subset: -r, -c, comments)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from jetpip.errors import UsageError


def parse_pep508(text: str) -> Requirement:
    """``text`` as a named PEP 508 requirement; a UsageError says what is wrong with it."""
    try:
        req = Requirement(text)
    except InvalidRequirement as err:
        raise UsageError(f"cannot read the requirement {text!r}: {err}",
                         "write it as name[extras]<specifier>; markers after ';'") from err
    if req.url:
        raise UsageError(f"{text!r} is a direct URL requirement; jetpip resolves names from indexes",
                         "install that file with pip directly, or publish it to an index jetpip reads")
    return req


@dataclass(frozen=True)
class RequirementLine:
    """One requirement read from a file, with where it was written."""

    text: str
    where: str  # "requirements.txt:3"


_FILE_OPTION = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S.*)$")


def read_requirements(
    path: str | Path, *, constraint: bool = False, _stack: tuple[Path, ...] = ()
) -> tuple[list[RequirementLine], list[RequirementLine]]:
    """(requirements, constraints) of a pip requirements file: comments, ``-r`` / ``-c`` nesting."""
    file = Path(path)
    if file.resolve() in _stack:
        raise UsageError(f"{file} includes itself (through {' -> '.join(map(str, _stack))})",
                         "remove the circular -r / -c line")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read {file}: {err.strerror or err}", "check the path") from err
    reqs: list[RequirementLine] = []
    cons: list[RequirementLine] = []
    stack = (*_stack, file.resolve())
    for lineno, line in _logical_lines(text):
        where = f"{file}:{lineno}"
        nested = _FILE_OPTION.match(line)
        if nested:
            inner = file.parent / nested[2].strip()
            as_constraint = constraint or nested[1] in ("-c", "--constraint")
            more_reqs, more_cons = read_requirements(inner, constraint=as_constraint, _stack=stack)
            reqs += more_reqs
            cons += more_cons
            continue
        if line.startswith("-"):
            option = line.split()[0].split("=")[0]
            raise UsageError(
                f"{where}: the option {option} is not supported in a requirements file read by jetpip",
                "give index options on the command line (--index-url, --extra-index-url, --find-links) "
                "or in pip's config; jetpip resolves named requirements only",
            )
        if " --" in line:
            raise UsageError(f"{where}: per-requirement options (--{line.split(' --', 1)[1].split()[0]}) "
                             "are not supported", "remove them; a lock records hashes itself")
        try:
            parse_pep508(line)
        except UsageError as err:
            raise UsageError(f"{where}: {err.message}", err.hint) from None
        (cons if constraint else reqs).append(RequirementLine(line, where))
    return reqs, cons


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            yield start, full
    if pending.strip():
        yield start, pending.strip()
