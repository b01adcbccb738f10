"""Record the corpus (tests/corpus/): real pages and metadata of each case's closure, and uv's lock of it.

python bench/corpus.py record [--case NAME ...]   needs the base index; rewrites tests/corpus/data/

For each target (JetPack 6.2, JetPack 7.0) a recording proxy on 127.0.0.1 serves the base index's real
pages, with the stand-in CUDA builds in place of the names the Jetson index carries; `uv pip compile`
resolves every case through it (the route's constraints applied), and its pins are the expected set.
Then jetpip locks every case against the recorded mirror (tests/support/corpus_server.py); each page or
metadata file it misses is fetched and recorded, until a round misses nothing. Raw pages and files stay
in bench/.cache/corpus/ so a re-run reads the base index only for what is new.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from packaging.utils import canonicalize_name  # noqa: E402
from packaging.version import Version  # noqa: E402

from bench import tools as T  # noqa: E402
from bench.mirror import Answer, Httpd, Mirror, _file, _send, answer, base_index  # noqa: E402
from bench.pages import JSON_TYPE, Page, PageFile  # noqa: E402
from jetpip.model.sources import Route  # noqa: E402
from tests.support.corpus import (  # noqa: E402
    EXPECTED,
    KEEP_VERSIONS,
    PROJECTS,
    TARGETS,
    Case,
    CorpusTarget,
    Project,
    Row,
    carried,
    file_version,
    load_cases,
    load_projects,
    strip_metadata,
)
from tests.support.corpus_lock import lock_case  # noqa: E402
from tests.support.corpus_server import build_corpus_mirror, overlay_toml, serve  # noqa: E402

CACHE = BENCH / ".cache" / "corpus"


class Upstream:
    """The base index, read once per page and file (kept under bench/.cache/corpus/), and what was read."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        self.index = base_index().rstrip("/")
        self.pages: dict[str, dict[str, Any] | None] = {}
        self.files: dict[str, tuple[str, str]] = {}  # sha256 -> (project, upstream URL)
        self.metadata: dict[str, dict[str, bytes]] = {}  # project -> filename -> raw METADATA / PKG-INFO
        self.lock = threading.Lock()
        for sub in ("pages", "meta", "files"):
            (cache / sub).mkdir(parents=True, exist_ok=True)

    def page(self, name: str) -> dict[str, Any] | None:
        name = canonicalize_name(name)
        with self.lock:
            if name in self.pages:
                return self.pages[name]
        path = self.cache / "pages" / f"{name}.json"
        if not path.is_file():
            req = urllib.request.Request(f"{self.index}/{name}/", headers={"Accept": JSON_TYPE})
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    path.write_bytes(resp.read())
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
                path.write_text("null")
        doc: dict[str, Any] | None = json.loads(path.read_text())
        with self.lock:
            self.pages[name] = doc
            for row in (doc or {}).get("files", []):
                sha = row.get("hashes", {}).get("sha256")
                if sha:
                    self.files[sha] = (name, row["url"])
        return doc

    def load_cache(self) -> None:
        """Take every page, metadata file and file of the cache as read (a re-run records the union)."""
        for path in sorted((self.cache / "pages").glob("*.json")):
            self.page(path.stem)
        by_filename = {unquote(url.rsplit("/", 1)[-1]): sha for sha, (_, url) in self.files.items()}
        for path in sorted((self.cache / "meta").glob("*.metadata")):
            filename = path.name[: -len(".metadata")]
            if filename in by_filename:
                self.read_metadata(by_filename[filename], filename)
        for path in sorted((self.cache / "files").iterdir()):
            if path.name in by_filename:
                self.read_file(by_filename[path.name], path.name)

    def prepared(self, filename: str) -> bytes:
        """The METADATA the build backend of a downloaded sdist prepares (pip runs the hook); empty when
        the backend fails."""
        dest = self.cache / "built" / f"{filename}.metadata"
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "report.json"
                got = subprocess.run(
                    [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
                     "-q", "--report", str(report), str(self.cache / "files" / filename)],
                    capture_output=True, text=True, timeout=900, env=T.clean_env(Path(tmp)))
                if got.returncode != 0:  # recorded as such: the stand-in's backend fails too
                    print(f"  the backend of {filename} fails: {got.stderr.strip()[-300:]}")
                    dest.write_text("")
                    return b""
                meta = json.loads(report.read_text())["install"][0]["metadata"]
            lines = [f"Metadata-Version: {meta['metadata_version']}", f"Name: {meta['name']}",
                     f"Version: {meta['version']}"]
            if meta.get("requires_python"):
                lines.append(f"Requires-Python: {meta['requires_python']}")
            lines += [f"Requires-Dist: {r}" for r in meta.get("requires_dist", [])]
            lines += [f"Provides-Extra: {e}" for e in meta.get("provides_extra", [])]
            dest.write_text("\n".join(lines) + "\n\n")
        return dest.read_bytes()

    def offers_metadata(self, sha: str) -> bool:
        """Whether the real page offers the PEP 658 file of the file with this sha256."""
        project, _ = self.files[sha]
        for row in (self.pages.get(project) or {}).get("files", []):
            if row.get("hashes", {}).get("sha256") == sha:
                return bool(row.get("core-metadata", row.get("dist-info-metadata")))
        return False

    def _get(self, url: str, dest: Path) -> bytes:
        if not dest.is_file():
            with urllib.request.urlopen(url, timeout=600) as resp:
                dest.write_bytes(resp.read())
        return dest.read_bytes()

    def read_metadata(self, sha: str, filename: str) -> bytes | None:
        """The PEP 658 file of a recorded row, recorded as read."""
        if sha not in self.files:
            return None
        project, url = self.files[sha]
        data = self._get(url + ".metadata", self.cache / "meta" / f"{filename}.metadata")
        self._record(project, filename, data)
        return data

    def read_file(self, sha: str, filename: str) -> bytes | None:
        """A whole file; its METADATA (a wheel) or PKG-INFO (an sdist) is recorded as read."""
        if sha not in self.files:
            return None
        project, url = self.files[sha]
        data = self._get(url, self.cache / "files" / filename)
        meta = _inner_metadata(filename, data)
        if meta is not None:
            self._record(project, filename, meta)
        return data

    def _record(self, project: str, filename: str, data: bytes) -> None:
        with self.lock:
            self.metadata.setdefault(project, {})[filename] = data


