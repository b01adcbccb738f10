"""The entry points: ``main(argv)`` returns the exit status; every JetpipError ends as error + hint."""

from __future__ import annotations

import gc
import os
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


# A lock that loads the Target and makes the index client (where the script's run settles its
# heap), then stops: offline, with an empty cache. No network is touched.
OFFLINE_LOCK = ["lock", "numpy", "--offline", "--root", str(ROOTS / "jp62-agx-orin-r36.4.3"),
                "--python-version", "3.10", "--platform", "linux_aarch64",
                "--index-url", "http://127.0.0.1:9/simple/"]


def test_a_program_that_calls_main_keeps_its_garbage_collector_as_it_was(
    capsys: pytest.CaptureFixture[str],
) -> None:
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert main(OFFLINE_LOCK) == 3
    assert "error: offline, and the cache has no copy of" in capsys.readouterr().err
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)


def test_the_script_collects_rarely_and_sets_aside_what_it_loaded(tmp_path: Path) -> None:
    # The script's run() owns its process: after the client is made, the loaded modules are out of
    # the collector's sight (jetpip/cli/heap.py). Seen from the process as it exits.
    probe = (
        "import gc, os, sys\n"
        "from jetpip.cli import run\n"
        "real = os._exit\n"
        "def leave(code):\n"
        "    sys.stderr.write(f'gc {gc.get_threshold()[0]} {gc.get_freeze_count()}\\n')\n"
        "    sys.stderr.flush()\n"
        "    real(code)\n"
        "os._exit = leave\n"
        "sys.argv = ['jetpip', *sys.argv[1:]]\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *OFFLINE_LOCK], capture_output=True, text=True,
                          check=False, env={**os.environ, "JETPIP_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 3, done.stderr
    threshold, frozen = done.stderr.strip().splitlines()[-1].split()[1:]
    assert int(threshold) > gc.get_threshold()[0] and int(frozen) > 10_000
