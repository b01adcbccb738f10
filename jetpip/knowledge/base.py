"""The knowledge base: load and validate indexes.toml (+ user file, overrides) and route a Target."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from jetpip.errors import KnowledgeError, UsageError
from jetpip.knowledge.builds import BuildRecipe
from jetpip.knowledge.gpu import DriverRow, GpuRoute, gpu_route
from jetpip.knowledge.merge import merge_layers
from jetpip.knowledge.schema import (
    Layer,
    Recipe,
    RouteRule,
    SocInfo,
    SourceSpec,
    VersionRow,
    parse_layer,
    parse_toml,
    prefix_matches,
    version_tuple,
)
from jetpip.model.sources import Route, Source, SourceKind
from jetpip.model.target import Device, Fact, Interpreter, Target, TargetOverrides
from jetpip.model.urls import Url, redact_text

if TYPE_CHECKING:
    from jetpip.model.documents import RouteDocument, SourceDocument

MIRROR_ENV = "JETPIP_MIRROR"
INDEXES_ENV = "JETPIP_INDEXES"
_L4T_TEXT = re.compile(r"^\d+(\.\d+){0,2}$")
_CUDA_TEXT = re.compile(r"^\d+\.\d+(\.\d+)*$")
_CC_TEXT = re.compile(r"^\d+\.\d+$")


def _rebase(url: Url, prefixes: Mapping[str, Url]) -> Url | None:
    """``url`` with the longest prefix it lies under replaced by that prefix's URL; None if none."""
    best = max((p for p in prefixes if url.is_under(p)), key=len, default=None)
    return None if best is None else url.moved(best, prefixes[best])


def parse_mirror_env(text: str) -> dict[str, Url]:
    """``"https://orig=http://new,https://o2=http://n2"`` -> mapping; bad pairs raise KnowledgeError."""
    out: dict[str, Url] = {}
    for raw in text.split(","):
        pair = raw.strip()
        if not pair:
            continue
        origin, sep, target = pair.partition("=")
        origin, target = origin.strip(), target.strip()
        try:
            for value in (origin, target):
                if not sep or not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
                    raise ValueError(value)
            out[origin] = Url.parse(target)
        except ValueError:
            raise KnowledgeError(
                f"${MIRROR_ENV}", "mirrors",
                f"bad pair {redact_text(pair)!r}: want ORIGIN=URL, both http(s) URLs, comma-separated",
            ) from None
    return out


