"""The indexes.toml schema: parse one file into typed records, checking every key it names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name

from jetpip.knowledge.builds import BuildRecipe, job_limits, parse_builds
from jetpip.knowledge.gpu import DriverRow, GpuRoute, parse_arch_rules, parse_drivers, parse_gpu_routes
from jetpip.knowledge.reader import ENV_NAME as _ENV_NAME
from jetpip.knowledge.reader import KEY as _KEY
from jetpip.knowledge.reader import L4T as _L4T
from jetpip.knowledge.reader import MAJOR_MINOR as _MAJOR_MINOR
from jetpip.knowledge.reader import URL as _URL
from jetpip.knowledge.reader import VERSION as _VERSION
from jetpip.knowledge.reader import Reader as _Reader
from jetpip.knowledge.reader import array as _array

# Re-exported: the schema's users read these three from here.
from jetpip.knowledge.reader import parse_toml as parse_toml
from jetpip.knowledge.reader import prefix_matches as prefix_matches
from jetpip.knowledge.reader import version_tuple as version_tuple
from jetpip.model.sources import ArchRule
from jetpip.model.urls import Url

FORMAT = 1
SOURCE_KINDS = ("devpi", "simple", "flat")
ARCH_KINDS = ("tegra", "sbsa")

TOP_LEVEL = (
    "format", "hosts", "aliases", "mirrors", "ubuntu", "versions", "soc", "sources", "routes",
    "guarded", "substitutions", "companions", "stable_abi", "recipes", "drivers", "gpu_routes",
    "builds",
)


@dataclass(frozen=True)
class VersionRow:
    """One row of the L4T -> JetPack -> CUDA stack table."""

    l4t: tuple[str, ...]  # release prefixes the row covers
    jetpack: str
    cuda: str
    cudnn: str
    tensorrt: str
    ubuntu: str
    python: str
    arch_kind: str
    jetpack_by_l4t: Mapping[str, str] = field(default_factory=dict, hash=False)
    socs: tuple[str, ...] = ()
    preview: bool = False
    unconfirmed: tuple[str, ...] = ()
    note: str | None = None

    @property
    def line(self) -> str:
        """The JetPack line, ``"jp6"``."""
        return f"jp{self.jetpack.split('.')[0]}"

    @property
    def l4t_major(self) -> int:
        """The L4T major every prefix of the row shares."""
        return int(self.l4t[0].split(".")[0])

    def covers(self, l4t: str) -> bool:
        """True when ``l4t`` falls under one of the row's prefixes."""
        return any(prefix_matches(p, l4t) for p in self.l4t)

    def jetpack_for(self, l4t: str | None) -> str:
        """The JetPack of a point release: longest matching prefix, else the newest listed one below.

        A point release never lowers the JetPack; with nothing listed below, the row's own.
        """
        best: tuple[int, str] | None = None
        for prefix, jetpack in self.jetpack_by_l4t.items():
            if l4t and prefix_matches(prefix, l4t) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), jetpack)
        if best is not None:
            return best[1]
        below = [p for p in self.jetpack_by_l4t if l4t and version_tuple(p) < version_tuple(l4t)]
        return self.jetpack_by_l4t[max(below, key=version_tuple)] if below else self.jetpack

    def jetpacks(self) -> tuple[str, ...]:
        """Every JetPack version the row names."""
        return (self.jetpack, *self.jetpack_by_l4t.values())


@dataclass(frozen=True)
class SocInfo:
    """A SoC and its compute capability, which can depend on the CUDA version."""

    name: str
    modules: tuple[str, ...]
    compute_capability: str
    by_cuda: tuple[tuple[str, str], ...] = ()  # (below CUDA, capability), first match wins

    def capability(self, cuda: str | None) -> str:
        """The compute capability under ``cuda`` (major.minor); the default when unknown."""
        if cuda and _MAJOR_MINOR.match(cuda):
            for below, capability in self.by_cuda:
                if version_tuple(cuda) < version_tuple(below):
                    return capability
        return self.compute_capability


@dataclass(frozen=True)
class SourceSpec:
    """A ``[sources.ID]`` entry before mirror mapping."""

    id: str
    name: str
    kind: str
    url: str
    jetson: bool = False
    platforms: tuple[str, ...] = ()
    arch_list: tuple[str, ...] = ()
    trusted: bool = False
    note: str | None = None
    projects: tuple[str, ...] = ()  # guarded names it is known to carry (docs/matrix.md); () = unknown
    arch_rules: tuple[ArchRule, ...] = ()  # per project and version; the first that applies wins