def _inner_metadata(filename: str, data: bytes) -> bytes | None:
    if filename.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for entry in zf.namelist():
                if entry.endswith(".dist-info/METADATA") and entry.count("/") == 1:
                    return zf.read(entry)
        return None
    if filename.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    got = tar.extractfile(member)
                    return got.read() if got else None
    return None


def live_page(up: Upstream, name: str) -> bytes | None:
    """A real page as the proxy serves it: every file under /files/<sha256>/, the rest as published."""
    doc = up.page(name)
    if doc is None:
        return None
    rows = []
    for r in doc.get("files", []):
        sha = r.get("hashes", {}).get("sha256")
        meta = r.get("core-metadata", r.get("dist-info-metadata"))
        yanked = r.get("yanked", False)
        rows.append(PageFile(
            filename=r["filename"], url=f"/files/{sha}/{r['filename']}", sha256=sha,
            requires_python=r.get("requires-python"),
            yanked=None if yanked is False else ("" if yanked is True else str(yanked)),
            core_metadata=meta.get("sha256") if isinstance(meta, dict) else None))
    return Page(canonicalize_name(name), tuple(rows)).to_json()


class Proxy:
    """The recording proxy of one target: stand-ins for carried names, the base index for the rest."""

    def __init__(self, up: Upstream, target: CorpusTarget, work: Path) -> None:
        self.up = up
        self.mirror: Mirror = build_corpus_mirror(target, [], work / f"proxy-{target.key}")
        for name in carried(target):
            stand_in = self.mirror.pages[f"{target.jetson_prefix}/+simple/{name}/"]
            self.mirror.pages[f"/simple/{name}/"] = stand_in
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._serve(head=False)

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def _serve(self, head: bool) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = proxy.answer(unquote(urlsplit(self.path).path), headers)
                self.send_response(got.status)
                for k, v in got.headers:
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(got.body)

        self.httpd = Httpd(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, path: str, headers: dict[str, str]) -> Answer:
        got = answer(self.mirror, "GET", path, headers)
        if got.status != 404:
            return got
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "simple":
            page = live_page(self.up, parts[1])
            if page is not None:
                return _send(200, page, JSON_TYPE, False, "page")
        elif len(parts) == 3 and parts[0] == "files" and parts[2].endswith(".metadata"):
            meta = self.up.read_metadata(parts[1], parts[2][: -len(".metadata")])
            if meta is not None:
                return _file(meta, False, headers, "metadata")
        elif len(parts) == 3 and parts[0] == "files":
            data = self.up.read_file(parts[1], parts[2])
            if data is not None:
                return _file(data, False, headers, "file")
        return got

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def uv_lock(uv: Path, case: Case, target: CorpusTarget, proxy_url: str, route: Route,
            work: Path) -> tuple[dict[str, str] | None, str]:
    """uv's pins for ``case`` on ``target`` through the proxy, or None and uv's error.

    A name the route substitutes (onnxruntime) is dropped by an override that never applies, and its
    substitute is asked for instead, once a first resolution shows the name in the closure.
    """
    pins, err = _uv_compile(uv, case.requirements, target, proxy_url, route, [], work / case.name)
    swapped = [n for n in route.substitutions if pins and n in pins]
    if swapped:
        extra = "".join(f"{route.substitutions[n]}\n" for n in swapped)
        drop = [f"{n} ; python_version < '0'" for n in swapped]
        reqs = case.requirements + extra
        pins, err = _uv_compile(uv, reqs, target, proxy_url, route, drop, work / case.name)
    return pins, err


