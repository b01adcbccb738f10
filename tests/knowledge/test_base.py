"""The knowledge base: pinned tables, routing, layering, mirrors and every validation error."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from jetpip.errors import JetpipError, KnowledgeError, UsageError
from jetpip.knowledge.base import (
    KnowledgeBase,
    builtin_indexes,
    load_builtin_knowledge,
    load_knowledge,
    parse_mirror_env,
    route_to_json,
)
from jetpip.knowledge.schema import parse_layer, parse_toml
from jetpip.model.sources import Route, arch_list_covers
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides
from jetpip.model.urls import Url
from tests.knowledge.golden import render as render_golden

GOLDEN = Path(__file__).parent / "golden" / "targets.txt"

JAL = "https://pypi.jetson-ai-lab.io"
REDIST = "https://developer.download.nvidia.com/compute/redist/jp"

# SoC, CUDA, compute capability (CUDA 13.0 renumbered Thor's SM101 as SM110).
CAPABILITY_ROWS = [
    ("tegra210", "10.2", "5.3"),
    ("tegra186", "10.2", "6.2"),
    ("tegra194", "11.4", "7.2"),
    ("tegra234", "12.6", "8.7"),
    ("tegra234", "13.2", "8.7"),
    ("tegra264", "13.0", "11.0"),
    ("tegra264", "12.8", "10.1"),
]


def interp(version: str = "3.10.12", machine: str = "aarch64") -> Interpreter:
    return Interpreter(executable=None, version=version, implementation="cpython",
                       platforms=(f"linux_{machine}",), markers={"platform_machine": machine})


def device(**facts: str) -> Device:
    return Device(root="/fixture", is_jetson=bool(facts.get("l4t") or facts.get("soc")),
                  **{k: Fact(v, f"fixture {k}") for k, v in facts.items()})


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(env={})


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the pinned tables ---------------------------------------------------------------


def test_tables_match_the_golden_snapshot(kb: KnowledgeBase) -> None:
    # Every versions row, point release and route as data: a knowledge edit is one regenerate.
    assert GOLDEN.read_text(encoding="utf-8") == render_golden(load_builtin_knowledge()), (
        "tests/knowledge/golden/targets.txt is stale: run "
        "`.venv/bin/python -m tests.knowledge.golden > tests/knowledge/golden/targets.txt`")


def test_table_facts_name_their_source(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides())
    assert target.jetpack == Fact("6.2", "indexes.toml versions table from L4T 36.4.3")
    assert kb.cross_defaults(device(l4t="36.4.3"), TargetOverrides()) == ("3.10", "2.35")


def test_an_unlisted_point_release_takes_the_newest_listed_one_below(kb: KnowledgeBase) -> None:
    # A prefix rule ("36.4" = 6.1) mislabelled every newer 36.4.x.
    for l4t, jetpack in (("36.4.5", "6.2.1"), ("36.4.7", "6.2.1"), ("35.6.9", "5.1.6")):
        target = kb.make_target(device(l4t=l4t), interp(), TargetOverrides())
        assert target.jetpack is not None and target.jetpack.value == jetpack


@pytest.mark.parametrize(("soc", "cuda", "capability"), CAPABILITY_ROWS)
def test_compute_capability_rows(kb: KnowledgeBase, soc: str, cuda: str, capability: str) -> None:
    target = kb.make_target(device(soc=soc, cuda=f"{cuda}.1"), interp(), TargetOverrides(jetpack="6.2"))
    assert target.compute_capability is not None
    assert target.compute_capability.value == capability
    assert target.compute_capability.source == f"indexes.toml soc table: {soc} under CUDA {cuda}"


def test_thor_on_jetpack7_is_sbsa_with_sm110(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="38.2.2", soc="tegra264", cuda="13.0.48"), interp("3.12.3"),
                            TargetOverrides())
    assert target.compute_capability == Fact("11.0", "indexes.toml soc table: tegra264 under CUDA 13.0")
    assert target.arch_kind == Fact("sbsa", "indexes.toml versions table from L4T 38.2.2")


def test_unconfirmed_facts_say_so(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="39.0.0"), interp(), TargetOverrides())
    assert target.cudnn is not None and target.cudnn.source.endswith("(unconfirmed)")
    confirmed = kb.make_target(device(l4t="36.3.0"), interp(), TargetOverrides())
    assert confirmed.cudnn is not None and not confirmed.cudnn.source.endswith("(unconfirmed)")


# -- Target facts ---------------------------------------------------------------------


def test_installed_cuda_wins_over_the_table(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="36.3.0", cuda="12.4.131"), interp(), TargetOverrides())
    assert target.cuda == Fact("12.4", "fixture cuda")
    assert kb.route_for(target).key == "jp6-cu124"
    route = kb.route_for(kb.make_target(device(l4t="36.3.0", cuda="12.5.1"), interp(), TargetOverrides()))
    assert route.key == "jp6-cu124"
    assert any("no route for CUDA 12.5" in w for w in route.warnings)


def test_overrides_win_and_say_so(kb: KnowledgeBase) -> None:
    overrides = TargetOverrides(jetpack="6.2", cuda="12.8", soc="tegra234", compute_capability="8.7",
                                arch_kind="tegra")
    target = kb.make_target(device(l4t="36.4.3", cuda="12.6.85"), interp(), overrides)
    assert target.jetpack == Fact("6.2", "--jetpack flag")
    assert target.cuda == Fact("12.8", "--cuda flag")
    assert target.compute_capability == Fact("8.7", "--compute-capability flag")
    assert target.arch_kind == Fact("tegra", "--arch-kind flag")
    assert kb.route_for(target).key == "jp6-cu128"


def test_cross_target_from_a_workstation(kb: KnowledgeBase) -> None:
    workstation = Device(root="/", is_jetson=False, cuda=Fact("12.4.131", "version.json"),
                         cudnn=Fact("9.1.0", "cudnn_version.h"), memory_gib=Fact("64", "meminfo"))
    overrides = TargetOverrides(jetpack="6.2", python_version="3.10", platform="linux_aarch64")
    target = kb.make_target(workstation, interp(machine="x86_64"), overrides)
    assert target.is_jetson
    # The workstation's own CUDA stack says nothing about the Jetson.
    assert target.cuda == Fact("12.6", "indexes.toml versions table from --jetpack 6.2")
    assert target.cudnn == Fact("9.3", "indexes.toml versions table from --jetpack 6.2")
    assert target.machine == "aarch64"  # from --platform, not the workstation
    assert target.soc is not None and target.soc.value == "tegra234"
    assert "runs only on tegra234" in target.soc.source
    assert target.compute_capability is not None and target.compute_capability.value == "8.7"
    assert kb.route_for(target).key == "jp6-cu126"
    assert kb.cross_defaults(workstation, overrides) == ("3.10", "2.35")
    assert kb.cross_defaults(workstation, TargetOverrides(jetpack="5.1.2")) == ("3.8", "2.31")


def test_cross_defaults_without_a_jetpack_is_a_usage_error(kb: KnowledgeBase) -> None:
    with pytest.raises(UsageError) as info:
        kb.cross_defaults(Device(root="/", is_jetson=False), TargetOverrides(python_version="3.10"))
    assert "cross target" in str(info.value)
    assert info.value.hint is not None and "--glibc" in info.value.hint


def test_machine_comes_from_interpreter_markers(kb: KnowledgeBase) -> None:
    target = kb.make_target(Device(root="/", is_jetson=False), interp(machine="x86_64"), TargetOverrides())
    assert target.machine == "x86_64"


@pytest.mark.parametrize(("flag", "value"), [("l4t", "thirty-six"), ("cuda", "twelve"),
                                             ("compute_capability", "87"), ("soc", "tegra999")])
def test_bad_override_is_a_usage_error(kb: KnowledgeBase, flag: str, value: str) -> None:
    with pytest.raises(UsageError) as info:
        kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides(**{flag: value}))
    assert value in str(info.value)
    assert info.value.hint


# -- routes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("facts", "key", "first_url"), [
    ({"l4t": "32.7.4", "soc": "tegra210"}, "jp4-cu102", f"{REDIST}/v461/pytorch/"),
    ({"l4t": "35.1.0", "soc": "tegra194"}, "jp5.0-cu114", f"{JAL}/jp5/cu114"),
    ({"l4t": "35.4.1", "soc": "tegra194"}, "jp5-cu114", f"{JAL}/jp5/cu114"),
    ({"l4t": "36.2.0"}, "jp6.0dp-cu122", f"{JAL}/jp6/cu122"),
    ({"l4t": "36.3.0"}, "jp6-cu122", f"{JAL}/jp6/cu122"),
    ({"l4t": "36.4.3", "cuda": "12.6.85"}, "jp6-cu126", f"{JAL}/jp6/cu126"),
    ({"l4t": "36.4.3", "cuda": "12.9.1"}, "jp6-cu129", f"{JAL}/jp6/cu129"),
    ({"l4t": "38.2.2", "soc": "tegra264", "cuda": "13.0.48"}, "jp7-cu130", f"{JAL}/sbsa/cu130"),
    ({"l4t": "38.4.0", "soc": "tegra264"}, "jp7-cu130", f"{JAL}/sbsa/cu130"),
    ({"l4t": "39.0.0", "soc": "tegra264"}, "jp7-cu132", f"{JAL}/sbsa/cu132"),
    ({"l4t": "39.0.0", "soc": "tegra234"}, "jp7-cu132", f"{JAL}/sbsa/cu132"),
])
def test_route_for_each_jetpack_line(kb: KnowledgeBase, facts: dict[str, str], key: str,
                                     first_url: str) -> None:
    route = kb.route_for(kb.make_target(device(**facts), interp(), TargetOverrides()))
    assert route.key == key
    assert route.sources[0].url == Url(first_url)
    assert "torch" in route.guarded and "onnxruntime-gpu" in route.guarded
    assert route.substitutions["onnxruntime"] == "onnxruntime-gpu"
    assert route.no_source_reason is None


def test_jetpack6_routes_pin_numpy1_and_read_redist_as_flat(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides()))
    assert route.constraints == ("numpy<2",)
    assert [s.kind for s in route.sources] == ["devpi", "flat"]
    assert route.sources[0].project_url("torch") == Url(f"{JAL}/jp6/cu126/+simple/torch/")
    assert route.sources[1].project_url("torch") == Url(f"{REDIST}/v61/pytorch/")
    assert route.sources[0].platforms == ("linux_aarch64",)


def test_thor_route_has_pytorch_org_second_and_says_jp7_index_is_empty(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="38.2.2", soc="tegra264"), interp("3.12.3"),
                                        TargetOverrides()))
    assert [s.name for s in route.sources] == ["jetson-ai-lab sbsa/cu130", "pytorch.org cu130"]
    assert route.sources[1].platforms == ("manylinux_2_28_aarch64",)
    assert route.note is not None and "jp7/cu130" in route.note and "empty" in route.note
    assert not any("/jp7/" in s.url.path for s in route.sources)


def test_orin_on_jetpack72_keeps_every_source_and_knows_each_builds_arch(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="39.0.0", soc="tegra234"), interp("3.12.3"),
                                        TargetOverrides()))
    # No source is dropped for every package: onnxruntime-gpu on sbsa/cu130 stays reachable.
    assert [s.id for s in route.sources] == ["jal-sbsa-cu132", "jal-sbsa-cu130", "pytorch-cu130"]
    assert route.dropped == ()
    sbsa = route.sources[1]
    assert sbsa.arch_for("torch", Version("2.9.1"))[0] == ("11.0", "12.1")
    assert "8.7" in sbsa.arch_for("torch", Version("2.11.0"))[0]
    assert sbsa.arch_for("onnxruntime-gpu", Version("1.24.0")) == ((), None)


def test_orin_on_jetpack72_as_tegra_asks_jp7_cu132(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="39.0.0", soc="tegra234"), interp("3.12.3"),
                                        TargetOverrides(arch_kind="tegra")))
    assert route.key == "jp7-cu132-tegra"
    assert route.sources[0].url == Url(f"{JAL}/jp7/cu132")


def test_r36_5_2_never_goes_to_a_jetpack7_index(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="36.5.2", soc="tegra234"), interp(), TargetOverrides()))
    assert route.key == "jp6-cu126"
    assert all("jp7" not in s.url.path and "sbsa" not in s.url.path for s in route.sources)


def test_newer_l4t_of_a_known_major_uses_that_major_and_warns(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="36.9.1", cuda="12.6.85"), interp(), TargetOverrides())
    assert any("L4T 36.9.1 is not in indexes.toml" in w and "nearest R36 row" in w for w in target.warnings)
    assert kb.route_for(target).key == "jp6-cu126"


def test_unknown_l4t_major_routes_by_installed_cuda_and_never_defaults_a_jetpack(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="40.0.0", soc="tegra264", cuda="13.4.0"), interp("3.12.3"),
                            TargetOverrides())
    assert target.jetpack is None
    assert any("does not guess a JetPack" in w for w in target.warnings)
    route = kb.route_for(target)
    assert route.key == "jp7-cu132"
    assert any("routing by the installed CUDA 13.4" in w for w in route.warnings)


def test_unknown_l4t_without_cuda_has_no_source(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="40.0.0"), interp(), TargetOverrides())
    route = kb.route_for(target)
    assert route.sources == ()
    assert route.no_source_reason is not None and "--cuda" in route.no_source_reason
    assert "torch" in route.guarded  # still a Jetson: a CPU torch must not slip in


def test_no_route_for_the_combination_says_so(kb: KnowledgeBase) -> None:
    target = kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides(cuda="13.0"))
    route = kb.route_for(target)
    assert route.sources == ()
    assert route.no_source_reason is not None and "no route for JetPack line jp6 with CUDA 13.0" in (
        route.no_source_reason)


def test_not_a_jetson(kb: KnowledgeBase) -> None:
    target = kb.make_target(Device(root="/", is_jetson=False, cuda=Fact("12.8.1", "nvcc")),
                            interp(machine="x86_64"), TargetOverrides())
    route = kb.route_for(target)
    assert route.key == "not-jetson"
    assert route.sources == () and route.guarded == frozenset()
    assert route.no_source_reason is not None and "not a Jetson" in route.no_source_reason


def test_route_to_json_is_stable(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="39.0.0", soc="tegra234"), interp(), TargetOverrides()))
    data = route_to_json(route)
    assert json.loads(json.dumps(data)) == data
    assert data["schema"] == "jetpip.route/1"
    assert set(data) == {"schema", "key", "summary", "line", "cuda", "arch_kind", "sources", "dropped",
                         "guarded", "substitutions", "constraints", "recipe", "note", "alternatives",
                         "no_source_reason", "warnings"}
    assert data["sources"][0]["kind"] == "devpi"
    assert data["dropped"] == []
    assert data["guarded"] == sorted(data["guarded"])


def test_companions_and_guarded_names(kb: KnowledgeBase) -> None:
    route = kb.route_for(kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides()))
    assert route.companion_for("2.8.0", "torchvision") == "0.23"
    assert route.companion_for("2.1.0a0+41361538.nv23.06", "torchvision") == "0.16"
    assert route.companion_for("2.9.1", "torchaudio") == "2.9"
    assert route.companion_for("2.13.0", "torchvision") == "0.28"
    assert route.stable_abi == {"torchaudio": "2.11"}
    assert route.companion_for("0.1", "torchvision") is None
    assert {"torch", "torchvision", "torchaudio", "onnxruntime-gpu", "cupy", "jaxlib", "pycuda"} <= kb.guarded
    assert "onnxruntime" not in kb.guarded
    assert set(kb.recipes) == {"torch"}


@pytest.mark.parametrize(("arch_list", "capability", "covered"), [
    (("11.0", "12.1"), "8.7", False),
    (("8.0", "9.0", "11.0"), "8.7", True),
    (("11.0", "12.1"), "11.0", True),
    (("10.0",), "11.0", False),
    ((), "8.7", True),
])
def test_arch_coverage(arch_list: tuple[str, ...], capability: str, covered: bool) -> None:
    assert arch_list_covers(arch_list, capability) is covered


# -- URLs, aliases and mirrors --------------------------------------------------------


def test_is_jetson_url_knows_hosts_and_aliases(kb: KnowledgeBase) -> None:
    assert kb.is_jetson_url(Url(f"{JAL}/jp6/cu126/+f/abc/def/torch-2.8.0-cp310-cp310-linux_aarch64.whl"))
    assert kb.is_jetson_url(Url("https://pypi.jetson-ai-lab.dev/jp6/cu126/+simple/torch/"))
    assert kb.is_jetson_url(Url("https://jetson.webredirect.org/jp6/cu126"))
    # the 2024 form in old Dockerfiles: plain http, no pypi. prefix
    assert kb.is_jetson_url(Url("http://jetson.webredirect.org/jp6/cu126"))
    assert kb.map_url(Url("http://jetson.webredirect.org/jp6/cu126")) == Url(f"{JAL}/jp6/cu126")
    assert kb.is_jetson_url(Url(f"{REDIST}/v61/pytorch/torch-2.5.0a0-cp310-cp310-linux_aarch64.whl"))
    assert not kb.is_jetson_url(Url("https://download.pytorch.org/whl/cu130/torch/"))
    assert not kb.is_jetson_url(Url("https://pypi.jetson-ai-lab.io.example.com/jp6/cu126"))
    assert not kb.is_jetson_url(Url("https://developer.download.nvidia.com/compute/cuda/repos/"))
    assert kb.map_url(Url("https://pypi.jetson-ai-lab.dev/jp6/cu126")) == Url(f"{JAL}/jp6/cu126")


def test_mirror_from_env_reaches_a_real_loopback_devpi(index_server, make_wheel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wheel = make_wheel("torch", "2.8.0", build="jetson")
    index_server.add("devpi", "/fleet/jp6/cu126", [wheel.path])
    mirror = f"{index_server.url}/fleet"
    kb = load_knowledge(env={"JETPIP_MIRROR": f"{JAL}={mirror}"})
    route = kb.route_for(kb.make_target(device(l4t="36.4.3"), interp(), TargetOverrides()))
    source = route.sources[0]
    assert source.url == Url(f"{mirror}/jp6/cu126")
    assert source.mirror_of == Url(f"{JAL}/jp6/cu126")
    assert route.sources[1].url == Url(f"{REDIST}/v61/pytorch/")  # not mirrored
    with urllib.request.urlopen(source.project_url("torch").secret(), timeout=10) as response:
        assert wheel.filename in response.read().decode()
    assert kb.is_jetson_url(Url(f"{mirror}/jp6/cu126/+f/abc/torch.whl"))
    assert kb.map_url(Url("https://pypi.jetson-ai-lab.dev/jp6/cu126")) == Url(f"{mirror}/jp6/cu126")


def test_layering_user_file_then_env_file_then_env_mirror_then_flag(tmp_path: Path) -> None:
    import platformdirs

    user = Path(platformdirs.user_config_dir("jetpip", appauthor=False)) / "indexes.toml"
    user.parent.mkdir(parents=True)
    write(user, '[mirrors]\n"https://pypi.jetson-ai-lab.io" = "http://127.0.0.1:1/user"\n'
                '[guarded]\nnames = ["my-cuda-ext"]\n')
    assert load_knowledge(env={}).sources["jal-jp6-cu126"].url == Url("http://127.0.0.1:1/user/jp6/cu126")
    assert "my-cuda-ext" in load_knowledge(env={}).guarded

    env_file = write(tmp_path / "env.toml", '[mirrors]\n"https://pypi.jetson-ai-lab.io" = "http://127.0.0.1:2/env"\n')
    env = {"JETPIP_INDEXES": str(env_file)}
    assert load_knowledge(env=env).sources["jal-jp6-cu126"].url == Url("http://127.0.0.1:2/env/jp6/cu126")

    env["JETPIP_MIRROR"] = "https://pypi.jetson-ai-lab.io=http://127.0.0.1:3/var"
    assert load_knowledge(env=env).sources["jal-jp6-cu126"].url == Url("http://127.0.0.1:3/var/jp6/cu126")

    flag = write(tmp_path / "flag.toml", '[mirrors]\n"https://pypi.jetson-ai-lab.io" = "http://127.0.0.1:4/flag"\n'
                                         '[guarded]\nunguard = ["my-cuda-ext"]\n')
    kb = load_knowledge(flag, env=env)
    assert kb.sources["jal-jp6-cu126"].url == Url("http://127.0.0.1:4/flag/jp6/cu126")
    assert "my-cuda-ext" not in kb.guarded
    assert kb.files == (str(builtin_indexes()), str(user), str(env_file), "$JETPIP_MIRROR", str(flag))


def test_overlay_adds_a_route_and_replaces_a_versions_row(tmp_path: Path) -> None:
    overlay = write(tmp_path / "site.toml", """
