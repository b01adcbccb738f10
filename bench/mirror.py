"""The benchmark mirror: real pages and wheels from a cache plus stand-in CUDA builds, served on 127.0.0.1.

Layout of the served index:
  /simple/<name>/               the real project pages of the closure, cut at the pins
  /jp6/cu126/+simple/<name>/    a devpi-like index: stand-in CUDA builds for the guarded
                                names, and (as devpi's inheritance does) every other page
  /files/<sha256>/<filename>    pinned wheels; other rows of the real pages answer 404
  /jp6/cu126/+f/<h3>/<h13>/<f>  stand-in CUDA wheels
Every file that a page offers with PEP 658 metadata answers at ``<file URL>.metadata``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mmap
import os
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pages import (  # noqa: E402
    HTML_TYPE,
    JSON_TYPE,
    Page,
    PageFile,
    is_canonical,
    page_of,
    parse_html_page,
    parse_json_page,
)
from tests.support.server import _q  # noqa: E402
from tests.support.wheels import (  # noqa: E402
    WheelSpec,
    build_wheel,
    host_platform_tag,
    host_python_tag,
)

CACHE = BENCH / ".cache"
CLOSURE = BENCH / "closure.txt"
DEVPI = "/jp6/cu126"
# Files never change under one URL: cache them for good, as the public index says of its files.
IMMUTABLE = {"Cache-Control": "max-age=365000000, immutable, public"}


# -- the closure --------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One pinned wheel of the closure."""

    name: str
    version: str
    sha256: str
    filename: str


@dataclass(frozen=True)
class Closure:
    """What is resolved (roots) and the wheels every resolver should land on (pins)."""

    roots: tuple[str, ...]
    pins: tuple[Pin, ...]
    stand_ins: tuple[str, ...] = ()  # "torch==2.8.0": built by the bench, served on the devpi path

    @classmethod
    def parse(cls, text: str) -> Closure:
        roots: tuple[str, ...] = ()
        stand_ins: tuple[str, ...] = ()
        pins = []
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("# roots:"):
                roots = tuple(line[len("# roots:") :].split())
            elif line.startswith("# stand-ins:"):
                stand_ins = tuple(line[len("# stand-ins:") :].split())
            elif line and not line.startswith("#"):
                req, _, filename = line.partition("#")
                spec, _, hashes = req.partition("--hash=sha256:")
                name, _, version = spec.strip().partition("==")
                pins.append(Pin(canonicalize_name(name), version, hashes.strip(), filename.strip()))
        if not roots or not pins:
            raise ValueError("closure file needs a '# roots:' line and pinned lines")
        return cls(roots=roots, pins=tuple(pins), stand_ins=stand_ins)


def stand_in_specs() -> list[WheelSpec]:
    """The CUDA builds a Jetson index would serve, tagged for this machine so they install."""
    py = host_python_tag()
    tag = f"{py}-{py}-{host_platform_tag()}"
    return [
        WheelSpec(
            "torch",
            "2.8.0",
            tag=tag,
            build="jetson",
            requires_python=">=3.9",
            requires=[
                "filelock",
                "typing-extensions>=4.10.0",
                "sympy>=1.13.3",
                "networkx",
                "jinja2",
                "fsspec",
            ],
        ),
        WheelSpec("torchvision", "0.23.0", tag=tag, build="jetson", requires=["numpy", "torch==2.8.0"]),
        WheelSpec(
            "onnxruntime-gpu",
            "1.23.0",
            tag=tag,
            build="jetson",
            module="onnxruntime",
            requires=["numpy>=1.21.6", "packaging", "sympy"],
        ),
    ]


