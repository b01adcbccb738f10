"""The resolution document (``jetpip lock --json``) matches its TypedDict, with and without a lock written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.model.documents import ResolutionDocument, TreeNode
from tests.support.documents import assert_fits
from tests.support.mirror import ORIN_JP62, Mirror


def lock_json(mirror: Mirror, *args: str | Path) -> ResolutionDocument:
    # The test's own interpreter is the target: the mirror's CUDA stand-ins are built for it.
    argv = ["lock", "--json", "--python", sys.executable, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/", *args]
    result = CliRunner().invoke(cli, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    doc: ResolutionDocument = json.loads(result.stdout)
    return doc


def _nodes(tree: list[TreeNode]) -> list[TreeNode]:
    return [n for node in tree for n in (node, *_nodes(node["dependencies"]))]


def test_lock_json_fits_its_typed_dict(mirror: Mirror, tmp_path: Path) -> None:
    doc = lock_json(mirror, "glinerish", "-o", tmp_path / "pylock.toml")
    assert_fits(doc, ResolutionDocument)
    assert doc["schema"] == "jetpip.resolution/1"
    assert set(doc) == set(ResolutionDocument.__annotations__)  # a written lock adds all three keys
    assert doc["lock"] == str(tmp_path / "pylock.toml") and doc["pylock"]["lock-version"] == "1.0"
    names = [n["name"] for n in _nodes(doc["tree"])]
    assert names.count("torch") == 2  # glinerish and tinyformers both need it: expanded once
    assert [n.get("seen") for n in _nodes(doc["tree"]) if n["name"] == "torch"] == [None, True]
    assert {p["name"]: p["guarded"] for p in doc["packages"]}["torch"] is True


def test_dry_run_json_has_no_pylock(mirror: Mirror) -> None:
    doc = lock_json(mirror, "--dry-run", "tinyformers")
    assert_fits(doc, ResolutionDocument)
    assert doc["lock"] is None and "pylock" not in doc
