"""`jetpip detect` end to end over every fixture root: the Target, its Route, and the output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"

# What the library makes of each root is the golden snapshot tests/device/golden/roots.txt (one
# regenerate after a knowledge edit); the command must say the same.
GOLDEN = Path(__file__).parent.parent / "device" / "golden" / "roots.txt"


def _golden() -> dict[str, tuple[str, ...]]:
    rows = {}
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        root, facts, gpu, route = line.split(" | ")
        key, _, sources = route.partition(": ")
        rows[root] = (*facts.split(), *gpu.split(" ", 1), key, sources)
    return rows


EXPECTED = _golden()
JETSONS = sorted(k for k, v in EXPECTED.items() if v[0] == "jetson")


def test_every_fixture_root_is_covered() -> None:
    assert {p.name for p in ROOTS.iterdir() if p.is_dir()} == set(EXPECTED)


def _detect(*args: str) -> Result:
    return CliRunner().invoke(cli, ["detect", *args], catch_exceptions=False)


def _detect_json(*args: str) -> dict[str, Any]:
    result = _detect(*args, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _value(device: dict[str, Any], key: str) -> str | None:
    fact = device[key]
    return fact["value"] if fact else None


def _fact(text: str) -> str | None:
    return None if text == "-" else text


@pytest.mark.parametrize("name", JETSONS)
def test_detect_json_for_each_fixture(name: str) -> None:
    _, _, jetpack, cuda, capability, kind, _, _, key, sources = map(_fact, EXPECTED[name])
    doc = _detect_json("--root", str(ROOTS / name), "--python", sys.executable)
    assert doc["schema"] == "jetpip.detect/1"
    target, route = doc["target"], doc["route"]
    device = target["device"]
    assert target["is_jetson"] is True
    assert _value(device, "jetpack") == jetpack
    assert _value(device, "cuda") == cuda
    assert _value(device, "compute_capability") == capability
    assert _value(device, "arch_kind") == kind
    assert route["key"] == key
    assert ", ".join(s["id"] for s in route["sources"]) == (sources or "")
    # every device fact names where it came from
    for fact in device.values():
        if isinstance(fact, dict):
            assert fact["source"], fact
    # this machine's interpreter is not the Jetson's: said, not silently used
    assert any("is x86_64, but the device is a Jetson" in w for w in doc["warnings"]) == (
        target["machine"] != "aarch64"
    )


def test_thor_jp70_route_and_facts() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp70-thor-r38.2"), "--python", sys.executable)
    device, route = doc["target"]["device"], doc["route"]
    assert device["compute_capability"]["source"] == "indexes.toml soc table: tegra264 under CUDA 13.0"
    assert device["arch_kind"]["source"].endswith("usr/local/cuda/targets/sbsa-linux")
    assert route["sources"][0]["url"].endswith("/sbsa/cu130")
    assert route["sources"][0]["kind"] == "devpi"
    assert route["sources"][1]["url"].endswith("/whl/cu130")
    assert route["sources"][1]["kind"] == "simple"
    assert "torch" in route["guarded"]


def test_json_gives_each_guarded_name_its_guard_policy() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--python", sys.executable)
    policy = doc["guard_policy"]
    assert sorted(policy) == doc["route"]["guarded"]
    assert policy["torch"] == "required" and policy["opencv-python"] == "preferred"
    assert set(policy.values()) == {"required", "preferred"}
    plain = _detect_json("--root", str(ROOTS / "x86-workstation"), "--python", sys.executable)
    assert plain["guard_policy"] == {}


def test_jp72_orin_keeps_every_source_the_finder_judges_each_wheel() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp72-agx-orin-r39.0"), "--python", sys.executable)
    assert doc["route"]["dropped"] == []
    assert not any("left out" in w for w in doc["warnings"])


def test_discrete_gpu_host_routes_by_its_driver() -> None:
    # The H200 host's files; its nvidia-smi is not asked for a fixture root, so the GPU's
    # compute capability comes by flag, as on a workstation that locks for it.
    root = ROOTS / "h200-x86_64-driver580"
    doc = _detect_json("--root", str(root), "--compute-capability", "9.0", "--python-version", "3.12",
                       "--platform", "manylinux_2_28_x86_64", "--glibc", "2.39")
    device, route = doc["target"]["device"], doc["route"]
    assert doc["target"]["is_jetson"] is False
    assert device["driver"] == {"value": "580.159.04", "source": str(root / "sys/module/nvidia/version")}
    assert route["key"] == "gpu-x86_64-cu130"
    assert route["sources"][0]["url"] == "https://download.pytorch.org/whl/cu130"
    assert route["guarded"] == ["torch", "torchaudio", "torchvision", "triton"]
    human = _detect("--root", str(root), "--compute-capability", "9.0", "--python-version", "3.12",
                    "--platform", "manylinux_2_28_x86_64", "--glibc", "2.39")
    assert "Route: gpu-x86_64-cu130" in human.stdout


def test_no_nvidia_gpu_keeps_plain_pip_and_says_why() -> None:
    doc = _detect_json("--root", str(ROOTS / "x86-workstation"), "--python", sys.executable)
    assert doc["route"]["key"] == "not-jetson"
    assert "no NVIDIA driver" in doc["route"]["no_source_reason"]


def test_future_l4t_warns_and_never_picks_a_default_jetpack() -> None:
    doc = _detect_json("--root", str(ROOTS / "r40-future-thor"), "--python", sys.executable)
    device = doc["target"]["device"]
    assert device["l4t"]["value"] == "40.0.0"
    assert device["jetpack"] is None
    assert any("L4T 40.0.0" in w for w in doc["warnings"])
    assert any("installed CUDA 13.2" in w for w in doc["warnings"])


def test_broken_roots_name_the_bad_files() -> None:
    root = ROOTS / "broken-truncated"
    doc = _detect_json("--root", str(root), "--python", sys.executable)
    named = [w for w in doc["warnings"] if w.startswith(str(root / "etc/nv_tegra_release"))]
    assert named and "malformed" in named[0]
    assert "nvidia-l4t-core" in doc["target"]["device"]["l4t"]["source"]


def test_container_is_reported() -> None:
    root = ROOTS / "container-tegra-release-only"
    doc = _detect_json("--root", str(root), "--python", sys.executable)
    assert doc["target"]["device"]["in_container"] == {"value": "yes", "source": str(root / ".dockerenv")}
    # nothing on disk says which CUDA: the versions table does, and says so
    assert "versions table" in doc["target"]["device"]["cuda"]["source"]


def test_x86_workstation_is_not_a_jetson_but_the_interpreter_is_reported() -> None:
    doc = _detect_json("--root", str(ROOTS / "x86-workstation"), "--python", sys.executable)
    target, route = doc["target"], doc["route"]
    assert target["is_jetson"] is False
    assert route["key"] == "not-jetson" and route["sources"] == []
    assert "base index" in route["no_source_reason"]
    interp = target["interpreter"]
    assert interp["executable"] == sys.executable
    assert interp["version"] == ".".join(str(p) for p in sys.version_info[:3])
    assert "packaging" in interp["installed"]
    assert not any("but the device is a Jetson" in w for w in doc["warnings"])


def test_x86_human_output_says_not_a_jetson() -> None:
    result = _detect("--root", str(ROOTS / "x86-workstation"), "--python", sys.executable)
    assert result.exit_code == 0
    assert "Not a Jetson" in result.stdout
    assert "would use:" in result.stdout
    assert f"Interpreter: {sys.executable}" in result.stdout


def test_human_output_names_sources_and_route() -> None:
    root = ROOTS / "jp62-agx-orin-r36.4.3"
    result = _detect("--root", str(root), "--python", sys.executable)
    assert result.exit_code == 0
    out = result.stdout
    assert f"L4T                36.4.3  ({root / 'etc/nv_tegra_release'})" in out
    assert "JetPack            6.2  (" in out and "nvidia-jetpack 6.2+b77" in out
    assert "Route: jp6-cu126" in out
    first = out.index("1. jetson-ai-lab jp6/cu126")
    assert first < out.index("2. NVIDIA redist jp/v61")
    assert "constraints        numpy<2" in out
    assert "substitution       onnxruntime -> onnxruntime-gpu" in out
    assert "warning: the target interpreter" in result.stderr


def test_quiet_output_is_one_line() -> None:
    result = _detect("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--python", sys.executable, "-q")
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines() == [
        f"JetPack 6.2, CUDA 12.6; Python {sys.version.split()[0]}; route jp6-cu126"
    ]


def test_cross_target_for_a_jetson_from_here() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--platform", "linux_aarch64")
    interp = doc["target"]["interpreter"]
    assert interp["executable"] is None
    assert interp["abi"] == "cp310"  # JetPack 6's Python, from the versions table
    assert interp["platforms"][0] == "manylinux_2_35_aarch64"  # Ubuntu 22.04's glibc
    assert interp["platforms"][-1] == "linux_aarch64"
    assert doc["target"]["machine"] == "aarch64"
    assert not any("but the device is a Jetson" in w for w in doc["warnings"])


def test_overrides_make_a_target_without_a_root(tmp_path: Path) -> None:
    doc = _detect_json("--root", str(tmp_path), "--jetpack", "6.2", "--python-version", "3.10",
                       "--platform", "linux_aarch64")
    assert doc["target"]["device"]["jetpack"] == {"value": "6.2", "source": "--jetpack flag"}
    assert doc["route"]["key"] == "jp6-cu126"


def test_cross_target_without_any_version_is_a_usage_error() -> None:
    result = _detect("--root", str(ROOTS / "r40-future-thor"), "--platform", "linux_aarch64")
    assert result.exit_code == 2
    assert "error: cannot choose the Python and glibc of a cross target" in result.stderr
    assert "hint: pass --jetpack" in result.stderr


def test_bad_python_flag_is_an_error_with_a_hint(tmp_path: Path) -> None:
    result = _detect("--root", str(ROOTS / "x86-workstation"), "--python", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "error: --python" in result.stderr and "no such file" in result.stderr
    assert "hint:" in result.stderr


def test_bad_platform_flag_is_a_usage_error() -> None:
    result = _detect("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--platform", "win_amd64")
    assert result.exit_code == 2
    assert "not a Linux platform tag" in result.stderr


@pytest.mark.parametrize(
    ("root", "flag", "value", "key", "route_key"),
    [
        ("x86-workstation", "--l4t", "35.4.1", "l4t", "jp5-cu114"),
        ("jp62-agx-orin-r36.4.3", "--cuda", "12.2", "cuda", "jp6-cu122"),
        ("jp62-agx-orin-r36.4.3", "--soc", "tegra264", "soc", "jp6-cu126"),
        ("jp72-agx-orin-r39.0", "--compute-capability", "11.0", "compute_capability", "jp7-cu132"),
        ("jp62-agx-orin-r36.4.3", "--arch-kind", "sbsa", "arch_kind", "jp6-cu126"),
    ],
)
def test_each_device_override_flag_wins_and_says_so(root: str, flag: str, value: str, key: str,
                                                    route_key: str) -> None:
    doc = _detect_json("--root", str(ROOTS / root), flag, value,
                       "--python-version", "3.10", "--platform", "linux_aarch64")
    assert doc["target"]["device"][key] == {"value": value, "source": f"{flag} flag"}
    assert doc["route"]["key"] == route_key


def test_l4t_override_alone_picks_the_jetpack_line_and_its_python() -> None:
    doc = _detect_json("--root", str(ROOTS / "x86-workstation"), "--l4t", "35.4.1",
                       "--platform", "linux_aarch64")
    target = doc["target"]
    assert target["is_jetson"] is True
    assert target["interpreter"]["abi"] == "cp38"  # JetPack 5's Python, from the versions table
    assert [s["id"] for s in doc["route"]["sources"]][:1] == ["jal-jp5-cu114"]


def test_capability_override_is_the_targets() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp72-agx-orin-r39.0"), "--compute-capability", "11.0",
                       "--python-version", "3.12", "--platform", "linux_aarch64")
    assert doc["target"]["device"]["compute_capability"] == {"value": "11.0",
                                                             "source": "--compute-capability flag"}
    assert doc["route"]["dropped"] == []


def test_glibc_override_sets_the_manylinux_tags_of_a_cross_target() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--glibc", "2.39",
                       "--platform", "linux_aarch64")
    assert doc["target"]["interpreter"]["platforms"][0] == "manylinux_2_39_aarch64"


# The keys docs/detect.md promises under jetpip.detect/1; keys may be added, never removed.
_DOCUMENTED_KEYS = {
    "": {"schema", "target", "route", "warnings"},
    "target": {"schema", "is_jetson", "machine", "device", "interpreter", "warnings"},
    "device": {"root", "model", "soc", "compute_capability", "l4t", "jetpack", "cuda", "cuda_full", "cudnn",
               "tensorrt", "arch_kind", "kernel", "gpu_name", "driver", "in_container", "memory_gib"},
    "interpreter": {"executable", "version", "python_version", "implementation", "abi", "glibc",
                    "platforms", "is_venv", "system_site_packages", "externally_managed", "pip_version",
                    "pip_default_index", "prefix", "base_prefix", "site_packages", "markers", "installed"},
    "route": {"schema", "key", "summary", "line", "cuda", "arch_kind", "sources", "dropped", "guarded",
              "substitutions", "constraints", "recipe", "note", "alternatives", "no_source_reason",
              "warnings"},
    "source": {"id", "name", "kind", "url", "project_url_template", "jetson", "platforms", "arch_list",
               "trusted", "note", "mirror_of"},
}


def test_json_schema_has_every_documented_key() -> None:
    doc = _detect_json("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--python", sys.executable)
    target, route = doc["target"], doc["route"]
    assert (doc["schema"], target["schema"], route["schema"]) == (
        "jetpip.detect/1", "jetpip.target/1", "jetpip.route/1")
    found = {"": doc, "target": target, "device": target["device"], "interpreter": target["interpreter"],
             "route": route, "source": route["sources"][0]}
    for part, keys in _DOCUMENTED_KEYS.items():
        assert keys <= set(found[part]), (part, keys - set(found[part]))
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types only


def test_mirror_credentials_never_reach_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETPIP_MIRROR", "https://pypi.jetson-ai-lab.io=http://fleet:s3cret@127.0.0.1:9/m")
    args = ("--root", str(ROOTS / "jp62-agx-orin-r36.4.3"), "--python-version", "3.10",
            "--platform", "linux_aarch64")
    human = _detect(*args)
    assert human.exit_code == 0
    assert "127.0.0.1:9/m/jp6/cu126" in human.stdout
    doc = _detect_json(*args)
    assert doc["route"]["sources"][0]["url"].endswith("@127.0.0.1:9/m/jp6/cu126")
    for out in (human.stdout, human.stderr, json.dumps(doc)):
        assert "s3cret" not in out
