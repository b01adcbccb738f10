"""Build recipes for sdists with a CUDA variant (``[builds.NAME]``) and the environment one gives a build."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from jetpip.knowledge.reader import ENV_NAME, KEY, Reader
from jetpip.model.target import Target

DEFAULT_CUDA_HOME = "/usr/local/cuda"
# The toolkit directory a version file was read from, whether the root is / or a device image.
_CUDA_HOME = re.compile(r"(/usr/local/cuda(?:-\d+(?:\.\d+)*)?)/version\.(?:json|txt)$")


@dataclass(frozen=True)
class BuildRecipe:
    """How to build one sdist's CUDA variant: what it must be told, what it needs, how long it takes."""

    name: str  # canonical distribution name (the table key)
    env: Mapping[str, str] = field(default_factory=dict, hash=False)  # {cuda_home} is replaced
    cmake_args: tuple[str, ...] = ()  # joined into CMAKE_ARGS, before the CUDA architectures
    apt: tuple[str, ...] = ()
    gib_per_job: float = 2.5
    max_jobs_cap: int = 12
    build_time: Mapping[str, str] = field(default_factory=dict, hash=False)  # by SoC
    default_build_time: str = "tens of minutes"
    # Torch extensions import the torch they build against: the build must see the target's CUDA
    # torch, never one its isolated environment fetched from the base index.
    target_site: bool = False
    note: str | None = None


@dataclass(frozen=True)
class BuildEnvironment:
    """A recipe applied to one Target: the variables a build gets, and what to tell the user."""

    recipe: str
    env: tuple[tuple[str, str], ...]  # ordered NAME, value
    path: tuple[str, ...]  # directories put first on PATH (the toolkit's bin, for nvcc)
    apt: tuple[str, ...]
    build_time: str
    why: tuple[str, ...]  # one line per setting that is not obvious
    target_site: bool = False

    def value(self, name: str) -> str | None:
        """The value the recipe gives ``name``, if it sets it."""
        return dict(self.env).get(name)

    def applied_to(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The recipe's variables a build adds to ``environ``: a variable the user set wins.

        A MAX_JOBS the user set (MAX_JOBS=2 after a build ran out of memory) sets the CMake
        parallel level too: CMake builds read that in its place, and the limit must hold for both.
        """
        out = {k: v for k, v in self.env if k not in environ}
        if "MAX_JOBS" in environ and "CMAKE_BUILD_PARALLEL_LEVEL" in out:
            out["CMAKE_BUILD_PARALLEL_LEVEL"] = environ["MAX_JOBS"]
        return out

    def describe(self) -> str:
        """One line: the recipe and the settings that decide the CUDA variant."""
        shown = [f"{k}={v}" for k, v in self.env if k in _SHOWN]
        return f"recipe {self.recipe}" + (f" ({', '.join(shown)})" if shown else "")


_SHOWN = ("CMAKE_ARGS", "TORCH_CUDA_ARCH_LIST", "MAX_JOBS")


def job_limits(r: Reader, t: Mapping[str, object], key: str) -> tuple[float, int]:
    """A recipe's ``gib_per_job`` and ``max_jobs_cap`` (the MAX_JOBS rule's inputs), checked."""
    gib = t.get("gib_per_job", 2.5)
    if isinstance(gib, bool) or not isinstance(gib, int | float) or gib <= 0:
        raise r.fail(f"{key}.gib_per_job", f"must be a positive number, got {gib!r}")
    cap = t.get("max_jobs_cap", 12)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise r.fail(f"{key}.max_jobs_cap", f"must be a positive integer, got {cap!r}")
    return float(gib), cap


def parse_builds(r: Reader, value: object) -> dict[str, BuildRecipe]:
    """``[builds.NAME]`` tables, keyed by the canonical distribution name."""
    out: dict[str, BuildRecipe] = {}
    for name, raw in r.table(value, "builds").items():
        key = f"builds.{name}"
        if not KEY.match(name):
            raise r.fail(key, f"bad distribution name {name!r}")
        t = r.table(raw, key)
        r.keys(t, key, ("env", "cmake_args", "apt", "gib_per_job", "max_jobs_cap", "build_time",
                        "default_build_time", "target_site", "note"))
        gib, cap = job_limits(r, t, key)
        canonical = canonicalize_name(name)
        out[canonical] = BuildRecipe(
            name=canonical,
            env=r.str_map(t.get("env", {}), f"{key}.env", ENV_NAME),
            cmake_args=r.strings(t, "cmake_args", key),
            apt=r.strings(t, "apt", key),
            gib_per_job=gib,
            max_jobs_cap=cap,
            build_time=r.str_map(t.get("build_time", {}), f"{key}.build_time"),
            default_build_time=r.opt_string(t, "default_build_time", key) or "tens of minutes",
            target_site=r.boolean(t, "target_site", key),
            note=r.opt_string(t, "note", key),
        )
    return out


def cuda_home(target: Target) -> str:
    """The toolkit the device's CUDA version was read from, else /usr/local/cuda."""
    fact = target.device.cuda
    match = _CUDA_HOME.search(fact.source) if fact else None
    return match.group(1) if match else DEFAULT_CUDA_HOME


