"""The verdicts of ``jetpip doctor``: pure functions from the probe's facts to checks with fixes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.model.urls import Url

if TYPE_CHECKING:
    from jetpip.doctor.model import DoctorContext, PartRun
    from jetpip.doctor.parts import DistFacts, EnvPart, ImportPart
    from jetpip.model.documents import CheckDocument, JsonValue

Status = Literal["ok", "warn", "fail", "error", "skip"]

NUMPY_ABI_TEXT = "A module that was compiled using NumPy 1.x cannot be run in"
NMS_TEXT = "operator torchvision::nms does not exist"
_MISSING_LIB = re.compile(r"(lib[\w.+-]+?\.so[.\d]*): cannot open shared object file")
_ARCH = re.compile(r"(sm|compute)_(\d+)([a-z]?)$")


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked, how it stands, and the commands that fix it."""

    id: str  # stable, e.g. "torch.arch"; docs/doctor.md lists them
    title: str
    status: Status
    message: str
    fix: tuple[str, ...] = ()
    details: Mapping[str, JsonValue] = field(default_factory=dict, hash=False)

    @property
    def failed(self) -> bool:
        """A failure, or a check that could not run; either makes the exit status non-zero."""
        return self.status in ("fail", "error")

    def to_json(self) -> CheckDocument:
        """The check as documented in docs/doctor.md."""
        return {"id": self.id, "title": self.title, "status": self.status, "message": self.message,
                "fix": list(self.fix), "details": dict(self.details)}


@dataclass(frozen=True)
class Facts:
    """Everything the probe reported, arranged for the checks."""

    env: EnvPart
    dists: Mapping[str, DistFacts]  # canonical name -> dist facts (first on sys.path)
    parts: Mapping[str, ImportPart]  # "torch", "torchvision", "numpy", "onnxruntime", ...
    could_not_run: Mapping[str, str]  # part -> why it produced nothing
    torch_stderr: str
    py: str  # the interpreter, shell-quoted, for fix commands

    @classmethod
    def build(cls, env: EnvPart, runs: Mapping[str, PartRun], py: str) -> Facts:
        """Merge the probe runs; a part its process never reached is recorded with the reason."""
        dists: dict[str, DistFacts] = {}
        for dist in env.get("dists", []):
            dists.setdefault(str(dist["name"]), dist)
        parts: dict[str, ImportPart] = {}
        missing: dict[str, str] = {}
        expected = {"torch": ("torch", "torchvision", "torchaudio"), "numpy": ("numpy",),
                    "onnxruntime": ("onnxruntime",)}
        for key, run in runs.items():
            parts.update(run.facts)
            first = True
            for name in expected.get(key, ()):
                if name in run.facts or (name != key and name not in dists):
                    continue
                why = run.failure or "the probe printed no result"
                missing[name] = f"importing {name} {why}" if first else f"an earlier import {why}"
                first = False
        torch_run = runs.get("torch")
        return cls(env, dists, parts, missing, torch_run.stderr if torch_run else "", py)

    def version(self, name: str) -> Version | None:
        """The installed version of ``name`` as its metadata says, if it parses."""
        dist = self.dists.get(name)
        if not dist:
            return None
        try:
            return Version(str(dist["version"]))
        except InvalidVersion:
            return None

    def install(self, *specs: str) -> str:
        """A ``jetpip install`` command for this interpreter."""
        quoted = " ".join(f"'{s}'" if any(c in s for c in "<>=!*") else s for s in specs)
        return f"jetpip install {quoted} --python {self.py}"

    def pip(self, args: str) -> str:
        """A command that runs the target's own pip."""
        return f"{self.py} -m pip {args}"


# --- compute capability coverage --------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How an arch list reaches a device: natively, through a binary-compatible cubin, PTX, or not."""

    native: str | None = None  # "sm_87"
    binary: str | None = None  # "sm_80" when it runs on 8.7 by same-major binary compatibility
    ptx: str | None = None  # "compute_80" when only JIT from PTX reaches it

    @property
    def runs(self) -> bool:
        """True when some kernel image in the list can run on the device."""
        return bool(self.native or self.binary or self.ptx)


