"""Requirement inputs: PEP 508 strings and pip requirements files, in the syntax pip reads."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from jetpip.errors import UsageError, WheelNameError
from jetpip.index.config import FileOption, FileSettings, HashCheck
from jetpip.model.links import SDIST_FORMATS, BinaryPolicy, parse_sdist_name
from jetpip.model.projects import ProjectRef
from jetpip.model.urls import redact_text
from jetpip.resolve.local import source_tree

# pip's rules (pip/_internal/req/req_file.py): a comment starts at a '#' at the line's start or after
# whitespace; only ${NAME} of uppercase letters, digits and '_' is expanded, and only when it is set.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_HASH = re.compile(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
_SDIST = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar")

# Each option a requirements file may hold, by every spelling pip takes, under its long name.
_VALUED = {
    "-r": "--requirement", "--requirement": "--requirement", "-c": "--constraint",
    "--constraint": "--constraint", "-i": "--index-url", "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url", "-f": "--find-links", "--find-links": "--find-links",
    "--trusted-host": "--trusted-host", "--no-binary": "--no-binary", "--only-binary": "--only-binary",
    "-e": "--editable", "--editable": "--editable", "--hash": "--hash",
    "--config-settings": "--config-settings", "-C": "--config-settings", "--use-feature": "--use-feature",
    "--all-releases": "--all-releases", "--only-final": "--only-final",
}
_FLAGS = {"--pre", "--no-index", "--require-hashes", "--no-require-hashes", "--prefer-binary"}
_ARGUMENT = "command line"  # the "where" of a requirement given as an argument
_INDEX_OPTIONS = ("--index-url", "--extra-index-url", "--find-links", "--trusted-host", "--no-index", "--pre")
_BINARY_OPTIONS = ("--no-binary", "--only-binary", "--prefer-binary")
# Why an option cannot be honoured yet: each is refused with the line, never skipped.
_REFUSED = {
    "--config-settings": "jetpip passes no settings to a build backend yet",
    "--use-feature": "pip's feature switches have no meaning for jetpip",
    "--no-require-hashes": "jetpip checks every --hash it is given",
    "--all-releases": "jetpip has no per-package pre-release switch yet",
    "--only-final": "jetpip has no per-package pre-release switch yet",
}


def parse_pep508(text: str) -> Requirement:
    """``text`` as a named PEP 508 requirement; a UsageError says what is wrong with it."""
    try:
        req = Requirement(text)
    except InvalidRequirement as err:
        raise UsageError(f"cannot read the requirement {text!r}: {err}",
                         "write it as name[extras]<specifier>; markers after ';'") from err
    if req.url:
        raise UsageError(f"{text!r} is a direct URL requirement; give it in a requirements file (-r)",
                         "a requirements file's 'name @ https://.../file.whl' line locks that file")
    return req


@dataclass(frozen=True, repr=False)
class RequirementLine:
    """One requirement read from a file, with where it was written.

    A direct URL (``name @ URL``) reads as ``name==version`` from the wheel's or sdist's filename,
    with ``url`` naming the file itself; the index configuration offers that file first.
    """

    text: str
    where: str  # "requirements.txt:3"
    hashes: tuple[str, ...] = ()  # "sha256:<hex>", from --hash
    url: str | None = None  # the direct URL as written, credentials included
    # A source tree (a directory, -e, a VCS URL): ``text`` is its name (or location) until its
    # metadata is read (jetpip.index.projects), then ``name==version`` with ``url`` the packed sdist.
    project: ProjectRef | None = None

    def __repr__(self) -> str:
        return redact_text(f"RequirementLine({self.text!r}, {self.where!r}, {self.hashes!r}, {self.url!r}, "
                           f"{self.project!r})")


@dataclass(frozen=True)
class RequirementInputs:
    """Everything the requirements files say: what to install, what constrains it, and pip options."""

    requirements: tuple[str | RequirementLine, ...] = ()
    constraints: tuple[RequirementLine, ...] = ()
    options: tuple[FileOption, ...] = ()  # file order; every option line, as pip would apply it

    @property
    def binary(self) -> BinaryPolicy:
        """What the files' --no-binary, --only-binary and --prefer-binary lines say, applied in order."""
        return BinaryPolicy.parse((o.option, o.value) for o in self.options if o.option in _BINARY_OPTIONS)

    @property
    def pre(self) -> bool:
        """True when a file says --pre: pre-releases are candidates as final releases are (pip's --pre)."""
        return any(o.option == "--pre" for o in self.options)

    @property
    def projects(self) -> tuple[RequirementLine, ...]:
        """The lines that name a source tree (a directory or a VCS URL), in file order."""
        return tuple(r for r in self.requirements if isinstance(r, RequirementLine) and r.project)

    @property
    def hash_mode(self) -> bool:
        """True in pip's hash-checking mode: --require-hashes given, or a requirement has a --hash."""
        return any(o.option == "--require-hashes" for o in self.options) or any(
            isinstance(r, RequirementLine) and r.hashes for r in self.requirements)

    def settings(self) -> FileSettings:
        """What the files add to the index configuration: index options, direct URLs, hash checks."""
        lines = [r for r in self.requirements if isinstance(r, RequirementLine)]
        direct = tuple(FileOption("direct-url", _with_hash(r.url, r.hashes), r.where) for r in lines
                       if r.url and r.project is None)
        checks = tuple(HashCheck(_name(r.text), r.hashes, r.where) for r in lines if r.hashes)
        return FileSettings(options=self.options + direct, hash_checks=checks, require_hashes=self.hash_mode)

    def first_option(self) -> RequirementLine | FileOption | None:
        """The first thing a caller that takes plain requirements only would drop."""
        if self.options:
            return self.options[0]
        return next((r for r in self.requirements if isinstance(r, RequirementLine)
                     and (r.hashes or r.url or r.project)), None)