def quick_specs() -> tuple[list[str], list[WheelSpec]]:
    """A tiny closure for the smoke run: extras, a backtrack-free skip, a guarded dependency."""
    specs = [
        WheelSpec(
            "benchapp", "1.0", requires=["liba>=1", "libb<3", "torch>=2.1"], extras={"local": ["libc>=0.5"]}
        ),
        WheelSpec("liba", "1.0"),
        WheelSpec("liba", "1.1", requires=["libc>=0.5"]),
        WheelSpec("libb", "2.0", requires=["liba"]),
        WheelSpec("libb", "3.0"),
        WheelSpec("libc", "0.9", requires_python=">=3.8"),
        WheelSpec("filelock", "3.0"),
        WheelSpec("typing-extensions", "4.12.0"),
        WheelSpec("sympy", "1.13.3", requires=["mpmath"]),
        WheelSpec("mpmath", "1.3.0"),
        WheelSpec("networkx", "3.0"),
        WheelSpec("jinja2", "3.1.6", requires=["markupsafe"]),
        WheelSpec("markupsafe", "3.0.0"),
        WheelSpec("fsspec", "2024.1.0"),
    ]
    return ["benchapp[local]"], specs


# -- the cache: wheels, pages --------------------------------------------------


def base_index() -> str:
    """The base index as this machine's pip sees it: PIP_INDEX_URL, pip.conf, else pip's default."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].split()[0]
    got = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
    )
    if got.returncode == 0 and got.stdout.strip():
        return got.stdout.strip()
    code = "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def ensure_wheels(pins: Iterable[Pin], dest: Path, say: Any = print) -> dict[str, Path]:
    """Download the pinned wheels with pip (hash-checked) unless already cached."""
    dest.mkdir(parents=True, exist_ok=True)
    pins = list(pins)
    missing = [p for p in pins if not (dest / p.filename).is_file()]
    if missing:
        say(f"downloading {len(missing)} pinned wheels with pip into {dest}")
        reqs = dest / "_missing.txt"
        reqs.write_text("".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in missing))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
                "-r",
                str(reqs),
                "-d",
                str(dest),
            ],
            check=True,
        )
    out = {}
    for p in pins:
        path = dest / p.filename
        if hashlib.sha256(path.read_bytes()).hexdigest() != p.sha256:
            raise SystemExit(f"cached wheel {path} does not match its pinned hash; delete it and re-run")
        out[p.name] = path
    return out


def ensure_pages(names: Iterable[str], dest: Path, say: Any = print) -> None:
    """Fetch each project's real page once, in both the JSON and the HTML form the index offers."""
    dest.mkdir(parents=True, exist_ok=True)
    todo = [n for n in names if not any(dest.glob(f"{n}.*"))]
    if not todo:
        return
    index = base_index().rstrip("/")
    say(f"fetching {len(todo)} project pages from the base index into {dest}")

    def fetch(name: str) -> None:
        for accept in (JSON_TYPE, "text/html"):
            req = urllib.request.Request(
                f"{index}/{name}/", headers={"Accept": accept, "User-Agent": "jetpip-bench"}
            )
            with urllib.request.urlopen(req, timeout=120) as resp:
                body, ctype = resp.read(), resp.headers.get("Content-Type", "")
            ext = "json" if "json" in ctype else "html"
            (dest / f"{name}.{ext}.part").write_bytes(body)
            os.replace(dest / f"{name}.{ext}.part", dest / f"{name}.{ext}")
        (dest / f"{name}.url").write_text(f"{index}/{name}/\n")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fetch, todo))


def wheel_metadata(path: Path) -> bytes:
    """The METADATA file of a wheel, byte for byte (what PEP 658 serves)."""
    name, version, _, _ = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as zf:
        for entry in zf.namelist():
            parts = entry.split("/")
            if len(parts) == 2 and parts[1] == "METADATA" and parts[0].endswith(".dist-info"):
                return zf.read(entry)
    raise ValueError(f"{path.name}: no METADATA for {name} {version}")