def split_capability(text: str) -> tuple[int, int]:
    """``"8.7"`` -> ``(8, 7)``; ``"11.0"`` -> ``(11, 0)``."""
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


def arch_coverage(arch_list: list[str], capability: str) -> Coverage:
    """Apply CUDA's rule: sm_XY cubins run on X.Z for Z >= Y; compute_XY PTX JITs on anything >= X.Y.

    An arch-specific ``sm_90a`` runs only on exactly 9.0; a family ``sm_100f`` follows the cubin rule.
    """
    major, minor = split_capability(capability)
    native = binary = ptx = None
    best_binary, best_ptx = -1, (-1, -1)
    for entry in arch_list:
        m = _ARCH.match(entry.strip())
        if not m:
            continue
        kind, digits, suffix = m.group(1), m.group(2), m.group(3)
        a_major, a_minor = int(digits[:-1] or 0), int(digits[-1])
        if kind == "sm":
            if (a_major, a_minor) == (major, minor):
                native = entry
            elif suffix != "a" and a_major == major and a_minor < minor and a_minor > best_binary:
                best_binary, binary = a_minor, entry
        elif suffix != "a" and (a_major, a_minor) <= (major, minor) and (a_major, a_minor) > best_ptx:
            best_ptx, ptx = (a_major, a_minor), entry
    return Coverage(native, binary, ptx)


# --- the checks ---------------------------------------------------------------------------


def all_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """Every check, in the order the report shows them."""
    return [
        *interpreter_checks(facts, ctx),
        *torch_checks(facts, ctx),
        *companion_checks(facts, ctx.route.stable_abi if ctx.route is not None else STABLE_ABI),
        *numpy_checks(facts, ctx),
        *onnxruntime_checks(facts, ctx),
        *library_checks(facts, ctx),
    ]


def interpreter_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """Pip present; PEP 668; a Jetson venv that hides JetPack's system packages."""
    env, out = facts.env, []
    if env.get("has_pip"):
        out.append(Check("interpreter.pip", "pip", "ok", "pip is importable"))
    else:
        fix = (f"{facts.py} -m ensurepip --upgrade",) if env.get("is_venv") else (
            "sudo apt-get install python3-pip", f"{facts.py} -m ensurepip --upgrade")
        out.append(Check("interpreter.pip", "pip", "fail",
                         "the interpreter has no pip, so nothing can be installed into it", fix))
    if env.get("externally_managed"):
        out.append(Check(
            "interpreter.externally_managed", "PEP 668", "warn",
            "the interpreter is externally managed (PEP 668): pip refuses to install into it with "
            "'error: externally-managed-environment'",
            ("python3 -m venv --system-site-packages ~/venv",
             "jetpip install <packages> --python ~/venv/bin/python"),
        ))
    else:
        what = "a venv" if env.get("is_venv") else "not marked externally managed"
        out.append(Check("interpreter.externally_managed", "PEP 668", "ok", what))
    if ctx.is_jetson and env.get("is_venv") and not env.get("system_site_packages"):
        found = env.get("tensorrt_in_system_site") or []
        where = f" (tensorrt is in {found[0]})" if found else ""
        out.append(Check(
            "interpreter.system_site_packages", "JetPack's system packages", "warn",
            "this venv was made without --system-site-packages: JetPack's Python bindings "
            f"(tensorrt, cv2 with CUDA) in the system site-packages are not visible{where}",
            (f"set 'include-system-site-packages = true' in {env.get('prefix')}/pyvenv.cfg",
             "or recreate it: python3 -m venv --system-site-packages <dir>"),
            {"tensorrt_in_system_site": found},
        ))
    return out


def _not_run(check_id: str, title: str, reason: str) -> Check:
    return Check(check_id, title, "error", f"could not run: {reason}")


