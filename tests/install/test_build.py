"""sdists built in the target's interpreter: real sdists with an in-tree backend, real venvs, both engines."""

from __future__ import annotations

import io
import json
import math
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from jetpip.errors import BuildError
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.install.build import WheelBuilder
from jetpip.install.driver import InstallOutcome, SubprocessRunner, execute
from jetpip.install.engines import ENGINES, EngineName, find_uv, pick_engine
from jetpip.install.plan import InstallPlan, build_plan
from jetpip.install.sdists import plan_builds
from jetpip.interpreter.probe import probe_interpreter
from jetpip.knowledge.base import KnowledgeBase, load_knowledge
from jetpip.knowledge.builds import build_environment
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import Device, Fact, Interpreter, Target
from jetpip.report import RecordingReporter
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import pip_install, run_python
from tests.support.wheels import WheelSpec, build_wheel

each_engine = pytest.mark.parametrize("engine", ENGINES)

# A PEP 517 backend inside the sdist (backend-path): it needs nothing from an index, records each
# build and the environment it saw, and imports the build requirements it was promised.
BACKEND = textwrap.dedent('''
    import base64, hashlib, json, os, sys, zipfile

    HERE = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(HERE, "config.json")) as fh:
        CONFIG = json.load(fh)

    def get_requires_for_build_wheel(config_settings=None):
        return list(CONFIG["requires"])

    def _line(path, data):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        return "%s,sha256=%s,%d" % (path, digest, len(data))

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        marker = CONFIG["marker"]
        with open(marker + ".log", "a") as fh:
            fh.write(sys.executable + "\\n")
        with open(marker + ".env.json", "w") as fh:
            json.dump(dict(os.environ), fh)
        seen = {m: getattr(__import__(m), "BUILD", None) for m in CONFIG["requires_modules"]}
        with open(marker + ".imports.json", "w") as fh:
            json.dump(seen, fh)
        if CONFIG["fail"]:
            print("tiny/cuda.c:1: fatal error: cuda_runtime.h: No such file or directory")
            raise SystemExit(1)
        dist, version = CONFIG["name"].replace("-", "_"), CONFIG["version"]
        info = "%s-%s.dist-info" % (dist, version)
        files = {
            dist + "/__init__.py": ("BUILT_FROM = 'sdist'\\nVERSION = %r\\n" % version).encode(),
            info + "/METADATA": ("Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n\\n"
                                 % (CONFIG["name"], version)).encode(),
            info + "/WHEEL": (b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\n"
                              b"Tag: py3-none-any\\n"),
        }
        record = [_line(p, d) for p, d in files.items()] + [info + "/RECORD,,"]
        files[info + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
        name = "%s-%s-py3-none-any.whl" % (dist, version)
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
            for path, data in files.items():
                zf.writestr(path, data)
        return name
''')


def make_sdist(dest: Path, name: str, version: str, marker: Path, *, requires: tuple[str, ...] = (),
               modules: tuple[str, ...] = (), fail: bool = False) -> Path:
    """A real sdist (tar.gz) whose in-tree backend records every build under ``marker``."""
    dist = name.replace("-", "_")
    top = f"{dist}-{version}"
    config = {"name": name, "version": version, "marker": str(marker), "requires": list(requires),
              "requires_modules": list(modules), "fail": fail}
    members = {
        "pyproject.toml": ('[build-system]\nrequires = []\nbuild-backend = "tinybackend"\n'
                           'backend-path = ["_backend"]\n'),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "_backend/tinybackend.py": BACKEND,
        "_backend/config.json": json.dumps(config),
    }
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def serve(server: IndexServer, sdist: Path, name: str, version: str, *,
          guarded: bool = False) -> LockedPackage:
    served = ServedFile.from_path(sdist)
    url = server.add("flat", f"/sdists-{name}", [served])
    return LockedPackage(name=name, version=version, url=url + sdist.name, filename=sdist.name,
                         sha256=served.sha256, size=len(served.data), guarded=guarded)


def plain_target(interpreter: Interpreter) -> Target:
    return Target(device=Device(root="/", is_jetson=False), interpreter=interpreter, machine="x86_64")


