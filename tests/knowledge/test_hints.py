"""The fallback-to-source hint: right arch list, flags, tags and alternatives per device."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.knowledge.base import KnowledgeBase, load_knowledge
from jetpip.knowledge.hints import Hint, build_hint
from jetpip.model.sources import Route
from jetpip.model.target import Device, Fact, Interpreter, Target, TargetOverrides

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(env={})


def jetson(kb: KnowledgeBase, python: str, **facts: str) -> tuple[Target, Route]:
    device = Device(root="/fixture", is_jetson=True, **{k: Fact(v, f"fixture {k}") for k, v in facts.items()})
    interp = Interpreter(executable="/opt/venv/bin/python", version=python, implementation="cpython",
                         platforms=("linux_aarch64",), markers={"platform_machine": "aarch64"})
    target = kb.make_target(device, interp, TargetOverrides())
    return target, kb.route_for(target)


@dataclass(frozen=True)
class FakeReject:
    """Shaped like the finder's Reject: what a real resolution failure hands the hint."""

    filename: str
    source: str
    reason: str


def test_thor_on_cuda13(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.12.3", l4t="38.2.2", soc="tegra264", cuda="13.0.48", memory_gib="122.8")
    sbsa = route.sources[0]
    hint = build_hint(kb, target, route, "torch", searched=[sbsa],
                      found=[FakeReject("torch-2.8.0-cp310-cp310-linux_aarch64.whl", sbsa.name,
                                        "wrong Python")])
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "11.0"  # not seed 000's 10.0
    assert hint.tag == "v2.9.1"  # CUDA 13 needs torch >= 2.9
    assert hint.companion_tag == "v0.24.1"
    assert hint.env_value("USE_NCCL") == "0" and hint.env_value("USE_DISTRIBUTED") == "0"
    assert hint.env_value("CMAKE_POLICY_VERSION_MINIMUM") == "3.5"
    assert hint.env_value("CUB_INCLUDE_DIR") == "/usr/local/cuda/targets/sbsa-linux/include/cccl"
    assert hint.env_value("USE_XNNPACK") == "0"
    assert hint.env_value("MAX_JOBS") == "12"  # capped
    assert hint.build_time == "2 to 3 hours"
    assert any("cuFFT" in line for line in hint.why)
    assert hint.searched == (f"jetson-ai-lab sbsa/cu130: {sbsa.url}/+simple/torch/",)
    assert hint.found == (f"torch-2.8.0-cp310-cp310-linux_aarch64.whl from {sbsa.name}: wrong Python",)
    assert hint.alternatives[0].startswith("pytorch.org cu130 serves this route too: "
                                           "https://download.pytorch.org/whl/cu130/torch/")
    text = hint.render()
    assert text.startswith("No wheel of torch for this Target: tegra264, JetPack 7.0 (L4T 38.2.2), CUDA 13.0")
    assert 'export TORCH_CUDA_ARCH_LIST="11.0"' in text
    assert "git clone --recursive --branch v2.9.1 https://github.com/pytorch/pytorch" in text
    assert "git clone --branch v0.24.1 https://github.com/pytorch/vision" in text
    assert "/opt/venv/bin/python setup.py bdist_wheel" in text
    assert 'TORCH_CUDA_ARCH_LIST="10.0"' not in text


def test_orin_on_jetpack6_with_python312(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.12.1", l4t="36.4.3", soc="tegra234", cuda="12.6.85", memory_gib="7.4")
    hint = build_hint(kb, target, route, "torch", searched=[s.project_url("torch") for s in route.sources])
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "8.7"
    assert hint.tag == "v2.8.0" and hint.companion_tag == "v0.23.0"
    assert hint.env_value("USE_NCCL") == "0"
    assert hint.env_value("CUB_INCLUDE_DIR") is None  # Tegra: CUB is where CMake looks
    assert hint.env_value("USE_XNNPACK") is None
    assert hint.env_value("MAX_JOBS") == "2"  # 7.4 GiB / 2.5
    assert "CPython 3.12" in hint.reason
    assert any(a.startswith("Python 3.10, JetPack 6.2's own Python") and "--system-site-packages" in a
               for a in hint.alternatives)
    assert any("JetPack 7.2 upgrade" in a for a in hint.alternatives)
    assert not any("serves this route too" in a for a in hint.alternatives)  # both were searched


def test_jetpack5_xavier(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.8.10", l4t="35.4.1", soc="tegra194", memory_gib="15.3")
    hint = build_hint(kb, target, route, "torchvision")
    assert hint.recipe == "torch"
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "7.2"
    assert hint.tag == "v2.1.2" and hint.companion_tag == "v0.16.2"
    assert hint.env_value("MAX_JOBS") == "6"
    assert hint.env_value("USE_XNNPACK") is None and hint.env_value("CUB_INCLUDE_DIR") is None
    assert hint.build_time == "4 to 8 hours"
    assert any("container" in a for a in hint.alternatives)


def test_nano_on_jetpack4(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.6.9", l4t="32.7.4", soc="tegra210", memory_gib="3.9")
    hint = build_hint(kb, target, route, "torch")
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "5.3"
    assert hint.tag == "v1.10.2" and hint.companion_tag == "v0.11.2"
    assert hint.env_value("MAX_JOBS") == "1"


def test_on_demand_says_where_it_would_look_and_not_that_it_searched(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.12.3", l4t="38.2.2", soc="tegra264")
    hint = build_hint(kb, target, route, "torch")
    assert hint.on_demand
    text = hint.render()
    assert text.startswith("Source-build hint for torch on this Target")
    assert "Where jetpip looks:" in text and "Found:" not in text
    assert "(not fetched)" in hint.searched[0]
    assert any(a.startswith("pytorch.org cu130 serves this route too") for a in hint.alternatives)
    assert hint.env_value("MAX_JOBS") is None
    assert any("memory size unknown" in line for line in hint.why)


def test_orin_on_jetpack72_reports_the_skipped_index(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.12.3", l4t="39.0.0", soc="tegra234")
    hint = build_hint(kb, target, route, "torch")
    assert hint.skipped == (
        "jetson-ai-lab sbsa/cu130: its torch <2.11 builds carry compute capability 11.0, 12.1, not 8.7",)
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "8.7"
    assert hint.tag == "v2.9.1"


def test_no_recipe_for_the_package(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.10.12", l4t="36.4.3", soc="tegra234")
    hint = build_hint(kb, target, route, "onnxruntime_gpu")
    assert hint.package == "onnxruntime-gpu"
    assert hint.tag is None and hint.env == ()
    assert "jetpip has no source-build recipe for onnxruntime-gpu" in hint.render()
    assert hint.alternatives  # containers, upgrade


def test_unknown_capability_asks_for_flags(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.10.12", l4t="36.4.3", soc="tegra999")
    hint = build_hint(kb, target, route, "torch")
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") is None
    assert any("--compute-capability" in line for line in hint.why)


def test_not_a_jetson_gpu_box_gets_its_arch_and_no_jetson_flags(kb: KnowledgeBase) -> None:
    device = Device(root="/", is_jetson=False, cuda=Fact("12.8.1", "nvcc"))
    interp = Interpreter(executable="/usr/bin/python3", version="3.12.3", implementation="cpython",
                         platforms=("manylinux_2_39_x86_64",), markers={"platform_machine": "x86_64"})
    target = kb.make_target(device, interp, TargetOverrides(compute_capability="8.9"))
    hint = build_hint(kb, target, kb.route_for(target), "torch")
    assert hint.env_value("TORCH_CUDA_ARCH_LIST") == "8.9"
    assert hint.env_value("USE_NCCL") is None
    assert "not a Jetson" in hint.reason


def test_recipes_come_from_the_knowledge_base(tmp_path: Path) -> None:
    overlay = tmp_path / "site.toml"
    overlay.write_text("""
[recipes.torch]
packages = ["torch"]
repo = "https://git.fleet.example/pytorch"
steps = ["build {tag} for CUDA {cuda}"]
gib_per_job = 4
tags = [{ cuda_min = "12.0", tag = "fleet-2.8", why = "our patched branch" }]
""", encoding="utf-8")
    kb = load_knowledge(overlay, env={})
    target, route = jetson(kb, "3.10.12", l4t="36.4.3", soc="tegra234", memory_gib="61.4")
    hint = build_hint(kb, target, route, "torch")
    assert hint.tag == "fleet-2.8"
    assert hint.steps == ("build fleet-2.8 for CUDA 12.6",)
    assert hint.env_value("MAX_JOBS") == "12"
    assert hint.env_value("USE_NCCL") is None  # the overlay recipe has no `when` blocks


def test_to_json_is_plain_data(kb: KnowledgeBase) -> None:
    target, route = jetson(kb, "3.12.3", l4t="38.2.2", soc="tegra264", memory_gib="122.8")
    data = build_hint(kb, target, route, "torch").to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["schema"] == "jetpip.hint/1"
    assert data["env"]["TORCH_CUDA_ARCH_LIST"] == "11.0"


def test_hint_is_a_frozen_record() -> None:
    hint = Hint(package="torch", target="t", reason="r", searched=(), found=())
    with pytest.raises(AttributeError):
        hint.package = "x"  # type: ignore[misc]
    assert str(hint) == hint.render()


# -- the command ----------------------------------------------------------------------


def test_cli_hint_thor_fixture_root() -> None:
    result = CliRunner().invoke(cli, ["hint", "torch", "--root", str(ROOTS / "jp70-thor-r38.2"),
                                      "--python-version", "3.12", "--platform", "linux_aarch64"])
    assert result.exit_code == 0, result.output
    assert 'export TORCH_CUDA_ARCH_LIST="11.0"' in result.stdout
    assert "v2.9.1" in result.stdout
    assert "sbsa-linux/include/cccl" in result.stdout


def test_cli_hint_cross_target_json() -> None:
    result = CliRunner().invoke(cli, ["hint", "torch", "--root", str(ROOTS / "x86-workstation"), "--jetpack",
                                      "5.1.2", "--soc", "tegra194", "--python-version", "3.8",
                                      "--platform", "linux_aarch64", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["env"]["TORCH_CUDA_ARCH_LIST"] == "7.2"
    assert data["tag"] == "v2.1.2"


def test_cli_hint_not_guarded_package_says_so() -> None:
    result = CliRunner().invoke(cli, ["hint", "requests", "--jetpack", "6.2", "--python-version", "3.10",
                                      "--platform", "linux_aarch64"])
    assert result.exit_code == 0, result.output
    assert "requests is not guarded" in result.stderr


def test_cli_hint_bad_indexes_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[routes\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["hint", "torch", "--jetpack", "6.2", "--python-version", "3.10",
                                      "--platform", "linux_aarch64", "--indexes", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: [toml] not valid TOML" in result.stderr
    assert "hint: fix the key 'toml'" in result.stderr