def _lib_from_error(part: ImportPart | None) -> str | None:
    if not part or part.get("imported", True):
        return None
    m = _MISSING_LIB.search(str(part.get("error", {}).get("text", "")))
    return m.group(1) if m else None


def _record_has(dist: DistFacts, fragment: str) -> bool:
    return any(fragment in str(p) for p in dist.get("record", []))


def torch_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """CUDA build, sees the GPU, arch list covers the device, came from the route's source."""
    dist = facts.dists.get("torch")
    if dist is None:
        return [Check("torch.installed", "torch", "skip", "torch is not installed")]
    part = facts.parts.get("torch")
    version = str(dist["version"])
    reinstall = facts.install("torch")
    out: list[Check] = []
    if part is None:
        out.append(_not_run("torch.import", "import torch", facts.could_not_run.get("torch", "no result")))
    elif not part.get("imported"):
        text = str(part.get("error", {}).get("text", ""))
        lib = _lib_from_error(part)
        fix = (f"see the libs.{lib} check below",) if lib else (reinstall,)
        out.append(Check("torch.import", "import torch", "fail",
                         f"importing torch {version} fails: {text}", fix))
    cuda = part.get("cuda") if part and part.get("imported") else None
    cuda_in_record = _record_has(dist, "libtorch_cuda")
    if part and part.get("imported"):
        is_cuda = cuda is not None
        evidence = f"torch.version.cuda is {cuda!r}" if cuda is None else f"a CUDA {cuda} build"
    else:
        is_cuda = cuda_in_record
        evidence = "its RECORD lists libtorch_cuda" if is_cuda else "its RECORD lists no libtorch_cuda"
    if is_cuda:
        out.append(Check("torch.cuda_build", "CUDA build", "ok", f"torch {version}: {evidence}"))
    else:
        out.append(Check(
            "torch.cuda_build", "CUDA build", "fail",
            f"torch {version} is a CPU-only build ({evidence}); CUDA calls fail with "
            "'Torch not compiled with CUDA enabled'", (reinstall,),
        ))
    if part and part.get("imported"):
        out.append(_gpu_check(part, is_cuda, ctx))
        out.append(_arch_check(part, is_cuda, ctx, facts))
    out.append(_source_check(dist, is_cuda, ctx, facts))
    return out


def _gpu_check(part: ImportPart, is_cuda: bool, ctx: DoctorContext) -> Check:
    if not is_cuda:
        return Check("torch.gpu", "sees the GPU", "skip", "a CPU-only build cannot see the GPU")
    if part.get("is_available"):
        name = part.get("device_name", "a GPU")
        cap = part.get("device_capability")
        count = part.get("device_count", 1)
        return Check("torch.gpu", "sees the GPU", "ok",
                     f"torch sees {name}" + (f" (compute capability {cap})" if cap else "")
                     + (f", {count} devices" if count and count > 1 else ""),
                     details={"device_name": name, "device_capability": cap, "device_count": count})
    said = "; ".join(str(w) for w in part.get("cuda_warnings", []))
    if part.get("cuda_error"):
        said = str(part["cuda_error"].get("text", ""))
    fix = (("on the device: add your user to the 'video' and 'render' groups",
            "in a container: docker run --runtime nvidia ...") if ctx.is_jetson else
           ("nvidia-smi must list the GPU (install or repair the NVIDIA driver)",
            "in a container: docker run --gpus all ..."))
    return Check("torch.gpu", "sees the GPU", "fail",
                 "torch is a CUDA build but torch.cuda.is_available() is False"
                 + (f": {said}" if said else ""), fix)