def _with_hash(url: str, hashes: Sequence[str]) -> str:
    # One sha256 rides on the URL as pip's #sha256= fragment: the download is checked against it.
    sha256 = [h.split(":", 1)[1] for h in hashes if h.startswith("sha256:")]
    return f"{url}#sha256={sha256[0]}" if len(sha256) == 1 and "#" not in url else url


def read_requirements(
    path: str | Path, *, constraint: bool = False
) -> tuple[list[RequirementLine], list[RequirementLine]]:
    """(requirements, constraints) of a file holding requirement lines only (no option lines)."""
    inputs = read_requirement_files([] if constraint else [path], [path] if constraint else [])
    dropped = inputs.first_option()
    if dropped is not None:
        raise UsageError(f"{dropped.where}: this reader takes requirement lines only",
                         "read the file with read_requirement_files, which keeps its options")
    return [r for r in inputs.requirements if isinstance(r, RequirementLine)], list(inputs.constraints)


def read_requirement_files(
    req_files: Sequence[str | Path], con_files: Sequence[str | Path] = (), *,
    env: Mapping[str, str] | None = None, args: Sequence[str] = (), editables: Sequence[str] = (),
) -> RequirementInputs:
    """Read pip requirements (``-r``) and constraints (``-c``) files, nested files included.

    ``args`` and ``editables`` (``-e``) come from the command line and go first: each is read as the
    same line of a requirements file, a relative path from the working directory. A plain
    ``name<spec>`` among them stays a string.
    """
    reader = _Reader(os.environ if env is None else env)
    for arg in args:
        line = _requirement_line(arg, _ARGUMENT, ())
        reader.reqs.append(line if line.url or line.project else arg)
    reader.reqs += [_requirement_line(value, _ARGUMENT, (), editable=True) for value in editables]
    for path in req_files:
        reader.read(Path(path), constraint=False, stack=())
    for path in con_files:
        reader.read(Path(path), constraint=True, stack=())
    # Hash-checking mode is checked where the lock's files are known (jetpip.lock.hashcheck), as pip
    # checks it after resolving: a hashed 'name>=X' passes there, an unhashed dependency does not.
    inputs = RequirementInputs(tuple(reader.reqs), tuple(reader.cons), tuple(reader.options))
    if inputs.hash_mode and inputs.projects:
        # As pip: a folder or a checkout has no archive whose hash a --hash could give.
        tree = inputs.projects[0]
        shown = tree.project.shown() if tree.project else tree.text
        raise UsageError(f"{tree.where}: hash-checking mode (--require-hashes, or a --hash on any line) "
                         f"cannot check the source tree {shown}",
                         "build a wheel or sdist of it and name that file with its --hash, or drop the "
                         "hashes")
    return inputs


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.reqs: list[str | RequirementLine] = []
        self.cons: list[RequirementLine] = []
        self.options: list[FileOption] = []

    def read(self, file: Path, *, constraint: bool, stack: tuple[Path, ...], via: str = "") -> None:
        """Read ``file``; ``via``: the "file:line" of the -r / -c line that names it, for messages."""
        at = f"{via}: " if via else ""
        if file.resolve() in stack:
            raise UsageError(f"{at}{file} includes itself (through {' -> '.join(map(str, stack))})",
                             "remove the circular -r / -c line")
        if "://" in str(file):
            raise UsageError(f"{file}: requirements files are read from disk only",
                             "download the file first, then pass its path")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as err:
            raise UsageError(f"{at}cannot read {file}: {err.strerror or err}",
                             "check the path (a nested file is found from the folder of the file naming it)"
                             ) from err
        for lineno, line in logical_lines(text, self.env):
            where = f"{file}:{lineno}"
            args, options = _split_line(line)
            parsed = _parse_options(options, where)
            if args:
                self._requirement(args, parsed, where, file, constraint)
            else:
                self._options(parsed, where, file, constraint, (*stack, file.resolve()))

    def _options(self, parsed: list[tuple[str, str]], where: str, file: Path, constraint: bool,
                 stack: tuple[Path, ...]) -> None:
        for option, value in parsed:
            if option in ("--requirement", "--constraint"):
                if "://" in value:
                    raise UsageError(f"{where}: {option} {value}: requirements files are read from disk only",
                                     "download the file first, then name its path")
                # As pip: what a nested file holds depends on the option naming it, so a -r inside
                # a constraints file reads requirements.
                self.read(file.parent / value, constraint=option == "--constraint", stack=stack, via=where)
            elif option == "--editable":
                self._requirement(value, [], where, file, constraint, editable=True)
            elif option == "--hash":
                raise UsageError(f"{where}: --hash with no requirement before it",
                                 "put --hash on the requirement's own line (or its continuation)")
            elif option in _REFUSED:
                raise UsageError(f"{where}: the option {option} cannot be honoured: {_REFUSED[option]}",
                                 "remove the line, or install that part with pip itself")
            elif option in ("--no-binary", "--only-binary"):
                if value.startswith("-") or not value.strip():
                    raise UsageError(f"{where}: {option} needs project names, ':all:' or ':none:'",
                                     f"write {option} :all: (or name,name)")
                self.options.append(FileOption(option, value, where))
            elif option == "--find-links":
                # As pip: a relative path is taken from the file's folder when it exists there.
                local = file.parent / value
                shown = str(local.resolve()) if "://" not in value and local.exists() else value
                self.options.append(FileOption(option, shown, where))
            elif option in (*_INDEX_OPTIONS, "--require-hashes", "--prefer-binary"):
                self.options.append(FileOption(option, value, where))

    def _requirement(self, args: str, parsed: list[tuple[str, str]], where: str, file: Path,
                     constraint: bool, *, editable: bool = False) -> None:
        hashes: list[str] = []
        for option, value in parsed:
            if option != "--hash":
                raise UsageError(f"{where}: the option {option} cannot follow a requirement",
                                 "only --hash may follow a requirement on its line; give other "
                                 "options on a line of their own")
            match = _HASH.match(value)
            if not match:
                raise UsageError(f"{where}: --hash={value} is not algorithm:hexdigest",
                                 "write --hash=sha256:<64 hex digits> (sha384 and sha512 also work)")
            hashes.append(f"{match[1]}:{match[2].lower()}")
        line = _requirement_line(args, where, tuple(hashes), editable)
        if line.project is not None and (hashes or constraint):
            what = "a constraint" if constraint else "--hash"
            raise UsageError(f"{where}: {what} cannot name a source tree ({line.project.shown()})",
                             "pip refuses this too: a directory or VCS checkout has no archive to hash or "
                             "to constrain; name it in a requirements file, without --hash")
        if constraint:
            if line.url:
                raise UsageError(f"{where}: a constraint cannot be a direct URL",
                                 "constrain the version (name==X); name the URL in a requirements file")
            self.cons.append(line)
        else:
            self.reqs.append(line)