@dataclass(frozen=True)
class RouteRule:
    """A ``[[routes]]`` entry: which Targets it serves and its source ids in order."""

    key: str
    line: str
    cuda: str
    arch_kind: str
    summary: str
    sources: tuple[str, ...]
    l4t: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    note: str | None = None
    alternatives: tuple[str, ...] = ()
    recipe: str | None = None
    no_source_reason: str | None = None
    constraints_why: Mapping[str, str] = field(default_factory=dict, hash=False)  # constraint -> reason


@dataclass(frozen=True)
class RecipeTag:
    """A source tag a recipe builds when the installed CUDA is at least ``cuda_min``."""

    cuda_min: str
    tag: str
    why: str
    python_max: str | None = None


@dataclass(frozen=True)
class RecipeWhen:
    """Extra environment for a recipe when every condition given holds."""

    why: str
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    is_jetson: bool | None = None
    arch_kind: str | None = None
    cuda_min: str | None = None
    python_min: str | None = None


@dataclass(frozen=True)
class Recipe:
    """A source-build recipe for the fallback hint (``[recipes.KEY]``)."""

    key: str
    packages: tuple[str, ...]
    repo: str
    steps: tuple[str, ...]
    tags: tuple[RecipeTag, ...]
    companion: str | None = None
    companion_repo: str | None = None
    gib_per_job: float = 2.5
    max_jobs_cap: int = 12
    apt: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    when: tuple[RecipeWhen, ...] = ()
    build_time: Mapping[str, str] = field(default_factory=dict, hash=False)
    default_build_time: str = "several hours"


@dataclass
class Layer:
    """Everything one file says, typed and checked on its own (cross-checks come after merging)."""

    path: str
    hosts: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    mirrors: dict[str, Url] = field(default_factory=dict)  # a mirror may carry credentials
    ubuntu: dict[str, str] = field(default_factory=dict)
    versions: list[VersionRow] = field(default_factory=list)
    soc: dict[str, SocInfo] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    routes: dict[str, RouteRule] = field(default_factory=dict)
    guarded: list[str] = field(default_factory=list)
    preferred: list[str] = field(default_factory=list)  # guarded, but the base index's build may stand in
    unguard: list[str] = field(default_factory=list)
    substitutions: dict[str, str] = field(default_factory=dict)
    companions: dict[str, dict[str, str]] = field(default_factory=dict)
    stable_abi: dict[str, str] = field(default_factory=dict)
    recipes: dict[str, Recipe] = field(default_factory=dict)
    drivers: list[DriverRow] = field(default_factory=list)
    gpu_routes: list[GpuRoute] = field(default_factory=list)
    builds: dict[str, BuildRecipe] = field(default_factory=dict)