def _arch_check(part: ImportPart, is_cuda: bool, ctx: DoctorContext, facts: Facts) -> Check:
    if not is_cuda:
        return Check("torch.arch", "arch list covers the GPU", "skip", "a CPU-only build has no arch list")
    cap, cap_from = part.get("device_capability"), "torch.cuda.get_device_capability()"
    if not cap and ctx.compute_capability:
        cap, cap_from = ctx.compute_capability, ctx.compute_capability_source or "the device facts"
    arch_list = [str(a) for a in part.get("arch_list", [])]
    details = {"arch_list": arch_list, "compute_capability": cap, "capability_from": cap_from}
    if not cap:
        return Check("torch.arch", "arch list covers the GPU", "skip",
                     "the compute capability is unknown (no GPU visible and no device facts; "
                     "--compute-capability gives it)", details=details)
    if not arch_list:
        return Check("torch.arch", "arch list covers the GPU", "warn",
                     "torch reports no arch list, so coverage cannot be judged", details=details)
    cov = arch_coverage(arch_list, cap)
    shown = " ".join(arch_list)
    major, minor = split_capability(cap)
    want = f"sm_{major}{minor}"
    if cov.native:
        return Check("torch.arch", "arch list covers the GPU", "ok",
                     f"{cov.native} is in the arch list ({shown})", details=details)
    if cov.binary:
        return Check("torch.arch", "arch list covers the GPU", "ok",
                     f"no {want} kernels, but {cov.binary} kernels run on compute capability {cap} "
                     f"(same-major binary compatibility); arch list: {shown}", details=details)
    hint = ("jetpip hint torch",) if ctx.is_jetson else (
        f'build from source with TORCH_CUDA_ARCH_LIST="{major}.{minor}" (jetpip hint torch)',)
    if cov.ptx:
        return Check("torch.arch", "arch list covers the GPU", "warn",
                     f"only PTX ({cov.ptx}) reaches compute capability {cap}: kernels are JIT-compiled "
                     f"at first use; arch list: {shown}", details=details)
    fix = ((facts.install("torch"), *hint) if ctx.is_jetson else hint)
    return Check("torch.arch", "arch list covers the GPU", "fail",
                 f"nothing in torch's arch list ({shown}) runs on compute capability {cap} "
                 f"(from {cap_from}); CUDA calls fail with "
                 "'no kernel image is available for execution on the device'", fix, details)


def _source_check(dist: DistFacts, is_cuda: bool, ctx: DoctorContext, facts: Facts) -> Check:
    url = Url(str(dist["direct_url"])) if dist.get("direct_url") else None
    shown = str(url.without_credentials()) if url else None
    tags = [str(t) for t in dist.get("wheel_tags", [])]
    plats = sorted({t.rsplit("-", 1)[-1] for t in tags})
    local = str(dist["version"]).partition("+")[2]
    details = {"direct_url": shown, "wheel_platforms": plats,
               "local_version": local or None, "installer": dist.get("installer")}
    origin = (f"installed from {shown}" if url else
              f"wheel tag {', '.join(plats)}" if plats else "no WHEEL file (not installed from a wheel)")
    route = ctx.route
    if not ctx.is_jetson or route is None:
        # A machine with a discrete GPU guards torch too: a CPU build there is the same mistake.
        guarded = ctx.is_jetson or (route is not None and "torch" in route.guarded)
        status: Status = "fail" if guarded and (local == "cpu" or not is_cuda) else "ok"
        fix = (facts.install("torch"),) if status == "fail" and route is not None else ()
        return Check("torch.source", "came from", status,
                     origin + (": a CPU-only build" if status == "fail" else ""), fix, details)
    if not route.sources:
        return Check("torch.source", "came from", "warn",
                     f"{origin}; route {route.key} has no CUDA source for this device",
                     ("jetpip hint torch",), details)
    if url:
        for src in route.sources:
            if url.is_under(src.url):
                return Check("torch.source", "came from", "ok", f"{origin} ({src.name})", details=details)
    wanted = {p for src in route.sources for p in src.platforms}
    if not url and (not wanted or set(plats) & wanted) and local != "cpu" and is_cuda:
        return Check("torch.source", "came from", "ok",
                     f"{origin}, as route {route.key}'s sources publish", details=details)
    where = ", ".join(s.name for s in route.sources)
    return Check("torch.source", "came from", "fail",
                 f"{origin}: not a build from route {route.key} ({where}); most likely the base index "
                 "replaced the CUDA build", (facts.install("torch"),), details)


