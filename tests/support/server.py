"""A real HTTP index server on 127.0.0.1 serving wheels in every form the Jetson field uses.

Forms: PEP 691 JSON and PEP 503 HTML (Accept negotiation, PEP 658 metadata files),
devpi (``/+simple/`` API, ``+f/`` file paths, and the bare path that serves a web
page to clients that don't look like pip), and flat link pages (NVIDIA redist
style, ``+`` percent-encoded). Faults: 5xx then OK, 503 with Retry-After, stall,
truncated body, wrong advertised hash, no Range support, redirect, hang-up after an
answer, a request dropped unanswered, a connection reset after some bytes of a file, a page
reset or cut short, a file served with other bytes, per-request delay. Files carry an ETag and
honour Range with If-Range. Every request is logged with its
arrival time and the client's port (one port for several requests: one kept-alive connection).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import html
import json
import socket
import ssl
import struct
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name, parse_wheel_filename

PIP_LIKE_AGENTS = ("pip/", "setuptools/", "uv/", "jetpip/")
DEVPI_HEADERS = {"X-Devpi-Server-Version": "6.14.0"}  # real devpi names itself on every answer


@dataclass
class ServedFile:
    filename: str
    data: bytes
    requires_python: str | None = None
    yanked: str | None = None  # None = not yanked; "" or a reason = yanked
    upload_time: str | None = "2025-01-08T01:49:37.000000Z"
    metadata: bytes | None = None  # PEP 658 body; read from the wheel when None
    pep658: bool = True
    advertised_sha256: str | None = None  # a lie, for the bad-hash case
    etag: str | None = None  # the file's ETag; derived from its bytes when None (change it: a new upload)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def validator(self) -> str:
        return self.etag or f'"{self.sha256[:16]}"'

    @property
    def project(self) -> str:
        if self.filename.endswith(".whl"):
            try:
                return canonicalize_name(parse_wheel_filename(self.filename)[0])
            except Exception:
                pass
        return canonicalize_name(self.filename.split("-")[0])

    def core_metadata(self) -> bytes | None:
        if self.metadata is not None:
            return self.metadata
        if not self.filename.endswith(".whl"):
            return None
        import io

        with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
            for name in zf.namelist():
                if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
                    return zf.read(name)
        return None

    @classmethod
    def from_path(cls, path: Path, **kw: Any) -> ServedFile:
        return cls(filename=path.name, data=path.read_bytes(), **kw)


@dataclass
class Mount:
    kind: str  # "simple" | "devpi" | "flat"
    prefix: str  # "/simple", "/jp6/cu126", "/redist/jp/v61/pytorch"
    files: list[ServedFile]
    json: bool = True
    html: bool = True
    max_age: int | None = None
    gzip: bool = False  # compress pages for clients that accept it

    def projects(self) -> dict[str, list[ServedFile]]:
        out: dict[str, list[ServedFile]] = {}
        for f in self.files:
            out.setdefault(f.project, []).append(f)
        return out

    def file_path(self, f: ServedFile) -> str:
        if self.kind == "devpi":
            h = f.sha256
            return f"{self.prefix}/+f/{h[:3]}/{h[3:16]}/{quote(f.filename)}"
        if self.kind == "flat":
            return f"{self.prefix}/{quote(f.filename)}"
        return f"{self.prefix.rsplit('/', 1)[0] or ''}/files/{f.sha256[:2]}/{quote(f.filename)}"


@dataclass
class Fault:
    path_contains: str
    # "500" | "503" | "stall" | "truncate" | "no-range" | "404" | "410" | "redirect" | "hangup" | "drop"
    # | "reset" | "page-reset" | "page-truncate" | "corrupt" (PAGE_FAULTS and _corrupted, below)
    # | "slow" (a file's answer in 64 KiB pieces, ``seconds`` apart: a slow link)
    kind: str
    count: int = 1_000_000  # how many requests it hits
    seconds: float = 5.0
    location: str = ""  # where a "redirect" sends the client
    retry_after: str = ""  # the Retry-After header a "503" sends (seconds or an HTTP date)
    cut: int = 0  # a "reset" sends this many bytes of a file's answer, then resets the connection
    exact: bool = False  # path_contains is the whole path (a file's, and not its .metadata)


@dataclass
class RequestRecord:
    method: str
    path: str
    user_agent: str
    accept: str
    range: str | None
    status: int
    authorization: str | None = None
    peer_port: int = 0  # the client's port: requests on one kept-alive connection share it
    arrived: float = 0.0  # time.monotonic() when the request came in


@dataclass
class IndexServer:
    """Serve mounts on an ephemeral loopback port until ``stop()``."""

    mounts: list[Mount] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    delay: float = 0.0
    log: list[RequestRecord] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _in_flight: int = 0
    max_in_flight: int = 0  # the most requests being answered at one moment, since start or reset
    tls: ssl.SSLContext | None = None  # a server-side context makes this an HTTPS server


    # -- set-up ---------------------------------------------------------------
    def add(self, kind: str, prefix: str, files: Iterable[ServedFile | Path], **kw: Any) -> str:
        served = [f if isinstance(f, ServedFile) else ServedFile.from_path(f) for f in files]
        mount = Mount(kind=kind, prefix="/" + prefix.strip("/"), files=served, **kw)
        self.mounts.append(mount)
        if kind == "flat":
            return self.url + mount.prefix + "/"
        return self.url + mount.prefix

    def add_files(self, prefix: str, files: Iterable[ServedFile | Path]) -> None:
        """Add more files to an existing mount."""
        for m in self.mounts:
            if m.prefix == "/" + prefix.strip("/"):
                m.files.extend(f if isinstance(f, ServedFile) else ServedFile.from_path(f) for f in files)
                return
        raise KeyError(prefix)

    def fault(self, path_contains: str, kind: str, count: int = 1_000_000, seconds: float = 5.0,
              location: str = "", retry_after: str = "", cut: int = 0, exact: bool = False) -> None:
        self.faults.append(Fault(path_contains, kind, count, seconds, location, retry_after, cut, exact))

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> IndexServer:
        server = self

        class Handler(_Handler):
            index = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, contains: str = "") -> list[RequestRecord]:
        # A request is logged just after its answer is sent: let in-flight ones land first
        # (bounded, so a stalled request cannot hang a test).
        deadline = time.monotonic() + 2.0
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            return [r for r in self.log if contains in r.path]

    def reset_in_flight_peak(self) -> None:
        """Start counting the peak of concurrent requests afresh."""
        with self._lock:
            self.max_in_flight = self._in_flight

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if (path == f.path_contains if f.exact else f.path_contains in path) and f.count > 0:
                    f.count -= 1
                    return f
        return None


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (the stall and truncate cases do) is normal here, not news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    index: IndexServer
    page_fault: Fault | None = None  # the fault the page answered now breaks with (PAGE_FAULTS)
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a kept-alive connection waits for the
    # client's delayed ACK (~40 ms) on every request, which would swamp the injected latency.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- dispatch -------------------------------------------------------------
    def _serve(self, head: bool) -> None:
        srv = self.index
        with srv._lock:
            srv._in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv._in_flight)
        try:
            self._serve_logged(head)
        finally:
            with srv._lock:
                srv._in_flight -= 1

    def _serve_logged(self, head: bool) -> None:
        srv = self.index
        arrived = time.monotonic()
        if srv.delay:
            time.sleep(srv.delay)
        path = urlsplit(self.path).path
        fault = srv.take_fault(path)
        self.page_fault = fault if fault is not None and fault.kind in PAGE_FAULTS else None
        status = self._dispatch(path, head, fault)
        if fault and fault.kind == "hangup":
            self.close_connection = True  # after a whole answer, without saying so beforehand
        with srv._lock:
            srv.log.append(
                RequestRecord(
                    self.command, path, self.headers.get("User-Agent", ""),
                    self.headers.get("Accept", ""), self.headers.get("Range"), status,
                    self.headers.get("Authorization"), self.client_address[1], arrived,
                )
            )

    def _dispatch(self, path: str, head: bool, fault: Fault | None) -> int:
        if fault and fault.kind == "500":
            return self._send(500, b"boom", "text/plain", head)
        if fault and fault.kind == "drop":  # the connection closes with the request unanswered
            self.close_connection = True
            return 0
        if fault and fault.kind == "503":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._send(503, b"busy", "text/plain", head, extra)
        if fault and fault.kind == "404":
            return self._send(404, b"not found", "text/plain", head)
        if fault and fault.kind == "410":  # devpi, at the old URL of a re-uploaded file
            return self._send(410, b"gone", "text/plain", head)
        if fault and fault.kind == "redirect":
            return self._send(302, b"", "text/plain", head, {"Location": fault.location})
        if fault and fault.kind == "stall":
            time.sleep(fault.seconds)
        for mount in sorted(self.index.mounts, key=lambda m: -len(m.prefix)):
            if path == mount.prefix or path.startswith(mount.prefix + "/") or (
                mount.kind == "simple" and path.startswith(mount.prefix.rsplit("/", 1)[0] + "/files/")
            ):
                result = self._mount(mount, path, head, fault)
                if result is not None:
                    return result
        return self._send(404, b"not found", "text/plain", head)

    def _mount(self, mount: Mount, path: str, head: bool, fault: Fault | None) -> int | None:
        for f in mount.files:
            fp = mount.file_path(f)
            if path == unquote(fp) or path == fp:
                return self._file(f, head, fault)
            if mount.kind != "flat" and (path == unquote(fp) + ".metadata") and f.pep658:
                meta = f.core_metadata()
                if meta is not None:
                    return self._send(200, meta, "application/octet-stream", head)
        rest = path[len(mount.prefix):].strip("/")
        if mount.kind == "flat":
            if rest == "":
                return self._page(self._flat_page(mount), "text/html", head, mount)
            return None
        if mount.kind == "devpi":
            if rest.startswith("+simple"):
                sub = rest[len("+simple"):].strip("/")
                return self._simple(mount, sub, head)
            if rest and "/" not in rest:
                # The devpi trap: the bare project path is a web UI page unless the client looks like pip.
                agent = self.headers.get("User-Agent", "")
                if any(agent.startswith(a) or a in agent for a in PIP_LIKE_AGENTS):
                    return self._simple(mount, rest, head)
                body = (
                    f"<html><body><h1>devpi web: {html.escape(rest)}</h1>"
                    "<a href='/'>home</a></body></html>"
                )
                return self._send(200, body.encode(), "text/html", head, dict(DEVPI_HEADERS))
            return None
        return self._simple(mount, rest, head)

    def _simple(self, mount: Mount, project: str, head: bool) -> int:
        projects = mount.projects()
        accept = self.headers.get("Accept", "")
        want_json = mount.json and "application/vnd.pypi.simple.v1+json" in accept and (
            not mount.html or _q(accept, "application/vnd.pypi.simple.v1+json") >= _q(accept, "text/html")
        )
        if project == "":
            if want_json:
                listing = [{"name": n} for n in sorted(projects)]
                body = json.dumps({"meta": {"api-version": "1.1"}, "projects": listing})
                return self._page(body.encode(), "application/vnd.pypi.simple.v1+json", head, mount)
            links = "".join(f'<a href="{n}/">{n}</a>\n' for n in sorted(projects))
            page = f"<!DOCTYPE html><html><body>{links}</body></html>".encode()
            return self._page(page, "text/html", head, mount)
        name = canonicalize_name(project)
        if name != project:
            self.send_response(301)
            api = "+simple/" if mount.kind == "devpi" else ""
            self.send_header("Location", f"{mount.prefix}/{api}{name}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 301
        files = projects.get(name)
        if files is None:
            return self._send(404, b"no such project", "text/plain", head)
        if want_json:
            page = self._json_page(mount, name, files)
            return self._page(page, "application/vnd.pypi.simple.v1+json", head, mount)
        if not mount.html:
            return self._send(406, b"not acceptable", "text/plain", head)
        return self._page(self._html_page(mount, name, files), "text/html", head, mount)

    # -- bodies ---------------------------------------------------------------
    def _href(self, mount: Mount, f: ServedFile) -> str:
        return mount.file_path(f)

    def _html_page(self, mount: Mount, name: str, files: list[ServedFile]) -> bytes:
        rows = []
        for f in files:
            attrs = [f'href="{self._href(mount, f)}#sha256={f.advertised_sha256 or f.sha256}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
            meta = f.core_metadata() if f.pep658 else None
            if meta is not None:
                mh = hashlib.sha256(meta).hexdigest()
                attrs.append(f'data-core-metadata="sha256={mh}"')
                attrs.append(f'data-dist-info-metadata="sha256={mh}"')
            rows.append(f"<a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
        body = (
            "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\">"
            f"<title>Links for {name}</title></head><body><h1>Links for {name}</h1>\n"
            + "\n".join(rows)
            + "\n</body></html>\n"
        )
        return body.encode()

    def _json_page(self, mount: Mount, name: str, files: list[ServedFile]) -> bytes:
        out = []
        for f in files:
            entry: dict[str, Any] = {
                "filename": f.filename,
                "url": self._href(mount, f),
                "hashes": {"sha256": f.advertised_sha256 or f.sha256},
                "size": len(f.data),
                "upload-time": f.upload_time,
            }
            if f.requires_python:
                entry["requires-python"] = f.requires_python
            if f.yanked is not None:
                entry["yanked"] = f.yanked or True
            meta = f.core_metadata() if f.pep658 else None
            if meta is not None:
                entry["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
                entry["dist-info-metadata"] = entry["core-metadata"]
            out.append(entry)
        doc = {"meta": {"api-version": "1.1"}, "name": name, "files": out, "versions": []}
        return json.dumps(doc).encode()

    def _flat_page(self, mount: Mount) -> bytes:
        # NVIDIA redist style: an autoindex-like listing, relative hrefs, '+' percent-encoded.
        rows = "".join(
            f'<a href="{quote(f.filename)}">{html.escape(f.filename)}</a>'
            f"   08-Jan-2025 01:49   {len(f.data)}\n"
            for f in mount.files
        )
        title = f"Index of {mount.prefix}/"
        return (
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f'<pre><a href="../">../</a>\n{rows}</pre></body></html>\n'
        ).encode()

    # -- responses ------------------------------------------------------------
    def _page(self, body: bytes, ctype: str, head: bool, mount: Mount) -> int:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 304
        extra = {"ETag": etag, "Last-Modified": email.utils.formatdate(1_700_000_000, usegmt=True)}
        if mount.max_age is not None:
            extra["Cache-Control"] = f"max-age={mount.max_age}"
        if mount.kind == "devpi":
            extra.update(DEVPI_HEADERS)
        if mount.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            extra["Content-Encoding"] = "gzip"
        if self.page_fault is not None:
            return _faulty_page(self, self.page_fault, body, ctype, head, extra)
        return self._send(200, body, ctype, head, extra)

    def _file(self, f: ServedFile, head: bool, fault: Fault | None) -> int:
        data = _corrupted(f.data) if fault is not None and fault.kind == "corrupt" else f.data
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and if_range is not None and if_range != f.validator:
            rng = None  # the file changed since the client's copy began: RFC 9110 sends it whole
        if fault and fault.kind == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
            self.close_connection = True
            return 200
        no_range = fault is not None and fault.kind == "no-range"
        reset = fault.cut if fault is not None and fault.kind == "reset" else None
        pace = fault.seconds if fault is not None and fault.kind == "slow" else None
        if rng and not no_range and rng.startswith("bytes="):
            spec = rng[len("bytes="):]
            start_s, _, end_s = spec.partition("-")
            size = len(data)
            if start_s == "":
                start, end = max(0, size - int(end_s)), size - 1
            else:
                start = int(start_s)
                end = min(int(end_s), size - 1) if end_s else size - 1
            if start >= size:
                return self._send(416, b"", "text/plain", head, {"Content-Range": f"bytes */{size}"})
            body = data[start : end + 1]
            return self._send(
                206, body, "application/octet-stream", head,
                {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes",
                 "ETag": f.validator},
                reset, pace,
            )
        extra = {"ETag": f.validator} if no_range else {"Accept-Ranges": "bytes", "ETag": f.validator}
        return self._send(200, data, "application/octet-stream", head, extra, reset, pace)

    def _send(
        self, status: int, body: bytes, ctype: str, head: bool, extra: dict[str, str] | None = None,
        reset: int | None = None, pace: float | None = None,
    ) -> int:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and reset is not None:
            # The first bytes, then a TCP reset (SO_LINGER 0 on close), as a dropped link ends an answer.
            # The pause lets the client read them first: a reset drops what its kernel still holds.
            self.wfile.write(body[:reset])
            self.wfile.flush()
            time.sleep(0.5)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif not head and pace is not None:
            for at in range(0, len(body), 64 * 1024):
                self.wfile.write(body[at:at + 64 * 1024])
                self.wfile.flush()
                time.sleep(pace)
        elif not head:
            self.wfile.write(body)
        return status


def _q(accept: str, media: str) -> float:
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        if bits[0] == media:
            for b in bits[1:]:
                if b.startswith("q="):
                    try:
                        return float(b[2:])
                    except ValueError:
                        return 0.0
            return 1.0
    return 0.0


# -- faults of whole answers: a page cut short, a file with other bytes ------------------------------

# A page answer that breaks: "page-reset" sends half the page, then a TCP reset; "page-truncate"
# sends half the page and closes the connection, short of its Content-Length.
PAGE_FAULTS = ("page-reset", "page-truncate")


def _faulty_page(
    handler: _Handler, fault: Fault, body: bytes, ctype: str, head: bool, extra: dict[str, str]
) -> int:
    if fault.kind == "page-reset":
        return handler._send(200, body, ctype, head, extra, len(body) // 2)
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in extra.items():
        handler.send_header(key, value)
    handler.end_headers()
    if not head:
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
    handler.close_connection = True
    return 200


def _corrupted(data: bytes) -> bytes:
    """The same number of bytes, none the same: a file replaced under its URL (a re-upload, a bad disk)."""
    return bytes(b ^ 0xFF for b in data)