def _requirement_line(args: str, where: str, hashes: tuple[str, ...],
                      editable: bool = False) -> RequirementLine:
    shown = redact_text(args)
    local = source_tree(args, where, editable=editable)
    if isinstance(local, ProjectRef):
        text = local.requirement_text(local.name or local.shown())
        return RequirementLine(text, where, hashes, None, local)
    if local is not None:  # a wheel or sdist file: the direct URL of that file
        return RequirementLine(_direct_text(local, where), where, hashes, local.url)
    if editable:
        raise UsageError(f"{where}: the option --editable needs a local project directory or a VCS URL, "
                         f"not '{shown}'", "write -e ./path/to/project (a folder with pyproject.toml)")
    head = args.split(";", 1)[0].strip()
    _, at, _ = head.partition("@")
    if not at and "://" in head:
        raise UsageError(f"{where}: '{shown}' is a URL without a project name",
                         "write it as 'name @ URL', the form pip and PEP 508 both read")
    try:
        req = Requirement(args)
    except InvalidRequirement as err:
        raise UsageError(f"{where}: cannot read the requirement {shown!r}: {redact_text(str(err))}",
                         "write it as name[extras]<specifier>; markers after ';'") from None
    if not req.url:
        return RequirementLine(args, where, hashes)
    return RequirementLine(_direct_text(req, where), where, hashes, req.url)