@dataclass(frozen=True)
class KnowledgeBase:
    """Every layer of indexes.toml merged and cross-checked; maps a Target to its Route."""

    files: tuple[str, ...]
    versions: tuple[VersionRow, ...]
    ubuntu: Mapping[str, str]
    soc: Mapping[str, SocInfo]
    sources: Mapping[str, Source]  # mirror-mapped
    routes: tuple[RouteRule, ...]
    guarded: frozenset[str]
    substitutions: Mapping[str, str]
    companions: Mapping[str, Mapping[str, str]]
    stable_abi: Mapping[str, str]
    recipes: Mapping[str, Recipe]
    aliases: Mapping[str, Url]  # old URL prefix -> current one
    mirrors: Mapping[str, Url]  # URL prefix -> the mirror that replaces it (credentials allowed)
    jetson_hosts: tuple[str, ...]
    drivers: tuple[DriverRow, ...] = ()
    gpu_routes: tuple[GpuRoute, ...] = ()
    builds: Mapping[str, BuildRecipe] = field(default_factory=dict, hash=False)  # sdist build recipes
    preferred: frozenset[str] = frozenset()  # guarded names a base-index build may stand in for

    def cuda_sources_of(self, name: str, route: Route) -> tuple[Source, ...]:
        """Sources of the other routes of ``route``'s JetPack line known to carry CUDA builds of ``name``."""
        key = canonicalize_name(name)
        inside = {s.url for s in route.sources}
        ids = dict.fromkeys(sid for rule in self.routes if route.line is not None and rule.line == route.line
                            and rule.arch_kind == route.arch_kind for sid in rule.sources)
        return tuple(self.sources[sid] for sid in ids
                     if key in self.sources[sid].projects and self.sources[sid].url not in inside)

    # -- URLs ---------------------------------------------------------------

    def map_url(self, url: Url) -> Url:
        """Rewrite an old host name to the current one, then apply the mirror override."""
        url = _rebase(url, self.aliases) or url
        return _rebase(url, self.mirrors) or url

    def is_jetson_url(self, url: Url) -> bool:
        """True for a URL under a Jetson host, one of its aliases, or its mirror."""
        canonical = _rebase(url, self.aliases) or url
        for host in self.jetson_hosts:
            if canonical.is_under(host) or self.map_url(canonical).is_under(self.map_url(Url(host))):
                return True
        return False

    # -- tables -------------------------------------------------------------

    def row_for_l4t(self, l4t: str) -> VersionRow | None:
        """The versions row that covers ``l4t`` exactly (by prefix), if any."""
        return next((row for row in self.versions if row.covers(l4t)), None)

    def row_for_jetpack(self, jetpack: str) -> VersionRow | None:
        """The versions row of a JetPack version: a point release, a row's own, or a prefix."""
        for exact in (True, False):
            for row in sorted(self.versions, key=lambda r: r.preview):
                for name in row.jetpacks():
                    if (name == jetpack) if exact else prefix_matches(jetpack, name):
                        return row
        return None

    def route_by_key(self, key: str) -> RouteRule | None:
        """The ``[[routes]]`` entry named ``key``."""
        return next((r for r in self.routes if r.key == key), None)

    def _row(self, l4t: Fact | None, jetpack: Fact | None) -> tuple[VersionRow | None, str, list[str]]:
        """The row for a Target, the source text of facts taken from it, and warnings."""
        if jetpack is not None and jetpack.source == "--jetpack flag":
            row = self.row_for_jetpack(jetpack.value)
            if row is not None:
                return row, f"indexes.toml versions table from --jetpack {jetpack.value}", []
        if l4t is not None:
            row = self.row_for_l4t(l4t.value)
            if row is not None:
                return row, f"indexes.toml versions table from L4T {l4t.value}", []
            return self._nearest_row(l4t.value)
        if jetpack is not None:
            row = self.row_for_jetpack(jetpack.value)
            if row is not None:
                return row, f"indexes.toml versions table from JetPack {jetpack.value}", []
            return None, "", [f"JetPack {jetpack.value} is not in indexes.toml's versions table"]
        return None, "", []

    def _nearest_row(self, l4t: str) -> tuple[VersionRow | None, str, list[str]]:
        major = int(l4t.split(".")[0])
        same = sorted((r for r in self.versions if r.l4t_major == major),
                      key=lambda r: version_tuple(r.l4t[-1]))
        if not same:
            newest = max(self.versions, key=lambda r: version_tuple(r.l4t[-1]), default=None)
            known = f" (newest known: R{newest.l4t[-1]}, JetPack {newest.jetpack})" if newest else ""
            return None, "", [
                f"L4T {l4t} is not a release line indexes.toml knows{known}; jetpip does not guess "
                "a JetPack: it routes by the CUDA actually installed, if any. Pass --jetpack and "
                "--cuda, or add the line to indexes.toml (docs/indexes.md)."
            ]
        below = [r for r in same if version_tuple(r.l4t[0]) <= version_tuple(l4t)]
        row = below[-1] if below else same[0]
        return row, f"indexes.toml versions table, nearest R{major} row to L4T {l4t}", [
            f"L4T {l4t} is not in indexes.toml's versions table; using the nearest R{major} row "
            f"(JetPack {row.jetpack}, CUDA {row.cuda}) and the CUDA actually installed. Check the "
            "route and add the release to indexes.toml (docs/indexes.md)."
        ]

    # -- Target -------------------------------------------------------------

    def make_target(self, device: Device, interpreter: Interpreter, overrides: TargetOverrides) -> Target:
        """Combine device facts, the tables and the overrides (which win) into a Target."""
        warnings: list[str] = []
        if not device.is_jetson and (overrides.jetpack or overrides.l4t):
            # A Jetson Target named by flags on another machine (cross-locking from a workstation):
            # that machine's CUDA, cuDNN and GPU say nothing about the Jetson.
            device = Device(root=device.root, is_jetson=False, model=device.model, kernel=device.kernel,
                            in_container=device.in_container, warnings=device.warnings)
        l4t = _flag(overrides.l4t, "--l4t", _L4T_TEXT, "an L4T release like 36.4.3") or device.l4t
        if l4t is not None and not _L4T_TEXT.match(l4t.value):
            warnings.append(f"ignoring L4T {l4t.value!r} from {l4t.source}: not a release number")
            l4t = None
        jetpack_flag = _flag(overrides.jetpack, "--jetpack", re.compile(r"^\d+(\.\d+)*$"),
                             "a JetPack version like 6.2")
        row, row_source, row_warnings = self._row(l4t, jetpack_flag or device.jetpack)
        warnings += row_warnings
        if jetpack_flag is not None and l4t is not None:
            l4t_row = self.row_for_l4t(l4t.value)
            if l4t_row is not None and l4t_row.line != f"jp{jetpack_flag.value.split('.')[0]}":
                warnings.append(f"--jetpack {jetpack_flag.value} disagrees with L4T {l4t.value} "
                                f"(JetPack {l4t_row.jetpack}); the flag wins")

        jetpack = jetpack_flag or device.jetpack
        if jetpack is None and row is not None:
            jetpack = Fact(row.jetpack_for(l4t.value if l4t else None), row_source)

        cuda = _flag(_major_minor(overrides.cuda, "--cuda"), "--cuda", _CC_TEXT, "a CUDA version")
        if cuda is None and device.cuda is not None and _CUDA_TEXT.match(device.cuda.value):
            cuda = Fact(_major_minor(device.cuda.value, "") or device.cuda.value, device.cuda.source)
        if cuda is None and row is not None:
            cuda = Fact(row.cuda, row_source)

        cudnn = device.cudnn or _row_fact(row, "cudnn", row_source)
        tensorrt = device.tensorrt or _row_fact(row, "tensorrt", row_source)

        soc = _flag(overrides.soc, "--soc", None, "") or device.soc
        if soc is None and row is not None and len(row.socs) == 1:
            soc = Fact(row.socs[0], f"{row_source} (JetPack {row.jetpack} runs only on {row.socs[0]})")
        if overrides.soc and overrides.soc not in self.soc:
            raise UsageError(f"--soc {overrides.soc!r} is not in indexes.toml's soc table "
                             f"(known: {', '.join(sorted(self.soc))})",
                             "add it to [soc] in an indexes.toml overlay, or pass --compute-capability")

        capability = _flag(overrides.compute_capability, "--compute-capability", _CC_TEXT,
                           "a compute capability like 8.7")
        if capability is None and not device.is_jetson and device.gpu_capability is not None:
            capability = device.gpu_capability  # a discrete GPU reports its own
        if capability is None and soc is not None:
            info = self.soc.get(soc.value)
            if info is not None:
                under = f" under CUDA {cuda.value}" if cuda else ""
                capability = Fact(info.capability(cuda.value if cuda else None),
                                  f"indexes.toml soc table: {soc.value}{under}")
            else:
                warnings.append(f"SoC {soc.value} is not in indexes.toml's soc table; "
                                "its compute capability is unknown (pass --compute-capability)")

        arch_kind = _flag(overrides.arch_kind, "--arch-kind", re.compile(r"^(tegra|sbsa)$"), "tegra or sbsa")
        arch_kind = arch_kind or device.arch_kind
        if arch_kind is None and row is not None:
            arch_kind = Fact(row.arch_kind, row_source)
        is_jetson = device.is_jetson or l4t is not None or jetpack is not None
        if arch_kind is None and is_jetson and cuda is not None:
            kind = "sbsa" if int(cuda.value.split(".")[0]) >= 13 else "tegra"
            arch_kind = Fact(kind, f"inferred from CUDA {cuda.value} (Jetson CUDA 13 and later is SBSA)")
            warnings.append(f"Tegra or SBSA is not known for this device; assuming {kind} "
                            f"from CUDA {cuda.value}")

        return Target(
            device=device, interpreter=interpreter, l4t=l4t, jetpack=jetpack, cuda=cuda, cudnn=cudnn,
            tensorrt=tensorrt, soc=soc, compute_capability=capability, arch_kind=arch_kind,
            machine=_machine(interpreter, overrides), warnings=tuple(warnings),
        )

    def cross_defaults(self, device: Device, overrides: TargetOverrides) -> tuple[str, str]:
        """The (Python major.minor, glibc) of a cross target: flags first, else the JetPack row."""
        l4t = _flag(overrides.l4t, "--l4t", _L4T_TEXT, "an L4T release like 36.4.3") or device.l4t
        jetpack = _flag(overrides.jetpack, "--jetpack", None, "") or device.jetpack
        row, _, _ = self._row(l4t, jetpack)
        python = overrides.python_version or (row.python if row else None)
        glibc = overrides.glibc or (self.ubuntu.get(row.ubuntu) if row else None)
        if python is None or glibc is None:
            flags = (("--python-version", python), ("--glibc", glibc))
            missing = " and ".join(n for n, v in flags if v is None)
            raise UsageError(
                "cannot choose the Python and glibc of a cross target: no known JetPack or L4T",
                f"pass --jetpack (e.g. 6.2) or {missing}",
            )
        return ".".join(python.split(".")[:2]), glibc

    # -- Route --------------------------------------------------------------

    def route_for(self, target: Target) -> Route:
        """The Route for ``target``: its CUDA sources in order, with the guard rules."""
        if not target.is_jetson:
            driver = target.device.driver
            if driver is not None:
                return gpu_route(self.gpu_routes, self.sources, self.drivers, machine=target.machine,
                                 driver=driver.value, base={
                                     "substitutions": self.substitutions, "companions": self.companions,
                                     "stable_abi": self.stable_abi, "recipe": self._default_recipe()})
            return Route(
                key="not-jetson", summary="not a Jetson, no NVIDIA GPU", sources=(), guarded=frozenset(),
                companions=self.companions, stable_abi=self.stable_abi,
                no_source_reason=(
                    "this machine is not a Jetson (no L4T release found) and has no NVIDIA driver "
                    "(no /sys/module/nvidia/version or /proc/driver/nvidia/version): every package, "
                    "torch included, comes from the base index as pip would choose it. Pass --jetpack "
                    "or --l4t to resolve for a Jetson."
                ),
            )
        line = f"jp{target.jetpack.value.split('.')[0]}" if target.jetpack else None
        cuda = target.cuda.value if target.cuda else None
        arch = target.arch_kind.value if target.arch_kind else "tegra"
        base: dict[str, Any] = {"guarded": self.guarded, "preferred": self.preferred,
                                "substitutions": self.substitutions,
                                "companions": self.companions, "stable_abi": self.stable_abi,
                                "line": line, "cuda": cuda, "arch_kind": arch}
        if cuda is None:
            return Route(key=f"{line or 'jetson'}-unknown-cuda", summary="CUDA version unknown", sources=(),
                         recipe=self._default_recipe(), no_source_reason=(
                             "the CUDA version is unknown (no CUDA toolkit found and no known JetPack); "
                             "pass --cuda or --jetpack"), **base)
        rule, warnings = self._choose_rule(line, cuda, arch, target.l4t.value if target.l4t else None)
        if rule is None:
            where = f"JetPack line {line}" if line else "an unknown JetPack line"
            return Route(key=f"{line or 'jetson'}-cu{cuda.replace('.', '')}", summary=f"no route for {where}",
                         sources=(), recipe=self._default_recipe(), warnings=tuple(warnings),
                         no_source_reason=(f"indexes.toml has no route for {where} with CUDA {cuda} "
                                           f"({arch}); guarded packages need a source build or a new "
                                           "route (docs/indexes.md)"), **base)
        # Arch coverage is judged per wheel by the finder (a source's builds differ by project and
        # version), never by dropping a whole source here.
        base.update(line=rule.line, cuda=rule.cuda)
        return Route(
            key=rule.key, summary=rule.summary, sources=tuple(self.sources[sid] for sid in rule.sources),
            constraints=rule.constraints, constraint_reasons=rule.constraints_why,
            recipe=rule.recipe or self._default_recipe(),
            no_source_reason=rule.no_source_reason, warnings=tuple(warnings), note=rule.note,
            alternatives=rule.alternatives, **base,
        )

    def _default_recipe(self) -> str | None:
        return next((k for k, r in self.recipes.items() if "torch" in r.packages), None)

    def _choose_rule(self, line: str | None, cuda: str, arch: str,
                     l4t: str | None) -> tuple[RouteRule | None, list[str]]:
        want = version_tuple(cuda)
        pool = [r for r in self.routes if r.arch_kind == arch and (line is None or r.line == line)
                and version_tuple(r.cuda)[0] == want[0] and version_tuple(r.cuda) <= want
                and (not r.l4t or (l4t is not None and any(prefix_matches(p, l4t) for p in r.l4t)))]
        if not pool:
            return None, []

        def rank(r: RouteRule) -> tuple[tuple[int, ...], int, int]:
            specific = max((len(p) for p in r.l4t), default=0)
            return version_tuple(r.cuda), int(r.line[2:]), specific

        rule = max(pool, key=rank)
        warnings = []
        if rule.cuda != cuda:
            warnings.append(f"no route for CUDA {cuda}; using {rule.key} (CUDA {rule.cuda}), whose builds "
                            f"run under a newer CUDA {want[0]}.x")
        if line is None:
            warnings.append(f"the JetPack line is unknown; routing by the installed CUDA {cuda} "
                            f"to {rule.key}")
        return rule, warnings