def _uv_compile(uv: Path, requirements: str, target: CorpusTarget, proxy_url: str, route: Route,
                overrides: list[str], work: Path) -> tuple[dict[str, str] | None, str]:
    work.mkdir(parents=True, exist_ok=True)
    reqs, cons, over = work / f"{target.key}.in", work / f"{target.key}-c.txt", work / f"{target.key}-o.txt"
    reqs.write_text(requirements)
    cons.write_text("".join(c + "\n" for c in route.constraints))
    over.write_text("".join(o + "\n" for o in overrides))
    argv = [str(uv), "pip", "compile", "-q", str(reqs), "-c", str(cons), "--overrides", str(over),
            "--no-header", "--no-annotate", "--python-version", target.python,
            "--python-platform", target.uv_platform, "--index-url", f"{proxy_url}/simple",
            "--cache-dir", str(work.parent / f"uv-cache-{target.key}")]
    got = subprocess.run(argv, capture_output=True, text=True, env=T.clean_env(work / "env"), timeout=1800)
    if got.returncode != 0:
        return None, got.stderr.strip()[-2000:]
    pins: dict[str, str] = {}
    for line in got.stdout.splitlines():
        spec = line.split(";")[0].split("#")[0].strip()
        if "==" in spec:
            name, _, version = spec.partition("==")
            pins[canonicalize_name(name.split("[")[0])] = version.strip()
    return pins, ""


def target_route(target: CorpusTarget) -> Route:
    from jetpip.api import load_target
    from jetpip.model.target import TargetOverrides

    overrides = TargetOverrides(python_version=target.python, platform="linux_aarch64", glibc=target.glibc)
    _, _, route = load_target(root=target.root, overrides=overrides, env={})
    assert route.key == target.route, (route.key, target.route)
    return route


