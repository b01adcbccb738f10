"""The fallback-to-source hint: what was searched and found, a device-tuned build recipe, alternatives."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from jetpip.errors import RejectLike, SourceLike
from jetpip.knowledge.base import KnowledgeBase
from jetpip.knowledge.builds import max_jobs
from jetpip.knowledge.schema import Recipe, RecipeTag, VersionRow, version_tuple
from jetpip.model.sources import Route, Source, arch_list_covers
from jetpip.model.target import Target
from jetpip.model.urls import redact_text

if TYPE_CHECKING:
    from jetpip.model.documents import HintDocument


@dataclass(frozen=True)
class Hint:
    """Everything the user needs when a guarded package has no wheel for the Target."""

    package: str
    target: str  # one-line description of the Target
    reason: str  # why there is no wheel, as far as jetpip knows
    searched: tuple[str, ...]
    found: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # route sources left out, with the reason
    recipe: str | None = None  # key of the [recipes] entry used
    tag: str | None = None
    companion: str | None = None
    companion_tag: str | None = None
    apt: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # ordered NAME, value
    steps: tuple[str, ...] = ()
    build_time: str | None = None
    why: tuple[str, ...] = ()  # one line per setting that is not obvious
    alternatives: tuple[str, ...] = ()
    on_demand: bool = False  # built without a search (``jetpip hint``)

    def __str__(self) -> str:
        return self.render()

    def env_value(self, name: str) -> str | None:
        """The value the recipe gives ``name``, if it sets it."""
        return dict(self.env).get(name)

    def render(self) -> str:
        """The hint as text for a terminal."""
        head = (f"Source-build hint for {self.package} on this Target: {self.target}." if self.on_demand
                else f"No wheel of {self.package} for this Target: {self.target}.")
        out = [head, f"Why: {self.reason}"]
        out += _section("Where jetpip looks:" if self.on_demand else "Searched:", self.searched,
                        "(no source on this route)")
        if not self.on_demand:
            out += _section("Found:", self.found, "(no candidate files)")
        if self.skipped:
            out += _section("Skipped:", self.skipped, "")
        if self.tag is None:
            out.append(f"jetpip has no source-build recipe for {self.package} on this Target.")
        else:
            time = f" (roughly {self.build_time} on this device)" if self.build_time else ""
            out.append(f"Build it from source, {self.recipe} {self.tag}{time}:")
            if self.apt:
                out.append(f"  sudo apt-get install -y {' '.join(self.apt)}")
            out += [f'  export {name}="{value}"' for name, value in self.env]
            out += [f"  {step}" for step in self.steps]
            out += _section("Why these settings:", self.why, "")
        out += _section("Or instead:", self.alternatives, "")
        return "\n".join(out)

    def to_json(self) -> HintDocument:
        """The hint as data (schema ``jetpip.hint/1``)."""
        return {
            "schema": "jetpip.hint/1",
            "package": self.package,
            "on_demand": self.on_demand,
            "target": self.target,
            "reason": self.reason,
            "searched": list(self.searched),
            "found": list(self.found),
            "skipped": list(self.skipped),
            "recipe": self.recipe,
            "tag": self.tag,
            "companion": self.companion,
            "companion_tag": self.companion_tag,
            "apt": list(self.apt),
            "env": dict(self.env),
            "steps": list(self.steps),
            "build_time": self.build_time,
            "why": list(self.why),
            "alternatives": list(self.alternatives),
        }


def _section(title: str, items: Sequence[str], empty: str) -> list[str]:
    if not items:
        return [title, f"  {empty}"] if empty else []
    return [title, *(f"  - {item}" for item in items)]


def describe_target(target: Target) -> str:
    """``Jetson AGX Thor, JetPack 7.0 (L4T 38.2.2), CUDA 13.0, sbsa, sm 11.0, Python 3.12``."""
    parts: list[str] = []
    if target.device.model:
        parts.append(target.device.model.value)
    elif target.soc:
        parts.append(target.soc.value)
    if target.jetpack:
        l4t = f" (L4T {target.l4t.value})" if target.l4t else ""
        parts.append(f"JetPack {target.jetpack.value}{l4t}")
    elif target.l4t:
        parts.append(f"L4T {target.l4t.value}")
    if target.cuda:
        parts.append(f"CUDA {target.cuda.value}")
    if target.arch_kind:
        parts.append(target.arch_kind.value)
    if target.compute_capability:
        parts.append(f"compute capability {target.compute_capability.value}")
    parts.append(f"Python {target.python_version}")
    return ", ".join(parts)


def describe_item(item: object, project: str) -> str:
    """One searched source or found file as a line: strings, Sources and finder rejects all read well."""
    if isinstance(item, Source):
        return f"{item.name}: {item.project_url(project)}"
    filename, source, reason = (getattr(item, a, None) for a in ("filename", "source", "reason"))
    if isinstance(filename, str) and isinstance(reason, str):
        return redact_text(f"{filename} from {source}: {reason}" if source else f"{filename}: {reason}")
    return redact_text(str(item))


def build_hint(kb: KnowledgeBase, target: Target, route: Route, package: str,
               searched: Sequence[SourceLike | str] = (), found: Sequence[RejectLike | str] = ()) -> Hint:
    """The hint for ``package`` on ``target``.

    ``searched`` and ``found`` come from the finder when it ran: strings, Source records or
    its rejects (filename, source, reason). Empty ``searched`` means nothing was fetched.
    """
    name = canonicalize_name(package)
    looked = [describe_item(item, name) for item in searched]
    seen = [describe_item(item, name) for item in found]
    row = _row(kb, target)
    reason = route.no_source_reason or (
        f"no file on the route's sources fits CPython {target.python_version}"
        f" and {', '.join(_platforms(route)) or 'this platform'}"
        if looked else f"shown on demand: nothing was fetched; this is what jetpip says when route "
        f"{route.key} has no wheel of {name} for this Target")
    fetched = bool(looked)
    if not looked:
        # On demand nothing was fetched: say where jetpip would look.
        looked = [f"{s.name}: {s.project_url(name)} (not fetched)" for s in route.sources
                  if not s.projects or name in s.projects]
    skipped = tuple(_lacking_arch(route, name, target.compute_capability.value)
                    if target.compute_capability else ())
    recipe = next((r for r in kb.recipes.values() if name in r.packages), None)
    hint = Hint(package=name, target=describe_target(target), reason=reason, searched=tuple(looked),
                found=tuple(seen), skipped=skipped, on_demand=not fetched,
                alternatives=tuple(_alternatives(target, route, row, name, looked, fetched)))
    if recipe is None or target.cuda is None:
        return hint
    return _with_recipe(hint, kb, target, recipe)


def _with_recipe(hint: Hint, kb: KnowledgeBase, target: Target, recipe: Recipe) -> Hint:
    assert target.cuda is not None
    cuda = target.cuda.value
    python = target.python_version
    tag = _tag(recipe, cuda, python)
    if tag is None:
        return hint
    why: list[str] = [f"{tag.tag}: {tag.why}" if tag.why else f"{tag.tag}: builds against CUDA {cuda}"]
    companion_tag = None
    if recipe.companion:
        minor = _companion(kb, tag.tag, recipe.companion)
        if minor is not None:
            patch = tag.tag.lstrip("v").split(".")[2] if tag.tag.count(".") >= 2 else "0"
            companion_tag = f"v{minor}.{patch}"
            why.append(f"{recipe.companion} {companion_tag}: the release built for torch "
                       f"{tag.tag.lstrip('v')} (another one fails with "
                       "'operator torchvision::nms does not exist')")
    env: dict[str, str] = dict(recipe.env)
    if target.compute_capability:
        env["TORCH_CUDA_ARCH_LIST"] = target.compute_capability.value
        why.append(f'TORCH_CUDA_ARCH_LIST="{target.compute_capability.value}": the compute capability '
                   f"({target.compute_capability.source})")
    else:
        why.append("TORCH_CUDA_ARCH_LIST: the compute capability is unknown; pass --soc or "
                   "--compute-capability for a tuned recipe")
    for when in recipe.when:
        if _applies(when.is_jetson, target.is_jetson) and _applies(when.arch_kind, _arch(target)) and (
                when.cuda_min is None or version_tuple(cuda) >= version_tuple(when.cuda_min)) and (
                when.python_min is None or version_tuple(python) >= version_tuple(when.python_min)):
            env.update({k: v.replace("{cuda}", cuda) for k, v in when.env.items()})
            names = " ".join(f"{k}={v.replace('{cuda}', cuda)}" for k, v in when.env.items())
            why.append(f"{names}: {when.why}" if names else when.why)
    jobs, reason = max_jobs(target, recipe.gib_per_job, recipe.max_jobs_cap)
    if jobs is not None:
        env["MAX_JOBS"] = str(jobs)
    why.append(reason)
    if "CMAKE_POLICY_VERSION_MINIMUM" in env:
        why.append("CMAKE_POLICY_VERSION_MINIMUM=3.5: CMake 4 refuses the bundled protobuf's old "
                   "cmake_minimum_required")
    executable = target.interpreter.executable or f"python{python}"
    values = {"{tag}": tag.tag, "{companion_tag}": companion_tag or "main", "{python}": executable,
              "{cuda}": cuda}
    steps = tuple(_expand(step, values) for step in recipe.steps)
    soc = target.soc.value if target.soc else ""
    return Hint(**{**hint.__dict__, "recipe": recipe.key, "tag": tag.tag, "companion": recipe.companion,
                   "companion_tag": companion_tag, "apt": recipe.apt, "env": tuple(env.items()),
                   "steps": steps, "why": tuple(why),
                   "build_time": recipe.build_time.get(soc, recipe.default_build_time)})


def _tag(recipe: Recipe, cuda: str, python: str) -> RecipeTag | None:
    for tag in recipe.tags:
        if version_tuple(tag.cuda_min) <= version_tuple(cuda) and (
                tag.python_max is None or version_tuple(python) <= version_tuple(tag.python_max)):
            return tag
    return None


def _lacking_arch(route: Route, name: str, capability: str) -> list[str]:
    """The builds of ``name`` the knowledge base knows lack the device's arch, source by source."""
    out = []
    for source in route.sources:
        if source.projects and name not in source.projects:
            continue  # it has no build of the name at all: its arch says nothing
        rules = [r for r in source.arch_rules if r.project == name]
        for rule in rules:
            if not arch_list_covers(rule.arch_list, capability):
                scope = f"{name} {rule.versions}".strip()
                out.append(f"{source.name}: its {scope} builds carry compute capability "
                           f"{', '.join(rule.arch_list)}, not {capability}")
        if not rules and not source.covers(capability):
            out.append(f"{source.name}: its builds carry compute capability {', '.join(source.arch_list)}, "
                       f"not {capability}")
    return out