def cached_page(name: str, pages: Path) -> Page:
    """A cached real page: the JSON form when the index gave one, else the HTML form."""
    if (pages / f"{name}.json").is_file():
        return parse_json_page((pages / f"{name}.json").read_bytes())
    url = (pages / f"{name}.url").read_text().strip()
    return parse_html_page(name, (pages / f"{name}.html").read_bytes(), url)


# -- the served tree -----------------------------------------------------------


@dataclass
class Rendered:
    """Both forms of one page, with their validators."""

    json: bytes
    html: bytes

    @functools.cached_property
    def json_etag(self) -> str:
        return '"' + hashlib.sha256(self.json).hexdigest()[:32] + '"'

    @functools.cached_property
    def html_etag(self) -> str:
        return '"' + hashlib.sha256(self.html).hexdigest()[:32] + '"'

    @classmethod
    def of(cls, page: Page) -> Rendered:
        return cls(json=page.to_json(), html=page.to_html())


@dataclass
class Mirror:
    """Everything the server answers: pages by path, and file bodies by path."""

    pages: dict[str, Rendered] = field(default_factory=dict)
    blobs: dict[str, Path | bytes] = field(default_factory=dict)
    flat: dict[str, bytes] = field(default_factory=dict)  # flat link pages (HTML only)
    roots: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    dropped: int = 0  # rows left out of the real pages (--skip-bad-names)

    def publish(self, prefixes: Iterable[str], page: Page) -> None:
        rendered = Rendered.of(page)
        for prefix in prefixes:
            self.pages[f"{prefix}/{page.name}/"] = rendered

    def local_files(self, files: Iterable[tuple[Path, bytes | None]], layout: str) -> list[PageFile]:
        """Rows for wheels the mirror holds; ``layout`` is "files" or "devpi"."""
        rows = []
        for path, meta in files:
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            url = (
                f"{DEVPI}/+f/{sha[:3]}/{sha[3:16]}/{path.name}"
                if layout == "devpi"
                else f"/files/{sha}/{path.name}"
            )
            self.blobs[url] = path
            meta = meta if meta is not None else wheel_metadata(path)
            self.blobs[url + ".metadata"] = meta
            rows.append(
                PageFile(
                    filename=path.name,
                    url=url,
                    sha256=sha,
                    size=len(data),
                    core_metadata=hashlib.sha256(meta).hexdigest(),
                    upload_time="2025-01-08T01:49:37Z",
                )
            )
        return rows

    def finish(self) -> None:
        for prefix in ("/simple", f"{DEVPI}/+simple"):
            names = sorted(
                {p[len(prefix) + 1 :].strip("/") for p in self.pages if p.startswith(prefix + "/")}
            )
            body = json.dumps({"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]})
            links = "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
            self.pages[prefix + "/"] = Rendered(body.encode(), f"<html><body>{links}</body></html>".encode())


def build_full(cache: Path = CACHE, say: Any = print, skip_bad_names: bool = False) -> Mirror:
    """The mirror of the pinned closure: real pages and wheels (cached), stand-ins built now."""
    closure = Closure.parse(CLOSURE.read_text())
    wheels = ensure_wheels(closure.pins, cache / "wheels", say)
    ensure_pages([p.name for p in closure.pins], cache / "pages", say)
    mirror = Mirror(roots=closure.roots, names=tuple(p.name for p in closure.pins))
    for pin in closure.pins:
        page = cached_page(pin.name, cache / "pages").cut(Version(pin.version))
        if skip_bad_names:
            page, dropped = page.without_bad_wheel_names()
            mirror.dropped += dropped
        if not any(f.filename == pin.filename for f in page.files):
            raise SystemExit(
                f"the cached page of {pin.name} does not list {pin.filename}; "
                f"delete {cache / 'pages'} and re-run"
            )
        held = {r.filename: r for r in mirror.local_files([(wheels[pin.name], None)], "files")}
        rows = [held.get(f.filename) or f for f in page.local("/files").files]
        mirror.publish(["/simple", f"{DEVPI}/+simple"], page_of(pin.name, rows))
    _add_stand_ins(mirror, cache / "stand-ins")
    mirror.finish()
    return mirror


def build_quick(workdir: Path) -> Mirror:
    """The smoke mirror: every wheel built now, nothing from the internet."""
    roots, specs = quick_specs()
    mirror = Mirror(roots=tuple(roots))
    by_name: dict[str, list[Path]] = {}
    for spec in specs:
        built = build_wheel(workdir / "wheels", spec)
        by_name.setdefault(canonicalize_name(spec.name), []).append(built.path)
    for name, paths in by_name.items():
        rows = mirror.local_files([(p, None) for p in paths], "files")
        mirror.publish(["/simple", f"{DEVPI}/+simple"], page_of(name, rows))
    mirror.names = tuple(sorted(by_name))
    _add_stand_ins(mirror, workdir / "stand-ins")
    mirror.finish()
    return mirror


def _add_stand_ins(mirror: Mirror, dest: Path) -> None:
    by_name: dict[str, list[Path]] = {}
    for spec in stand_in_specs():
        by_name.setdefault(canonicalize_name(spec.name), []).append(build_wheel(dest, spec).path)
    for name, paths in by_name.items():
        rows = mirror.local_files([(p, None) for p in paths], "devpi")
        # The guarded names show only their CUDA builds on the devpi path.
        mirror.publish([f"{DEVPI}/+simple"], page_of(name, rows))


# -- the server ----------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One logged request."""

    method: str
    path: str
    status: int
    kind: str  # "page" | "revalidated" (a 304) | "metadata" | "file" | "other"
    agent: str
    sent: int
    proto: str = "http/1.1"  # "h2" where the https mirror negotiated HTTP/2


@dataclass(frozen=True)
class Answer:
    """A response, the same for HTTP/1.1 and HTTP/2: status, headers, body (empty for HEAD)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | memoryview
    kind: str
    sent: int


#: The piece a paced answer is sent in (``MirrorServer.rate``).
PACE_PIECE = 64 * 1024


@dataclass
class MirrorServer:
    """Serve a Mirror on an ephemeral loopback port with an optional per-request delay and rate."""

    mirror: Mirror
    delay: float = 0.0
    rate: float = 0.0  # bytes per second of each answer's body, as over a link that slow; 0: no limit
    log: list[Hit] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MirrorServer:
        self._httpd = self._make_httpd()
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def _make_httpd(self) -> ThreadingHTTPServer:
        return Httpd(("127.0.0.1", 0), self.handler())

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_Handler):
            owner = server

        return Handler

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def mark(self) -> int:
        with self._lock:
            return len(self.log)

    def since(self, mark: int) -> list[Hit]:
        with self._lock:
            return list(self.log[mark:])

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.log.append(hit)


class Httpd(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # uv opens many connections at once


class _Handler(BaseHTTPRequestHandler):
    owner: MirrorServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for the client's
    # delayed ACK (about 40 ms on Linux), which no real index server adds to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if self.owner.delay:
            time.sleep(self.owner.delay)
        path = unquote(urlsplit(self.path).path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        got = answer(self.owner.mirror, self.command, path, headers)
        self.send_response(got.status)
        for k, v in got.headers:
            self.send_header(k, v)
        self.end_headers()
        if got.body:
            self._write(got.body)
        agent = headers.get("user-agent", "")
        self.owner.record(Hit(self.command, path, got.status, got.kind, agent, got.sent))

    def _write(self, body: bytes | memoryview) -> None:
        """Send ``body``, paced to the server's rate: each piece no sooner than the link allows."""
        rate = self.owner.rate
        if not rate:
            self.wfile.write(body)
            return
        start = time.monotonic()
        for offset in range(0, len(body), PACE_PIECE):
            self.wfile.write(body[offset : offset + PACE_PIECE])
            early = (offset + PACE_PIECE) / rate - (time.monotonic() - start)
            if early > 0:
                time.sleep(early)


def answer(mirror: Mirror, method: str, path: str, headers: dict[str, str]) -> Answer:
    """What the mirror answers to ``method path``; ``headers`` has lower-cased names."""
    head = method == "HEAD"
    page = mirror.pages.get(path) or mirror.pages.get(path + "/")
    if page is None and path.endswith("/") and path.count("/") >= 3:
        head_part, _, project = path.rstrip("/").rpartition("/")
        if not is_canonical(project) and f"{head_part}/{canonicalize_name(project)}/" in mirror.pages:
            where = f"{head_part}/{canonicalize_name(project)}/"
            return Answer(301, (("Location", where), ("Content-Length", "0")), b"", "page", 0)
    if page is not None:
        return _page(page, head, headers)
    if path in mirror.flat:
        body = mirror.flat[path]
        return _page(Rendered(json=body, html=body), head, headers, ctype="text/html")
    blob = mirror.blobs.get(path)
    if blob is None:
        return _send(404, b"not found", "text/plain", head, "other", sent=0)
    data = blob if isinstance(blob, bytes) else mapped(blob)
    return _file(data, head, headers, "metadata" if path.endswith(".metadata") else "file")


@functools.cache
def mapped(path: Path) -> memoryview:
    """A file's bytes as one read-only map shared by every request: a big wheel is streamed from the
    page cache, never read whole into memory per request (slices of a memoryview are not copies)."""
    if not path.stat().st_size:
        return memoryview(b"")
    with path.open("rb") as f:
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))