def _expected_torch(name: str, dist: DistFacts, stable_abi: Mapping[str, str]) -> tuple[str, str]:
    """What torch a torchvision/torchaudio wants: its Requires-Dist pin, else the release rule."""
    for req_text in dist.get("requires", []):
        try:
            req = Requirement(str(req_text))
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == "torch" and req.specifier and not req.marker:
            return str(req.specifier), "its Requires-Dist"
    v = Version(str(dist["version"]))
    # torchvision 0.(N+15) and torchaudio 2.N pair with torch 2.N (0.(N+1) / 0.N with torch 1.N).
    if name == "torchvision":
        minor = v.minor - 15 if v.minor >= 15 else v.minor - 1
        major = 2 if v.minor >= 15 else 1
    else:
        major, minor = (v.major, v.minor) if v.major >= 2 else (1, v.minor)
    floor = stable_abi.get(name)
    if floor is not None and v.release[:2] >= Version(floor).release[:2]:
        return f">={major}.{minor}", "built on torch's stable ABI: this torch and every later release"
    return f"=={major}.{minor}.*", "the torch release pairing"


# The knowledge base's [stable_abi] table, for a report made without a route.
STABLE_ABI: Mapping[str, str] = {"torchaudio": "2.11"}


def companion_checks(facts: Facts, stable_abi: Mapping[str, str] = STABLE_ABI) -> list[Check]:
    """Check torchvision / torchaudio match the installed torch (``torchvision::nms does not exist``)."""
    out = []
    torch_v = facts.version("torch")
    for name in ("torchvision", "torchaudio"):
        dist = facts.dists.get(name)
        if dist is None:
            continue
        check_id = f"{name}.matches_torch"
        part = facts.parts.get(name)
        pin = f"torch=={facts.dists['torch']['version']}" if torch_v else "torch"
        fix = (facts.install(pin, name), facts.pip(f"uninstall -y {name}") + "   (if nothing needs it)")
        problem = None
        if torch_v is None:
            problem = f"{name} {dist['version']} is installed without torch"
        else:
            try:
                spec, why = _expected_torch(name, dist, stable_abi)
                ok = SpecifierSet(spec).contains(Version(torch_v.public), prereleases=True) or \
                    SpecifierSet(spec).contains(Version(torch_v.base_version), prereleases=True)
            except (InvalidVersion, ValueError):
                ok, spec, why = True, "", ""
            if not ok:
                problem = (f"{name} {dist['version']} is built for torch{spec} ({why}), "
                           f"but torch {torch_v} is installed")
        runtime = None
        if part is None and name in facts.could_not_run:
            runtime = f"could not run: {facts.could_not_run[name]}"
        elif part is not None:
            err = part.get("error") if not part.get("imported") else part.get("ops_error")
            if err:
                runtime = f"importing {name} fails: {err.get('text', '')}"
        if runtime and runtime.startswith("could not run") and not problem:
            out.append(Check(check_id, f"{name} built for this torch", "error", runtime))
        elif problem or runtime:
            msg = "; ".join(m for m in (problem, runtime) if m)
            out.append(Check(check_id, f"{name} built for this torch", "fail", msg, fix))
        else:
            out.append(Check(check_id, f"{name} built for this torch", "ok",
                             f"{name} {dist['version']} goes with torch {torch_v}"))
    return out


def _route_numpy(ctx: DoctorContext) -> Requirement | None:
    for text in ctx.route.constraints if ctx.route else ():
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == "numpy":
            return req
    return None