def route_to_json(route: Route) -> RouteDocument:
    """The stable JSON form of a Route (schema ``jetpip.route/1``) for ``detect --json`` and locks."""
    def source(s: Source) -> SourceDocument:
        return {"id": s.id, "name": s.name, "kind": s.kind, "url": str(s.url),
                "project_url_template": str(s.project_url("{project}")), "jetson": s.jetson,
                "platforms": list(s.platforms), "arch_list": list(s.arch_list), "trusted": s.trusted,
                "note": s.note, "mirror_of": str(s.mirror_of) if s.mirror_of else None}

    return {
        "schema": "jetpip.route/1",
        "key": route.key,
        "summary": route.summary,
        "line": route.line,
        "cuda": route.cuda,
        "arch_kind": route.arch_kind,
        "sources": [source(s) for s in route.sources],
        "dropped": [source(s) for s in route.dropped],
        "guarded": sorted(route.guarded),
        "substitutions": dict(sorted(route.substitutions.items())),
        "constraints": list(route.constraints),
        "recipe": route.recipe,
        "note": route.note,
        "alternatives": list(route.alternatives),
        "no_source_reason": route.no_source_reason,
        "warnings": list(route.warnings),
    }


def _flag(value: str | None, flag: str, pattern: re.Pattern[str] | None, want: str) -> Fact | None:
    if value is None:
        return None
    if pattern is not None and not pattern.match(value):
        raise UsageError(f"{flag} {value!r} is not {want}", f"for example {flag} {want.split()[-1]}")
    return Fact(value, f"{flag} flag")


