"""The one way a stdlib-only probe starts inside the target interpreter."""

from __future__ import annotations

from pathlib import Path

PROBES_DIR = Path(__file__).resolve().parent.parent / "_probes"


def probe_path(probe: str) -> Path:
    """The script of ``probe`` (``interpreter_facts``, ``doctor_facts``)."""
    return PROBES_DIR / f"{probe}.py"


def probe_argv(python: str, probe: str, *args: str) -> list[str]:
    """``python .../_probes/PROBE.py ARGS``.

    Python puts the script's folder first on ``sys.path``. ``_probes/`` holds only the probes, so no
    jetpip module can shadow a package of the target (a ``pip`` or ``http`` of its own).
    """
    return [python, str(probe_path(probe)), *args]