def parse_layer(data: Mapping[str, Any], path: str, *, builtin: bool = False) -> Layer:
    """Check one file's tables and return them typed. ``builtin`` requires ``format``."""
    r = _Reader(path)
    r.keys(data, "", TOP_LEVEL, ("format",) if builtin else ())
    if "format" in data and data["format"] != FORMAT:
        raise r.fail("format", f"unsupported format {data['format']!r} (this jetpip reads {FORMAT})")
    layer = Layer(path=path)
    if "hosts" in data:
        hosts = r.table(data["hosts"], "hosts")
        r.keys(hosts, "hosts", ("jetson",))
        layer.hosts = list(r.strings(hosts, "jetson", "hosts", _URL, "URL"))
    if "aliases" in data:
        layer.aliases = r.str_map(data["aliases"], "aliases", _URL, _URL, "URL")
    if "mirrors" in data:
        layer.mirrors = r.url_map(data["mirrors"], "mirrors")
    if "ubuntu" in data:
        layer.ubuntu = r.str_map(data["ubuntu"], "ubuntu", _MAJOR_MINOR, _MAJOR_MINOR, "glibc version")
    if "versions" in data:
        layer.versions = _versions(r, data["versions"])
    if "soc" in data:
        for name, value in r.table(data["soc"], "soc").items():
            layer.soc[name] = _soc(r, name, value)
    if "sources" in data:
        for sid, value in r.table(data["sources"], "sources").items():
            layer.sources[sid] = _source(r, sid, value)
    if "routes" in data:
        for index, value in enumerate(_array(r, data["routes"], "routes")):
            rule = _route(r, index, value)
            if rule.key in layer.routes:
                raise r.fail(f"routes.{rule.key}", "duplicate route key in this file")
            layer.routes[rule.key] = rule
    if "guarded" in data:
        guarded = r.table(data["guarded"], "guarded")
        r.keys(guarded, "guarded", ("names", "preferred", "unguard"))
        layer.guarded = [canonicalize_name(n) for n in r.strings(guarded, "names", "guarded")]
        layer.preferred = [canonicalize_name(n) for n in r.strings(guarded, "preferred", "guarded")]
        both = sorted(set(layer.guarded) & set(layer.preferred))
        if both:
            raise r.fail("guarded.preferred", f"names {', '.join(both)} under both policies")
        layer.unguard = [canonicalize_name(n) for n in r.strings(guarded, "unguard", "guarded")]
    if "substitutions" in data:
        subs = r.str_map(data["substitutions"], "substitutions")
        layer.substitutions = {canonicalize_name(k): canonicalize_name(v) for k, v in subs.items()}
    if "companions" in data:
        for torch, value in r.table(data["companions"], "companions").items():
            if not _MAJOR_MINOR.match(torch):
                raise r.fail(f"companions.{torch}", f"bad torch version {torch!r} (want major.minor)")
            table = r.str_map(value, f"companions.{torch}", None, _MAJOR_MINOR, "version")
            layer.companions[torch] = {canonicalize_name(k): v for k, v in table.items()}
    if "stable_abi" in data:
        abi = r.str_map(data["stable_abi"], "stable_abi", None, _MAJOR_MINOR, "version (want major.minor)")
        layer.stable_abi = {canonicalize_name(k): v for k, v in abi.items()}
    if "recipes" in data:
        for key, value in r.table(data["recipes"], "recipes").items():
            layer.recipes[key] = _recipe(r, key, value)
    if "drivers" in data:
        layer.drivers = parse_drivers(r, data["drivers"])
    if "gpu_routes" in data:
        layer.gpu_routes = parse_gpu_routes(r, data["gpu_routes"])
    if "builds" in data:
        layer.builds = parse_builds(r, data["builds"])
    return layer


def _versions(r: _Reader, value: object) -> list[VersionRow]:
    rows: list[VersionRow] = []
    seen: dict[str, int] = {}
    allowed = ("l4t", "jetpack", "jetpack_by_l4t", "cuda", "cudnn", "tensorrt", "ubuntu",
               "python", "arch_kind", "socs", "preview", "unconfirmed", "note")
    for index, t in enumerate(_array(r, value, "versions")):
        key = f"versions[{index}]"
        r.keys(t, key, allowed, ("l4t", "jetpack", "cuda", "cudnn", "tensorrt", "ubuntu", "python",
                                 "arch_kind"))
        l4t = r.strings(t, "l4t", key, _L4T, "L4T release")
        if not l4t:
            raise r.fail(f"{key}.l4t", "must name at least one L4T release prefix")
        if len({p.split(".")[0] for p in l4t}) > 1:
            raise r.fail(f"{key}.l4t", f"mixes L4T majors {list(l4t)}")
        for prefix in l4t:
            if prefix in seen:
                raise r.fail(f"{key}.l4t", f"L4T {prefix} is already in versions[{seen[prefix]}]")
            seen[prefix] = index
        by_l4t = r.str_map(t.get("jetpack_by_l4t", {}), f"{key}.jetpack_by_l4t", _L4T, _VERSION,
                           "JetPack version")
        for prefix in by_l4t:
            if not any(prefix_matches(p, prefix) for p in l4t):
                raise r.fail(f"{key}.jetpack_by_l4t.{prefix}",
                             f"L4T {prefix} is outside the row's {list(l4t)}")
        arch_kind = r.string(t, "arch_kind", key)
        if arch_kind not in ARCH_KINDS:
            raise r.fail(f"{key}.arch_kind", f"must be one of {', '.join(ARCH_KINDS)}, got {arch_kind!r}")
        unconfirmed = r.strings(t, "unconfirmed", key)
        for name in unconfirmed:
            if name not in ("cuda", "cudnn", "tensorrt", "jetpack", "python"):
                raise r.fail(f"{key}.unconfirmed", f"names no fact of the row: {name!r}")
        rows.append(VersionRow(
            l4t=l4t,
            jetpack=r.string(t, "jetpack", key, _VERSION, "JetPack version"),
            cuda=r.string(t, "cuda", key, _MAJOR_MINOR, "CUDA version (want major.minor)"),
            cudnn=r.string(t, "cudnn", key, _VERSION, "cuDNN version"),
            tensorrt=r.string(t, "tensorrt", key, _VERSION, "TensorRT version"),
            ubuntu=r.string(t, "ubuntu", key, _MAJOR_MINOR, "Ubuntu release"),
            python=r.string(t, "python", key, _MAJOR_MINOR, "Python version (want major.minor)"),
            arch_kind=arch_kind,
            jetpack_by_l4t=by_l4t,
            socs=r.strings(t, "socs", key),
            preview=r.boolean(t, "preview", key),
            unconfirmed=unconfirmed,
            note=r.opt_string(t, "note", key),
        ))
    return rows