def to_project(up: Upstream, name: str, keep: set[str]) -> Project:
    """The recorded form of a page: the newest KEEP_VERSIONS versions and every version read or chosen."""
    doc = up.page(name) or {"files": []}
    read = up.metadata.get(name, {})
    rows: list[Row] = []
    for r in doc["files"]:
        version = file_version(r["filename"])
        sha = r.get("hashes", {}).get("sha256")
        if version is None or not sha:
            continue  # no resolver reads a file it cannot name, nor one without a hash here
        meta = r.get("core-metadata", r.get("dist-info-metadata"))
        yanked = r.get("yanked", False)
        rows.append(Row(r["filename"], sha, r.get("requires-python"),
                        None if yanked is False else ("" if yanked is True else str(yanked)),
                        bool(meta)))
    versions = sorted({file_version(r.filename) for r in rows}, key=lambda v: v or Version("0"), reverse=True)
    wanted = {str(v) for v in versions[:KEEP_VERSIONS]} | keep
    wanted |= {str(file_version(f)) for f in read}
    rows = [r for r in rows if str(file_version(r.filename)) in wanted]
    metadata = {f: strip_metadata(data) for f, data in sorted(read.items())}
    project = Project(name, rows, metadata)
    for filename in sorted(metadata):
        if not filename.endswith(".whl") and project.build_result(filename) is None:
            built = up.prepared(filename)
            project.built[filename] = strip_metadata(built) if built else ""
    return project


def write_data(up: Upstream, expected: dict[str, dict[str, Any]]) -> None:
    keep: dict[str, set[str]] = {}
    for by_target in expected.values():
        for pins in by_target.values():
            for name, version in (pins or {}).items():
                keep.setdefault(name, set()).add(version)
    fresh = PROJECTS.with_name(PROJECTS.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for name in sorted(n for n, doc in up.pages.items() if doc is not None):
        project = to_project(up, name, keep.get(name, set()))
        (fresh / f"{name}.json").write_text(project.to_json(), encoding="utf-8")
    # Swapped in whole: an interrupted run leaves the last complete record.
    old = PROJECTS.with_name(PROJECTS.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if PROJECTS.exists():
        PROJECTS.rename(old)
    fresh.rename(PROJECTS)
    shutil.rmtree(old, ignore_errors=True)


def record(args: argparse.Namespace) -> int:
    cases = [c for c in load_cases() if not args.case or c.name in args.case]
    uv = T.find_uv(None)
    if uv is None:
        raise SystemExit("uv is needed to record the expected sets: pip install uv")
    up = Upstream()
    old = json.loads(EXPECTED.read_text())["cases"] if EXPECTED.is_file() else {}
    # Cases not recorded this time keep their sets (and uv's errors); a case gone from cases.toml goes.
    known = {c.name for c in load_cases()}
    expected: dict[str, dict[str, Any]] = {c: v for c, v in old.items() if c in known}
    old_errors = json.loads(EXPECTED.read_text()).get("uv_errors", {}) if EXPECTED.is_file() else {}
    errors: dict[str, str] = {k: v for k, v in old_errors.items()
                              if k.split("/")[0] in known and k.split("/")[0] not in {c.name for c in cases}}
    work = Path(tempfile.mkdtemp(prefix="jetpip-corpus-"))
    try:
        up.load_cache()  # the record is every read made through this cache, by any case and run
        for target in [] if args.skip_uv else TARGETS.values():
            route = target_route(target)
            proxy = Proxy(up, target, work)
            try:
                def one(case: Case, target: CorpusTarget = target, url: str = proxy.url,
                        route: Route = route) -> None:
                    pins, err = uv_lock(uv, case, target, url, route, work)
                    expected.setdefault(case.name, {})[target.key] = pins
                    print(f"uv {target.key} {case.name}: {len(pins or {})} pins {err[-300:]}", flush=True)
                    if err:
                        errors[f"{case.name}/{target.key}"] = err
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(one, cases))
            finally:
                proxy.stop()
        write_data(up, expected)
        _save_expected(expected, errors)
        todo = [(case, target) for target in TARGETS.values() for case in cases]
        for round_no in range(60):  # a backtrack through files without PEP 658 metadata: one file a round
            missed, todo = jetpip_round(up, todo, work / f"round-{round_no}")
            print(f"jetpip round {round_no}: {missed} reads missing from the record", flush=True)
            write_data(up, expected)
            if not missed:
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _save_expected(expected: dict[str, dict[str, Any]], errors: dict[str, str]) -> None:
    doc = {
        "about": "uv pip compile's pins per case and target, through the recording proxy (bench/corpus.py); "
                 "null where uv found no solution (see uv_errors)",
        "uv": T.version_of([str(T.find_uv(None)), "--version"]),
        "cases": {c: expected[c] for c in sorted(expected)},
        "uv_errors": errors,
    }
    EXPECTED.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def jetpip_round(up: Upstream, todo: list[tuple[Case, CorpusTarget]],
                 work: Path) -> tuple[int, list[tuple[Case, CorpusTarget]]]:
    """Lock the cases with jetpip against the record; fetch what they asked for and the record lacked.

    Returns how many reads were added and the cases that missed one (the next round locks only those).
    """
    projects = load_projects()
    missed, again = 0, []
    for target in TARGETS.values():
        cases = [c for c, t in todo if t.key == target.key]
        if not cases:
            continue
        server = serve(build_corpus_mirror(target, projects.values(), work / target.key))
        try:
            overlay = work / f"{target.key}.toml"
            overlay.write_text(overlay_toml(target, server.url))
            for case in cases:
                mark = server.mark()
                got = lock_case(case, target, f"{server.url}/simple/", overlay, work / "reqs")
                print(f"  jetpip {target.key} {case.name}: "
                      f"{'error: ' + got.error.splitlines()[0] if got.error else f'{len(got.pins)} pins'}")
                lost = [hit.path for hit in server.since(mark) if hit.status == 404]
                added = sum(_fetch_missed(up, path, projects, target) for path in lost)
                if added:
                    missed += added
                    again.append((case, target))
        finally:
            server.stop()
    return missed, again


def _fetch_missed(up: Upstream, path: str, projects: dict[str, Project], target: CorpusTarget) -> int:
    """Record what a 404 of the record's mirror stood for: a page, or a file's metadata.

    A missed file is most often one step of a backtrack down a project's versions, so the files this
    target can take of the WALK_AHEAD versions below it are recorded too: one round, not one a file.
    """
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "simple" and canonicalize_name(parts[1]) not in projects:
        return int(up.page(parts[1]) is not None)
    if len(parts) != 3 or parts[0] != "files" or parts[1] not in up.files:
        return 0
    sha, fn = parts[1], parts[2].removesuffix(".metadata")
    project, _ = up.files[sha]
    version = file_version(fn)
    fits = _fitting_files(up, project, target)
    below = sorted({v for v, _, _ in fits if version is not None and v <= version}, reverse=True)[:WALK_AHEAD]
    todo = {(s, f) for v, s, f in fits if v in below} | {(sha, fn)}
    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(lambda item: _read_one(up, *item), sorted(todo)))


