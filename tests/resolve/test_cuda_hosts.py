"""Locks through the built-in knowledge base, its public hosts re-pointed at a loopback index.

A machine with a discrete GPU routes torch by its driver; JetPack 7.2 picks the cu132 builds; a
wheel whose arch list misses the device is passed over with the reason, never a whole source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from jetpip.errors import GuardedWheelMissingError
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.interpreter.probe import synthesize_interpreter
from jetpip.knowledge.base import KnowledgeBase, load_knowledge
from jetpip.lock.pylock import dump_lock, fill_hashes, lock_from_resolution
from jetpip.model.sources import Source
from jetpip.model.target import Device, Fact, Target, TargetOverrides
from jetpip.model.urls import Url
from jetpip.resolve.provider import Resolution, resolve
from tests.device.golden import fixture_device
from tests.support.server import IndexServer
from tests.support.wheels import WheelSpec, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

PYTORCH = "https://download.pytorch.org"
JAL = "https://pypi.jetson-ai-lab.io"


class Hosts:
    """The public hosts of indexes.toml, served from one loopback server under /pt and /jal."""

    def __init__(self, server: IndexServer, tmp: Path) -> None:
        self.server, self.tmp = server, tmp
        self.base = Source("base index", "simple", Url.parse(server.add("simple", "/simple", [])))
        self.mirrors = [f"{JAL}={server.url}/jal"]

    def serve(self, kind: str, path: str, *wheels: WheelSpec) -> None:
        """Serve ``wheels`` as the index at ``path`` of its public host (/whl/cuXYZ, /sbsa/cu132)."""
        name = path.strip("/").replace("/", "-")
        built = [build_wheel(self.tmp / "wheels" / name, w).path for w in wheels]
        if path.startswith("/whl/"):
            # One mount per pytorch.org index: simple mounts keep their files beside them.
            self.mirrors.append(f"{PYTORCH}{path}={self.server.url}/{name}/simple")
            self.server.add(kind, f"/{name}/simple", built)
        else:
            self.server.add(kind, f"/jal{path}", built)

    def kb(self) -> KnowledgeBase:
        return load_knowledge(env={"JETPIP_MIRROR": ",".join(self.mirrors)})

    def lock(self, target: Target, *requirements: str) -> tuple[Resolution, str]:
        kb = self.kb()
        route = kb.route_for(target)
        with IndexClient(IndexConfig(index_url=None), cache_dir=self.tmp / "cache") as client:
            res = resolve(list(requirements), target=target, route=route, kb=kb, client=client,
                          base_sources=[self.base])
            links = {p.name: p.link for p in res.pins}
            text = dump_lock(fill_hashes(lock_from_resolution(res),
                                         lambda pkg: client.download(links[pkg.name], self.tmp / "files")))
        Pylock.from_dict(tomllib.loads(text))
        return res, text


@pytest.fixture
def hosts(index_server: IndexServer, tmp_path: Path) -> Hosts:
    return Hosts(index_server, tmp_path)


def x86_target(kb: KnowledgeBase, root: str) -> Target:
    # Cross: the interpreter is synthesised, the device facts come from the fixture root and the
    # nvidia-smi output its machine printed.
    interp = synthesize_interpreter("3.12", "manylinux_2_28_x86_64", "2.35")
    return kb.make_target(fixture_device(root), interp, TargetOverrides())


def jetson_target(kb: KnowledgeBase, soc: str) -> Target:
    device = Device(root="(test)", is_jetson=True, l4t=Fact("39.0.0", "test"), soc=Fact(soc, "test"),
                    cuda=Fact("13.2.51", "test"), arch_kind=Fact("sbsa", "test"))
    return kb.make_target(device, synthesize_interpreter("3.12", "linux_aarch64", "2.39"), TargetOverrides())


X86 = "cp312-cp312-manylinux_2_28_x86_64"
JETSON = "cp312-cp312-linux_aarch64"


def test_x86_sm89_with_a_12x_driver_locks_torch_from_the_matching_pytorch_index(hosts: Hosts) -> None:
    # seed 003: an L4 (sm_89) on driver 550.127.05, which runs CUDA 12.4 natively
    hosts.serve("simple", "/whl/cu124", WheelSpec("torch", "2.6.0+cu124", tag=X86))
    hosts.serve("simple", "/whl/cu121", WheelSpec("torch", "2.5.1+cu121", tag=X86))
    hosts.server.add_files("/simple", [build_wheel(hosts.tmp / "pypi", WheelSpec(
        "torch", "2.7.0", tag=X86)).path])  # the base index's newer torch must not win
    target = x86_target(hosts.kb(), "x86-l4-driver550")
    assert target.compute_capability == Fact("8.9", "nvidia-smi --query-gpu=name,compute_cap "
                                                     "--format=csv,noheader")
    res, text = hosts.lock(target, "torch")
    (torch,) = res.pins
    assert (torch.version, torch.source.name) == ("2.6.0+cu124", "pytorch.org cu124 (x86_64)")
    assert torch.guarded
    assert "/whl-cu124/" in text and "torch-2.6.0+cu124" in text.replace("%2B", "+")


def test_h200_with_driver_580_takes_cu130_and_falls_back_to_cu128(hosts: Hosts) -> None:
    hosts.serve("simple", "/whl/cu130", WheelSpec("torch", "2.11.0+cu130", tag=X86))
    hosts.serve("simple", "/whl/cu128", WheelSpec("torch", "2.8.0+cu128", tag=X86))
    hosts.serve("simple", "/whl/cu126")
    target = x86_target(hosts.kb(), "h200-x86_64-driver580")
    res, _ = hosts.lock(target, "torch")
    assert [(p.version, p.source.name) for p in res.pins] == [("2.11.0+cu130", "pytorch.org cu130 (x86_64)")]
    older, _ = hosts.lock(target, "torch==2.8.*")
    assert [p.source.name for p in older.pins] == ["pytorch.org cu128 (x86_64)"]


def test_a_wheel_without_the_gpus_arch_is_rejected_with_the_reason(hosts: Hosts, tmp_path: Path) -> None:
    # pytorch.org's x86_64 cu130 torch >= 2.11 carries sm_75 ... sm_120 (read on an H200 host): a
    # Maxwell-era 5.2 GPU has none of them, so the build is passed over and the hint says how to build.
    hosts.serve("simple", "/whl/cu130", WheelSpec("torch", "2.11.0+cu130", tag=X86))
    hosts.serve("simple", "/whl/cu128")
    hosts.serve("simple", "/whl/cu126")
    kb = hosts.kb()
    interp = synthesize_interpreter("3.12", "manylinux_2_28_x86_64", "2.35")
    device = Device(root="(test)", is_jetson=False, driver=Fact("580.159.04", "test"),
                    gpu_capability=Fact("5.2", "test"))
    target = kb.make_target(device, interp, TargetOverrides())
    with pytest.raises(GuardedWheelMissingError) as info:
        hosts.lock(target, "torch")
    text = f"{info.value}\n{info.value.hint}"
    assert "no kernels for this GPU" in text and "7.5, 8.0, 8.6, 9.0, 10.0, 12.0 only" in text
    assert "the Target is 5.2" in text


def test_jetpack72_orin_and_thor_pick_cu132_and_orin_never_a_thor_only_build(hosts: Hosts) -> None:
    hosts.serve("devpi", "/sbsa/cu132", WheelSpec("torch", "2.12.0", tag=JETSON, build="jetson"))
    hosts.serve("devpi", "/sbsa/cu130", WheelSpec("torch", "2.9.1", tag=JETSON, build="jetson"),
                WheelSpec("onnxruntime-gpu", "1.24.0", tag=JETSON, build="jetson", module="onnxruntime"))
    hosts.serve("simple", "/whl/cu130", WheelSpec("torch", "2.9.1",
                                                   tag="cp312-cp312-manylinux_2_28_aarch64"))
    kb = hosts.kb()
    for soc in ("tegra234", "tegra264"):
        res, _ = hosts.lock(jetson_target(kb, soc), "torch")
        assert [(p.version, p.source.name) for p in res.pins] == [("2.12.0", "jetson-ai-lab sbsa/cu132")], soc
    # torch 2.9.1 on sbsa/cu130 is Thor-only (sm_110, sm_121): Orin takes pytorch.org's build...
    orin, _ = hosts.lock(jetson_target(kb, "tegra234"), "torch==2.9.1")
    assert [p.source.name for p in orin.pins] == ["pytorch.org cu130"]
    thor, _ = hosts.lock(jetson_target(kb, "tegra264"), "torch==2.9.1")
    assert [p.source.name for p in thor.pins] == ["jetson-ai-lab sbsa/cu130"]
    # ...and that index still serves Orin what has no Thor-only record (onnxruntime-gpu).
    ort, _ = hosts.lock(jetson_target(kb, "tegra234"), "onnxruntime-gpu")
    assert [(p.name, p.source.name) for p in ort.pins] == [("onnxruntime-gpu", "jetson-ai-lab sbsa/cu130")]