def _page(page: Rendered, head: bool, headers: dict[str, str], ctype: str | None = None) -> Answer:
    accept = headers.get("accept", "")
    use_json = (
        ctype is None
        and _q(accept, JSON_TYPE) > 0
        and _q(accept, JSON_TYPE) >= max(_q(accept, HTML_TYPE), _q(accept, "text/html"))
    )
    body, etag = (page.json, page.json_etag) if use_json else (page.html, page.html_etag)
    ctype = ctype or (JSON_TYPE if use_json else HTML_TYPE)
    extra = {"ETag": etag, "Cache-Control": "max-age=600, public", "Vary": "Accept"}
    if headers.get("if-none-match") == etag:
        return Answer(304, (*extra.items(), ("Content-Length", "0")), b"", "revalidated", 0)
    return _send(200, body, ctype, head, "page", extra)


def _file(data: bytes | memoryview, head: bool, headers: dict[str, str], kind: str) -> Answer:
    rng = headers.get("range", "")
    if rng.startswith("bytes="):
        start_s, _, end_s = rng[len("bytes=") :].partition("-")
        size = len(data)
        if start_s == "":
            start, end = max(0, size - int(end_s)), size - 1
        else:
            start, end = int(start_s), min(int(end_s), size - 1) if end_s else size - 1
        extra = {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes", **IMMUTABLE}
        return _send(206, data[start : end + 1], "application/octet-stream", head, kind, extra, len(data))
    extra = {"Accept-Ranges": "bytes", **IMMUTABLE}
    return _send(200, data, "application/octet-stream", head, kind, extra, len(data))


def _send(
    status: int,
    body: bytes | memoryview,
    ctype: str,
    head: bool,
    kind: str,
    extra: dict[str, str] | None = None,
    sent: int | None = None,
) -> Answer:
    headers = (("Content-Type", ctype), ("Content-Length", str(len(body))), *(extra or {}).items())
    return Answer(status, headers, b"" if head else body, kind, len(body) if sent is None else sent)


if __name__ == "__main__":
    # `python bench/mirror.py [--delay-ms N]`: serve the full mirror until Ctrl-C (for poking at it).
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay-ms", type=float, default=0.0)
    args = ap.parse_args()
    srv = MirrorServer(build_full(), args.delay_ms / 1000).start()
    print(f"serving {srv.url}/simple/ and {srv.url}{DEVPI}/+simple/ ; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
