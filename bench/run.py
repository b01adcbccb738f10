"""Benchmark jetpip against pip and uv on a local mirror; write the table to docs/performance.md.

python bench/run.py            the full run (needs the base index once, to fill bench/.cache/)
python bench/run.py --quick    a smoke run: each tool once on a tiny closure, no internet
python bench/run.py --ab REV   the full run, with jetpip at REV beside the working tree's (bench/ab.py)
python bench/run.py --ab OLD --ab-new NEW   the A/B of two revisions, the working tree's beside them
python bench/run.py --only corpus   cold locks of tests/corpus/ by jetpip and uv (bench/corpus.py), offline
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from packaging.pylock import Pylock  # noqa: E402

from bench import tools as T  # noqa: E402
from bench.ab import old_jetpip  # noqa: E402
from bench.bigwheel import REQUIREMENT as BIG_REQUIREMENT  # noqa: E402
from bench.bigwheel import SIZE_MB as BIG_MB  # noqa: E402
from bench.bigwheel import with_big_torch  # noqa: E402
from bench.mirror import CACHE, DEVPI, Mirror, MirrorServer, build_full, build_quick  # noqa: E402
from bench.report import render, render_corpus  # noqa: E402
from bench.tls import TlsMirrorServer, make_pki  # noqa: E402
from jetpip.index.cache import CHUNK, file_hash  # noqa: E402
from jetpip.install.plan import file_line  # noqa: E402
from tests.support.mirror import overlay_toml as mirror_overlay  # noqa: E402

SCENARIOS = [  # (kind, cache, latency ms), on the plain-http mirror
    ("lock", "warm", 0),
    ("lock", "cold", 0),
    ("lock", "cold", 50),
    ("lock", "warm", 50),
    ("install", "cold", 0),
    ("install", "cold", 50),
    ("install", "warm", 0),
    ("noop", "warm", 0),  # after each warm install, in its venv
    ("sync", "cold", 0),  # jetpip's lock of the requirements, into a fresh venv
    ("sync", "cold", 50),
    ("sync", "warm", 0),
]
HTTPS_SCENARIOS = [("lock", "cold", 50)]  # on the https mirror (bench/tls.py); full mode only
# `torch==2.8.0` with the big stand-in torch (bench/bigwheel.py), on a mirror of its own; full mode only.
BIG_SCENARIOS = [("big", "cold", 0), ("big", "warm", 0), ("big", "cold", 50), ("big", "warm", 50),
                 ("big-link", "cold", 50)]
#: The link of the "big-link" scenario, in bytes per second of each answer: a Jetson's download
#: of a CUDA build from the internet, where the loopback's is bound only by the processor.
BIG_LINK_RATE = 50e6


@dataclass
class Sample:
    """One timed run."""

    wall: float
    cpu: float
    maxrss_mb: float  # the largest process of the tool's tree
    rc: int
    requests: Counter[str]
    duplicate_pages: int
    tail: str
    protocols: Counter[str] = field(default_factory=Counter)  # requests by HTTP version
    main_rss_mb: float = 0.0  # the tool's own process (jetpip, not the uv it starts)
    connections: int | None = None  # TLS connections opened (the https mirror only)


@dataclass
class Row:
    """All runs of one tool in one scenario."""

    kind: str
    cache: str
    latency_ms: int
    tool: str
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None
    scheme: str = "http"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": self.kind,
            "cache": self.cache,
            "latency_ms": self.latency_ms,
            "scheme": self.scheme,
            "tool": self.tool,
        }
        ok = [s for s in self.samples if s.rc == 0]
        if self.skipped:
            return {**out, "status": "skipped", "note": self.skipped}
        if not ok:
            last = self.samples[-1] if self.samples else None
            return {
                **out,
                "status": "error",
                "runs": len(self.samples),
                "note": f"exit {last.rc}: {last.tail}" if last else "not run",
            }
        walls = [s.wall for s in ok]
        kinds = sorted({k for s in ok for k in s.requests})
        if self.scheme == "https":
            out["protocols"] = {p: int(statistics.median(s.protocols.get(p, 0) for s in ok))
                                for p in sorted({p for s in ok for p in s.protocols})}
            out["connections"] = int(statistics.median(s.connections or 0 for s in ok))
        return {
            **out,
            "status": "ok" if len(ok) == len(self.samples) else "partial",
            "runs": len(ok),
            "wall_s": {
                "median": round(statistics.median(walls), 3),
                "min": round(min(walls), 3),
                "max": round(max(walls), 3),
            },
            "cpu_s": round(statistics.median(s.cpu for s in ok), 3),
            "peak_rss_mb": round(max(s.maxrss_mb for s in ok), 1),
            "main_rss_mb": round(max(s.main_rss_mb for s in ok), 1),
            "requests": {
                k: int(statistics.median(s.requests.get(k, 0) for s in ok))
                for k in ["total", *kinds]
                if k != "total"
            }
            | {"total": int(statistics.median(sum(s.requests.values()) for s in ok))},
            "duplicate_pages": max(s.duplicate_pages for s in ok),
        }


def run_one(name: str, cmd: T.Cmd, server: MirrorServer, say: Any) -> Sample:
    """Run ``cmd`` through bench/launch.py, which times it and reads its rusage from wait4.

    The file system is synced first, untimed: no run pays for the writeback of the one before it
    (pip's installs leave hundreds of MB to write, which slowed the next tool's links and file
    creations by up to half a second).
    """
    os.sync()
    mark = server.mark()
    conns = server.connection_mark() if isinstance(server, TlsMirrorServer) else 0
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        launcher = [sys.executable, "-S", "-I", str(BENCH / "launch.py"), str(stats)]
        subprocess.run([*launcher, *cmd.argv], env=cmd.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").strip()[-600:]
        got = json.loads(stats.read_text())
    wall, rc = got["wall"], got["rc"]
    hits = server.since(mark)
    connections = len(server.connections_since(conns)) if isinstance(server, TlsMirrorServer) else None
    pages = [h.path for h in hits if h.kind == "page"]
    requests = Counter(h.kind for h in hits)
    sample = Sample(
        wall=wall,
        cpu=got["cpu"],
        maxrss_mb=got["maxrss_kb"] / 1024,
        main_rss_mb=got.get("main_rss_kb", 0) / 1024,
        rc=rc,
        requests=requests,
        duplicate_pages=len(pages) - len(set(pages)),
        tail=tail,
        protocols=Counter(h.proto for h in hits),
        connections=connections,
    )
    state = "ok" if sample.rc == 0 else f"exit {sample.rc}"
    over = f"  {dict(sample.protocols)} on {connections} conn" if connections is not None else ""
    say(
        f"    {name:<14} {wall:7.3f}s  cpu {sample.cpu:6.2f}s  "
        f"rss {sample.maxrss_mb:6.0f}MB (own {sample.main_rss_mb:4.0f})  "
        f"req {sum(requests.values()):4d}  {state}{over}"
    )
    if sample.rc != 0:
        say("      " + tail.replace("\n", "\n      ")[-400:])
    return sample


def overlay_toml(base_url: str) -> str:
    """Point JetPack 6's CUDA sources at the mirror, and accept builds tagged for this machine."""
    return mirror_overlay(f"{base_url}{DEVPI}", f"{base_url}/redist/jp/v61/pytorch/")


