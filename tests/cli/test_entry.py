"""The entry points: ``main(argv)`` returns the exit status; every JetpipError ends as error + hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jetpip import __version__
from jetpip.cli import main

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"


def test_main_returns_zero_and_prints_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"jetpip, version {__version__}\n"


def test_main_returns_the_exit_code_of_the_error_with_its_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["detect", "--root", str(ROOTS / "r40-future-thor"), "--platform", "linux_aarch64"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: cannot choose the Python and glibc of a cross target")
    assert "\nhint: pass --jetpack" in err


def test_a_usage_error_of_click_is_exit_code_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err


def test_an_error_message_is_printed_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["detect", "--root", str(ROOTS / "x86-workstation"), "--python",
                 "https://fleet:s3cret@127.0.0.1:9/python"])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: --python https://fleet:****@127.0.0.1:9/python: no such file" in err
    assert "s3cret" not in err


def test_the_script_exits_with_the_code_and_flushes_its_output(tmp_path: Path) -> None:
    # `python -m jetpip` runs `run()`, which ends the process with os._exit once output is flushed.
    done = subprocess.run([sys.executable, "-m", "jetpip", "detect", "--root", str(ROOTS / "x86-workstation"),
                           "--python", sys.executable, "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("route not-jetson\n")
    failed = subprocess.run([sys.executable, "-m", "jetpip", "detect", "--python", str(tmp_path / "nope")],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert "error: --python" in failed.stderr and "hint:" in failed.stderr