def numpy_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """NumPy's major version against what the CUDA wheels were built with."""
    dist = facts.dists.get("numpy")
    if dist is None:
        return []
    version, part = facts.version("numpy"), facts.parts.get("numpy")
    req = _route_numpy(ctx)
    if NUMPY_ABI_TEXT in facts.torch_stderr:
        spec = str(req.specifier) if req else "<2"
        return [Check("numpy.abi", "NumPy ABI", "fail",
                      f"numpy {dist['version']}: importing torch says '{NUMPY_ABI_TEXT} NumPy 2'",
                      (facts.install(f"numpy{spec}"),))]
    if req is not None and version is not None and not req.specifier.contains(version, prereleases=True):
        assert ctx.route is not None
        return [Check("numpy.abi", "NumPy ABI", "fail",
                      f"numpy {version} is installed, but route {ctx.route.key}'s CUDA wheels were built "
                      f"against NumPy {req.specifier} (at import: '{NUMPY_ABI_TEXT} NumPy 2')",
                      (facts.install(f"numpy{req.specifier}"),))]
    if part is None and "numpy" in facts.could_not_run:
        return [_not_run("numpy.abi", "NumPy ABI", facts.could_not_run["numpy"])]
    if part is not None and not part.get("imported"):
        return [Check("numpy.abi", "NumPy ABI", "fail",
                      f"importing numpy {dist['version']} fails: {part.get('error', {}).get('text', '')}",
                      (facts.pip(f"install --force-reinstall --no-deps numpy=={dist['version']}"),))]
    held = f" (route constraint {req} holds)" if req else ""
    return [Check("numpy.abi", "NumPy ABI", "ok", f"numpy {dist['version']}{held}")]


def onnxruntime_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """CUDAExecutionProvider present; no CPU onnxruntime shadowing onnxruntime-gpu."""
    cpu, gpu = facts.dists.get("onnxruntime"), facts.dists.get("onnxruntime-gpu")
    if cpu is None and gpu is None:
        return []
    out = []
    repair = (facts.pip("uninstall -y onnxruntime onnxruntime-gpu"), facts.install("onnxruntime-gpu"))
    if cpu and gpu:
        out.append(Check(
            "onnxruntime.shadow", "one onnxruntime", "fail",
            f"onnxruntime {cpu['version']} (CPU) and onnxruntime-gpu {gpu['version']} are both installed; "
            "they share the onnxruntime module, and the CPU files hide CUDAExecutionProvider", repair))
    part = facts.parts.get("onnxruntime")
    if part is None:
        reason = facts.could_not_run.get("onnxruntime", "no result")
        out.append(_not_run("onnxruntime.providers", "CUDAExecutionProvider", reason))
        return out
    if not part.get("imported"):
        lib = _lib_from_error(part)
        out.append(Check("onnxruntime.providers", "CUDAExecutionProvider", "fail",
                         f"importing onnxruntime fails: {part.get('error', {}).get('text', '')}",
                         (f"see the libs.{lib} check below",) if lib else repair))
        return out
    providers = [str(p) for p in part.get("providers", [])]
    details = {"providers": providers}
    if "CUDAExecutionProvider" in providers:
        out.append(Check("onnxruntime.providers", "CUDAExecutionProvider", "ok",
                         f"providers: {', '.join(providers)}", details=details))
    elif gpu is None and not ctx.is_jetson:
        out.append(Check("onnxruntime.providers", "CUDAExecutionProvider", "warn",
                         f"the CPU onnxruntime is installed (providers: {', '.join(providers)})",
                         (facts.pip("uninstall -y onnxruntime"), facts.install("onnxruntime-gpu")), details))
    else:
        why = "the CPU onnxruntime is installed" if gpu is None else "onnxruntime-gpu lacks it here"
        out.append(Check("onnxruntime.providers", "CUDAExecutionProvider", "fail",
                         f"CUDAExecutionProvider is not available ({why}; providers: "
                         f"{', '.join(providers) or 'none'})", repair, details))
    return out


