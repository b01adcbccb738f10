"""The main job, end to end on this machine: `python -m tests.support.demo` from the repo root.

It builds a loopback mirror (stand-in CUDA wheels for JetPack 6.2 on a devpi mount, PyPI-like
packages on a simple index, where a CPU torch and a CPU onnxruntime wait as decoys), creates a
venv, puts a PyPI torch and the CPU onnxruntime in it (the usual starting mess), and runs

    jetpip install --python VENV/bin/python --root tests/fixtures/roots/jp62-agx-orin-r36.4.3 \\
        --indexes MIRROR/indexes.toml --index-url MIRROR/simple tinyformers glinerish

Then it checks that `import torch` and `import onnxruntime` load the CUDA stand-ins, and that a
second run has nothing to do. Nothing outside the temp dir (or --dir) is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.mirror import ORIN_JP62, start_mirror

REQUIREMENTS = ("tinyformers", "glinerish")


def _say(text: str) -> None:
    print(f"\n### {text}", flush=True)


def _run(argv: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(argv), flush=True)
    proc = subprocess.run(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(proc.stdout.rstrip(), flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"demo failed: exit status {proc.returncode}")
    return proc


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when the CUDA stand-ins are the ones that import."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="work here (kept afterwards) instead of a temp dir, e.g. ./.demo")
    args = parser.parse_args(argv)
    work = Path(args.dir).resolve() if args.dir else Path(tempfile.mkdtemp(prefix="jetpip-demo-"))
    if work.exists() and args.dir:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "JETPIP_"))}
    # This machine's pip.conf must not leak into the demo venv, nor jetpip's cache into the user's.
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               XDG_CACHE_HOME=str(work / "cache"), XDG_CONFIG_HOME=str(work / "config"))
    try:
        _say("building the loopback mirror")
        mirror = start_mirror(work / "mirror")
        print(f"CUDA stand-ins (devpi): {mirror.jetson_url}/+simple/")
        print(f"base index (simple):    {mirror.base_url}/")
        print(f"route overlay:          {mirror.overlay}")

        _say("creating a venv with a PyPI torch and the CPU onnxruntime already in it")
        venv = work / "venv"
        _run([sys.executable, "-m", "venv", str(venv)], env)
        python = str(venv / "bin" / "python")
        decoys = [str(mirror.wheel("torch", "2.8.0").path), str(mirror.wheel("onnxruntime", "1.23.0").path)]
        _run([python, "-m", "pip", "install", "--no-deps", "-q", *decoys], env)

        jetpip = [sys.executable, "-m", "jetpip", "install", "--python", python, "--root", str(ORIN_JP62),
                  "--indexes", str(mirror.overlay), "--index-url", f"{mirror.base_url}/"]
        print("\n(jetpip warns that this machine is not aarch64: the demo routes a JetPack 6.2 Orin on it,"
              "\n with stand-in CUDA wheels tagged for this machine)")
        _say("jetpip install --dry-run (prints the plan, changes nothing)")
        _run([*jetpip, "--dry-run", *REQUIREMENTS], env)
        _say("jetpip install")
        _run([*jetpip, *REQUIREMENTS], env)

        _say("what imports now")
        code = ("import torch, onnxruntime, tinyformers; "
                "print('torch', torch.__version__, torch.BUILD); "
                "print('onnxruntime', onnxruntime.__version__, onnxruntime.BUILD)")
        out = _run([python, "-c", code], env).stdout
        _run([python, "-m", "pip", "list"], env)

        _say("jetpip install again (already satisfied: nothing to do)")
        start = time.monotonic()
        again = _run([*jetpip, *REQUIREMENTS], env)
        print(f"(second run took {time.monotonic() - start:.2f} s)")
        ok = ("torch 2.8.0 jetson" in out and "onnxruntime 1.23.0 jetson" in out
              and "nothing to do" in again.stdout)
        _say("result: " + ("OK - the CUDA stand-ins are installed and kept" if ok else "FAILED"))
        mirror.server.stop()
        return 0 if ok else 1
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
