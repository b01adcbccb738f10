"""Profile `jetpip lock` on the bench mirror with pyinstrument (warm cache, and cold at 50 ms).

    python bench/profile.py [--skip-bad-names]

Writes bench/out/profile-lock-warm.txt and bench/out/profile-lock-cold-50ms.txt. pyinstrument
comes from the bench venv (bench/.cache/venv), put on the path of the interpreter that runs jetpip.
"""

from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import tools as T
from bench.mirror import DEVPI, MirrorServer
from bench.run import BENCH, overlay_toml, prepare


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-bad-names", action="store_true")
    args = ap.parse_args()
    args.quick, args.keep = False, False
    work = Path(tempfile.mkdtemp(prefix="jetpip-profile-"))
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    try:
        mirror, s, _ = prepare(args, work, print)
        mirror.flat["/redist/jp/v61/pytorch/"] = b"<html><body><pre></pre></body></html>"
        server = MirrorServer(mirror).start()
        s.index_url = f"{server.url}{DEVPI}/+simple/"
        s.overlay.write_text(overlay_toml(server.url))
        site = glob.glob(str(s.bench_python.parent.parent / "lib" / "python*" / "site-packages"))[0]
        tool = T.Jetpip(s)
        for label, delay, cache in [("cold-50ms", 0.05, work / "cold"), ("warm", 0.0, work / "cold")]:
            server.delay = delay
            cmd = tool.lock(s, cache, work)
            argv = [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "--show-all",
                "-o",
                str(out / f"profile-lock-{label}.txt"),
                "-m",
                "jetpip",
                *cmd.argv[1:],
            ]
            env = {**cmd.env, "PYTHONPATH": site}
            mark = server.mark()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            print(
                f"{label}: exit {done.returncode}, {len(server.since(mark))} requests -> "
                f"{out / f'profile-lock-{label}.txt'}"
            )
            if done.returncode:
                print(done.stderr[-2000:])
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
