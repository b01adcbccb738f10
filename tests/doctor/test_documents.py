"""The doctor document matches its TypedDict and docs/doctor.md; the probe's parts are read typed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.doctor.parts import DistFacts, EnvPart, ImportPart, read_env
from jetpip.doctor.run import MARK, parse_probe_output
from jetpip.interpreter.launch import probe_argv
from jetpip.model.documents import DoctorDocument
from tests.support.documents import assert_fits, mismatches
from tests.support.mirror import ORIN_JP62, Mirror
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import pip_install

DOCS = Path(__file__).parent.parent.parent / "docs"


def test_doctor_json_fits_its_typed_dict(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    # Stand-ins that import but have no torch.cuda: every torch, companion and library check has a say.
    wheels = (("torch", "2.8.0", "jetson"), ("torchvision", "0.23.0", "jetson"),
              ("onnxruntime-gpu", "1.23.0", "jetson"), ("onnxruntime", "1.23.0", "pypi"),
              ("numpy", "2.1.0", "pypi"))
    pip_install(python, "--no-deps", *(str(mirror.wheel(*w).path) for w in wheels))
    result = CliRunner().invoke(cli, ["doctor", "--json", "--python", str(python), "--root", str(ORIN_JP62),
                                      "--indexes", str(mirror.overlay)])
    assert result.exit_code == 1, result.output  # the CPU onnxruntime shadows the GPU build
    doc = json.loads(result.stdout)
    assert_fits(doc, DoctorDocument)
    assert doc["ok"] is False and doc["device"]["route"] == "jp6-cu126"
    assert sum(doc["counts"].values()) == len(doc["checks"])
    checks = {c["id"]: c for c in doc["checks"]}
    assert checks["onnxruntime.shadow"]["status"] == "fail"
    assert checks["torch.source"]["details"]["wheel_platforms"]  # details hold JSON values


def test_docs_doctor_json_example_fits_the_typed_dict() -> None:
    text = (DOCS / "doctor.md").read_text(encoding="utf-8")
    section = text[text.index("### `--json` (schema `jetpip.doctor/1`)"):]
    example = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert example is not None
    assert_fits(json.loads(example.group(1)), DoctorDocument)


def _env_output() -> str:
    request = json.dumps({"lib_dirs": [], "ldconfig": False})
    return subprocess.run(probe_argv(sys.executable, "doctor_facts", "env", request), capture_output=True,
                          text=True, check=True).stdout


def test_the_probe_prints_every_key_doctor_reads_of_the_env_part() -> None:
    raw = json.loads(next(line for line in _env_output().splitlines() if line.startswith(MARK))[len(MARK):])
    assert set(EnvPart.__annotations__) <= set(raw)
    assert not mismatches(raw, EnvPart, extra_keys=True)
    for dist in raw["dists"]:
        assert set(DistFacts.__annotations__) <= set(dist)
    env, parts = parse_probe_output(_env_output())
    assert parts == {}
    assert env == {k: v for k, v in raw.items() if k in EnvPart.__annotations__} | {
        "dists": [{k: v for k, v in d.items() if k in DistFacts.__annotations__} for d in raw["dists"]]}


def test_keys_of_the_wrong_type_are_dropped_as_they_are_read() -> None:
    torch = {"part": "torch", "imported": True, "cuda": 12.6, "is_available": "yes", "arch_list": "sm_87",
             "device_capability": "8.7", "device_count": True, "cuda_error": "boom",
             "cuda_warnings": ["CUDA initialization: ...", 3]}
    stdout = "\n".join([
        "torch prints on import",
        MARK + json.dumps(torch),
        MARK + "{not json",
        MARK + json.dumps({"no": "part"}),
        MARK + json.dumps({"part": "env", "has_pip": 1, "dists": [{"name": "torch"}, "x",
                                                                  {"name": "numpy", "version": "2.1.0"}]}),
    ])
    env, parts = parse_probe_output(stdout)
    expected: ImportPart = {"imported": True, "cuda": None, "arch_list": [], "device_capability": "8.7",
                            "cuda_warnings": ["CUDA initialization: ...", "3"]}
    assert parts == {"torch": expected}
    assert env is not None and "has_pip" not in env
    assert [d["name"] for d in env["dists"]] == ["numpy"]  # a dist without a version is no dist
    assert read_env({}) == {"tensorrt_in_system_site": [], "dists": []}
