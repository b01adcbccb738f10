"""The JSON documents jetpip prints (``--json``), one TypedDict per schema, so producers and docs agree.

Each ``to_json`` (or document builder) returns the TypedDict of its schema, so mypy checks every key
the producer writes, and the tests compare the documents the real code paths print against these
key sets. A key is only added within a schema version; a removal or a change of meaning bumps it.
Python 3.10 has no ``NotRequired``: the optional keys of a document live in a ``total=False`` subclass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias, TypedDict

#: A value as the standard json module writes it: what a document holds where its keys are open-ended.
JsonValue: TypeAlias = str | int | float | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None

# -- jetpip.target/1 -------------------------------------------------------------------------


class FactDocument(TypedDict):
    """One fact and where it came from; ``null`` in a document when the fact is unknown."""

    value: str
    source: str


class DeviceDocument(TypedDict):
    """``target.device``: the device facts after the table lookups."""

    root: str
    model: FactDocument | None
    soc: FactDocument | None
    compute_capability: FactDocument | None
    l4t: FactDocument | None
    jetpack: FactDocument | None
    cuda: FactDocument | None  # major.minor
    cuda_full: FactDocument | None  # the toolkit version as read
    cudnn: FactDocument | None
    tensorrt: FactDocument | None
    arch_kind: FactDocument | None  # "tegra" | "sbsa"
    kernel: FactDocument | None
    gpu_name: FactDocument | None
    driver: FactDocument | None
    in_container: FactDocument | None  # "yes" | "no"
    memory_gib: FactDocument | None


class InterpreterDocument(TypedDict):
    """``target.interpreter``: the probed (or synthesised) target Python."""

    executable: str | None  # None for a cross target
    version: str
    implementation: str
    abi: str | None
    platforms: list[str]  # best first
    glibc: str | None
    is_venv: bool
    system_site_packages: bool
    externally_managed: bool
    pip_version: str | None
    pip_default_index: str | None
    python_version: str
    prefix: str | None
    base_prefix: str | None
    site_packages: list[str]
    markers: dict[str, str]
    installed: dict[str, str]  # canonical name -> version


class TargetDocument(TypedDict):
    """Schema ``jetpip.target/1`` (docs/detect.md)."""

    schema: Literal["jetpip.target/1"]
    is_jetson: bool
    machine: str
    device: DeviceDocument
    interpreter: InterpreterDocument
    warnings: list[str]  # the Target's and the device's


# -- jetpip.route/1 and jetpip.detect/1 --------------------------------------------------------


class SourceDocument(TypedDict):
    """One CUDA source of a route; URLs have credentials redacted."""

    id: str | None
    name: str
    kind: Literal["devpi", "simple", "flat"]
    url: str
    project_url_template: str
    jetson: bool
    platforms: list[str]
    arch_list: list[str]
    trusted: bool
    note: str | None
    mirror_of: str | None


class RouteDocument(TypedDict):
    """Schema ``jetpip.route/1`` (docs/detect.md)."""

    schema: Literal["jetpip.route/1"]
    key: str
    summary: str
    line: str | None
    cuda: str | None
    arch_kind: str | None
    sources: list[SourceDocument]
    dropped: list[SourceDocument]  # left out: their builds lack kernels for the device
    guarded: list[str]
    substitutions: dict[str, str]
    constraints: list[str]
    recipe: str | None
    note: str | None
    alternatives: list[str]
    no_source_reason: str | None
    warnings: list[str]


class DetectDocument(TypedDict):
    """Schema ``jetpip.detect/1``: what ``jetpip detect --json`` prints (docs/detect.md)."""

    schema: Literal["jetpip.detect/1"]
    target: TargetDocument
    route: RouteDocument
    # Each guarded name's policy: "required" (the route's CUDA sources or nothing) or "preferred"
    # (the base index's build may stand in when the route has none for the Target; docs/policies.md).
    guard_policy: dict[str, Literal["required", "preferred"]]
    warnings: list[str]  # every warning of the device, the Target and the Route


# -- jetpip.resolution/1 -----------------------------------------------------------------------


class ResolvedPackageDocument(TypedDict):
    """One pin of a resolution."""

    name: str
    version: str
    filename: str
    url: str
    source: str  # the source's label
    index: str
    sha256: str | None
    guarded: bool
    requested: bool
    required_by: list[str]
    requires: list[str]


class _TreeNodeKeys(TypedDict):
    name: str
    version: str
    source: str
    guarded: bool
    requirement: str  # as the parent (or the user) wrote it
    dependencies: list[TreeNode]


class TreeNode(_TreeNodeKeys, total=False):
    """One node of the resolution tree; a name already shown higher up is not expanded again."""

    seen: bool  # present (true) on a name expanded earlier in the tree


class _ResolutionKeys(TypedDict):
    schema: Literal["jetpip.resolution/1"]
    route: str
    requested: list[str]
    constraints: list[str]
    packages: list[ResolvedPackageDocument]
    tree: list[TreeNode]
    notes: list[str]
    warnings: list[str]


class ResolutionDocument(_ResolutionKeys, total=False):
    """Schema ``jetpip.resolution/1`` (docs/policies.md); ``jetpip lock --json`` adds the lock's keys."""

    target: Mapping[str, str]  # the Target facts the lock records ([tool.jetpip.target])
    lock: str | None  # the path written; None for --dry-run
    pylock: Mapping[str, JsonValue]  # the pylock.toml document, when one was written


