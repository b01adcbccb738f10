"""The guard policy per name in indexes.toml, its overlays, the route constraint reasons, and the hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetpip.errors import KnowledgeError
from jetpip.knowledge.base import KnowledgeBase, load_knowledge
from jetpip.knowledge.hints import build_hint
from jetpip.model.sources import Route
from jetpip.model.target import Device, Fact, Interpreter, Target, TargetOverrides

OPENCV = {"opencv-python", "opencv-contrib-python", "opencv-python-headless",
          "opencv-contrib-python-headless"}


def orin_jp62(kb: KnowledgeBase) -> tuple[Target, Route]:
    device = Device(root="/fixture", is_jetson=True, l4t=Fact("36.4.3", "fixture"),
                    soc=Fact("tegra234", "fixture"))
    interp = Interpreter(executable="/opt/venv/bin/python", version="3.10.12", implementation="cpython",
                         platforms=("linux_aarch64",), markers={"platform_machine": "aarch64"})
    target = kb.make_target(device, interp, TargetOverrides())
    return target, kb.route_for(target)


def overlay(tmp_path: Path, text: str) -> KnowledgeBase:
    path = tmp_path / "indexes.toml"
    path.write_text(text, encoding="utf-8")
    return load_knowledge(path, env={})


def test_the_opencv_family_is_preferred_and_the_cuda_frameworks_required() -> None:
    _, route = orin_jp62(load_knowledge(env={}))
    assert route.key == "jp6-cu126"
    assert route.preferred == OPENCV
    assert OPENCV.issubset(route.guarded)  # still guarded: the route's CUDA build wins where it exists
    for name in ("torch", "torchvision", "torchaudio", "onnxruntime-gpu", "cupy"):
        assert name in route.guarded and name not in route.preferred


def test_an_overlay_moves_a_name_between_the_policies_or_out(tmp_path: Path) -> None:
    kb = overlay(tmp_path, '[guarded]\nnames = ["opencv-python"]\npreferred = ["cupy", "jax"]\n'
                           'unguard = ["opencv-python-headless"]\n')
    _, route = orin_jp62(kb)
    assert "opencv-python" in route.guarded and "opencv-python" not in route.preferred  # now required
    assert {"cupy", "jax"} <= route.preferred
    assert "opencv-python-headless" not in route.guarded | route.preferred


def test_a_name_under_both_policies_in_one_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"\[guarded.preferred\] names cupy under both policies"):
        overlay(tmp_path, '[guarded]\nnames = ["cupy"]\npreferred = ["cupy"]\n')


def test_a_route_constraint_carries_its_reason() -> None:
    _, route = orin_jp62(load_knowledge(env={}))
    assert "numpy<2" in route.constraints
    assert route.constraint_reasons["numpy<2"] == "the Jetson torch 2.8 wheels are built against NumPy 1"


def test_a_reason_for_a_constraint_the_route_lacks_is_an_error(tmp_path: Path) -> None:
    text = ('[[routes]]\nkey = "jp6-cu126"\nline = "jp6"\ncuda = "12.6"\narch_kind = "tegra"\n'
            'sources = ["jal-jp6-cu126"]\nconstraints = ["numpy<2"]\nconstraints_why = { "scipy<2" = "x" }\n')
    with pytest.raises(KnowledgeError, match="explains 'scipy<2', which is not one of its constraints"):
        overlay(tmp_path, text)


def test_the_no_cuda_build_hint_names_only_sources_that_can_help_and_the_overlay() -> None:
    kb = load_knowledge(env={})
    target, route = orin_jp62(kb)
    jal, nvidia = route.sources  # NVIDIA's directory lists the projects it carries: torch only
    assert nvidia.projects == ("torch",)

    opencv = build_hint(kb, target, route, "opencv-python", searched=[jal], found=[])
    text = opencv.render()
    assert nvidia.name not in text  # it has no opencv: naming it would send the user nowhere
    assert "opencv-python's policy is 'preferred'" in text

    on_demand = build_hint(kb, target, route, "opencv-python")  # `jetpip hint opencv-python`
    assert on_demand.on_demand and [line.split(":")[0] for line in on_demand.searched] == [jal.name]
    assert nvidia.name not in on_demand.render()

    torch = build_hint(kb, target, route, "torch", searched=[jal], found=[]).render()
    assert f"{nvidia.name} serves this route too" in torch  # it does carry torch
    assert "torch's policy is 'required'" in torch
    assert '[guarded] unguard = ["torch"]' in torch and "--indexes FILE or $JETPIP_INDEXES" in torch


def test_the_cuda_sources_named_for_a_name_are_the_same_jetpack_lines_only() -> None:
    kb = load_knowledge(env={})
    _, route = orin_jp62(kb)
    others = kb.cuda_sources_of("torch", route)
    assert others and all(s.id is not None and s.id.startswith("nv-jp-v6") for s in others)
    assert not {s.url for s in others} & {s.url for s in route.sources}
    assert kb.cuda_sources_of("opencv-python", route) == ()  # no source is known to carry it
