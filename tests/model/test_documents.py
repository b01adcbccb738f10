"""The Target and detect documents match their TypedDicts, and docs/detect.md names exactly their keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from jetpip.api import detect_document, load_target
from jetpip.cli import cli
from jetpip.model.documents import (
    DetectDocument,
    DeviceDocument,
    InterpreterDocument,
    RouteDocument,
    SourceDocument,
    TargetDocument,
)
from jetpip.model.target import TargetOverrides
from tests.support.documents import assert_fits, mismatches

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"
DOCS = Path(__file__).parent.parent.parent / "docs"
CROSS = ("--python-version", "3.10", "--platform", "linux_aarch64", "--glibc", "2.35")


@pytest.mark.parametrize("root", ["jp62-agx-orin-r36.4.3", "jp70-thor-r38.2", "r40-future-thor",
                                  "x86-workstation", "broken-garbage"])
def test_detect_json_fits_its_typed_dict(root: str) -> None:
    result = CliRunner().invoke(cli, ["detect", "--json", "--root", str(ROOTS / root), *CROSS])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert_fits(doc, DetectDocument)
    assert doc["schema"] == "jetpip.detect/1"
    # Every key of every level is there, the optional facts as null.
    assert set(doc["target"]["device"]) == set(DeviceDocument.__annotations__)
    assert set(doc["target"]["interpreter"]) == set(InterpreterDocument.__annotations__)


def test_the_library_builds_the_same_document_for_a_live_interpreter() -> None:
    _, target, route = load_target(root=ROOTS / "jp62-agx-orin-r36.4.3")
    doc = detect_document(target, route)
    assert_fits(doc, DetectDocument)
    assert doc["target"]["interpreter"]["executable"] is not None
    assert doc["target"]["interpreter"]["installed"]  # a live venv has distributions
    assert doc["warnings"] == [*doc["target"]["warnings"], *doc["route"]["warnings"]]


def test_a_document_with_a_key_too_many_or_too_few_does_not_fit() -> None:
    _, target, route = load_target(root=ROOTS / "jp70-thor-r38.2",
                                   overrides=TargetOverrides(python_version="3.12", platform="linux_aarch64"))
    doc = json.loads(json.dumps(detect_document(target, route)))
    doc["target"]["device"]["board"] = "?"
    del doc["route"]["sources"][0]["trusted"]
    doc["target"]["is_jetson"] = "yes"
    assert mismatches(doc, DetectDocument) == [
        "$.route.sources[0]: no key 'trusted' (SourceDocument requires it)",
        "$.target.device: key 'board' is not in DeviceDocument",
        "$.target.is_jetson: 'yes' is not bool",
    ]


def _json_section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else None]


def test_docs_detect_names_every_key_of_the_detect_document_and_no_other() -> None:
    section = _json_section("detect.md", "## `--json` schema (`jetpip.detect/1`)")
    # The words the section writes in backticks as values, not keys.
    values = {"tegra", "sbsa", "yes", "no", "null", "devpi", "simple", "flat", "aarch64", "required",
              "preferred"}
    words = re.findall(r"`([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)`", section)
    named = {part for w in words for part in w.split(".")} - values
    keys = set().union(*(set(t.__annotations__) for t in (
        DetectDocument, TargetDocument, DeviceDocument, InterpreterDocument, RouteDocument, SourceDocument)))
    assert named == keys - {"schema"}
    # A dotted name in the target table says where the key lives.
    for dotted in re.findall(r"`((?:device|interpreter)\.[a-z_]+)`", section):
        part, _, key = dotted.partition(".")
        assert key in {"device": DeviceDocument, "interpreter": InterpreterDocument}[part].__annotations__