def prepare(args: argparse.Namespace, work: Path, say: Any) -> tuple[Mirror, T.Setup, Path | None]:
    if args.quick:
        mirror = build_quick(work / "quick")
        bench_python, pip_whl, uv = Path(sys.executable), None, T.find_uv(None)
    else:
        bench_python = T.bench_venv(CACHE, say)
        pip_whl = T.pip_wheel(bench_python, CACHE)
        uv = T.find_uv(bench_python.parent)
        mirror = build_full(CACHE, say, skip_bad_names=args.skip_bad_names)
    lock_python = T.make_venv(work / "lock-target", pip_whl) / "bin" / "python"
    # An editable jetpip has no bytecode unless it is written: compile it, as pip does on install.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "jetpip")], check=True)
    reqs = work / "requirements.in"
    reqs.write_text("".join(f"{r}\n" for r in mirror.roots))
    setup = T.Setup(
        index_url="",
        work=work,
        bench_python=bench_python,
        lock_python=lock_python,
        overlay=work / "indexes.toml",
        uv=uv,
        jetpip=T.find_jetpip(),
        reqs=reqs,
        quick=args.quick,
    )
    setup.versions = {
        "python": platform.python_version(),
        "pip": T.version_of([str(bench_python), "-m", "pip", "--version"]).split(" from ")[0],
        "uv": T.version_of([str(uv), "--version"]) if uv else "not installed",
        "jetpip": T.version_of([str(setup.jetpip), "--version"]) if setup.jetpip else "not installed",
    }
    return mirror, setup, pip_whl