def memory_gib(target: Target) -> float | None:
    """The Target's memory in GiB, when it is the device's own (a cross target's is this machine's)."""
    fact = target.device.memory_gib
    if fact is None or (target.is_jetson and not target.device.is_jetson):
        return None
    try:
        value = float(fact.value)
    except ValueError:
        return None
    return value if value > 0 and math.isfinite(value) else None


def max_jobs(target: Target, gib_per_job: float, cap: int) -> tuple[int | None, str]:
    """(compile jobs for ``target``: one per ``gib_per_job`` GiB of memory, at most ``cap``; why in a line).

    The jobs are None when the memory is unknown, or is this machine's and not the target's.
    """
    memory = memory_gib(target)
    if memory is None:
        return None, f"MAX_JOBS: memory size unknown; allow one compile job per {gib_per_job:g} GiB"
    jobs = max(1, min(cap, math.floor(memory / gib_per_job)))
    return jobs, (f"MAX_JOBS={jobs}: {memory:g} GiB of memory, one compile job per {gib_per_job:g} GiB "
                  f"(at most {cap}); lower it if the build runs out of memory")


def build_environment(recipe: BuildRecipe, target: Target) -> BuildEnvironment:
    """The variables that make ``recipe``'s sdist build its CUDA variant for ``target``."""
    home = cuda_home(target)
    env: dict[str, str] = {"CUDA_HOME": home, "CUDA_PATH": home, "CUDACXX": f"{home}/bin/nvcc"}
    why: list[str] = [f"CUDA_HOME={home}: the toolkit of CUDA "
                      f"{target.cuda.value if target.cuda else '(version unknown)'}"]
    env.update({k: v.replace("{cuda_home}", home) for k, v in recipe.env.items()})
    cmake = list(recipe.cmake_args)
    capability = target.compute_capability
    if capability is not None:
        arch = capability.value.replace(".", "")
        cmake.append(f"-DCMAKE_CUDA_ARCHITECTURES={arch}")
        env["TORCH_CUDA_ARCH_LIST"] = capability.value
        env["CUDAARCHS"] = arch
        why.append(f"CMAKE_CUDA_ARCHITECTURES={arch}, TORCH_CUDA_ARCH_LIST={capability.value}: the "
                   f"compute capability ({capability.source}); kernels for other GPUs are not built")
    else:
        why.append("CUDA architectures: the compute capability is unknown, so the build picks its own "
                   "list (slower); pass --soc or --compute-capability")
    if cmake:
        env["CMAKE_ARGS"] = " ".join(cmake)
    jobs, reason = max_jobs(target, recipe.gib_per_job, recipe.max_jobs_cap)
    if jobs is not None:
        env["MAX_JOBS"] = env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(jobs)
    why.append(reason)
    if recipe.note:
        why.append(recipe.note)
    soc = target.soc.value if target.soc else ""
    return BuildEnvironment(
        recipe=recipe.name, env=tuple(env.items()), path=(f"{home}/bin",), apt=recipe.apt,
        build_time=recipe.build_time.get(soc, recipe.default_build_time), why=tuple(why),
        target_site=recipe.target_site,
    )