def _companion(kb: KnowledgeBase, tag: str, companion: str) -> str | None:
    match = re.match(r"^v?(\d+)\.(\d+)", tag)
    if not match:
        return None
    return kb.companions.get(f"{match.group(1)}.{match.group(2)}", {}).get(canonicalize_name(companion))


def _applies(want: object, have: object) -> bool:
    return want is None or want == have


def _arch(target: Target) -> str | None:
    return target.arch_kind.value if target.arch_kind else None


def _expand(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _platforms(route: Route) -> list[str]:
    return sorted({p for s in route.sources for p in s.platforms})


def _row(kb: KnowledgeBase, target: Target) -> VersionRow | None:
    if target.l4t is not None:
        row = kb.row_for_l4t(target.l4t.value)
        if row is not None:
            return row
    return kb.row_for_jetpack(target.jetpack.value) if target.jetpack else None


def _overlay_line(name: str, preferred: bool) -> str:
    """How one project changes the guard policy of ``name``: an indexes.toml overlay."""
    if preferred:
        return (f"{name}'s policy is 'preferred': without a CUDA build the base index's build is taken "
                "with a warning; an overlay that lists it under [guarded] names makes it required")
    return (f"{name}'s policy is 'required'. To take the base index's build (no CUDA) for one project, "
            f"write an indexes.toml overlay with [guarded] unguard = [\"{name}\"], or preferred = "
            f"[\"{name}\"] to keep a CUDA build where a route has one, and pass it with --indexes FILE "
            "or $JETPIP_INDEXES (docs/indexes.md, docs/policies.md)")


def _alternatives(target: Target, route: Route, row: VersionRow | None, name: str,
                  searched: Sequence[str], fetched: bool) -> list[str]:
    out: list[str] = []
    # After a search, the route's sources nobody asked; on demand, every source after the first.
    # A source that lists the projects it carries, without this one, cannot help.
    if fetched:
        others = [s for s in route.sources
                  if not any(str(s.url).rstrip("/") in line for line in searched)]
    else:
        others = list(route.sources[1:])
    for source in others:
        if source.projects and name not in source.projects:
            continue
        note = f" ({source.note})" if source.note else ""
        out.append(f"{source.name} serves this route too: {source.project_url(name)}{note}")
    if name in route.guarded:
        out.append(_overlay_line(name, name in route.preferred))
    if row is not None and version_tuple(target.python_version) != version_tuple(row.python):
        out.append(f"Python {row.python}, JetPack {row.jetpack}'s own Python, which the Jetson indexes "
                   f"build for: python{row.python} -m venv --system-site-packages .venv")
    out += route.alternatives
    return out