def bench(args: argparse.Namespace, say: Any = print) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="jetpip-bench-"))
    try:
        mirror, setup, pip_whl = prepare(args, work, say)
        mirror.flat["/redist/jp/v61/pytorch/"] = (
            b"<html><body><h1>Index of pytorch/</h1><pre></pre></body></html>"
        )
        tool_list = T.tools(setup)
        extra: dict[str, Any] = {}
        if args.ab:
            old, checkout = old_jetpip(args.ab, setup, say)
            tool_list.insert(1, old)  # beside the working tree's, so the two alternate closely
            extra["ab"] = checkout.meta()
            if args.ab_new:
                new, newer = old_jetpip(args.ab_new, setup, say)
                tool_list.insert(1, new)
                extra["ab"] |= {"new_tool": new.name, "new_rev": newer.rev, "new_sha": newer.sha,
                                "new_subject": newer.subject}
        for t in tool_list:
            for command, why in t.missing.items():
                say(f"SKIPPED {t.name} {command}: {why}")
        (setup.work / "out").mkdir()
        rows: list[Row] = []
        plain = [(*sc, "http") for sc in SCENARIOS if wanted(args, sc[0])]
        if plain:
            server = MirrorServer(mirror).start()
            try:
                setup.index_url = f"{server.url}{DEVPI}/+simple/"
                setup.overlay.write_text(overlay_toml(server.url))
                if wanted(args, "install") or wanted(args, "sync"):
                    lock_plan(setup, tool_list, say)
                rows += scenarios(args, plain, tool_list, setup, server, pip_whl, say)
            finally:
                server.stop()
        if wanted(args, "https") and not args.quick:
            got, extra["https"] = over_https(args, mirror, tool_list, setup, pip_whl, say)
            rows += got
        if wanted(args, "big") and not args.quick:
            got, extra["big"] = big_installs(args, mirror, tool_list, setup, pip_whl, say)
            rows += got
        return {
            "meta": {
                "mode": "quick" if args.quick else "full",
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                           f"scratch on {filesystem_of(work)}",
                "versions": setup.versions,
                "repeat": args.repeat,
                "roots": list(mirror.roots),
                "names": len(mirror.names) + 1,
                "index_url": "http://127.0.0.1:PORT" + DEVPI + "/+simple/",
                "rows_left_out": mirror.dropped,
                "load_average": os.getloadavg(),
                "bytecode": {t.name: t.bytecode for t in tool_list},
                **extra,
            },
            "rows": [r.summary() for r in rows],
        }
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def wanted(args: argparse.Namespace, group: str) -> bool:
    """``--only`` names groups: lock, install (with its no-op), sync, https, big; none named: all of them."""
    group = "install" if group == "noop" else group
    return not args.only or group in args.only


def over_https(
    args: argparse.Namespace, mirror: Mirror, tool_list: list[T.Tool], s: T.Setup, pip_whl: Path | None,
    say: Any,
) -> tuple[list[Row], dict[str, Any]]:
    """HTTPS_SCENARIOS on the mirror over TLS, with a CA made for this run and trusted by each tool."""
    todo = [(*sc, "https") for sc in HTTPS_SCENARIOS]
    pki = make_pki(s.work / "pki")
    if pki is None:
        why = "no certificate: neither the cryptography package nor the openssl command is here"
        say(f"SKIPPED https: {why}")
        return [Row(k, c, ms, t.name, skipped=why, scheme=sch) for k, c, ms, sch in todo
                for t in tool_list if t.runs_in((k, c, ms, sch))], {"skipped": why}
    server = TlsMirrorServer(mirror, pki=pki).start()
    try:
        https = replace(s, index_url=f"{server.url}{DEVPI}/+simple/", overlay=s.work / "indexes-https.toml",
                        ca=pki.ca)
        https.overlay.write_text(overlay_toml(server.url))
        rows = scenarios(args, todo, tool_list, https, server, pip_whl, say)
    finally:
        server.stop()
    meta = {
        "certificate": f"a throwaway CA and a certificate for 127.0.0.1, made by {pki.made_by}",
        "alpn": "h2, http/1.1" if server.http2 else "http/1.1 (the h2 package is not installed)",
        "handshake_delay": "the per-request delay, once per connection, before the server's handshake",
        "trust": "PIP_CERT for jetpip and pip, SSL_CERT_FILE for uv",
    }
    return rows, meta


