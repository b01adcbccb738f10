"""The route and hint documents match their TypedDicts, whatever the route and the recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.knowledge.base import load_knowledge, route_to_json
from jetpip.model.documents import HintDocument, RouteDocument
from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides
from tests.support.documents import assert_fits

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"
JAL = "https://pypi.jetson-ai-lab.io"


@pytest.mark.parametrize("facts", [
    {"l4t": "32.7.1", "soc": "tegra210"},
    {"l4t": "36.4.3", "soc": "tegra234"},
    {"l4t": "38.2.0", "soc": "tegra264"},
    {"l4t": "39.0.0", "soc": "tegra234"},  # drops the sbsa/cu130 source: no sm_87 kernels
    {"l4t": "40.0.0"},  # newer than the tables: no route
    {},  # not a Jetson
])
def test_route_document_fits_its_typed_dict(facts: dict[str, str]) -> None:
    # A mirror rewrites the jetson-ai-lab URLs, so mirror_of is filled in too.
    kb = load_knowledge(env={"JETPIP_MIRROR": f"{JAL}=https://user:secret@mirror.example/fleet"})
    device = Device(root="/fixture", is_jetson=bool(facts),
                    **{k: Fact(v, "fixture") for k, v in facts.items()})
    interp = Interpreter(executable=None, version="3.10.12", implementation="cpython",
                         platforms=("linux_aarch64",))
    route = kb.route_for(kb.make_target(device, interp, TargetOverrides()))
    doc = route_to_json(route)
    assert_fits(doc, RouteDocument)
    assert len(doc["sources"]) == len(route.sources) and len(doc["dropped"]) == len(route.dropped)
    assert "secret" not in json.dumps(doc)


@pytest.mark.parametrize(("package", "root"), [
    ("torch", "jp70-thor-r38.2"),  # a recipe, a companion, MAX_JOBS from memory
    ("torchvision", "jp62-agx-orin-r36.4.3"),
    ("onnxruntime-gpu", "jp46-nano-r32.7"),
    ("requests", "x86-workstation"),  # no recipe at all
])
def test_hint_json_fits_its_typed_dict(package: str, root: str) -> None:
    result = CliRunner().invoke(cli, ["hint", package, "--json", "--root", str(ROOTS / root),
                                      "--python-version", "3.10", "--platform", "linux_aarch64",
                                      "--glibc", "2.35"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert_fits(doc, HintDocument)
    assert doc["schema"] == "jetpip.hint/1" and doc["on_demand"] is True
