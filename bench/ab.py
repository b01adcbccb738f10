"""The A/B of two jetpip checkouts in one run: REV, checked out as a git worktree, beside the working tree.

Both run from the same venv and the same kind of launcher (tools.write_launcher), alternating with
each other and with pip and uv, in the scenarios of AB_SCENARIOS. REV's dependencies must already be
installed in that venv; a missing one stops the run before anything is measured.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from bench import tools as T
from bench.mirror import CACHE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# (kind, cache, latency ms, scheme): where REV runs beside the working tree.
AB_SCENARIOS = (
    ("lock", "warm", 0, "http"),
    ("lock", "cold", 50, "http"),
    ("lock", "cold", 50, "https"),
)
# The transport issue's bounds on the working tree's median over REV's: at most 5 % slower warm,
# at most 10 % slower cold at 50 ms. The https line has no bound: it shows what HTTP/2 changes.
BOUNDS = {("lock", "warm", 0, "http"): 1.05, ("lock", "cold", 50, "http"): 1.10}


@dataclass(frozen=True)
class Checkout:
    """REV as the bench runs it."""

    rev: str  # as given
    sha: str
    subject: str
    path: Path

    @property
    def label(self) -> str:
        return f"jetpip@{self.sha[:7]}"

    def meta(self) -> dict[str, Any]:
        scenarios = [
            {"scenario": k, "cache": c, "latency_ms": ms, "scheme": sch, "bound": BOUNDS.get((k, c, ms, sch))}
            for k, c, ms, sch in AB_SCENARIOS
        ]
        return {"rev": self.rev, "sha": self.sha, "subject": self.subject, "tool": self.label,
                "scenarios": scenarios}


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def checkout(rev: str, say: Any = print) -> Checkout:
    """REV's tree under bench/.cache/ab/ (git-ignored), added once with `git worktree add`."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = CACHE / "ab" / sha[:12]
    if path.exists():
        here = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
        if here.stdout.strip() != sha:
            raise SystemExit(
                f"{path} is not a checkout of {sha}; remove it with `git worktree remove --force {path}` "
                "(or delete it and run `git worktree prune`), then re-run"
            )
    else:
        say(f"checking out {rev} ({sha[:12]}) into {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(path), sha)
    return Checkout(rev, sha, _git("log", "-1", "--format=%s", sha), path)


def missing_requirements(sha: str) -> list[str]:
    """REV's dependencies that this interpreter's environment lacks or has at a version REV refuses."""
    project = tomllib.loads(_git("show", f"{sha}:pyproject.toml"))["project"]
    missing = []
    for line in project.get("dependencies", []):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not req.specifier.contains(have, prereleases=True):
            missing.append(line)
    return missing


def old_jetpip(rev: str, s: T.Setup, say: Any = print) -> tuple[T.Jetpip, Checkout]:
    """The jetpip of REV as a tool that runs only in AB_SCENARIOS."""
    co = checkout(rev, say)
    missing = missing_requirements(co.sha)
    if missing:
        wanted = " ".join(f"'{m}'" for m in missing)
        raise SystemExit(
            f"jetpip at {rev} needs {', '.join(missing)}, which {sys.prefix} lacks; install it with "
            f"`{sys.executable} -m pip install {wanted}` and re-run"
        )
    # Bytecode, as for the working tree's jetpip (bench/run.py prepare).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(co.path / "jetpip")], check=True)
    tool = T.Jetpip(s, source=co.path, name=co.label)
    tool.only = frozenset(AB_SCENARIOS)
    return tool, co
