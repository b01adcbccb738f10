"""Project pages of the bench mirror: parse real PEP 503/691 pages, cut them at the pins, render both."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote, urldefrag

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"


@dataclass(frozen=True)
class PageFile:
    """One file row of a project page."""

    filename: str
    url: str
    sha256: str | None = None
    requires_python: str | None = None
    yanked: str | None = None  # None: not yanked; "": yanked without a reason
    upload_time: str | None = None
    size: int | None = None
    core_metadata: str | None = None  # sha256 of the PEP 658 file, when offered

    @property
    def version(self) -> Version | None:
        """The version in the file name, or None for names no resolver reads either."""
        try:
            if self.filename.endswith(".whl"):
                return parse_wheel_filename(self.filename)[1]
            return parse_sdist_filename(self.filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            return None


@dataclass(frozen=True)
class Page:
    """A project page as a list of files."""

    name: str
    files: tuple[PageFile, ...]

    def cut(self, pinned: Version) -> Page:
        """Drop every file newer than the pin, so every resolver lands on the pinned version."""
        kept = tuple(f for f in self.files if f.version is None or f.version <= pinned)
        return replace(self, files=kept)

    def without_bad_wheel_names(self) -> tuple[Page, int]:
        """Drop wheel rows whose names packaging rejects (``pydantic-0.18-py36+-none-any.whl``)."""
        kept = []
        for f in self.files:
            if f.filename.endswith(".whl"):
                try:
                    parse_wheel_filename(f.filename)
                except (InvalidWheelFilename, InvalidVersion, ValueError):
                    continue
            kept.append(f)
        return replace(self, files=tuple(kept)), len(self.files) - len(kept)

    def local(self, serve_path: str) -> Page:
        """Point every file URL at the mirror's ``/files/<sha256>/<filename>`` (or under ``serve_path``)."""
        out = []
        for f in self.files:
            key = f.sha256 or hashlib.sha256(f.url.encode()).hexdigest()
            out.append(replace(f, url=f"{serve_path}/{key}/{quote(f.filename)}"))
        return replace(self, files=tuple(out))

    def to_json(self) -> bytes:
        """The PEP 691 form."""
        rows: list[dict[str, Any]] = []
        for f in self.files:
            row: dict[str, Any] = {
                "filename": f.filename,
                "url": f.url,
                "hashes": {"sha256": f.sha256} if f.sha256 else {},
            }
            if f.requires_python:
                row["requires-python"] = f.requires_python
            if f.yanked is not None:
                row["yanked"] = f.yanked or True
            if f.core_metadata:
                row["core-metadata"] = {"sha256": f.core_metadata}
                row["dist-info-metadata"] = {"sha256": f.core_metadata}
            if f.size is not None:
                row["size"] = f.size
            if f.upload_time:
                row["upload-time"] = f.upload_time
            rows.append(row)
        return json.dumps({"meta": {"api-version": "1.0"}, "name": self.name, "files": rows}).encode()

    def to_html(self) -> bytes:
        """The PEP 503 form, laid out as the public index lays it out."""
        lines = [
            "<!DOCTYPE html>",
            "<html>",
            '<head><meta name="pypi:repository-version" content="1.0">'
            f"<title>Links for {html.escape(self.name)}</title></head>",
            "<body>",
            f"<h1>Links for {html.escape(self.name)}</h1>",
        ]
        for f in self.files:
            href = f.url + (f"#sha256={f.sha256}" if f.sha256 else "")
            attrs = [f'href="{html.escape(href)}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
            if f.core_metadata:
                attrs.append(f'data-dist-info-metadata="sha256={f.core_metadata}"')
                attrs.append(f'data-core-metadata="sha256={f.core_metadata}"')
            lines.append(f"<a {' '.join(attrs)}>{html.escape(f.filename)}</a><br />")
        lines += ["</body>", "</html>", ""]
        return "\n".join(lines).encode()


def parse_json_page(payload: bytes) -> Page:
    """Read a PEP 691 page."""
    data = json.loads(payload)
    files = []
    for row in data.get("files", []):
        meta = row.get("core-metadata", row.get("dist-info-metadata"))
        yanked = row.get("yanked", False)
        files.append(
            PageFile(
                filename=row["filename"],
                url=row["url"],
                sha256=row.get("hashes", {}).get("sha256"),
                requires_python=row.get("requires-python"),
                yanked=None if yanked is False else ("" if yanked is True else str(yanked)),
                upload_time=row.get("upload-time"),
                size=row.get("size"),
                core_metadata=meta.get("sha256") if isinstance(meta, dict) else None,
            )
        )
    return Page(name=canonicalize_name(data["name"]), files=tuple(files))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.rows.append((self._open, "".join(self._text).strip()))
            self._open = None


def parse_html_page(name: str, payload: bytes, base_url: str) -> Page:
    """Read a PEP 503 page; relative hrefs are resolved against ``base_url``."""
    from urllib.parse import urljoin

    parser = _Anchors()
    parser.feed(payload.decode("utf-8", "replace"))
    files = []
    for attrs, text in parser.rows:
        href = attrs.get("href")
        if not href:
            continue
        url, frag = urldefrag(urljoin(base_url, href))
        sha = frag[len("sha256=") :] if frag.startswith("sha256=") else None
        meta = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        files.append(
            PageFile(
                filename=text or unquote(url.rsplit("/", 1)[-1]),
                url=url,
                sha256=sha,
                requires_python=attrs.get("data-requires-python"),
                yanked=attrs.get("data-yanked") if "data-yanked" in attrs else None,
                upload_time=attrs.get("data-upload-time"),
                core_metadata=meta[len("sha256=") :] if meta and meta.startswith("sha256=") else None,
            )
        )
    return Page(name=canonicalize_name(name), files=tuple(files))


def page_of(name: str, rows: Iterable[PageFile]) -> Page:
    """A page for files the bench built or downloaded itself."""
    return Page(name=canonicalize_name(name), files=tuple(rows))


def is_canonical(project: str) -> bool:
    """Whether a URL's project segment is already in its normal form."""
    return project == canonicalize_name(project)
