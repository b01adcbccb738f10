"""The records doctor's run and checks share: the device context and one probe process's report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jetpip.doctor.parts import EnvPart, ImportPart
from jetpip.model.sources import Route
from jetpip.model.target import Target


@dataclass(frozen=True)
class DoctorContext:
    """What doctor knows besides the interpreter: the device (from detect) and the route."""

    root: str = "/"
    is_jetson: bool = False
    compute_capability: str | None = None  # "8.7"
    compute_capability_source: str | None = None
    cuda: str | None = None  # "12.6"
    arch_kind: str | None = None  # "tegra" | "sbsa"
    summary: str | None = None  # one line for the report header
    route: Route | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_target(cls, target: Target, route: Route | None) -> DoctorContext:
        """Take the facts doctor uses from a detected (or overridden) Target and its Route."""
        dev = target.device
        words = [f.value for f in (dev.model, target.soc) if f]
        if not target.is_jetson:
            words = ["not a Jetson"] + ([f"GPU {dev.gpu_name.value}"] if dev.gpu_name else [])
        for label, f in (("JetPack", target.jetpack), ("L4T", target.l4t), ("CUDA", target.cuda)):
            if f:
                words.append(f"{label} {f.value}")
        if target.compute_capability:
            words.append(f"compute capability {target.compute_capability.value}")
        if route is not None:
            words.append(f"route {route.key}")
        cc = target.compute_capability
        return cls(
            root=dev.root, is_jetson=target.is_jetson,
            compute_capability=cc.value if cc else None, compute_capability_source=cc.source if cc else None,
            cuda=target.cuda.value if target.cuda else None,
            arch_kind=target.arch_kind.value if target.arch_kind else None,
            summary=", ".join(words) or None,
            route=route, notes=tuple(target.warnings) + tuple(dev.warnings),
        )


@dataclass(frozen=True)
class PartRun:
    """What one probe process reported, and why it stopped early if it did."""

    facts: Mapping[str, ImportPart]  # by part: "torch", "torchvision", "numpy", ...
    failure: str | None = None  # "timed out after 120 s", "crashed with SIGSEGV", ...
    stderr: str = ""
    env: EnvPart | None = None  # part "env", from the process that ran it
