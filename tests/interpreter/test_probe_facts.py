"""The interpreter probe prints every key jetpip reads, with the types ``ProbeFacts`` names."""

from __future__ import annotations

import json
import subprocess
import sys

from jetpip.interpreter.launch import probe_argv
from jetpip.interpreter.probe import ProbedDist, ProbeFacts, interpreter_from_probe
from tests.support.documents import mismatches


def test_the_probe_prints_every_key_jetpip_reads() -> None:
    out = subprocess.run(probe_argv(sys.executable, "interpreter_facts"), capture_output=True, text=True,
                         check=True).stdout
    raw = json.loads(out.splitlines()[-1])
    assert set(ProbeFacts.__annotations__) <= set(raw)
    assert not mismatches(raw, ProbeFacts, extra_keys=True)
    assert raw["installed"] and all(set(ProbedDist.__annotations__) <= set(d) for d in raw["installed"])
    interp = interpreter_from_probe(raw, sys.executable)
    assert interp.version == raw["version"] and len(interp.installed) == len(raw["installed"])


def test_values_of_the_wrong_type_count_as_absent() -> None:
    interp = interpreter_from_probe({
        "version": "3.10.12", "implementation": "cpython", "machine": "aarch64", "glibc": "2.35",
        "pointer_bits": "64", "markers": ["python_version"], "site_packages": {"/a": 1}, "is_venv": 0,
        "installed": "torch", "pip_version": 24,
    }, "/x/python")
    assert interp.platforms[-1] == "linux_aarch64" and interp.platforms[0] == "manylinux_2_35_aarch64"
    assert interp.markers == {} and interp.site_packages == () and interp.installed == ()
    assert interp.pip_version is None and interp.is_venv is False

    listed = interpreter_from_probe({
        "version": "3.10.12", "implementation": "cpython", "machine": "aarch64",
        "installed": [{"name": "torch", "version": "2.8.0", "requires": "typing-extensions",
                       "wheel_tags": ["cp310-cp310-linux_aarch64"]}, {"version": "1.0"}, "numpy"],
    }, "/x/python")
    (torch,) = listed.installed
    assert (torch.name, torch.version, torch.requires, torch.wheel_tags) == (
        "torch", "2.8.0", (), ("cp310-cp310-linux_aarch64",))
