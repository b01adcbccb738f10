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
    "load_target": "jetpip.workflow",
    "index_client": "jetpip.workflow",
    "read_inputs": "jetpip.workflow",
    "resolve_for": "jetpip.workflow",
    "hashed_lock": "jetpip.workflow",
    "plan_install": "jetpip.workflow",
    "plan_sync": "jetpip.workflow",
    "run_plan": "jetpip.workflow",
    "download_lock": "jetpip.workflow",
    "detect_device": "jetpip.detect",
    "load_knowledge": "jetpip.knowledge",
    "build_hint": "jetpip.hints",
    "diagnose": "jetpip.doctor",
    "dump_lock": "jetpip.lock",
    "load_lock": "jetpip.lock",
    "Lock": "jetpip.lock",
    "Route": "jetpip.knowledge",
    "Source": "jetpip.knowledge",
    "Target": "jetpip.target",
    "TargetOverrides": "jetpip.target",
    "JetpipError": "jetpip.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jetpip' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
