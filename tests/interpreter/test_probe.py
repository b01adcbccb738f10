"""The interpreter probe, run for real inside old and new Pythons and venvs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.tags import platform_tags as host_platform_tags

from jetpip._probes import interpreter_facts as _probe
from jetpip.errors import InterpreterError, UsageError
from jetpip.interpreter.launch import PROBES_DIR, probe_argv
from jetpip.interpreter.probe import (
    find_target_python,
    interpreter_from_probe,
    platform_tags,
    probe_interpreter,
    rescan,
    synthesize_interpreter,
)
from tests.support.wheels import host_python_tag

PYENV = Path("/root/.pyenv/versions")
TARGETS = {v: PYENV / v / "bin" / "python" for v in ("3.6.15", "3.8.18", "3.10.13")}


def _run(python: str | Path, code: str) -> str:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _target(version: str) -> Path:
    exe = TARGETS[version]
    if not exe.exists():
        pytest.skip(f"no Python {version} on this machine")
    return exe


# --- the probe inside real interpreters --------------------------------------------------------


@pytest.mark.parametrize("version", sorted(TARGETS))
def test_probe_in_real_interpreters(version: str) -> None:
    exe = _target(version)
    interp = probe_interpreter(str(exe))
    major_minor = ".".join(version.split(".")[:2])
    assert interp.version == version
    assert interp.python_version == major_minor
    assert interp.implementation == "cpython"
    assert interp.abi == ("cp36m" if version.startswith("3.6") else f"cp{major_minor.replace('.', '')}")
    assert not interp.is_venv and not interp.externally_managed
    # the marker environment is PEP 508's: the target's own pip computes the same one
    pips_env = json.loads(_run(exe, (
        "import json; from pip._vendor.packaging.markers import default_environment as d; "
        "print(json.dumps(d()))"
    )))
    assert {k: interp.markers[k] for k in pips_env} == pips_env
    # pip's version and default index are what the target's pip itself says
    assert interp.pip_version == _run(exe, "import pip; print(pip.__version__)")
    assert interp.pip_default_index == _run(
        exe, "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
    )
    assert interp.glibc == _run(exe, "import os; print(os.confstr('CS_GNU_LIBC_VERSION').split()[1])")
    names = interp.installed_by_name()
    assert names["pip"].version == interp.pip_version
    assert names["pip"].location.endswith(".dist-info")
    assert interp.platforms[-1] == f"linux_{interp.markers['platform_machine']}"


def test_probe_in_the_dev_venv_reads_dist_info_details() -> None:
    interp = probe_interpreter(sys.executable)
    assert interp.is_venv
    assert interp.abi == host_python_tag()
    assert interp.prefix == sys.prefix and interp.base_prefix == sys.base_prefix
    packaging = interp.installed_by_name()["packaging"]
    import packaging as pkg

    assert packaging.version == pkg.__version__
    assert any(r.startswith("pytest") for r in interp.installed_by_name()["jetpip"].requires)
    assert packaging.wheel_tags == ("py3-none-any",)
    assert packaging.installer is not None
    # the editable install of this checkout records where it came from
    jetpip_dist = interp.installed_by_name()["jetpip"]
    assert jetpip_dist.direct_url is not None and jetpip_dist.direct_url.startswith("file://")


def test_probe_reads_pip_s_facts_without_importing_pip() -> None:
    # What keeps the probe quick on a small board: pip's own import (0.4 s with JetPack 4's pip)
    # never runs; the version and the default index are read from two of pip's files.
    exe = TARGETS["3.10.13"] if TARGETS["3.10.13"].exists() else Path(sys.executable)
    venv_pip = _run(exe, "import pip; print(pip.__version__)")
    run = subprocess.run([str(exe), "-X", "importtime", *probe_argv(str(exe), "interpreter_facts")[1:]],
                         capture_output=True, text=True, check=True)
    imported = [line.split("|")[-1].strip() for line in run.stderr.splitlines() if "|" in line]
    assert imported and not [m for m in imported if m == "pip" or m.startswith("pip.")]
    facts = json.loads(run.stdout.strip().splitlines()[-1])
    assert facts["pip_version"] == venv_pip and facts["pip_default_index"].startswith("https://")


def test_probe_folder_shadows_nothing_the_target_imports() -> None:
    # A probe runs as a script, so its folder heads sys.path in the target: that folder must hold
    # only probes, or a jetpip module could shadow the target's own package of the same name.
    entries = {p.name for p in PROBES_DIR.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "interpreter_facts.py", "doctor_facts.py"}
    out = subprocess.run(
        probe_argv(sys.executable, "interpreter_facts"), capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    import pip

    assert data["pip_version"] == pip.__version__


# --- venvs ---------------------------------------------------------------------------------------


def _venv(base: Path, where: Path, *flags: str) -> Path:
    subprocess.run([str(base), "-m", "venv", "--without-pip", *flags, str(where)], check=True)
    return where / "bin" / "python"


def test_venv_without_system_site_packages(tmp_path: Path) -> None:
    base = _target("3.10.13")
    exe = _venv(base, tmp_path / "venv")
    interp = probe_interpreter(str(exe))
    assert interp.is_venv and not interp.system_site_packages
    assert interp.prefix == str(tmp_path / "venv")
    assert interp.base_prefix == str(PYENV / "3.10.13")
    assert interp.pip_version is None and interp.pip_default_index is None
    assert "pip" not in interp.installed_by_name()
    assert any(p.startswith(str(tmp_path / "venv")) for p in interp.site_packages)


def test_venv_with_system_site_packages_marks_base_dists(tmp_path: Path, make_wheel) -> None:  # type: ignore[no-untyped-def]
    base = _target("3.10.13")
    exe = _venv(base, tmp_path / "venv", "--system-site-packages")
    wheel = make_wheel("jetson-demo", "1.2.3", requires=["numpy<2"])
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(exe), "install", "--no-index", "--no-deps", "-q",
         str(wheel.path)],
        check=True,
    )
    interp = probe_interpreter(str(exe))
    assert interp.is_venv and interp.system_site_packages
    names = interp.installed_by_name()
    demo = names["jetson-demo"]
    assert demo.version == "1.2.3" and demo.requires == ("numpy<2",)
    assert demo.installer == "pip" and not demo.in_system_site
    assert demo.wheel_tags == ("py3-none-any",)
    # pip lives in the base interpreter's site-packages, seen through the venv
    assert names["pip"].in_system_site
    assert interp.pip_version == _run(base, "import pip; print(pip.__version__)")


def test_rescan_after_an_install_reads_what_a_new_probe_reads(tmp_path: Path, make_wheel) -> None:  # type: ignore[no-untyped-def]
    # The driver reads the environment again after its steps without starting the interpreter.
    base = _target("3.10.13")
    exe = _venv(base, tmp_path / "venv", "--system-site-packages")
    before = probe_interpreter(str(exe))
    assert "jetson-demo" not in before.installed_by_name()
    wheel = make_wheel("jetson-demo", "1.2.3", requires=["numpy<2"])
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(exe), "install", "--no-index", "--no-deps", "-q",
         str(wheel.path)],
        check=True,
    )

    again = rescan(before)

    assert again is not None and again.installed_by_name()["jetson-demo"].version == "1.2.3"
    assert sorted(again.installed, key=repr) == sorted(probe_interpreter(str(exe)).installed, key=repr)
    assert rescan(synthesize_interpreter("3.10", "linux_aarch64", "2.35")) is None


def test_externally_managed_marker_outside_a_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A private stdlib dir made of links to a real one, plus the PEP 668 marker; PYTHONHOME
    # points the interpreter at it, so nothing shared is touched.
    real = PYENV / "3.12.1"
    if not (real / "bin" / "python").exists():
        pytest.skip("no Python 3.12 on this machine")
    stdlib = tmp_path / "lib" / "python3.12"
    stdlib.mkdir(parents=True)
    for entry in (real / "lib" / "python3.12").iterdir():
        (stdlib / entry.name).symlink_to(entry)
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use a venv\n")
    monkeypatch.setenv("PYTHONHOME", str(tmp_path))
    interp = probe_interpreter(str(real / "bin" / "python"))
    assert interp.externally_managed and not interp.is_venv
    monkeypatch.delenv("PYTHONHOME")
    assert not probe_interpreter(str(real / "bin" / "python")).externally_managed


def test_externally_managed_rule() -> None:
    assert _probe.is_externally_managed(True, False)
    assert not _probe.is_externally_managed(True, True)  # a venv is never externally managed
    assert not _probe.is_externally_managed(False, False)


# --- failures --------------------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fakepython"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_probe_crash_reports_stderr(tmp_path: Path) -> None:
    exe = _script(tmp_path, "echo 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    with pytest.raises(InterpreterError) as info:
        probe_interpreter(exe)
    assert "probe failed (exit 1)" in str(info.value)
    assert "Fatal Python error: init_fs_encoding" in str(info.value)
    assert info.value.hint and exe in info.value.hint


def test_probe_bad_json(tmp_path: Path) -> None:
    exe = _script(tmp_path, "echo 'Welcome from sitecustomize'\n")
    with pytest.raises(InterpreterError, match="printed no facts") as info:
        probe_interpreter(exe)
    assert info.value.hint and "stdout" in info.value.hint


def test_probe_timeout(tmp_path: Path) -> None:
    exe = _script(tmp_path, "exec sleep 5\n")
    with pytest.raises(InterpreterError, match="did not finish"):
        probe_interpreter(exe, timeout=0.3)


def test_probe_not_executable(tmp_path: Path) -> None:
    path = tmp_path / "python"
    path.write_text("")
    with pytest.raises(InterpreterError, match="cannot run it"):
        probe_interpreter(str(path))


def test_probe_answer_without_version() -> None:
    with pytest.raises(InterpreterError, match="no usable version"):
        interpreter_from_probe({"implementation": "cpython", "machine": "aarch64"}, "/x/python")
    with pytest.raises(InterpreterError, match="lacks implementation"):
        interpreter_from_probe({"version": "3.10.12"}, "/x/python")


# --- finding the interpreter -------------------------------------------------------------------


def test_find_explicit_python(tmp_path: Path) -> None:
    assert find_target_python(sys.executable, {}) == sys.executable
    venv_dir = Path(sys.prefix)
    assert find_target_python(str(venv_dir), {}).startswith(str(venv_dir / "bin"))
    with pytest.raises(InterpreterError, match="no such file") as info:
        find_target_python(str(tmp_path / "nope" / "python"), {})
    assert info.value.hint
    with pytest.raises(InterpreterError, match="not found on PATH"):
        find_target_python("python9.9", {"PATH": str(tmp_path)})
    with pytest.raises(InterpreterError, match="no bin/python"):
        find_target_python(str(tmp_path), {})


def test_find_prefers_active_venv(tmp_path: Path) -> None:
    env = {"VIRTUAL_ENV": sys.prefix, "PATH": str(tmp_path)}
    assert find_target_python(None, env) == str(Path(sys.prefix) / "bin" / "python")
    with pytest.raises(InterpreterError, match="VIRTUAL_ENV is set") as info:
        find_target_python(None, {"VIRTUAL_ENV": str(tmp_path / "gone")})
    assert info.value.hint and "recreate" in info.value.hint


def test_find_python3_on_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    assert find_target_python(None, {"PATH": str(bindir)}) == str(bindir / "python3")
    with pytest.raises(InterpreterError, match="no python3 on PATH") as info:
        find_target_python(None, {"PATH": str(tmp_path / "empty")})
    assert info.value.hint and "--python-version" in info.value.hint


# --- platform tags and cross targets -----------------------------------------------------------


def test_platform_tags_match_packaging_on_this_machine() -> None:
    probe = probe_interpreter(sys.executable)
    ours = platform_tags(probe.markers["platform_machine"], probe.glibc)
    theirs = [t for t in host_platform_tags() if not t.startswith("musllinux")]
    assert set(ours) == set(theirs)
    # manylinux in the same order; linux_* last, as pip ranks it
    assert [t for t in ours if t.startswith("manylinux")] == [
        t for t in theirs if t.startswith("manylinux")
    ]
    assert ours[-1].startswith("linux_")


def test_platform_tags_aarch64() -> None:
    tags = platform_tags("aarch64", "2.35")
    assert tags[0] == "manylinux_2_35_aarch64"
    assert tags[-3:] == ("manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64")
    assert len(tags) == 35 - 17 + 1 + 2
    assert platform_tags("aarch64", None) == ("linux_aarch64",)
    assert platform_tags("aarch64", "garbage") == ("linux_aarch64",)


def test_synthesize_cross_target() -> None:
    interp = synthesize_interpreter("3.10", "linux_aarch64", "2.35")
    assert interp.executable is None
    assert interp.abi == "cp310" and interp.python_version == "3.10"
    assert interp.markers["platform_machine"] == "aarch64"
    assert interp.markers["sys_platform"] == "linux"
    assert interp.markers["python_full_version"] == "3.10.0"
    tags = [str(t) for t in interp.tags()]
    assert tags[0] == "cp310-cp310-manylinux_2_35_aarch64"
    assert "cp310-cp310-linux_aarch64" in tags
    assert "py3-none-any" in tags
    assert not any("x86_64" in t for t in tags)
    assert synthesize_interpreter("3.6", "linux_aarch64", "2.27").abi == "cp36m"
    assert synthesize_interpreter("3.12.3", "manylinux_2_39_aarch64", None).glibc == "2.39"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("three", "linux_aarch64", "2.35"), "not a Python version"),
        (("2.7", "linux_aarch64", "2.35"), "too old"),
        (("3.10", "win_amd64", None), "not a Linux platform tag"),
        (("3.10", "linux_aarch64", "glibc-2.35"), "not a glibc version"),
    ],
)
def test_synthesize_rejects_bad_flags(args: tuple[str, str, str | None], message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        synthesize_interpreter(*args)
    assert info.value.hint