[[versions]]
l4t = ["36.4", "36.5", "36.6"]
jetpack = "6.2"
cuda = "12.6"
cudnn = "9.3"
tensorrt = "10.3"
ubuntu = "22.04"
python = "3.10"
arch_kind = "tegra"

[sources.fleet]
kind = "simple"
url = "https://devpi.fleet.example/root/jetson/+simple"
jetson = true
platforms = ["linux_aarch64"]

[[routes]]
key = "jp6-cu126"
line = "jp6"
cuda = "12.6"
arch_kind = "tegra"
summary = "our fleet's own build of JetPack 6.2 wheels"
sources = ["fleet", "jal-jp6-cu126"]
""")
    kb = load_knowledge(overlay, env={})
    target = kb.make_target(device(l4t="36.6.0"), interp(), TargetOverrides())
    assert target.warnings == ()
    route = kb.route_for(target)
    assert [s.id for s in route.sources] == ["fleet", "jal-jp6-cu126"]
    assert route.summary == "our fleet's own build of JetPack 6.2 wheels"
    assert kb.is_jetson_url(Url("https://devpi.fleet.example/x")) is False


def test_builtin_file_is_the_top_level_one_in_a_checkout() -> None:
    path = builtin_indexes()
    assert path.name == "indexes.toml" and path.is_file()
    assert "format = 1" in path.read_text()


# -- validation ---------------------------------------------------------------------------

GOOD_ROUTE = """
[[routes]]
key = "x"
line = "jp6"
cuda = "12.6"
arch_kind = "tegra"
l4t = ["36.9"]
sources = ["jal-jp6-cu126"]
"""


@pytest.mark.parametrize(("text", "key", "problem"), [
    ("format = 1\n[mirrors\n", "toml", "line 2"),
    ("format = 2\n", "format", "unsupported format 2"),
    ("[colours]\nred = 1\n", "colours", "unknown key"),
    ('[sources.s]\nkind = "pypi"\nurl = "https://x.example/simple"\n', "sources.s.kind",
     "unknown source kind 'pypi'"),
    ('[sources.s]\nkind = "simple"\nurl = "not a url"\n', "sources.s.url", "bad URL"),
    (GOOD_ROUTE.replace('"jal-jp6-cu126"', '"nowhere"'), "routes.x.sources",
     "names unknown source 'nowhere'"),
    (GOOD_ROUTE + GOOD_ROUTE, "routes.x", "duplicate route key"),
    (GOOD_ROUTE + GOOD_ROUTE.replace('key = "x"', 'key = "y"'), "routes.y",
     "serves the same Targets as route 'x'"),
    (GOOD_ROUTE.replace('cuda = "12.6"', 'cuda = "12"'), "routes.x.cuda", "bad CUDA version '12'"),
    (GOOD_ROUTE.replace('line = "jp6"', 'line = "six"'), "routes.x.line", "bad JetPack line"),
    (GOOD_ROUTE.replace('arch_kind = "tegra"', 'arch_kind = "arm"'), "routes.x.arch_kind", "must be one of"),
    (GOOD_ROUTE.replace('sources = ["jal-jp6-cu126"]', "sources = []"), "routes.x.sources",
     "must say why in no_source_reason"),
    (GOOD_ROUTE + 'constraints = ["numpy<<2"]\n', "routes.x.constraints", "bad requirement 'numpy<<2'"),
    (GOOD_ROUTE + 'recipe = "tensorflow"\n', "routes.x.recipe", "unknown recipe 'tensorflow'"),
    ('[substitutions]\nopencv = "numpy"\n', "substitutions.opencv", "not a guarded name"),
    ('[substitutions]\ntorchvision = "torch"\n', "substitutions.torchvision", "guarded itself"),
    ('[[versions]]\nl4t = ["37.1"]\njetpack = "6.9"\ncuda = "12.6"\ncudnn = "9.3"\ntensorrt = "10.3"\n'
     'ubuntu = "22.04"\npython = "three"\narch_kind = "tegra"\n', "versions[0].python", "bad Python version"),
    ('[[versions]]\nl4t = ["37.x"]\n', "versions[0]", "missing required key"),
    ('[[versions]]\nl4t = ["37.1"]\njetpack = "6.9"\ncuda = "12.6"\ncudnn = "9.3"\ntensorrt = "10.3"\n'
     'ubuntu = "23.10"\npython = "3.11"\narch_kind = "tegra"\n', "versions.37.1.ubuntu", "has no glibc"),
    ('[[versions]]\nl4t = ["37.1", "37.1"]\njetpack = "6.9"\ncuda = "12.6"\ncudnn = "9.3"\n'
     'tensorrt = "10.3"\nubuntu = "22.04"\npython = "3.11"\narch_kind = "tegra"\n',
     "versions[0].l4t", "already in versions[0]"),
    ('[soc.tegra999]\ncompute_capability = "8"\n', "soc.tegra999.compute_capability",
     "bad compute capability"),
    ('[mirrors]\n"https://pypi.jetson-ai-lab.io" = "ftp://mirror"\n', "mirrors.https://pypi.jetson-ai-lab.io",
     "bad URL"),
    ('[aliases]\n"https://a.example" = "https://pypi.jetson-ai-lab.dev"\n', "aliases.https://a.example",
     "itself an alias"),
    ('[recipes.torch]\npackages = ["torch"]\nrepo = "https://github.com/pytorch/pytorch"\nsteps = []\n'
     "tags = []\n", "recipes.torch.tags", "at least one source tag"),
    ('[recipes.x]\npackages = ["x"]\nrepo = "https://e.example"\nsteps = []\ngib_per_job = 0\n'
     'tags = [{cuda_min = "12.6", tag = "v1"}]\n', "recipes.x.gib_per_job", "positive number"),
    ('[guarded]\nnames = "torch"\n', "guarded.names", "list of non-empty strings"),
    ('[[sources.s.arch]]\nproject = "torch"\nversions = "2.11+"\narch_list = ["8.7"]\n[sources.s]\n'
     'kind = "simple"\nurl = "https://x.example/simple"\n', "sources.s.arch[0].versions",
     "bad version specifier"),
    ('[sources.s]\nkind = "simple"\nurl = "https://x.example/simple"\n[[sources.s.arch]]\n'
     'project = "torch"\narch_list = ["sm_87"]\n', "sources.s.arch[0].arch_list", "bad compute capability"),
    ('[stable_abi]\ntorchaudio = "two"\n', "stable_abi.torchaudio", "bad version"),
    ('[[drivers]]\ncuda = "13.0"\ndriver_min = "r580"\n', "drivers[0].driver_min", "bad driver version"),
    ('[[gpu_routes]]\nkey = "g"\nmachine = "riscv64"\ncuda = "13.0"\nsources = ["s"]\nguarded = []\n',
     "gpu_routes[0].machine", "must be one of x86_64, aarch64"),
    ('[[gpu_routes]]\nkey = "g"\nmachine = "x86_64"\ncuda = "13.0"\nsources = ["nowhere"]\n'
     'guarded = ["torch"]\n', "gpu_routes.g.sources", "names unknown source 'nowhere'"),
])
def test_bad_overlay_names_file_key_and_problem(tmp_path: Path, text: str, key: str, problem: str) -> None:
    bad = write(tmp_path / "bad.toml", text)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(bad, env={})
    err = info.value
    assert err.path == str(bad)
    assert err.key == key
    assert problem in err.problem
    assert str(bad) in str(err) and key in str(err)
    assert err.hint is not None and "docs/indexes.md" in err.hint


@pytest.mark.parametrize("var", ["JETPIP_INDEXES", None])
def test_missing_overlay_file(tmp_path: Path, var: str | None) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(KnowledgeError) as info:
        if var:
            load_knowledge(env={var: str(missing)})
        else:
            load_knowledge(missing, env={})
    assert str(missing) in str(info.value)
    assert "cannot be read" in str(info.value)
    assert ("$JETPIP_INDEXES" if var else "--indexes") in str(info.value)


@pytest.mark.parametrize("value", ["https://pypi.jetson-ai-lab.io", "a=b", "https://x=ftp://y",
                                   "https://u:secret@x.example=nope"])
def test_bad_mirror_env(value: str) -> None:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(env={"JETPIP_MIRROR": value})
    assert "$JETPIP_MIRROR" in str(info.value) and "ORIGIN=URL" in str(info.value)
    assert "secret" not in str(info.value)


def test_mirror_env_parses_several_pairs() -> None:
    assert parse_mirror_env(" https://a.example=http://127.0.0.1:9/a , https://b.example/x=http://m/b,") == {
        "https://a.example": Url("http://127.0.0.1:9/a"), "https://b.example/x": Url("http://m/b")}


def test_a_mirror_with_credentials_hands_them_to_the_transport_and_shows_none() -> None:
    kb = load_knowledge(env={"JETPIP_MIRROR": "https://pypi.jetson-ai-lab.io=http://fleet:s3cret@127.0.0.1:9/m"})
    source = kb.sources["jal-jp6-cu126"]
    assert source.url.secret() == "http://fleet:s3cret@127.0.0.1:9/m/jp6/cu126"
    assert source.mirror_of == Url("https://pypi.jetson-ai-lab.io/jp6/cu126")
    shown = json.dumps(route_to_json(Route("r", "", (source,), frozenset()))) + repr(kb)
    assert "s3cret" not in shown and "fleet:****@127.0.0.1:9/m/jp6/cu126" in shown


def test_builtin_file_must_carry_format() -> None:
    with pytest.raises(KnowledgeError) as info:
        parse_layer({"guarded": {"names": ["torch"]}}, "built-in.toml", builtin=True)
    assert info.value.key == "" and "missing required key 'format'" in info.value.problem


# -- fuzzing ------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=12))
_values = st.recursive(_scalars.filter(lambda v: v is not None),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=3),
                       max_leaves=8)
_section = st.sampled_from(["hosts", "aliases", "mirrors", "ubuntu", "versions", "soc", "sources", "routes",
                            "guarded", "substitutions", "companions", "recipes", "format"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_section, _values, max_size=4))
def test_fuzz_layer_only_raises_knowledge_error(data: dict[str, object]) -> None:
    try:
        parse_layer(data, "fuzz.toml")
    except KnowledgeError as err:
        assert err.path == "fuzz.toml"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_toml_text(text: str) -> None:
    try:
        parse_layer(parse_toml(text, "fuzz.toml"), "fuzz.toml")
    except KnowledgeError as err:
        assert err.path == "fuzz.toml"


@settings(max_examples=300, deadline=None)
@given(l4t=st.from_regex(r"\A\d{1,2}(\.\d{1,2}){0,3}\Z") | st.text(max_size=8),
       cuda=st.from_regex(r"\A\d{1,2}\.\d{1,2}(\.\d{1,3})?\Z") | st.text(max_size=6),
       soc=st.sampled_from(["tegra210", "tegra194", "tegra234", "tegra264", "tegra999"]))
def test_fuzz_device_facts_always_give_a_route(kb: KnowledgeBase, l4t: str, cuda: str, soc: str) -> None:
    try:
        target = kb.make_target(device(l4t=l4t, cuda=cuda, soc=soc), interp(), TargetOverrides())
    except JetpipError:  # pragma: no cover - device facts never raise
        raise AssertionError("device facts must not raise") from None
    route = kb.route_for(target)
    assert route.sources or route.no_source_reason
    if route.line is not None and target.l4t is not None and target.l4t.value.startswith("36."):
        assert route.line == "jp6"
