"""jetpip: a Jetson-aware wheel resolver and pip wrapper.

The library API mirrors the commands: ``load_target`` (detect), ``resolve_for`` and
``hashed_lock`` (lock), ``plan_install`` / ``plan_sync`` and ``run_plan`` (install, sync),
``download_lock`` (download). Names load lazily, so ``import jetpip`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_target": "jetpip.api",
    "index_client": "jetpip.api",
    "read_requirement_inputs": "jetpip.api",
    "resolve_for": "jetpip.api",
    "hashed_lock": "jetpip.api",
    "plan_install": "jetpip.api",
    "plan_sync": "jetpip.api",
    "run_plan": "jetpip.api",
    "download_lock": "jetpip.api",
    "detect_device": "jetpip.device.detect",
    "load_knowledge": "jetpip.knowledge.base",
    "build_hint": "jetpip.knowledge.hints",
    "diagnose": "jetpip.doctor.run",
    "dump_lock": "jetpip.lock.pylock",
    "load_lock": "jetpip.lock.pylock",
    "Lock": "jetpip.lock.pylock",
    "Route": "jetpip.model.sources",
    "Source": "jetpip.model.sources",
    "Target": "jetpip.model.target",
    "TargetOverrides": "jetpip.model.target",
    "JetpipError": "jetpip.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jetpip' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
