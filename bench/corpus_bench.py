"""The corpus scenario of the bench (`python bench/run.py --only corpus`): cold locks by jetpip and uv.

Both tools read the recorded mirror of tests/corpus/. jetpip reads it as a Jetson sees its indexes (the
stand-in CUDA builds on the route's Jetson source); uv, which has no routes, reads /uv/simple/, where the
carried names' pages are the stand-ins', and gets the route's constraints and substitutions as files.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from bench import tools as T
from bench.corpus import target_route
from bench.mirror import Mirror, MirrorServer
from jetpip.model.sources import Route
from tests.support.corpus import EXPECTED, TARGETS, Case, CorpusTarget, carried, load_cases, load_projects
from tests.support.corpus_server import build_corpus_mirror, overlay_toml


def uv_view(mirror: Mirror, target: CorpusTarget) -> None:
    """Add /uv/simple/: the base pages with the carried names' pages replaced by the stand-ins', which is
    what uv (no routes, no guard) must see to lock the same set."""
    for path, page in list(mirror.pages.items()):
        if path.startswith("/simple/"):
            mirror.pages["/uv" + path] = page
    for name in carried(target):
        mirror.pages[f"/uv/simple/{name}/"] = mirror.pages[f"{target.jetson_prefix}/+simple/{name}/"]


def corpus_cmds(jetpip: Path | None, uv: Path | None, case: Case, target: CorpusTarget, url: str, work: Path,
                cache: Path, route: Route, expected: dict[str, str] | None) -> dict[str, T.Cmd]:
    """The cold lock of one case by each tool, from the same mirror."""
    work.mkdir(parents=True, exist_ok=True)
    reqs = work / f"{case.name}-{target.key}.in"
    reqs.write_text(case.requirements)
    env = T.clean_env(cache)
    cmds = {}
    if jetpip is not None:
        cmds["jetpip"] = T.Cmd([
            str(jetpip), "lock", "-r", str(reqs), "-o", str(cache / "pylock.toml"),
            "--root", str(target.root),
            "--python-version", target.python, "--platform", "linux_aarch64", "--glibc", target.glibc,
            "--indexes", str(work / f"{target.key}.toml"), "--index-url", f"{url}/simple/", "-q"], env)
    if uv is not None:
        swapped = {n: s for n, s in route.substitutions.items() if expected and s in expected}
        uv_reqs = work / f"{case.name}-{target.key}-uv.in"
        uv_reqs.write_text(case.requirements + "".join(f"{s}\n" for s in swapped.values()))
        cons, over = work / f"{target.key}-c.txt", work / f"{case.name}-{target.key}-o.txt"
        cons.write_text("".join(c + "\n" for c in route.constraints))
        over.write_text("".join(f"{n} ; python_version < '0'\n" for n in swapped))
        cmds["uv"] = T.Cmd([str(uv), "pip", "compile", "-q", str(uv_reqs), "-c", str(cons), "--overrides",
                            str(over), "-o", str(cache / "uv.txt"), "--python-version", target.python,
                            "--python-platform", target.uv_platform, "--index-url", f"{url}/uv/simple",
                            "--cache-dir", str(cache / "uv")], env)
    return cmds


def bench_corpus(jetpip: Path | None, uv: Path | None, work: Path, repeat: int,
                 run_one: Any, say: Any = print) -> dict[str, Any]:
    """Cold-lock every case with jetpip and uv against the corpus mirror; per case and tool, the median."""
    projects = load_projects()
    expected = json.loads(EXPECTED.read_text())["cases"]
    times: dict[str, dict[str, list[float | None]]] = {}
    for target in TARGETS.values():
        route = target_route(target)
        mirror = build_corpus_mirror(target, projects.values(), work / f"mirror-{target.key}")
        uv_view(mirror, target)
        server = MirrorServer(mirror).start()
        try:
            (work / f"{target.key}.toml").write_text(overlay_toml(target, server.url))
            for case in load_cases():
                say(f"== corpus {case.name} on {target.key} (cold)")
                row = times.setdefault(f"{case.name}/{target.key}", {})
                for i in range(repeat):
                    cmds = corpus_cmds(jetpip, uv, case, target, server.url, work,
                                       work / f"cold-{i}", route, expected.get(case.name, {}).get(target.key))
                    for tool, cmd in cmds.items():
                        sample = run_one(tool, cmd, server, say)
                        shutil.rmtree(work / f"cold-{i}", ignore_errors=True)
                        runs = row.setdefault(tool, [])
                        runs.append(sample.wall if sample.rc == 0 else None)
        finally:
            server.stop()
    return summarize(times)


def summarize(times: dict[str, dict[str, list[float | None]]]) -> dict[str, Any]:
    """Per case and tool the median of the runs that locked; per tool the median over cases."""
    cases: dict[str, dict[str, float | None]] = {}
    for key, by_tool in times.items():
        cases[key] = {}
        for tool, runs in by_tool.items():
            ok = [r for r in runs if r is not None]
            cases[key][tool] = round(statistics.median(ok), 3) if ok else None
    tools = sorted({t for row in cases.values() for t in row})
    median = {}
    for tool in tools:
        walls = [w for row in cases.values() if (w := row.get(tool)) is not None]
        median[tool] = round(statistics.median(walls), 3) if walls else None
    failed = {tool: sorted(k for k, row in cases.items() if row.get(tool) is None) for tool in tools}
    return {"cases": cases, "median_per_case": median, "failed": failed,
            "ultralytics": {k: v for k, v in cases.items() if k.startswith("ultralytics/")}}