def big_installs(
    args: argparse.Namespace, mirror: Mirror, tool_list: list[T.Tool], s: T.Setup, pip_whl: Path | None,
    say: Any,
) -> tuple[list[Row], dict[str, Any]]:
    """BIG_SCENARIOS: `torch==2.8.0` with the big stand-in, from a copy of the mirror that serves it."""
    big_mirror, size = with_big_torch(mirror, CACHE / "big")
    say(f"the big stand-in torch: {size / 1e6:.0f} MB")
    server = MirrorServer(big_mirror).start()
    try:
        reqs = s.work / "requirements-big.in"
        reqs.write_text(BIG_REQUIREMENT + "\n")
        big = replace(s, index_url=f"{server.url}{DEVPI}/+simple/", overlay=s.work / "indexes-big.toml",
                      reqs=reqs)
        big.overlay.write_text(overlay_toml(server.url))
        lock_plan(big, tool_list, say)
        rows = scenarios(args, [(*sc, "http") for sc in BIG_SCENARIOS], tool_list, big, server, pip_whl, say)
    finally:
        server.stop()
    return rows, {"requirement": BIG_REQUIREMENT, "torch_bytes": size, "torch_mb": BIG_MB}


def scenarios(
    args: argparse.Namespace,
    todo: list[tuple[str, str, int, str]],
    tool_list: list[T.Tool],
    s: T.Setup,
    server: MirrorServer,
    pip_whl: Path | None,
    say: Any,
) -> list[Row]:
    rows: list[Row] = []
    out = s.work / "out"
    for kind, cache_kind, latency, scheme in todo:
        if args.quick and latency:
            continue
        if kind == "noop":
            continue  # measured right after each install, in the same venv
        server.delay = latency / 1000
        server.rate = BIG_LINK_RATE if kind == "big-link" else 0.0
        say(f"== {kind} ({cache_kind} cache, {latency} ms per request, {scheme})")
        here_tools = [t for t in tool_list if t.runs_in((kind, cache_kind, latency, scheme))]
        missing = {t.name: t.missing.get(T.command_of(kind)) for t in here_tools}
        live = [t for t in here_tools if not missing[t.name]]
        here = {t.name: Row(kind, cache_kind, latency, t.name, skipped=missing[t.name], scheme=scheme)
                for t in here_tools}
        noop = {t.name: Row("noop", "warm", latency, t.name, skipped=missing[t.name], scheme=scheme)
                for t in here_tools if t.runs_in(("noop", "warm", latency, scheme))}
        tag = f"{kind}-{cache_kind}-{latency}-{scheme}"
        with_noop = kind == "install" and cache_kind == "warm"
        warm = {t.name: s.work / f"cache-{t.name}-{tag}" for t in live}
        if cache_kind == "warm":
            for t in live:  # prime, untimed
                if kind == "lock":
                    run_quiet(t.lock(s, warm[t.name], out), server)
                else:
                    scratch = T.make_venv(s.work / f"prime-venv-{t.name}-{tag}", pip_whl)
                    run_quiet(put(t, kind, s, scratch, warm[t.name]), server)
                    settle(scratch)
        for i in range(args.repeat):
            order = live[i % len(live) :] + live[: i % len(live)] if live else []
            for t in order:
                cache = warm[t.name] if cache_kind == "warm" else s.work / f"cold-{t.name}-{tag}-{i}"
                if kind == "lock":
                    here[t.name].samples.append(run_one(t.name, t.lock(s, cache, out), server, say))
                else:
                    venv = T.make_venv(s.work / f"venv-{t.name}-{tag}-{i}", pip_whl)
                    here[t.name].samples.append(run_one(t.name, put(t, kind, s, venv, cache), server, say))
                    if with_noop and t.name in noop:
                        noop[t.name].samples.append(run_one(t.name, t.install(s, venv, cache), server, say))
                    settle(venv)
                if cache_kind == "cold":
                    settle(cache)
        rows += here.values()
        if with_noop:
            rows += noop.values()
        settle(*warm.values())
    return rows


