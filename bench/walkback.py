"""The walk back past a guarded name with no CUDA build: time and metadata requests, on the loopback index.

python bench/walkback.py [--releases 40 400] [--delay-ms 20]

A package ``yolo`` has ten old releases without a dependency and N newer ones that need ``camkit``, a
required guarded name the route's CUDA source lacks (the ultralytics and opencv case of issue 13). Each
run locks ``yolo`` cold against a fresh loopback server with a per-request delay, and prints what it
ended with, the seconds, and the metadata requests the server answered.

To measure another checkout (before a change), put its package first on the path:
``git archive HEAD jetpip | tar -x -C /tmp/head && PYTHONPATH=/tmp/head python bench/walkback.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH: a checkout named there wins for `jetpip`

from jetpip.errors import JetpipError  # noqa: E402
from jetpip.index.client import IndexClient  # noqa: E402
from jetpip.index.config import IndexConfig  # noqa: E402
from jetpip.model.sources import Route, Source  # noqa: E402
from jetpip.model.urls import Url  # noqa: E402
from jetpip.resolve.provider import resolve  # noqa: E402
from tests.support.server import IndexServer, ServedFile  # noqa: E402
from tests.support.targets import make_target  # noqa: E402
from tests.support.wheels import WheelSpec, build_wheel  # noqa: E402


def run(releases: int, delay: float) -> tuple[str, float, int]:
    """Lock ``yolo`` once, cold: (outcome, seconds, metadata requests)."""
    specs = [WheelSpec("yolo", f"0.0.{i}", requires=["tinydep"]) for i in range(1, 11)]
    specs += [WheelSpec("yolo", f"8.0.{i}", requires=["tinydep", "camkit>=4"]) for i in range(releases)]
    specs.append(WheelSpec("tinydep", "1.0"))
    with tempfile.TemporaryDirectory() as tmp, IndexServer(delay=delay) as server:
        files = [ServedFile.from_path(build_wheel(Path(tmp) / "w", s).path) for s in specs]
        base = Source("base index", "simple", Url.parse(server.add("simple", "/simple", files)))
        cuda = Source("loopback jp6/cu126", "devpi", Url.parse(server.add("devpi", "/jp6/cu126", [])),
                      platforms=("linux_aarch64",))
        route = Route(key="jp6-cu126", summary="walkback", sources=(cuda,), guarded=frozenset({"camkit"}))
        started = time.monotonic()
        try:
            with IndexClient(IndexConfig(index_url=None), cache_dir=Path(tmp) / "cache") as client:
                res = resolve(["yolo"], target=make_target(), route=route, client=client, base_sources=[base])
            outcome = f"locked yolo {res.by_name()['yolo'].version}"
        except JetpipError as err:
            outcome = f"{type(err).__name__}"
        seconds = time.monotonic() - started
        return outcome, seconds, len(server.requests(".metadata"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, nargs="+", default=[40, 400])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    import jetpip

    print(f"jetpip from {Path(jetpip.__file__).parent}; {args.delay_ms:g} ms per request")
    print("| releases needing camkit | outcome | seconds | metadata requests |")
    print("| --- | --- | --- | --- |")
    for releases in args.releases:
        outcome, seconds, metadata = run(releases, args.delay_ms / 1000)
        print(f"| {releases} | {outcome} | {seconds:.2f} | {metadata} |")


if __name__ == "__main__":
    main()