def _required_libs(facts: Facts, ctx: DoctorContext) -> dict[str, list[str]]:
    """Library (name prefix) -> who needs it; from failed imports and the known needs of Jetson wheels."""
    need: dict[str, list[str]] = {}
    for name in ("torch", "torchvision", "torchaudio", "onnxruntime"):
        lib = _lib_from_error(facts.parts.get(name))
        if lib:
            need.setdefault(lib, []).append(f"{name} (import fails without it)")
    torch = facts.dists.get("torch")
    tv = facts.version("torch")
    part = facts.parts.get("torch") or {}
    cuda_build = part.get("cuda") is not None or (torch is not None and _record_has(torch, "libtorch_cuda"))
    # Only Jetson index builds (plain linux_* tags) rely on the system's libraries; manylinux
    # builds declare theirs as nvidia-* wheels, which pip installs and checks.
    if ctx.is_jetson and torch is not None and tv is not None and cuda_build and _jetson_build(torch):
        who = f"torch {torch['version']}"
        if re.search(r"nv\d\d", tv.local or ""):
            need.setdefault("libopenblas.so.0", []).append(f"{who} (NVIDIA's redist builds link OpenBLAS)")
        if tv.release[:2] >= (2, 5):
            need.setdefault("libcudnn.so.9", []).append(f"{who} (built against cuDNN 9)")
        cuda = str(part.get("cuda") or ctx.cuda or "")
        if ctx.arch_kind == "sbsa" or cuda.split(".")[0] in ("13", "14"):
            for lib in ("libnvpl_blas", "libcudss.so.0"):
                need.setdefault(lib, []).append(f"{who} (the sbsa/cu130 builds link it undeclared)")
    ort_dist, ort = facts.dists.get("onnxruntime-gpu"), facts.version("onnxruntime-gpu")
    if ctx.is_jetson and ort_dist and ort and ort.release[:2] >= (1, 19) and _jetson_build(ort_dist):
        need.setdefault("libcudnn.so.9", []).append(f"onnxruntime-gpu {ort} (built against cuDNN 9)")
    return need


def _jetson_build(dist: DistFacts) -> bool:
    return any(str(t).rsplit("-", 1)[-1].startswith("linux_") for t in dist.get("wheel_tags", []))


def _lib_fix(lib: str, ctx: DoctorContext) -> tuple[str, ...]:
    cuda_major = (ctx.cuda or "12").split(".")[0]
    if lib.startswith("libcudnn.so.9"):
        return (f"sudo apt-get install libcudnn9-cuda-{cuda_major}",)
    if lib.startswith("libcudnn"):
        return ("sudo apt-get install libcudnn8",)
    if lib.startswith("libopenblas"):
        return ("sudo apt-get install libopenblas-dev",)
    if lib.startswith("libnvpl"):
        return ("sudo apt-get install nvpl   (NVIDIA Performance Libraries, from NVIDIA's CUDA repository)",)
    if lib.startswith("libcudss"):
        return ("sudo apt-get install cudss   (from NVIDIA's CUDA apt repository)",)
    return (f"install the package that provides {lib} and check LD_LIBRARY_PATH",)


def library_checks(facts: Facts, ctx: DoctorContext) -> list[Check]:
    """System libraries the installed CUDA wheels load but do not bring."""
    libs: Mapping[str, str] = facts.env.get("libs", {})
    out = []
    for lib, who in sorted(_required_libs(facts, ctx).items()):
        hit = next((path for name, path in sorted(libs.items()) if name.startswith(lib)), None)
        details = {"needed_by": who, "found": hit}
        failed_import = any(w.endswith("(import fails without it)") for w in who)
        if hit and failed_import:
            out.append(Check(f"libs.{lib}", f"{lib} findable", "fail",
                             f"{hit} exists, but the loader did not find it for {'; '.join(who)}",
                             (f"sudo ldconfig, or add {hit.rsplit('/', 1)[0]} to LD_LIBRARY_PATH",), details))
        elif hit:
            out.append(Check(f"libs.{lib}", f"{lib} findable", "ok", f"{lib} at {hit}", details=details))
        else:
            out.append(Check(f"libs.{lib}", f"{lib} findable", "fail",
                             f"{lib} is not on the library path; needed by {'; '.join(who)}",
                             _lib_fix(lib, ctx), details))
    return out
