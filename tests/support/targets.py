"""Targets for resolver tests: a synthesised interpreter on a device that may or may not be a Jetson."""

from __future__ import annotations

from jetpip.interpreter.probe import synthesize_interpreter
from jetpip.model.target import Device, Fact, Target


def make_target(python: str = "3.10", platform: str = "linux_aarch64", jetpack: str | None = "6.2",
                glibc: str | None = "2.35") -> Target:
    interp = synthesize_interpreter(python, platform, glibc)
    machine = platform.rsplit("_", 1)[-1] if "aarch64" not in platform else "aarch64"
    return Target(
        device=Device(root="/nonexistent", is_jetson=jetpack is not None),
        interpreter=interp,
        jetpack=Fact(jetpack, "--jetpack") if jetpack else None,
        cuda=Fact("12.6", "table") if jetpack else None,
        machine="x86_64" if "x86_64" in platform else machine,
    )