def _soc(r: _Reader, name: str, value: object) -> SocInfo:
    key = f"soc.{name}"
    t = r.table(value, key)
    r.keys(t, key, ("modules", "compute_capability", "by_cuda"), ("compute_capability",))
    by_cuda: list[tuple[str, str]] = []
    for index, row in enumerate(_array(r, t.get("by_cuda", []), f"{key}.by_cuda")):
        rkey = f"{key}.by_cuda[{index}]"
        r.keys(row, rkey, ("below", "compute_capability"), ("below", "compute_capability"))
        by_cuda.append((r.string(row, "below", rkey, _MAJOR_MINOR, "CUDA version"),
                        r.string(row, "compute_capability", rkey, _MAJOR_MINOR, "compute capability")))
    return SocInfo(
        name=name,
        modules=r.strings(t, "modules", key),
        compute_capability=r.string(t, "compute_capability", key, _MAJOR_MINOR, "compute capability"),
        by_cuda=tuple(by_cuda),
    )


def _source(r: _Reader, sid: str, value: object) -> SourceSpec:
    key = f"sources.{sid}"
    if not _KEY.match(sid):
        raise r.fail(key, f"bad source id {sid!r}")
    t = r.table(value, key)
    r.keys(t, key, ("name", "kind", "url", "jetson", "platforms", "arch_list", "trusted", "note",
                    "projects", "arch"),
           ("kind", "url"))
    kind = r.string(t, "kind", key)
    if kind not in SOURCE_KINDS:
        raise r.fail(f"{key}.kind", f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")
    return SourceSpec(
        id=sid,
        name=r.opt_string(t, "name", key) or sid,
        kind=kind,
        url=r.string(t, "url", key, _URL, "URL"),
        jetson=r.boolean(t, "jetson", key),
        platforms=r.strings(t, "platforms", key),
        arch_list=r.strings(t, "arch_list", key, _MAJOR_MINOR, "compute capability"),
        trusted=r.boolean(t, "trusted", key),
        note=r.opt_string(t, "note", key),
        projects=tuple(canonicalize_name(p) for p in r.strings(t, "projects", key)),
        arch_rules=parse_arch_rules(r, t.get("arch", []), f"{key}.arch"),
    )


def _route(r: _Reader, index: int, t: dict[str, Any]) -> RouteRule:
    key = f"routes[{index}]"
    r.keys(t, key, ("key", "line", "cuda", "arch_kind", "summary", "sources", "l4t", "constraints",
                    "note", "alternatives", "recipe", "no_source_reason", "constraints_why"),
           ("key", "line", "cuda", "arch_kind", "sources"))
    rkey = r.string(t, "key", key, _KEY, "route key")
    key = f"routes.{rkey}"
    arch_kind = r.string(t, "arch_kind", key)
    if arch_kind not in ARCH_KINDS:
        raise r.fail(f"{key}.arch_kind", f"must be one of {', '.join(ARCH_KINDS)}, got {arch_kind!r}")
    sources = r.strings(t, "sources", key)
    reason = r.opt_string(t, "no_source_reason", key)
    if not sources and not reason:
        raise r.fail(f"{key}.sources", "is empty: a route without sources must say why in no_source_reason")
    constraints = r.strings(t, "constraints", key)
    why = r.str_map(t.get("constraints_why", {}), f"{key}.constraints_why")
    for text in why:
        if text not in constraints:
            raise r.fail(f"{key}.constraints_why", f"explains {text!r}, which is not one of its constraints")
    return RouteRule(
        key=rkey,
        line=r.string(t, "line", key, re.compile(r"^jp\d+$"), "JetPack line (want jpN)"),
        cuda=r.string(t, "cuda", key, _MAJOR_MINOR, "CUDA version (want major.minor)"),
        arch_kind=arch_kind,
        summary=r.opt_string(t, "summary", key) or rkey,
        sources=sources,
        l4t=r.strings(t, "l4t", key, _L4T, "L4T release"),
        constraints=constraints,
        note=r.opt_string(t, "note", key),
        alternatives=r.strings(t, "alternatives", key),
        recipe=r.opt_string(t, "recipe", key),
        no_source_reason=reason,
        constraints_why=why,
    )


def _recipe(r: _Reader, name: str, value: object) -> Recipe:
    key = f"recipes.{name}"
    t = r.table(value, key)
    r.keys(t, key, ("packages", "repo", "steps", "tags", "companion", "companion_repo", "gib_per_job",
                    "max_jobs_cap", "apt", "env", "when", "build_time", "default_build_time"),
           ("packages", "repo", "steps", "tags"))
    gib, cap = job_limits(r, t, key)
    tags: list[RecipeTag] = []
    for index, row in enumerate(_array(r, t["tags"], f"{key}.tags")):
        tkey = f"{key}.tags[{index}]"
        r.keys(row, tkey, ("cuda_min", "tag", "why", "python_max"), ("cuda_min", "tag"))
        tags.append(RecipeTag(
            cuda_min=r.string(row, "cuda_min", tkey, _MAJOR_MINOR, "CUDA version"),
            tag=r.string(row, "tag", tkey),
            why=r.opt_string(row, "why", tkey) or "",
            python_max=r.opt_string(row, "python_max", tkey, _MAJOR_MINOR, "Python version"),
        ))
    if not tags:
        raise r.fail(f"{key}.tags", "must list at least one source tag")
    when: list[RecipeWhen] = []
    for index, row in enumerate(_array(r, t.get("when", []), f"{key}.when")):
        wkey = f"{key}.when[{index}]"
        r.keys(row, wkey, ("why", "env", "is_jetson", "arch_kind", "cuda_min", "python_min"), ("why",))
        arch_kind = r.opt_string(row, "arch_kind", wkey)
        if arch_kind is not None and arch_kind not in ARCH_KINDS:
            raise r.fail(f"{wkey}.arch_kind", f"must be one of {', '.join(ARCH_KINDS)}, got {arch_kind!r}")
        when.append(RecipeWhen(
            why=r.string(row, "why", wkey),
            env=r.str_map(row.get("env", {}), f"{wkey}.env", _ENV_NAME),
            is_jetson=r.boolean(row, "is_jetson", wkey) if "is_jetson" in row else None,
            arch_kind=arch_kind,
            cuda_min=r.opt_string(row, "cuda_min", wkey, _MAJOR_MINOR, "CUDA version"),
            python_min=r.opt_string(row, "python_min", wkey, _MAJOR_MINOR, "Python version"),
        ))
    return Recipe(
        key=name,
        packages=tuple(canonicalize_name(p) for p in r.strings(t, "packages", key)),
        repo=r.string(t, "repo", key, _URL, "URL"),
        steps=r.strings(t, "steps", key),
        tags=tuple(tags),
        companion=r.opt_string(t, "companion", key),
        companion_repo=r.opt_string(t, "companion_repo", key, _URL, "URL"),
        gib_per_job=gib,
        max_jobs_cap=cap,
        apt=r.strings(t, "apt", key),
        env=r.str_map(t.get("env", {}), f"{key}.env", _ENV_NAME),
        when=tuple(when),
        build_time=r.str_map(t.get("build_time", {}), f"{key}.build_time"),
        default_build_time=r.opt_string(t, "default_build_time", key) or "several hours",
    )