WALK_AHEAD = 6


def _read_one(up: Upstream, sha: str, filename: str) -> int:
    if filename in up.metadata.get(up.files[sha][0], {}):
        return 0
    if filename.endswith(".whl") and up.offers_metadata(sha):
        return int(up.read_metadata(sha, filename) is not None)
    return int(up.read_file(sha, filename) is not None)


def _fitting_files(up: Upstream, project: str, target: CorpusTarget) -> list[tuple[Version, str, str]]:
    """(version, sha256, filename) of the files of ``project`` that ``target`` can take."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import parse_wheel_filename

    from jetpip.interpreter.probe import synthesize_interpreter

    interp = synthesize_interpreter(target.python, "linux_aarch64", target.glibc)
    tags, python = set(interp.tags()), Version(interp.version)
    out = []
    for row in (up.pages.get(project) or {}).get("files", []):
        version, sha, fn = file_version(row["filename"]), row.get("hashes", {}).get("sha256"), row["filename"]
        if version is None or not sha or row.get("yanked"):
            continue
        try:
            if row.get("requires-python") and python not in SpecifierSet(row["requires-python"]):
                continue
        except InvalidSpecifier:
            pass
        if fn.endswith(".whl") and not set(parse_wheel_filename(fn)[3]) & tags:
            continue
        out.append((version, sha, fn))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the cases' pages, metadata and expected sets "
                         "(needs the base index)")
    rec.add_argument("--case", action="append", help="record only this case (repeatable)")
    rec.add_argument("--skip-uv", action="store_true",
                     help="keep the expected sets; only lock with jetpip and record what it reads")
    args = ap.parse_args(argv)
    return record(args)


if __name__ == "__main__":
    sys.exit(main())

