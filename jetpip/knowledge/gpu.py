"""Machines with a discrete NVIDIA GPU (x86_64, SBSA servers, DGX Spark): the driver table, their routes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from jetpip.knowledge.reader import KEY, MAJOR_MINOR, Reader, array, version_tuple
from jetpip.model.sources import ArchRule, Route, Source

_DRIVER = re.compile(r"^\d{2,4}(\.\d{1,3}){0,2}$")
MACHINES = ("x86_64", "aarch64")


@dataclass(frozen=True)
class DriverRow:
    """The oldest NVIDIA Linux driver that runs a CUDA release natively."""

    cuda: str  # major.minor
    driver_min: str  # "580.65.06"


@dataclass(frozen=True)
class GpuRoute:
    """A ``[[gpu_routes]]`` entry: a GPU machine's sources under a CUDA release its driver runs."""

    key: str
    machine: str  # "x86_64" | "aarch64" (SBSA)
    cuda: str
    summary: str
    sources: tuple[str, ...]
    guarded: tuple[str, ...]  # only these come from the sources; the rest from the base index
    note: str | None = None
    alternatives: tuple[str, ...] = ()


def driver_tuple(text: str) -> tuple[int, ...]:
    """``"580.65.06"`` -> ``(580, 65, 6)``."""
    return tuple(int(p) for p in text.split("."))


def parse_arch_rules(r: Reader, value: object, key: str) -> tuple[ArchRule, ...]:
    """``[[sources.ID.arch]]``: one project's arch list, optionally for some versions only."""
    rules = []
    for index, t in enumerate(array(r, value, key)):
        rkey = f"{key}[{index}]"
        r.keys(t, rkey, ("project", "versions", "arch_list", "unconfirmed"), ("project", "arch_list"))
        versions = r.opt_string(t, "versions", rkey) or ""
        try:
            SpecifierSet(versions)
        except InvalidSpecifier:
            raise r.fail(f"{rkey}.versions", f"bad version specifier {versions!r}") from None
        rules.append(ArchRule(
            project=canonicalize_name(r.string(t, "project", rkey)),
            arch_list=r.strings(t, "arch_list", rkey, MAJOR_MINOR, "compute capability"),
            versions=versions,
            unconfirmed=r.boolean(t, "unconfirmed", rkey),
        ))
    return tuple(rules)


def parse_drivers(r: Reader, value: object) -> list[DriverRow]:
    """``[[drivers]]``: CUDA release -> the oldest driver that runs it."""
    rows = []
    for index, t in enumerate(array(r, value, "drivers")):
        key = f"drivers[{index}]"
        r.keys(t, key, ("cuda", "driver_min"), ("cuda", "driver_min"))
        rows.append(DriverRow(cuda=r.string(t, "cuda", key, MAJOR_MINOR, "CUDA version (want major.minor)"),
                              driver_min=r.string(t, "driver_min", key, _DRIVER, "driver version")))
    return rows


def parse_gpu_routes(r: Reader, value: object) -> list[GpuRoute]:
    """``[[gpu_routes]]``: one per machine and CUDA release."""
    routes = []
    for index, t in enumerate(array(r, value, "gpu_routes")):
        key = f"gpu_routes[{index}]"
        r.keys(t, key, ("key", "machine", "cuda", "summary", "sources", "guarded", "note", "alternatives"),
               ("key", "machine", "cuda", "sources", "guarded"))
        machine = r.string(t, "machine", key)
        if machine not in MACHINES:
            raise r.fail(f"{key}.machine", f"must be one of {', '.join(MACHINES)}, got {machine!r}")
        rkey = r.string(t, "key", key, KEY, "route key")
        sources = r.strings(t, "sources", key)
        if not sources:
            raise r.fail(f"gpu_routes.{rkey}.sources", "must name at least one source")
        routes.append(GpuRoute(
            key=rkey, machine=machine, sources=sources,
            cuda=r.string(t, "cuda", key, MAJOR_MINOR, "CUDA version (want major.minor)"),
            summary=r.opt_string(t, "summary", key) or rkey,
            guarded=tuple(canonicalize_name(n) for n in r.strings(t, "guarded", key)),
            note=r.opt_string(t, "note", key),
            alternatives=r.strings(t, "alternatives", key),
        ))
    return routes


def newest_cuda(drivers: Sequence[DriverRow], driver: str) -> str | None:
    """The newest CUDA release ``driver`` runs natively; None when the table knows none."""
    if not _DRIVER.match(driver):
        return None
    have = driver_tuple(driver)
    fits = [row.cuda for row in drivers if have >= driver_tuple(row.driver_min)]
    return max(fits, key=version_tuple, default=None)


def gpu_route(
    routes: Sequence[GpuRoute], sources: Mapping[str, Source], drivers: Sequence[DriverRow], *,
    machine: str, driver: str, base: Mapping[str, Any],
) -> Route:
    """The Route of a machine with a discrete GPU: the newest CUDA its driver runs, on its machine."""
    cuda = newest_cuda(drivers, driver)
    if cuda is None:
        return Route(key=f"gpu-{machine}-unknown-driver", summary="NVIDIA driver too old or unknown",
                     sources=(), guarded=frozenset(), no_source_reason=(
                         f"NVIDIA driver {driver} runs no CUDA release indexes.toml's [[drivers]] table "
                         "names; every package comes from the base index"), **base)
    pool = [g for g in routes if g.machine == machine and version_tuple(g.cuda) <= version_tuple(cuda)]
    if not pool:
        return Route(key=f"gpu-{machine}-cu{cuda.replace('.', '')}", summary=f"no route for {machine}",
                     sources=(), guarded=frozenset(), no_source_reason=(
                         f"indexes.toml has no [[gpu_routes]] entry for {machine} with CUDA {cuda} or "
                         "older; every package comes from the base index"), **base)
    rule = max(pool, key=lambda g: version_tuple(g.cuda))
    warnings: tuple[str, ...] = ()
    if rule.cuda != cuda:
        warnings = (f"NVIDIA driver {driver} runs CUDA {cuda}; the newest route for {machine} is "
                    f"{rule.key} (CUDA {rule.cuda})",)
    return Route(
        key=rule.key, summary=rule.summary, sources=tuple(sources[s] for s in rule.sources),
        guarded=frozenset(rule.guarded), cuda=rule.cuda, arch_kind="sbsa" if machine == "aarch64" else None,
        note=rule.note, alternatives=rule.alternatives, warnings=warnings, **base,
    )
