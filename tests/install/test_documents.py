"""The plan and install documents (``--dry-run --json``, ``--json``) match their TypedDicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.model.documents import InstallDocument, PlanDocument
from tests.support.documents import assert_fits
from tests.support.mirror import ORIN_JP62, Mirror
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import pip_install


def jetpip_json(mirror: Mirror, command: str, python: Path, *args: str | Path) -> dict[str, Any]:
    argv = [command, *args, "--json", "--python", python, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/"]
    result = CliRunner().invoke(cli, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_plan_and_install_documents_fit_their_typed_dicts(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    python = make_venv()
    # A CPU onnxruntime to remove and a base-index torch to replace: every kind of action and step.
    pip_install(python, "--no-deps", str(mirror.wheel("torch", "2.9.0").path),
                str(mirror.wheel("onnxruntime", "1.23.0").path))

    plan = jetpip_json(mirror, "install", python, "--dry-run", "glinerish")
    assert_fits(plan, PlanDocument)
    assert plan["schema"] == "jetpip.plan/1"
    assert {a["action"] for a in plan["actions"]} == {"install", "replace", "remove"}

    done = jetpip_json(mirror, "install", python, "glinerish")
    assert_fits(done, InstallDocument)
    assert done["schema"] == "jetpip.install/1" and done["ok"] is True
    assert done["ran"] == [s["kind"] for s in plan["steps"]]

    lockfile = tmp_path / "pylock.toml"
    argv = ("lock", "tinyformers", "-o", lockfile, "--python", python, "--root", ORIN_JP62,
            "--indexes", mirror.overlay, "--index-url", f"{mirror.base_url}/")
    locked = CliRunner().invoke(cli, [str(a) for a in argv])
    assert locked.exit_code == 0, locked.output
    sync = jetpip_json(mirror, "sync", python, lockfile, "--dry-run")
    assert_fits(sync, PlanDocument)
    assert sync["mode"] == "sync"