def put(tool: T.Tool, kind: str, s: T.Setup, venv: Path, cache: Path) -> T.Cmd:
    """The command that fills ``venv`` in a scenario of ``kind``: a sync, or an install."""
    return tool.sync(s, venv, cache) if kind == "sync" else tool.install(s, venv, cache)


def filesystem_of(path: Path) -> str:
    """The type of the file system that holds ``path`` (``ext4``, ``tmpfs``), from /proc/mounts."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "an unknown file system"
    target = str(path.resolve())
    holding = [m for m in mounts
               if len(m) > 2 and (target == m[1] or target.startswith(m[1].rstrip("/") + "/"))]
    best = max(holding, key=lambda m: len(m[1]), default=None)
    return best[2] if best else "an unknown file system"


#: Seconds the machine is left alone after a run's files are removed, before the next run.
SETTLE_SECONDS = 0.5


def settle(*paths: Path) -> None:
    """Remove what a run left (a venv, a cold cache), write it all back, and pause, all untimed.

    Removing thousands of files right before a run slowed that run by up to 0.5 s; keeping every
    run's files to the end of a scenario instead slowed the later runs as they piled up (uv's
    cold install of the closure from 0.44 s on the first run to 0.74 s by the third, each tool
    alike). Removed, synced and left alone for a moment, the next run starts on a quiet machine.
    """
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    os.sync()
    time.sleep(SETTLE_SECONDS)


def lock_plan(s: T.Setup, tool_list: list[T.Tool], say: Any) -> None:
    """jetpip's lock of ``s.reqs``, and what the syncs and uv-files take from it (``T.Setup``).

    jetpip locks the requirements (untimed, from the mirror) into ``s.plan_lock``, the lock the
    syncs install. ``s.lock_reqs`` names the same files by URL and hash, for pip, which installs
    no pylock.toml. Each file is also downloaded into the scratch directory and checked against
    the lock's hash, and ``s.files`` names them by local path, as jetpip names its fetched files
    to its engine. Where that fails, the tools that need it are skipped, and the output says why.
    """
    jetpip = next((t for t in tool_list if t.name == "jetpip"), None)
    why = None
    if jetpip is None or jetpip.missing.get("lock"):
        why = "no jetpip to lock the plan with"
    else:
        dest = Path(tempfile.mkdtemp(prefix="plan-", dir=s.work))
        cmd = jetpip.lock(s, dest / "cache", dest)
        done = subprocess.run(cmd.argv, env=cmd.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            why = f"jetpip could not lock the plan: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
        else:
            urls, paths = [], []
            lock = Pylock.from_dict(tomllib.loads((dest / "pylock.toml").read_text()))
            for pkg in lock.packages:
                wheel = pkg.wheels[0] if pkg.wheels else None  # one target: one wheel per package
                if wheel is None or wheel.url is None or wheel.name is None:
                    why = f"{pkg.name} has no wheel with a URL in the lock"
                    break
                sha256, path = wheel.hashes["sha256"], dest / wheel.name
                with urllib.request.urlopen(wheel.url, timeout=60) as answer, path.open("wb") as out:
                    shutil.copyfileobj(answer, out, CHUNK)  # the big stand-in is never held in memory
                if file_hash(path, "sha256") != sha256:
                    why = f"{wheel.name} does not match the lock's hash"
                    break
                urls.append(f"{pkg.name} @ {wheel.url} --hash=sha256:{sha256}\n")
                paths.append(file_line(pkg.name, str(path), sha256) + "\n")  # as jetpip hands it to uv
            else:
                s.plan_lock = dest / "pylock.toml"
                s.lock_reqs, s.files = dest / "requirements-urls.txt", dest / "requirements-files.txt"
                s.lock_reqs.write_text("".join(urls))
                s.files.write_text("".join(paths))
                say(f"jetpip's plan: {len(paths)} files, locked, and on local disk for uv-files")
                return
    for t in tool_list:
        for command in ("sync", "install") if isinstance(t, T.UvFiles) else ("sync",):
            if not t.missing.get(command):
                t.missing[command] = why
                say(f"SKIPPED {t.name} {command}: {why}")


def run_quiet(cmd: T.Cmd, server: MirrorServer) -> None:
    subprocess.run(cmd.argv, env=cmd.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def corpus_main(args: argparse.Namespace, say: Any = print) -> None:
    """The corpus scenario: each case cold-locked by jetpip and uv from the recorded mirror."""
    from bench.corpus_bench import bench_corpus

    repeat = args.repeat or 3
    work = Path(tempfile.mkdtemp(prefix="jetpip-corpus-bench-"))
    try:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "jetpip")], check=True)
        installed, uv = T.find_jetpip(), T.find_uv(None)
        jetpip = None
        if installed is not None:
            jetpip = work / "bin" / "jetpip"
            T.write_launcher(jetpip, installed, ROOT)
        for name, found in (("jetpip", jetpip), ("uv", uv)):
            if found is None:
                say(f"SKIPPED {name}: not installed in this interpreter's environment")
        summary = bench_corpus(jetpip, uv, work, repeat, run_one, say)
        results = {
            "meta": {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
                "repeat": repeat,
                "versions": {"jetpip": T.version_of([str(installed), "--version"]) if installed else "-",
                             "uv": T.version_of([str(uv), "--version"]) if uv else "-"},
                "load_average": os.getloadavg(),
            },
            "corpus": summary,
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    md_path = (args.out or ROOT / "docs") / "performance.md"
    json_path = (args.out or BENCH / "out") / "corpus.json"
    for path in (md_path, json_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(render_corpus(results, md_path))
    say(f"wrote {md_path} and {json_path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="each tool once on a tiny local closure (no internet)"
    )
    ap.add_argument("--repeat", type=int, default=None, help="runs per tool and scenario (full: 5, quick: 1)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write performance.md and results.json "
        "(full: docs/ and bench/out/; quick: bench/out/quick/)",
    )
    ap.add_argument(
        "--skip-bad-names",
        action="store_true",
        help="leave out of the real pages the wheel rows whose names packaging rejects",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--only", action="append", choices=["lock", "install", "sync", "https", "big", "corpus"],
                    help="run only this group of scenarios (repeatable): the plain-http locks, the installs "
                    "with their no-op, the syncs of jetpip's lock, the https lock, or the installs of the "
                    "big stand-in torch "
                    "(about 250 MB, built once into bench/.cache/big/); the table then lacks the others, "
                    "so pair it with --out. `corpus` (never part of a plain run) cold-locks every case of "
                    "tests/corpus/ with jetpip and uv and writes its own section of performance.md")
    ap.add_argument("--ab", metavar="REV", default=None,
                    help="also run jetpip at the git revision REV (a worktree under bench/.cache/ab/) beside "
                    "the working tree's, in the warm lock at 0 ms and the cold locks at 50 ms")
    ap.add_argument("--ab-new", metavar="REV", default=None,
                    help="with --ab OLD: the A/B's new side is jetpip at REV (a worktree too), not the "
                    "working tree's, which still runs beside both; OLD..REV isolates one change")
    args = ap.parse_args(argv)
    if args.ab_new and not args.ab:
        ap.error("--ab-new needs --ab OLD")
    if args.only and "corpus" in args.only:
        corpus_main(args)
        args.only = [o for o in args.only if o != "corpus"]
        if not args.only:
            return 0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    results = bench(args)
    if args.out is not None:
        md_path, json_path = args.out / "performance.md", args.out / "results.json"
    elif args.quick:
        md_path, json_path = (
            BENCH / "out" / "quick" / "performance.md",
            BENCH / "out" / "quick" / "results.json",
        )
    else:
        md_path, json_path = ROOT / "docs" / "performance.md", BENCH / "out" / "results.json"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(render(results, md_path))
    print(f"wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