def _major_minor(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    match = re.match(r"^(\d+)\.(\d+)", value.strip())
    if not match:
        if flag:
            raise UsageError(f"{flag} {value!r} is not a CUDA version", f"for example {flag} 12.6")
        return None
    return f"{match.group(1)}.{match.group(2)}"


def _row_fact(row: VersionRow | None, name: str, source: str) -> Fact | None:
    if row is None:
        return None
    suffix = " (unconfirmed)" if name in row.unconfirmed else ""
    return Fact(str(getattr(row, name)), source + suffix)


def _machine(interpreter: Interpreter, overrides: TargetOverrides) -> str:
    platform = overrides.platform or ""
    for candidate in (interpreter.markers.get("platform_machine"), ):
        if candidate and not overrides.platform:
            return candidate
    for tag in (platform, *interpreter.platforms):
        for arch in ("aarch64", "x86_64", "armv7l", "ppc64le", "s390x", "riscv64"):
            if tag.endswith(arch):
                return arch
    return "aarch64"


# -- loading ----------------------------------------------------------------------


def builtin_indexes() -> Path:
    """The built-in indexes.toml: inside the package when installed from a wheel, else the repo's."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "indexes.toml"
    return packaged if packaged.is_file() else package.parent / "indexes.toml"


def user_indexes() -> Path:
    """The user's overlay: ``<platformdirs user config dir>/jetpip/indexes.toml``."""
    import platformdirs

    return Path(platformdirs.user_config_dir("jetpip", appauthor=False)) / "indexes.toml"


def load_knowledge(
    indexes_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> KnowledgeBase:
    """Load the built-in file, the user file, $JETPIP_INDEXES, $JETPIP_MIRROR, then ``--indexes``."""
    env = os.environ if env is None else env
    layers = [_read_layer(builtin_indexes(), builtin=True)]
    user = user_indexes()
    if user.is_file():
        layers.append(_read_layer(user))
    if env.get(INDEXES_ENV):
        layers.append(_read_layer(Path(env[INDEXES_ENV]), origin=f"${INDEXES_ENV}"))
    if env.get(MIRROR_ENV):
        layers.append(Layer(path=f"${MIRROR_ENV}", mirrors=parse_mirror_env(env[MIRROR_ENV])))
    if indexes_file is not None:
        layers.append(_read_layer(Path(indexes_file), origin="--indexes"))
    return build_knowledge(layers)


def load_builtin_knowledge() -> KnowledgeBase:
    """The built-in indexes.toml alone: no user file, environment or mirrors."""
    return build_knowledge([_read_layer(builtin_indexes(), builtin=True)])


def _read_layer(path: Path, *, builtin: bool = False, origin: str = "") -> Layer:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        named = f" (named by {origin})" if origin else ""
        raise KnowledgeError(str(path), "file", f"cannot be read{named}: {err}") from None
    return parse_layer(parse_toml(text, str(path)), str(path), builtin=builtin)


def build_knowledge(layers: Sequence[Layer]) -> KnowledgeBase:
    """Merge checked layers (later wins) and cross-check the result."""
    merged = merge_layers(layers)
    aliases = {k: _url(v, f"aliases.{k}", merged.origin) for k, v in merged.aliases.items()}
    sources: dict[str, Source] = {}
    for sid, spec in merged.sources.items():
        url = _url(spec.url, f"sources.{sid}.url", merged.origin)
        sources[sid] = _make_source(spec, _rebase(url, aliases) or url, merged.mirrors)
    return KnowledgeBase(
        files=tuple(layer.path for layer in layers), versions=tuple(merged.versions),
        ubuntu=merged.ubuntu, soc=merged.soc, sources=sources, routes=tuple(merged.routes.values()),
        guarded=frozenset(merged.guarded), substitutions=merged.substitutions,
        companions=merged.companions, stable_abi=merged.stable_abi, recipes=merged.recipes, aliases=aliases,
        mirrors=dict(merged.mirrors), jetson_hosts=tuple(merged.hosts),
        drivers=tuple(merged.drivers.values()), gpu_routes=tuple(merged.gpu_routes.values()),
        builds=merged.builds, preferred=frozenset(merged.preferred),
    )


def _url(text: str, key: str, origin: Mapping[str, str]) -> Url:
    try:
        return Url.parse(text)
    except ValueError as err:
        path = origin.get(key) or origin.get(key.rpartition(".")[0]) or "indexes.toml"
        raise KnowledgeError(path, redact_text(key), str(err)) from None


def _make_source(spec: SourceSpec, url: Url, mirrors: Mapping[str, Url]) -> Source:
    mapped = _rebase(url, mirrors)
    kind: SourceKind = "devpi" if spec.kind == "devpi" else "simple" if spec.kind == "simple" else "flat"
    return Source(name=spec.name, kind=kind, url=mapped or url, jetson=spec.jetson, platforms=spec.platforms,
                  arch_list=spec.arch_list, trusted=spec.trusted, note=spec.note, id=spec.id,
                  projects=spec.projects, arch_rules=spec.arch_rules,
                  mirror_of=url if mapped is not None else None)