def orin_target(interpreter: Interpreter) -> Target:
    """An Orin Nano 8GB on JetPack 6.2, with the test machine's interpreter as the target's."""
    cuda = Fact("12.6.85", "/usr/local/cuda-12.6/version.json")
    device = Device(root="/", is_jetson=True, cuda=cuda, memory_gib=Fact("7.4", "/proc/meminfo"),
                    soc=Fact("tegra234", "/proc/device-tree/compatible"))
    return Target(device=device, interpreter=interpreter, cuda=Fact("12.6", cuda.source),
                  jetpack=Fact("6.2", "table"), soc=Fact("tegra234", "device tree"),
                  compute_capability=Fact("8.7", "SoC tegra234"), machine="x86_64")


def builder_for(interpreter: Interpreter, config: IndexConfig | None = None,
                guarded: tuple[str, ...] = ()) -> WheelBuilder:
    uv = find_uv(interpreter, {})[0]
    assert uv is not None
    return WheelBuilder(interpreter, config or IndexConfig(index_url=None, no_index=True), uv=uv,
                        guarded=guarded)


def install(python: Path, lock: Lock, target: Target, engine: EngineName, cache: Path, *,
            kb: KnowledgeBase | None = None, config: IndexConfig | None = None,
            reporter: RecordingReporter | None = None) -> tuple[InstallPlan, InstallOutcome]:
    before = probe_interpreter(str(python))
    target = Target(**{**target.__dict__, "interpreter": before})
    builds = plan_builds(lock, target, cache_dir=cache, kb=kb)
    plan = build_plan(lock, before, mode="install", engine=pick_engine(before, engine), builds=builds,
                      files_dir=str(cache / "installs"))
    with IndexClient(IndexConfig(index_url=None, retries=0), cache_dir=cache) as files:
        outcome = execute(plan, runner=SubprocessRunner(), probe=probe_interpreter, files=files,
                          before=before, reporter=reporter, builder=builder_for(before, config))
    return plan, outcome


def builds_logged(marker: Path) -> int:
    log = Path(str(marker) + ".log")
    return len(log.read_text().splitlines()) if log.exists() else 0


@each_engine
def test_an_sdist_is_built_installed_and_the_second_environment_reuses_the_wheel(
    make_venv: MakeVenv, index_server: IndexServer, engine: EngineName, tmp_path: Path,
) -> None:
    marker = tmp_path / "tiny"
    sdist = make_sdist(tmp_path / "dist", "tiny-sdist", "1.0", marker)
    lock = Lock(packages=(serve(index_server, sdist, "tiny-sdist", "1.0"),))
    first, second = make_venv(name="first"), make_venv(name="second")
    cache = tmp_path / "cache"

    _, outcome = install(first, lock, plain_target(probe_interpreter(str(first))), engine, cache)

    assert run_python(first, "import tiny_sdist; print(tiny_sdist.BUILT_FROM)") == "sdist"
    assert builds_logged(marker) == 1
    # The build ran in the target's interpreter (a venv it made), never in jetpip's own.
    built_by = Path(str(marker) + ".log").read_text().split()[0]
    assert built_by != str(first) and "/env/bin/python" in built_by
    step = next(s for s in outcome.plan.steps if "tiny-sdist" in s.names)
    assert "--require-hashes" not in step.argv
    assert step.requirements[0].endswith("tiny_sdist-1.0-py3-none-any.whl")
    # The provenance record names the sdist the wheel was built from, and its hash.
    dist = next(d for d in probe_interpreter(str(first)).installed if d.name == "tiny-sdist")
    record = json.loads((Path(dist.location) / "direct_url.json").read_text())
    assert record["url"] == lock.packages[0].url
    assert record["archive_info"]["hashes"] == {"sha256": lock.packages[0].sha256}
    assert outcome.ok and outcome.origins == ["tiny-sdist"]
    built = {"name": "tiny-sdist", "sdist_sha256": lock.packages[0].sha256,
             "wheel": "tiny_sdist-1.0-py3-none-any.whl", "from_cache": False}
    assert outcome.to_json()["built"] == [built]

    rep = RecordingReporter()
    target = plain_target(probe_interpreter(str(second)))
    _, again = install(second, lock, target, engine, cache, reporter=rep)

    assert run_python(second, "import tiny_sdist; print(tiny_sdist.VERSION)") == "1.0"
    assert builds_logged(marker) == 1  # no second build
    assert any("taken from the build cache" in n for n in rep.notes)
    assert again.to_json()["built"] == [{**built, "from_cache": True}]


