"""The sdists of a plan: which are built, with which recipe, into which build cache entry; or why not."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jetpip.errors import BuildError
from jetpip.knowledge.builds import BuildEnvironment, build_environment
from jetpip.model.target import Interpreter, Target

if TYPE_CHECKING:
    from jetpip.knowledge.base import KnowledgeBase
    from jetpip.lock.pylock import Lock, LockedPackage
    from jetpip.model.documents import BuildDocument
    from jetpip.model.sources import Route

#: The layout of ``builds/``; bumped when a reader of an older one would misread it.
BUILDS_FORMAT = 1


@dataclass(frozen=True)
class SdistBuild:
    """One sdist the plan builds: where its wheel is cached, and the recipe that makes the CUDA variant."""

    package: LockedPackage
    wheel_dir: str  # the cache entry: the built wheel, alone, once built
    recipe: BuildEnvironment | None = None
    warning: str | None = None  # said before the build (a recipe's CUDA variant that cannot be made)

    def placeholder(self) -> str:
        """The wheel's path as the dry-run shows it: the cache entry, the file name the build gives."""
        stem = f"{self.package.name.replace('-', '_')}-{self.package.version}-*.whl"
        return os.path.join(self.wheel_dir, stem)

    def to_json(self) -> BuildDocument:
        """JSON form for the plan's ``builds``."""
        recipe = self.recipe
        return {"name": self.package.name, "version": self.package.version, "filename": self.package.filename,
                "recipe": recipe.recipe if recipe else None, "env": dict(recipe.env) if recipe else {},
                "build_time": recipe.build_time if recipe else None, "wheel_dir": self.wheel_dir,
                "warning": self.warning}

    def describe(self) -> str:
        """One line for the plan and the progress display."""
        how = self.recipe.describe() if self.recipe else "no recipe"
        took = f"; roughly {self.recipe.build_time}" if self.recipe else ""
        return f"{self.package.name} {self.package.version} from {self.package.filename} ({how}{took})"


def cache_key(sha256: str, interpreter: Interpreter, recipe: BuildEnvironment | None) -> str:
    """``<sha256>/<python>-<abi>-<platform>[-<recipe digest>]``: one wheel per sdist, target and recipe."""
    best = interpreter.tags()[0]
    key = f"{best.interpreter}-{best.abi}-{interpreter.platforms[0] if interpreter.platforms else 'any'}"
    if recipe is not None:
        settings = "\n".join(f"{k}={v}" for k, v in sorted(recipe.env))
        key += "-" + hashlib.sha256(settings.encode()).hexdigest()[:12]
    return f"{sha256}/{key}"


def plan_builds(
    lock: Lock,
    target: Target,
    *,
    cache_dir: Path,
    kb: KnowledgeBase | None = None,
    route: Route | None = None,
    no_build: bool = False,
) -> tuple[SdistBuild, ...]:
    """Decide how each sdist of ``lock`` is built for ``target``, or refuse before anything runs.

    ``--no-build`` refuses every sdist. A guarded name builds only with a ``[builds]`` recipe and a
    CUDA toolkit on the target: its CPU variant never stands in for the CUDA build.
    """
    sdists = [p for p in lock.packages if p.is_sdist]
    trees = [p for p in lock.packages if p.project is not None and not p.is_sdist]
    if no_build and (sdists or trees):
        raise BuildError(
            "--no-build, and the lock names source distributions or source trees, which would be built "
            "here:\n" + "\n".join(f"  - {p.name} {p.version} ({_where(p)})" for p in (*sdists, *trees)),
            "drop --no-build to build them in the target's interpreter; or lock again with "
            "--only-binary :all: to take only releases that publish wheels, naming a wheel of each "
            "project folder or repository instead of the tree",
        )
    if trees:  # read back from a pylock.toml, and not packed (jetpip.install.trees does that)
        raise BuildError(
            "the lock's source trees were not packed into sdists:\n"
            + "\n".join(f"  - {p.name} ({p.project.shown()})" for p in trees if p.project),
            "plan the sync with jetpip.api.plan_sync, which packs each tree before it plans the builds",
        )
    if not sdists:
        return ()
    guarded = set(route.guarded) if route is not None else set()
    recipes = kb.builds if kb is not None else {}
    out = []
    for pkg in sdists:
        if not pkg.sha256:
            raise BuildError(f"{pkg.filename} has no sha256: jetpip builds only an sdist whose hash "
                             "it checked", "lock again so the lock records its hash (`jetpip lock`)")
        recipe = recipes.get(pkg.name)
        is_guarded = pkg.guarded or pkg.name in guarded
        env: BuildEnvironment | None = None
        warning = None
        if recipe is not None and target.cuda is not None:
            env = build_environment(recipe, target)
        elif is_guarded:
            raise _refusal(pkg, kb, target, route, recipe is not None)
        elif recipe is not None:
            warning = (f"{pkg.name} builds its CUDA variant only on a target with a CUDA toolkit, and none "
                       "was found: this build is CPU-only")
        key = cache_key(pkg.sha256, target.interpreter, env)
        if pkg.project is not None and pkg.project.editable:
            key += "-editable"  # the editable wheel of the tree (PEP 660), not its packed sdist's wheel
        out.append(SdistBuild(pkg, str(cache_dir / "builds" / f"v{BUILDS_FORMAT}" / key), env, warning))
    return tuple(out)


def _where(pkg: LockedPackage) -> str:
    return pkg.project.shown() if pkg.project is not None else pkg.filename


def _refusal(pkg: LockedPackage, kb: KnowledgeBase | None, target: Target, route: Route | None,
             no_cuda: bool) -> BuildError:
    why = ("the target has no CUDA toolkit, so its build would be the CPU variant" if no_cuda
           else "jetpip has no build recipe for it, and a plain build would be the CPU variant")
    message = (f"{pkg.name} {pkg.version} is locked as a source distribution ({pkg.filename}); it is a "
               f"guarded CUDA package, and {why}")
    if kb is not None and route is not None:
        from jetpip.knowledge.hints import build_hint

        return BuildError(message, build_hint(kb, target, route, pkg.name).render())
    return BuildError(message, f"run `jetpip hint {pkg.name}` for the source-build recipe of this device")
