"""Layering of indexes.toml files: later files add or replace entries, then the whole is cross-checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from jetpip.errors import KnowledgeError
from jetpip.knowledge.builds import BuildRecipe
from jetpip.knowledge.gpu import DriverRow, GpuRoute
from jetpip.knowledge.schema import Layer, Recipe, RouteRule, SocInfo, SourceSpec, VersionRow
from jetpip.model.urls import Url


@dataclass
class Merged:
    """The merged tables, each entry remembering the file that last set it (for error messages)."""

    hosts: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    mirrors: dict[str, Url] = field(default_factory=dict)  # a mirror may carry credentials
    ubuntu: dict[str, str] = field(default_factory=dict)
    versions: list[VersionRow] = field(default_factory=list)
    soc: dict[str, SocInfo] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    routes: dict[str, RouteRule] = field(default_factory=dict)
    guarded: set[str] = field(default_factory=set)  # every guarded name, whatever its policy
    preferred: set[str] = field(default_factory=set)  # those under the `preferred` policy
    substitutions: dict[str, str] = field(default_factory=dict)
    companions: dict[str, dict[str, str]] = field(default_factory=dict)
    stable_abi: dict[str, str] = field(default_factory=dict)
    recipes: dict[str, Recipe] = field(default_factory=dict)
    drivers: dict[str, DriverRow] = field(default_factory=dict)  # by CUDA release
    gpu_routes: dict[str, GpuRoute] = field(default_factory=dict)
    builds: dict[str, BuildRecipe] = field(default_factory=dict)  # by distribution name
    origin: dict[str, str] = field(default_factory=dict)  # "routes.jp6-cu126" -> file


def merge_layers(layers: Sequence[Layer]) -> Merged:
    """Apply ``layers`` in order, then cross-check what they say together."""
    m = Merged()
    for layer in layers:
        _apply(m, layer)
    _cross_check(m)
    return m


def _apply(m: Merged, layer: Layer) -> None:
    path = layer.path
    for host in layer.hosts:
        if host not in m.hosts:
            m.hosts.append(host)
    for name, table in (("aliases", layer.aliases), ("ubuntu", layer.ubuntu)):
        target: dict[str, str] = getattr(m, name)
        for key, value in table.items():
            target[key] = value
            m.origin[f"{name}.{key}"] = path
    for key, mirror in layer.mirrors.items():
        m.mirrors[key] = mirror
        m.origin[f"mirrors.{key}"] = path
    for row in layer.versions:
        # A row replaces every earlier row that shares one of its L4T prefixes.
        m.versions = [old for old in m.versions if not set(old.l4t) & set(row.l4t)]
        m.versions.append(row)
        for prefix in row.l4t:
            m.origin[f"versions.{prefix}"] = path
    m.versions.sort(key=lambda r: tuple(int(p) for p in r.l4t[0].split(".")))
    for name, soc in layer.soc.items():
        m.soc[name] = soc
        m.origin[f"soc.{name}"] = path
    for sid, source in layer.sources.items():
        m.sources[sid] = source
        m.origin[f"sources.{sid}"] = path
    for key, rule in layer.routes.items():
        m.routes[key] = rule
        m.origin[f"routes.{key}"] = path
    # A later layer may move a name between the policies: the last one that names it decides.
    m.guarded |= set(layer.guarded) | set(layer.preferred)
    m.preferred = (m.preferred - set(layer.guarded)) | set(layer.preferred)
    m.guarded -= set(layer.unguard)
    m.preferred -= set(layer.unguard)
    for name, value in layer.substitutions.items():
        m.substitutions[name] = value
        m.origin[f"substitutions.{name}"] = path
    for torch, table in layer.companions.items():
        m.companions[torch] = dict(table)
    m.stable_abi.update(layer.stable_abi)
    for key, recipe in layer.recipes.items():
        m.recipes[key] = recipe
        m.origin[f"recipes.{key}"] = path
    for driver in layer.drivers:
        m.drivers[driver.cuda] = driver
    for gpu in layer.gpu_routes:
        m.gpu_routes[gpu.key] = gpu
        m.origin[f"gpu_routes.{gpu.key}"] = path
    for name, build in layer.builds.items():
        m.builds[name] = build
        m.origin[f"builds.{name}"] = path
    if layer.guarded or layer.preferred or layer.unguard:
        m.origin["guarded"] = path


def _cross_check(m: Merged) -> None:
    for key, rule in m.routes.items():
        path = m.origin[f"routes.{key}"]
        for sid in rule.sources:
            if sid not in m.sources:
                raise KnowledgeError(path, f"routes.{key}.sources",
                                     f"names unknown source {sid!r} (known: {', '.join(sorted(m.sources))})")
        if rule.recipe is not None and rule.recipe not in m.recipes:
            raise KnowledgeError(path, f"routes.{key}.recipe", f"names unknown recipe {rule.recipe!r}")
        for text in rule.constraints:
            try:
                Requirement(text)
            except InvalidRequirement as err:
                raise KnowledgeError(path, f"routes.{key}.constraints",
                                     f"bad requirement {text!r}: {err}") from None
    for key, gpu in m.gpu_routes.items():
        for sid in gpu.sources:
            if sid not in m.sources:
                raise KnowledgeError(m.origin[f"gpu_routes.{key}"], f"gpu_routes.{key}.sources",
                                     f"names unknown source {sid!r} (known: {', '.join(sorted(m.sources))})")
    seen: dict[tuple[str, str, str, frozenset[str]], str] = {}
    for key, rule in m.routes.items():
        match = (rule.line, rule.cuda, rule.arch_kind, frozenset(rule.l4t))
        if match in seen:
            raise KnowledgeError(m.origin[f"routes.{key}"], f"routes.{key}",
                                 f"serves the same Targets as route {seen[match]!r} "
                                 f"({rule.line}, CUDA {rule.cuda}, {rule.arch_kind}); give one an l4t list")
        seen[match] = key
    for name, target in m.substitutions.items():
        path = m.origin[f"substitutions.{name}"]
        if target not in m.guarded:
            raise KnowledgeError(path, f"substitutions.{name}",
                                 f"substitutes onto {target!r}, which is not a guarded name")
        if name in m.guarded:
            raise KnowledgeError(path, f"substitutions.{name}",
                                 f"{name!r} is guarded itself; it cannot be substituted")
    for row in m.versions:
        path = m.origin[f"versions.{row.l4t[0]}"]
        if m.ubuntu and row.ubuntu not in m.ubuntu:
            raise KnowledgeError(path, f"versions.{row.l4t[0]}.ubuntu",
                                 f"Ubuntu {row.ubuntu} has no glibc in [ubuntu]")
        for soc in row.socs:
            if m.soc and soc not in m.soc:
                raise KnowledgeError(path, f"versions.{row.l4t[0]}.socs", f"names unknown SoC {soc!r}")
    for origin, target in m.aliases.items():
        if any(target.rstrip("/") == other.rstrip("/") for other in m.aliases):
            raise KnowledgeError(m.origin[f"aliases.{origin}"], f"aliases.{origin}",
                                 f"points at {target!r}, which is itself an alias")