def _direct_text(req: Requirement, where: str) -> str:
    """``name[extras]==version ; marker`` for the wheel or sdist a direct URL names."""
    assert req.url is not None
    path = unquote(urlsplit(req.url).path)
    filename = path.rsplit("/", 1)[-1]
    kind = "an sdist" if filename.endswith(SDIST_FORMATS) else "a wheel"
    try:
        if filename.endswith(SDIST_FORMATS):
            name, version = parse_sdist_name(filename)
        else:
            name, version, _, _ = parse_wheel_filename(filename)
    except (InvalidWheelFilename, WheelNameError):
        other = " (an sdist is name-version.tar.gz or .zip)" if filename.endswith(_SDIST) else ""
        raise UsageError(f"{where}: the direct URL names neither a wheel nor an sdist "
                         f"({filename or 'no file'}){other}",
                         "give the URL of a .whl, .tar.gz or .zip file") from None
    if name != canonicalize_name(req.name):
        raise UsageError(f"{where}: the direct URL is {kind} of {name}, not of {req.name}",
                         "fix the name before '@', or the URL")
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f" ; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}=={version}{marker}"


def _name(text: str) -> str:
    return canonicalize_name(Requirement(text).name)


def _split_line(line: str) -> tuple[str, str]:
    """(requirement, options): the requirement ends at the first word that starts with '-'."""
    words = line.split(" ")
    for i, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:i]).strip(), " ".join(words[i:])
    return line.strip(), ""


def _parse_options(text: str, where: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"{where}: cannot split the options: {err}", "check the quotes") from None
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        spelled, sep, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if not word.startswith("--") and len(word) > 2 and word[:2] in _VALUED:
            spelled, sep, value = word[:2], "=", word[2:]  # -rfile.txt, as optparse reads it
        if spelled in _FLAGS:
            out.append((spelled, ""))
            continue
        option = _VALUED.get(spelled)
        if option is None:
            raise UsageError(f"{where}: {spelled} is not an option of a requirements file",
                             "docs/requirements.md lists the options jetpip reads")
        if not sep:
            if i >= len(words):
                raise UsageError(f"{where}: {spelled} needs a value", f"write {spelled} VALUE")
            value = words[i]
            i += 1
        out.append((option, value))
    return out


def logical_lines(text: str, env: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """(first line number, line) after pip's steps: join continuations, drop comments, expand ${VAR}."""
    for number, joined in _joined(text.splitlines()):
        line = _COMMENT.sub("", joined)
        line = _ENV_VAR.sub(lambda m: env.get(m[1]) or m[0], line).strip()
        if line:
            yield number, line


def _joined(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    # As pip: a line ending in '\' continues on the next, unless the line is a comment.
    parts: list[str] = []
    start = 0
    for number, line in enumerate(lines, 1):
        if line.endswith("\\") and not _COMMENT.match(line):
            if not parts:
                start = number
            parts.append(line.strip("\\"))
            continue
        if parts:
            yield start, "".join([*parts, " " + line if _COMMENT.match(line) else line])
            parts = []
        else:
            yield number, line
    if parts:
        yield start, "".join(parts)


_EXTRA_ONLY = re.compile(r"""\s*extra\s*==\s*(?:"([^"]*)"|'([^']*)')\s*""")


def only_for_extra(text: str) -> str | None:
    """The extra (canonical) a Requires-Dist line is for, when its marker is just ``extra == "name"``.

    None for any other line. Decided without parsing the line: a big package has hundreds of them.
    """
    head, sep, marker = text.partition(";")
    if not sep or "@" in head:
        return None
    only = _EXTRA_ONLY.fullmatch(marker)
    if only is None:
        return None
    return canonicalize_name(only[1] if only[1] is not None else only[2]) or None