OLD_PYTHONS = {v: Path(f"/root/.pyenv/versions/{v}/bin/python") for v in ("3.6.15", "3.8.18")}


@pytest.mark.parametrize("version", sorted(OLD_PYTHONS))
@each_engine
def test_an_sdist_builds_and_installs_into_the_python_of_jetpack_4_and_5(
    index_server: IndexServer, engine: EngineName, version: str, tmp_path: Path,
) -> None:
    # JetPack 4 ships Python 3.6 (its venv's pip is 18.1), JetPack 5 ships 3.8.
    base = OLD_PYTHONS[version]
    if not base.exists():
        pytest.skip(f"no Python {version} on this machine")
    subprocess.run([str(base), "-m", "venv", str(tmp_path / "venv")], check=True, capture_output=True)
    python = tmp_path / "venv" / "bin" / "python"
    marker = tmp_path / "tiny"
    wheel = build_wheel(tmp_path / "wheels", WheelSpec("tiny-wheel", "2.0"))
    served = ServedFile.from_path(wheel.path)
    url = index_server.add("flat", "/wheels", [served]) + wheel.filename
    lock = Lock(packages=(
        serve(index_server, make_sdist(tmp_path / "dist", "tiny-sdist", "1.0", marker), "tiny-sdist", "1.0"),
        LockedPackage(name="tiny-wheel", version="2.0", url=url, filename=wheel.filename,
                      sha256=served.sha256),
    ))
    target = plain_target(probe_interpreter(str(python)))

    _, outcome = install(python, lock, target, engine, tmp_path / "cache")

    assert run_python(python, "import tiny_sdist; print(tiny_sdist.BUILT_FROM)") == "sdist"
    assert Path(str(marker) + ".log").read_text().split()[0].endswith("/env/bin/python")
    assert outcome.ok and outcome.to_json()["built"][0]["name"] == "tiny-sdist"
    # Provenance, also from the pip of 3.6, which writes no direct_url.json: RECORD tells.
    dist = probe_interpreter(str(python)).installed_by_name()["tiny-wheel"]
    assert json.loads((Path(dist.location) / "direct_url.json").read_text())["url"] == url
    assert {"tiny-wheel", "tiny-sdist"} <= set(outcome.origins)  # a built wheel's, too


