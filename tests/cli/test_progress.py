"""The fetch progress: plain lines in a log, a redrawn line (bytes, rate, ETA) on a terminal, -q silent."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from jetpip.cli import cli
from jetpip.cli.progress import FetchDisplay, format_eta
from jetpip.install.fetch import format_size
from tests.support.mirror import ORIN_JP62, Mirror
from tests.support.venv_fixtures import MakeVenv

CONTROL = re.compile(r"[\r\x1b]")


def install(mirror: Mirror, python: Path, *more: str) -> Result:
    argv = ["install", "--python", python, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/", *more]
    return CliRunner().invoke(cli, [str(a) for a in argv], catch_exceptions=False)


def test_a_log_gets_plain_lines_per_file_and_the_totals(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()

    result = install(mirror, python, "tinyformers")

    assert result.exit_code == 0, result.output
    err = result.stderr
    assert not CONTROL.search(err)  # no redrawn line, no colour codes: stderr is not a terminal
    torch = mirror.wheel("torch", "2.8.0", "jetson")
    lines = err.splitlines()
    assert re.match(r"==> fetching 5 files \(\d+(\.\d)? kB\)$", lines[lines.index(next(
        line for line in lines if line.startswith("==> fetching")))])
    assert f"  fetched {torch.filename} ({format_size(torch.path.stat().st_size)})" in lines
    assert sum(line.startswith("  fetched ") for line in lines) == 5
    totals = [line for line in lines if "already in the cache" in line]
    assert len(totals) == 1 and re.fullmatch(
        r"    5 files \(\d+(\.\d)? kB\) in \d+\.\ds: 5 downloaded, 0 already in the cache", totals[0])
    # The fetch comes before the first installer step.
    assert err.index("==> fetching") < err.index("==> 1. install CUDA builds")


def test_quiet_shows_no_progress_at_all(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()

    result = install(mirror, python, "-q", "tinyformers")

    assert result.exit_code == 0, result.output
    assert "fetch" not in result.stderr and "==>" not in result.stderr
    assert "tinyformers" in result.stdout  # the outcome itself still prints


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_redrawn_line_with_bytes_rate_and_eta() -> None:
    out: list[str] = []
    clock = Clock()
    shown = FetchDisplay(out.append, tty=True, clock=clock)
    shown.started(2, 250_100_000)
    shown.fetched("small-1.0-py3-none-any.whl", 100_000, from_cache=True)
    for second in range(4):
        clock.now += 1.0
        shown.progress("torch-2.8.0-cp310-cp310-linux_aarch64.whl", 50_000_000 * (second + 1), 250_000_000)
    shown.fetched("torch-2.8.0-cp310-cp310-linux_aarch64.whl", 250_000_000, from_cache=False)
    shown.finished(2, 1, 250_100_000, 5.0)

    text = "".join(out)
    assert text.startswith("==> fetching 2 files (250.1 MB)\n")
    last_draw = [chunk for chunk in out if chunk.startswith("\r\x1b[K  [1/2]")][-1]
    assert last_draw == ("\r\x1b[K  [1/2] torch-2.8.0-cp310-cp310-linux_aarch64.whl  200.0 MB/250.0 MB  "
                         "50.0 MB/s  ETA 1s")
    assert "  fetched torch-2.8.0-cp310-cp310-linux_aarch64.whl (250.0 MB)\n" in text
    assert "small-1.0" not in text  # a cached file is only counted (-v names it)
    assert text.endswith("\r\x1b[K    2 files (250.1 MB) in 5.0s: 1 downloaded, 1 already in the cache\n")


def test_a_log_hears_about_a_slow_large_download_every_few_seconds() -> None:
    out: list[str] = []
    clock = Clock()
    shown = FetchDisplay(out.append, tty=False, clock=clock)
    shown.started(1, 0)
    for _ in range(12):
        clock.now += 1.0
        shown.progress("torch.whl", int((clock.now - 100) * 10_000_000), None)
    assert [line for line in out if "torch.whl" in line] == [
        "  torch.whl  60.0 MB  10.0 MB/s\n", "  torch.whl  110.0 MB  10.0 MB/s\n"]


def test_sizes_and_times_read_as_people_read_them() -> None:
    assert [format_size(n) for n in (812, 3_400, 250_000_000, 1_200_000_000)] == [
        "812 B", "3.4 kB", "250.0 MB", "1.2 GB"]
    assert [format_eta(s) for s in (0.2, 42, 185, 3729)] == ["0s", "42s", "3:05", "1:02:09"]