# -- jetpip.plan/1 and jetpip.install/1 --------------------------------------------------------

StepKind = Literal["uninstall", "guarded", "install", "reassert"]


class PlanStepDocument(TypedDict):
    """One pip invocation of a plan."""

    kind: StepKind
    title: str
    argv: list[str]
    requirements_file: str | None
    requirements: list[str]
    names: list[str]


class ActionDocument(TypedDict):
    """What a plan does with one distribution, and why."""

    name: str
    action: Literal["keep", "install", "replace", "remove"]
    version: str | None
    installed: str | None
    reason: str
    guarded: bool


class EngineDocument(TypedDict):
    """The installer that runs a plan's steps."""

    name: Literal["uv", "pip"]
    version: str | None  # "uv 0.9.2", "pip 24.0"
    program: list[str]  # what each command starts with
    compile_bytecode: bool
    why: str | None  # why this engine, when it is not the default one


class FetchDocument(TypedDict):
    """One file a plan fetches into the cache before any step runs."""

    filename: str
    url: str  # credentials redacted
    sha256: str | None
    size: int | None
    path: str  # the local file the engine reads


class BuildDocument(TypedDict):
    """One sdist the plan builds into a wheel, and the recipe it builds with."""

    name: str
    version: str
    filename: str  # the sdist
    recipe: str | None  # the [builds] table, when one applies
    env: dict[str, str]  # what the recipe sets for the build
    build_time: str | None
    wheel_dir: str  # the build cache entry
    warning: str | None


class PlanDocument(TypedDict):
    """Schema ``jetpip.plan/1`` (docs/install.md)."""

    schema: Literal["jetpip.plan/1"]
    python: str
    mode: Literal["install", "sync"]
    noop: bool
    engine: EngineDocument
    fetch: list[FetchDocument]
    builds: list[BuildDocument]
    steps: list[PlanStepDocument]
    actions: list[ActionDocument]
    reassert: list[str]


class FetchSummaryDocument(TypedDict):
    """What fetching the plan's files took."""

    files: int
    downloaded: int  # the rest came from the cache
    bytes: int
    seconds: float


class BuiltWheelDocument(TypedDict):
    """One wheel the install built from an sdist of the plan, or took from the build cache."""

    name: str
    sdist_sha256: str | None  # the checked sdist's: the wheel's provenance
    wheel: str  # the built wheel's filename
    from_cache: bool  # built by an earlier install, for the same sdist, target and recipe


class InstallDocument(TypedDict):
    """Schema ``jetpip.install/1`` (docs/install.md): the plan and what running it found."""

    schema: Literal["jetpip.install/1"]
    plan: PlanDocument
    engine: Literal["uv", "pip"]
    fetched: FetchSummaryDocument
    built: list[BuiltWheelDocument]
    ran: list[StepKind]
    reasserted: list[str]
    origins: list[str]  # distributions whose direct_url.json now names the locked URL and hash
    broken: list[str]
    shadows: list[str]
    ok: bool


# -- jetpip.hint/1 -----------------------------------------------------------------------------


class HintDocument(TypedDict):
    """Schema ``jetpip.hint/1`` (docs/guide.md): the source-build hint as data."""

    schema: Literal["jetpip.hint/1"]
    package: str
    on_demand: bool
    target: str
    reason: str
    searched: list[str]
    found: list[str]
    skipped: list[str]
    recipe: str | None
    tag: str | None
    companion: str | None
    companion_tag: str | None
    apt: list[str]
    env: dict[str, str]
    steps: list[str]
    build_time: str | None
    why: list[str]
    alternatives: list[str]


# -- jetpip.doctor/1 ---------------------------------------------------------------------------

CheckStatus = Literal["ok", "warn", "fail", "error", "skip"]


class CheckDocument(TypedDict):
    """One verdict of doctor (docs/doctor.md lists the ids and each check's ``details``)."""

    id: str
    title: str
    status: CheckStatus
    message: str
    fix: list[str]
    details: dict[str, JsonValue]


class StatusCounts(TypedDict):
    """How many checks ended in each status."""

    ok: int
    warn: int
    fail: int
    error: int
    skip: int


class DoctorPythonDocument(TypedDict):
    """``python``: the interpreter doctor checked."""

    executable: str
    version: str | None


class DoctorDeviceDocument(TypedDict):
    """``device``: what doctor knew of the device and its route."""

    is_jetson: bool
    summary: str | None
    compute_capability: str | None
    cuda: str | None
    route: str | None
    notes: list[str]


class DoctorDocument(TypedDict):
    """Schema ``jetpip.doctor/1`` (docs/doctor.md)."""

    schema: Literal["jetpip.doctor/1"]
    ok: bool
    python: DoctorPythonDocument
    device: DoctorDeviceDocument
    counts: StatusCounts
    checks: list[CheckDocument]
