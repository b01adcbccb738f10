"""Lines that name source trees and local files: paths, ``file:`` URLs and git URLs, as pip reads them.

pip's rules (pip/_internal/req/constructors.py): a relative path is taken from the working
directory; a path's marker follows ';', a URL's '; '; a directory must hold pyproject.toml or
setup.py; ``#egg=`` names the project of a URL that has no ``name @``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from jetpip.errors import UsageError, WheelNameError
from jetpip.model.links import SDIST_FORMATS, SDIST_SUFFIXES, parse_sdist_name
from jetpip.model.projects import ProjectRef
from jetpip.model.urls import redact_text

_VCS = ("git+", "hg+", "svn+", "bzr+")
# 'name[extras] @ URL': PEP 508's direct reference (the name does not look like a path).
_NAMED_URL = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")


def source_tree(args: str, where: str, *, editable: bool = False) -> ProjectRef | Requirement | None:
    """What a line naming a local path, a ``file:`` URL or a VCS URL names, as pip reads it.

    A ProjectRef for a source tree; ``name @ file:///...`` for a wheel or sdist file (named from its
    filename when the line gives no name); None for any other line. ``where``: "file:line".
    """
    shown = redact_text(args)
    named = _NAMED_URL.match(args)
    if named:  # 'name[extras] @ URL ; marker': packaging reads it, the URL says what it is
        try:
            req = Requirement(args)
        except InvalidRequirement:
            return None  # the caller reports it as written
        url = req.url or ""
        extras, marker = tuple(sorted(req.extras)), str(req.marker) if req.marker else None
        if url.startswith(_VCS):
            return _vcs_line(url, where, shown, editable, req.name, extras, marker)
        if url.startswith("file:"):
            path = _file_path(url, where)
            return _path_line(path, where, shown, editable, req.name, extras, marker)
        return None
    # pip splits a URL's marker at '; ', a path's at ';' (pip/_internal/req/constructors.py).
    url_like = "://" in args.split(";", 1)[0] or args.startswith(_VCS)
    head, _, marker_text = args.partition("; " if url_like else ";")
    head, marker = head.strip(), marker_text.strip() or None
    if marker is not None:
        try:
            marker = str(Marker(marker))
        except InvalidMarker as err:
            raise UsageError(f"{where}: cannot read the marker of '{shown}': {err}",
                             "write the marker after ' ; ' as PEP 508 does") from None
    if head.startswith(_VCS):
        return _vcs_line(head, where, shown, editable, None, (), marker)
    if head.startswith("file:"):
        url, _, fragment = head.partition("#")
        return _path_line(_file_path(url, where), where, shown, editable, _egg(fragment), (), marker)
    if url_like:
        return None
    path_text, extras = _strip_extras(head)
    if not _looks_like_path(path_text) and not editable:
        return None
    return _path_line(os.path.normpath(os.path.abspath(path_text)), where, shown, editable, None,
                      extras, marker)


def _path_line(path: str, where: str, shown: str, editable: bool, name: str | None,
               extras: tuple[str, ...], marker: str | None) -> ProjectRef | Requirement:
    """A directory becomes a project; a wheel or sdist file, the direct URL of that file."""
    folder = Path(path)
    if folder.is_dir():
        if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
            raise UsageError(f"{where}: the directory {path} is not installable: it holds neither "
                             "pyproject.toml nor setup.py", "name the project's own folder")
        return ProjectRef("directory", path, editable, canonicalize_name(name) if name else None,
                          extras=extras, marker=marker)
    if editable:
        raise UsageError(f"{where}: the option --editable needs a local project directory, and {path} is "
                         f"{'a file' if folder.exists() else 'not there'}",
                         "pip installs only a directory (or a VCS checkout) in editable mode")
    if not folder.is_file():
        raise UsageError(f"{where}: '{shown}' names {path}, which does not exist",
                         "a relative path is taken from the working directory, as pip takes it")
    filename = folder.name
    try:
        if filename.endswith(SDIST_FORMATS):
            found, _ = parse_sdist_name(filename)
        else:
            found = parse_wheel_filename(filename)[0]
    except (InvalidWheelFilename, WheelNameError):
        raise UsageError(f"{where}: {path} is neither a project directory, a wheel nor an sdist",
                         "name a folder with pyproject.toml, a .whl, or a .tar.gz / .zip sdist") from None
    extra_text = f"[{','.join(extras)}]" if extras else ""
    marker_text = f" ; {marker}" if marker else ""
    return Requirement(f"{name or found}{extra_text} @ {folder.as_uri()}{marker_text}")


def _vcs_line(url: str, where: str, shown: str, editable: bool, name: str | None, extras: tuple[str, ...],
              marker: str | None) -> ProjectRef:
    scheme = url.split("+", 1)[0]
    if scheme != "git":
        raise UsageError(f"{where}: '{shown}' is a {scheme} requirement; jetpip checks out git only",
                         "install it with pip itself, or build a wheel and name that file")
    if editable:
        raise UsageError(f"{where}: the option --editable cannot be honoured for '{shown}': jetpip does not "
                         "keep an editable VCS checkout", "clone it yourself and write -e ./path/to/clone")
    plain, _, fragment = url[len("git+"):].partition("#")
    parts = urlsplit(plain)
    path, at, revision = parts.path.rpartition("@") if "@" in parts.path else (parts.path, "", "")
    if not parts.scheme or not (parts.netloc or parts.scheme == "file") or not path:
        raise UsageError(f"{where}: '{shown}' is not a git URL jetpip can clone",
                         "write git+https://host/owner/repo.git@REV (or git+file:///path/to/repo)")
    fields = dict(f.split("=", 1) for f in fragment.split("&") if "=" in f)
    name = name or _egg(fragment)
    location = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return ProjectRef("vcs", location, False, canonicalize_name(name) if name else None, "git",
                      revision if at else None, None, fields.get("subdirectory"), extras, marker)


def _egg(fragment: str) -> str | None:
    for field in fragment.split("&"):
        key, _, value = field.partition("=")
        if key == "egg" and value:
            return value
    return None


def _strip_extras(text: str) -> tuple[str, tuple[str, ...]]:
    match = re.match(r"^(.+?)(\[([^\]]+)\])?$", text)
    if match is None or not match[3]:
        return text, ()
    return match[1], tuple(sorted(canonicalize_name(e) for e in match[3].split(",") if e.strip()))


def _file_path(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{where}: the file URL {url} names another host ({parts.netloc})",
                         "write file:///absolute/path (three slashes)")
    return os.path.normpath(os.path.abspath(unquote(parts.path)))  # pip reads file:../x from the cwd too


def _looks_like_path(text: str) -> bool:
    # pip's test: a path separator, or a leading '.', marks a local project (a name has neither);
    # an archive's name marks a local file.
    return "/" in text or text.startswith(".") or text.endswith((".whl", *SDIST_SUFFIXES))