def test_build_requirements_come_from_the_install_s_index(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    helper = build_wheel(tmp_path / "wheels", WheelSpec("tiny-helper", "2.0"))
    simple = index_server.add("simple", "/simple", [helper.path])
    marker = tmp_path / "needs"
    sdist = make_sdist(tmp_path / "dist", "needs-helper", "0.3", marker, requires=("tiny-helper>=2",),
                       modules=("tiny_helper",))
    lock = Lock(packages=(serve(index_server, sdist, "needs-helper", "0.3"),))
    python = make_venv()

    install(python, lock, plain_target(probe_interpreter(str(python))), "uv", tmp_path / "cache",
            config=IndexConfig(index_url=simple + "/"))

    assert run_python(python, "import needs_helper; print(needs_helper.BUILT_FROM)") == "sdist"
    assert index_server.requests(helper.filename)  # fetched from the loopback index for the build
    assert "tiny-helper" not in {d.name for d in probe_interpreter(str(python)).installed}


def test_a_failing_build_names_the_sdist_shows_its_output_and_installs_nothing(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    sdist = make_sdist(tmp_path / "dist", "broken-build", "0.1", tmp_path / "broken", fail=True)
    lock = Lock(packages=(serve(index_server, sdist, "broken-build", "0.1"),))
    python = make_venv()

    with pytest.raises(BuildError) as caught:
        install(python, lock, plain_target(probe_interpreter(str(python))), "uv", tmp_path / "cache")

    err = caught.value
    assert "broken_build-0.1.tar.gz" in err.message
    assert "cuda_runtime.h: No such file or directory" in err.message
    assert "nothing was installed" in err.message
    assert err.hint and "apt-get install" in err.hint and "--only-binary broken-build" in err.hint
    assert "broken-build" not in {d.name for d in probe_interpreter(str(python)).installed}
    assert not list((tmp_path / "cache" / "builds").rglob("*.whl"))  # a failure caches nothing


def test_the_recipe_environment_for_an_orin_follows_its_compute_capability_and_memory() -> None:
    kb = load_knowledge(None, {})
    recipe = kb.builds["llama-cpp-python"]
    target = orin_target(make_target().interpreter)

    env = build_environment(recipe, target)

    assert env.value("CUDA_HOME") == "/usr/local/cuda-12.6"  # the toolkit the version was read from
    assert env.value("CUDACXX") == "/usr/local/cuda-12.6/bin/nvcc"
    assert env.value("TORCH_CUDA_ARCH_LIST") == "8.7"
    cmake = (env.value("CMAKE_ARGS") or "").split()
    assert "-DGGML_CUDA=on" in cmake and "-DCMAKE_CUDA_ARCHITECTURES=87" in cmake
    jobs = max(1, min(recipe.max_jobs_cap, math.floor(7.4 / recipe.gib_per_job)))
    assert env.value("MAX_JOBS") == str(jobs)
    assert env.build_time == recipe.build_time["tegra234"]
    assert "/usr/local/cuda-12.6/bin" in env.path


def test_a_cross_target_gets_no_max_jobs_from_this_machine_s_memory() -> None:
    kb = load_knowledge(None, {})
    target = orin_target(make_target().interpreter)
    cross = Target(**{**target.__dict__, "device": Device(root="/", is_jetson=False,
                                                           memory_gib=Fact("512", "/proc/meminfo"))})

    env = build_environment(kb.builds["pycuda"], cross)

    assert env.value("MAX_JOBS") is None
    assert env.value("CUDA_HOME") == "/usr/local/cuda"
    assert env.value("CUDA_ROOT") == "/usr/local/cuda"  # {cuda_home} in the recipe's env


@each_engine
def test_the_build_sees_the_recipe_environment(
    make_venv: MakeVenv, index_server: IndexServer, engine: EngineName, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_JOBS", "1")  # the user's setting wins over the recipe's
    marker = tmp_path / "llama"
    sdist = make_sdist(tmp_path / "dist", "llama-cpp-python", "0.3.16", marker)
    lock = Lock(packages=(serve(index_server, sdist, "llama-cpp-python", "0.3.16"),))
    python = make_venv()
    kb = load_knowledge(None, {})
    rep = RecordingReporter()

    plan, _ = install(python, lock, orin_target(probe_interpreter(str(python))), engine, tmp_path / "cache",
                      kb=kb, reporter=rep)

    seen = json.loads(Path(str(marker) + ".env.json").read_text())
    assert seen["CUDA_HOME"] == "/usr/local/cuda-12.6"
    assert seen["CUDACXX"] == "/usr/local/cuda-12.6/bin/nvcc"
    assert seen["TORCH_CUDA_ARCH_LIST"] == "8.7"
    assert "-DGGML_CUDA=on" in seen["CMAKE_ARGS"] and "-DCMAKE_CUDA_ARCHITECTURES=87" in seen["CMAKE_ARGS"]
    recipe = plan.builds[0].recipe
    assert recipe is not None and seen["MAX_JOBS"] == "1" and recipe.value("MAX_JOBS") != "1"
    assert seen["CMAKE_BUILD_PARALLEL_LEVEL"] == "1"  # follows the user's limit, not the recipe's
    said = f"MAX_JOBS=1 from your environment, in place of the recipe's {recipe.value('MAX_JOBS')}"
    assert said in rep.notes
    assert "/usr/local/cuda-12.6/bin" in seen["PATH"].split(":")
    assert any("may take" in n and "15 to 40 minutes" in n for n in rep.notes)
    assert run_python(python, "import llama_cpp_python; print(llama_cpp_python.BUILT_FROM)") == "sdist"


def test_dry_run_shows_the_build_and_the_unhashed_line(make_venv: MakeVenv, tmp_path: Path) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    pkg = LockedPackage(name="llama-cpp-python", version="0.3.16", url="http://127.0.0.1:1/llama_cpp_python-0.3.16.tar.gz",
                        filename="llama_cpp_python-0.3.16.tar.gz", sha256="ab" * 32)
    lock = Lock(packages=(pkg,))
    builds = plan_builds(lock, orin_target(before), cache_dir=tmp_path, kb=load_knowledge(None, {}))

    text = build_plan(lock, before, engine=pick_engine(before, "uv"), builds=builds).render()

    assert ("build llama-cpp-python 0.3.16 from llama_cpp_python-0.3.16.tar.gz "
            "(recipe llama-cpp-python") in text
    assert "CMAKE_ARGS=-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=87" in text
    line = next(x for x in text.splitlines() if x.strip().startswith("llama-cpp-python @ file://"))
    assert "--hash" not in line and "ab" * 32 in line  # the cache entry, keyed by the sdist's hash


def test_no_build_refuses_every_sdist_of_the_lock(tmp_path: Path) -> None:
    pkg = LockedPackage(name="gym", version="0.26.2", url="http://127.0.0.1:1/gym-0.26.2.tar.gz",
                        filename="gym-0.26.2.tar.gz", sha256="cd" * 32)
    with pytest.raises(BuildError) as caught:
        plan_builds(Lock(packages=(pkg,)), make_target(), cache_dir=tmp_path, no_build=True)
    assert "--no-build" in caught.value.message and "gym-0.26.2.tar.gz" in caught.value.message
    assert caught.value.hint and "--only-binary" in caught.value.hint


def test_a_guarded_sdist_without_a_recipe_is_refused_with_the_source_build_hint(tmp_path: Path) -> None:
    kb = load_knowledge(None, {})
    target = make_target()
    route = kb.route_for(target)
    name = next(n for n in sorted(route.guarded) if n not in kb.builds)
    pkg = LockedPackage(name=name, version="1.0", url=f"http://127.0.0.1:1/{name}-1.0.tar.gz",
                        filename=f"{name}-1.0.tar.gz", sha256="ef" * 32, guarded=True)

    with pytest.raises(BuildError) as caught:
        plan_builds(Lock(packages=(pkg,)), target, cache_dir=tmp_path, kb=kb, route=route)

    assert "guarded CUDA package" in caught.value.message and "CPU variant" in caught.value.message
    assert caught.value.hint and f"of {name}" in caught.value.hint  # the hint jetpip hint prints


def test_a_guarded_sdist_with_a_recipe_is_refused_on_a_target_without_cuda(tmp_path: Path) -> None:
    kb = load_knowledge(None, {})
    pkg = LockedPackage(name="pycuda", version="2025.1", url="http://127.0.0.1:1/pycuda-2025.1.tar.gz",
                        filename="pycuda-2025.1.tar.gz", sha256="01" * 32, guarded=True)
    target = make_target(jetpack=None, platform="linux_x86_64")

    with pytest.raises(BuildError) as caught:
        plan_builds(Lock(packages=(pkg,)), target, cache_dir=tmp_path, kb=kb)

    assert "no CUDA toolkit" in caught.value.message


@pytest.mark.parametrize(("root", "capability", "arch"), [
    ("jp62-orin-nano-super-r36.4.3", "8.7", "87"),
    ("jp70-thor-r38.2", "11.0", "110"),
])
def test_the_recipe_environment_of_a_detected_device(root: str, capability: str, arch: str) -> None:
    from jetpip.device.detect import detect_device
    from jetpip.interpreter.probe import synthesize_interpreter
    from jetpip.model.target import TargetOverrides

    kb = load_knowledge(None, {})
    device = detect_device(Path(__file__).parents[1] / "fixtures" / "roots" / root)
    interpreter = synthesize_interpreter("3.10", "linux_aarch64", "2.35")
    target = kb.make_target(device, interpreter, TargetOverrides())
    recipe = kb.builds["llama-cpp-python"]

    env = build_environment(recipe, target)

    # The path on the device, never the fixture's: the build runs there.
    assert env.value("CUDA_HOME") == "/usr/local/cuda"
    assert target.compute_capability is not None and target.compute_capability.value == capability
    assert env.value("TORCH_CUDA_ARCH_LIST") == capability
    assert f"-DCMAKE_CUDA_ARCHITECTURES={arch}" in (env.value("CMAKE_ARGS") or "")
    assert target.device.memory_gib is not None
    memory = float(target.device.memory_gib.value)
    jobs = max(1, min(recipe.max_jobs_cap, math.floor(memory / recipe.gib_per_job)))
    assert env.value("MAX_JOBS") == str(jobs)


def test_the_build_environment_made_without_uv_installs_build_requirements_with_pip(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    helper = build_wheel(tmp_path / "wheels", WheelSpec("tiny-helper", "2.0"))
    simple = index_server.add("simple", "/simple", [helper.path])
    sdist = make_sdist(tmp_path / "dist", "needs-helper", "0.3", tmp_path / "needs",
                       requires=("tiny-helper",), modules=("tiny_helper",))
    pkg = serve(index_server, sdist, "needs-helper", "0.3")
    python = make_venv()
    before = probe_interpreter(str(python))
    build = plan_builds(Lock(packages=(pkg,)), plain_target(before), cache_dir=tmp_path / "cache")[0]

    wheel = WheelBuilder(before, IndexConfig(index_url=simple + "/"), uv=None).build(build, sdist)

    assert wheel.name == "needs_helper-0.3-py3-none-any.whl" and wheel.parent == Path(build.wheel_dir)
    assert index_server.requests(helper.filename)


@pytest.mark.parametrize("engine", ENGINES)
def test_sync_of_a_lock_with_an_sdist_builds_it_and_no_build_refuses_it(
    make_venv: MakeVenv, index_server: IndexServer, engine: EngineName, tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from jetpip.cli import cli
    from jetpip.lock.pylock import write_lock

    helper = build_wheel(tmp_path / "wheels", WheelSpec("tiny-helper", "2.0"))
    simple = index_server.add("simple", "/simple", [helper.path])
    marker = tmp_path / "synced"
    sdist = make_sdist(tmp_path / "dist", "needs-helper", "0.3", marker, requires=("tiny-helper",),
                       modules=("tiny_helper",))
    lockfile = tmp_path / "pylock.toml"
    write_lock(Lock(packages=(serve(index_server, sdist, "needs-helper", "0.3"),)), lockfile)
    python = make_venv()
    args = ["sync", str(lockfile), "--python", str(python), "--index-url", simple + "/",
            "--installer", engine]

    refused = CliRunner().invoke(cli, [*args, "--no-build"])
    assert refused.exit_code == 5, refused.output
    assert "--no-build" in refused.output and "needs_helper-0.3.tar.gz" in refused.output
    planned = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert planned.exit_code == 0, planned.output
    assert "build needs-helper 0.3 from needs_helper-0.3.tar.gz (no recipe)" in planned.output
    assert builds_logged(marker) == 0  # neither the refusal nor the dry run built anything

    synced = CliRunner().invoke(cli, args)

    assert synced.exit_code == 0, synced.output
    assert "build needs-helper 0.3" in synced.output
    assert builds_logged(marker) == 1
    assert run_python(python, "import needs_helper; print(needs_helper.BUILT_FROM)") == "sdist"


def test_a_torch_extension_builds_against_the_target_s_cuda_torch_never_an_index_one(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    python = make_venv()
    torch = build_wheel(tmp_path / "wheels", WheelSpec("torch", "2.8.0", build="jetson"))
    pip_install(python, "--no-deps", str(torch.path))
    marker = tmp_path / "fa"
    sdist = make_sdist(tmp_path / "dist", "flash-attn", "2.8.3", marker, requires=("torch",),
                       modules=("torch",))
    pkg = serve(index_server, sdist, "flash-attn", "2.8.3", guarded=True)
    before = probe_interpreter(str(python))
    kb = load_knowledge(None, {})
    build = plan_builds(Lock(packages=(pkg,)), orin_target(before), cache_dir=tmp_path / "cache", kb=kb)[0]
    assert build.recipe is not None and build.recipe.target_site

    # No index at all: a torch asked of one would fail the build.
    wheel = builder_for(before, guarded=("torch",)).build(build, sdist)

    assert wheel.name.startswith("flash_attn-2.8.3-")
    assert json.loads(Path(str(marker) + ".imports.json").read_text()) == {"torch": "jetson"}


def test_a_build_that_needs_a_guarded_name_without_target_site_stops(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    sdist = make_sdist(tmp_path / "dist", "tiny-ext", "0.1", tmp_path / "ext", requires=("torch>=2",))
    pkg = serve(index_server, sdist, "tiny-ext", "0.1")
    python = make_venv()
    before = probe_interpreter(str(python))
    build = plan_builds(Lock(packages=(pkg,)), plain_target(before), cache_dir=tmp_path / "cache")[0]

    with pytest.raises(BuildError) as caught:
        builder_for(before, guarded=("torch",)).build(build, sdist)

    assert "needs torch in its build environment" in caught.value.message
    hint = caught.value.hint or ""
    assert "[builds.tiny-ext]" in hint and "target_site = true" in hint
