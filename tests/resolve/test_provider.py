"""The guarded resolver against a real loopback index: data-driven cases plus the policies one by one."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from jetpip.errors import (
    ConflictError,
    GuardedWheelMissingError,
    NoCandidateError,
    ResolutionError,
    UsageError,
)
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.lock.pylock import dump_lock, fill_hashes, lock_from_resolution, parse_lock
from jetpip.model.links import FileLink
from jetpip.model.sources import Route, Source
from jetpip.model.target import Target
from jetpip.model.urls import Url
from jetpip.report import RecordingReporter
from jetpip.resolve.finder import Candidate
from jetpip.resolve.provider import (
    Resolution,
    marker_environment,
    read_requirements,
    resolve,
    specifier_accepts,
)
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target
from tests.support.wheels import WheelSpec, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

CASES = Path(__file__).parent / "cases"
ERRORS: dict[str, type[ResolutionError]] = {
    "ConflictError": ConflictError, "NoCandidateError": NoCandidateError,
    "GuardedWheelMissingError": GuardedWheelMissingError,
}


class Case:
    """One tests/resolve/cases/*.toml file served by a loopback index and resolved."""

    def __init__(self, path: Path, server: IndexServer, tmp: Path, form: str | None = None) -> None:
        self.data: dict[str, Any] = tomllib.loads(path.read_text())
        if form is not None:  # serve the route's CUDA sources in another index form
            for name in self.data["route"].get("sources", []):
                self.data["mounts"][name]["kind"] = form
                self.data["mounts"][name]["trusted"] = form == "flat"  # flat pages carry no hashes
        self.server = server
        self.tmp = tmp
        mounts: dict[str, list[ServedFile]] = {m: [] for m in self.data["mounts"]}
        for w in self.data.get("wheels", []):
            for mount in ([w["mount"]] if isinstance(w["mount"], str) else w["mount"]):
                spec = WheelSpec(
                    name=w["name"], version=w["version"], tag=w.get("tag", "py3-none-any"),
                    requires=w.get("requires", ()), extras=w.get("extras", {}),
                    requires_python=w.get("metadata_requires_python"),
                    build=w.get("build", "jetson" if mount in self.data["route"].get("sources", [])
                                else "pypi"),
                    filename_version=w.get("filename_version"),
                )
                built = build_wheel(tmp / "wheels" / mount, spec)
                mounts[mount].append(ServedFile.from_path(
                    built.path, yanked=w.get("yanked"), requires_python=w.get("requires_python"),
                ))
        self.sources: dict[str, Source] = {}
        for name, m in self.data["mounts"].items():
            url = server.add(m["kind"], m["prefix"], mounts[name])
            self.sources[name] = Source(
                name=name, kind=m["kind"], url=Url.parse(url), platforms=tuple(m.get("platforms", ())),
                trusted=m.get("trusted", False),
            )
        r = self.data["route"]
        self.route = Route(
            key=r.get("key", "test-route"), summary="test route",
            sources=tuple(self.sources[s] for s in r.get("sources", [])),
            guarded=frozenset(r.get("guarded", [])), substitutions=r.get("substitutions", {}),
            constraints=tuple(r.get("constraints", [])), companions=r.get("companions", {}),
            stable_abi=r.get("stable_abi", {}),
        )
        t = self.data.get("target", {})
        self.target = make_target(t.get("python", "3.10"), t.get("platform", "linux_aarch64"),
                                  t.get("jetpack", "6.2"))
        self.base = [self.sources[s] for s in self.data.get("base_sources", ["base"])]
        self.reporter = RecordingReporter()

    def resolve(self) -> Resolution:
        with IndexClient(IndexConfig(index_url=None), cache_dir=self.tmp / "cache") as client:
            return resolve(
                self.data["requirements"], target=self.target, route=self.route, client=client,
                base_sources=self.base, constraints=self.data.get("constraints", []),
                reporter=self.reporter,
            )

    def lock_text(self, res: Resolution) -> str:
        """The pylock.toml that `jetpip lock` writes for ``res`` (each file downloaded and hashed)."""
        links = {p.name: p.link for p in res.pins}
        with IndexClient(IndexConfig(index_url=None), cache_dir=self.tmp / "cache") as client:
            locked = fill_hashes(lock_from_resolution(res),
                                 lambda pkg: client.download(links[pkg.name], self.tmp / "files"))
        return dump_lock(locked)


def _case_forms() -> list[Any]:
    """Every case as written; a case with pins from CUDA sources also with them in each index form."""
    out: list[Any] = []
    for path in sorted(CASES.glob("*.toml")):
        out.append(pytest.param(path, None, id=path.stem))
        data = tomllib.loads(path.read_text())
        if "error" in data["expect"] or not data["route"].get("sources"):
            continue
        written = {data["mounts"][n]["kind"] for n in data["route"]["sources"]}
        for form in ("simple", "devpi", "flat"):
            if {form} != written:
                out.append(pytest.param(path, form, id=f"{path.stem}-as-{form}"))
    return out


@pytest.mark.parametrize(("path", "form"), _case_forms())
def test_case(path: Path, form: str | None, index_server: IndexServer, tmp_path: Path) -> None:
    case = Case(path, index_server, tmp_path, form)
    expect = case.data["expect"]
    if "error" in expect:
        with pytest.raises(ERRORS[expect["error"]]) as info:
            case.resolve()
        text = str(info.value) + "\nhint: " + (info.value.hint or "")
        for fragment in expect.get("message", []):
            assert fragment in text, text
        return
    res = case.resolve()
    pins = {p.name: p for p in res.pins}
    assert {n: p.version for n, p in pins.items()} == expect["pins"]
    for name, source in expect.get("sources", {}).items():
        assert pins[name].source.name == source
    for name, filename in expect.get("files", {}).items():
        assert pins[name].link.filename == filename
    for name in expect.get("guarded", []):
        assert pins[name].guarded
    for fragment in expect.get("notes", []):
        assert any(fragment in n for n in res.notes), res.notes
    if expect.get("no_notes"):
        assert res.notes == ()
    for fragment in expect.get("notes", []):
        assert any(fragment in n for n in case.reporter.notes)
    # What `jetpip lock` would write for the case: packaging validates it, and it reads back exactly.
    text = case.lock_text(res)
    doc = tomllib.loads(text)
    Pylock.from_dict(doc)
    assert {p["name"]: p["version"] for p in doc["packages"]} == expect["pins"]
    for name, filename in expect.get("files", {}).items():
        (wheel,) = next(p for p in doc["packages"] if p["name"] == name)["wheels"]
        assert wheel["name"] == filename and len(wheel["hashes"]["sha256"]) == 64
    assert dump_lock(parse_lock(text)) == text


# -- the policies, one by one ---------------------------------------------------------


def _cand(version: str, guarded: bool = True) -> Candidate:
    src = Source("jetson", "devpi", Url.parse("http://127.0.0.1:1/jp6/cu126"), platforms=("linux_aarch64",))
    fname = f"torch-{version}-cp310-cp310-linux_aarch64.whl"
    link = FileLink(fname, Url(f"http://127.0.0.1:1/{fname}"), src, {"sha256": "0" * 64})
    return Candidate("torch", Version(version), link, src, guarded, 0)


@pytest.mark.parametrize(
    ("spec", "version", "guarded", "expected"),
    [
        (">=2.1", "2.1.0a0+41361538.nv23.06", True, (True, True)),  # counts as 2.1.0
        ("==2.1.0", "2.1.0a0+41361538.nv23.06", True, (True, True)),
        (">=2.1", "2.1.0a0+41361538.nv23.06", False, (False, False)),  # only guarded builds
        ("<2.1", "2.1.0a0+41361538.nv23.06", True, (False, False)),
        (">=2.2", "2.1.0a0+41361538.nv23.06", True, (False, False)),
        ("==2.1.0a0+41361538.nv23.06", "2.1.0a0+41361538.nv23.06", True, (True, False)),
        ("==2.8.0", "2.8.0+cu126", True, (True, False)),  # local labels ignored (PEP 440)
        (">=2.9.0", "2.9.0.dev20250827+cu130.g378edb0", True, (True, True)),
        ("", "2.1.0a0+41361538.nv23.06", True, (True, False)),
    ],
)
def test_prerelease_policy(spec: str, version: str, guarded: bool, expected: tuple[bool, bool]) -> None:
    assert specifier_accepts(SpecifierSet(spec), _cand(version, guarded)) == expected


def test_marker_environment_is_the_targets_never_the_hosts() -> None:
    env = marker_environment(make_target("3.8", "linux_aarch64", "5.1.2"))
    assert env["platform_machine"] == "aarch64"
    assert env["python_version"] == "3.8" and env["python_full_version"] == "3.8.0"
    assert env["sys_platform"] == "linux"
    bare = make_target("3.10", "linux_aarch64")
    bare = Target(device=bare.device, interpreter=replace(bare.interpreter, markers={}), machine="aarch64")
    env = marker_environment(bare)  # a synthesised Target without markers still gets a full environment
    assert env["platform_machine"] == "aarch64" and env["python_version"] == "3.10"


def test_requirement_errors_name_the_input() -> None:
    target = make_target()
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    with IndexClient(IndexConfig(index_url=None)) as client:
        with pytest.raises(UsageError, match="cannot read the requirement 'torch>=>2'"):
            resolve(["torch>=>2"], target=target, route=route, client=client, base_sources=[])
        with pytest.raises(UsageError, match="nothing to resolve"):
            resolve([], target=target, route=route, client=client, base_sources=[])


def test_requirements_read_from_a_file_skip_markers_for_other_targets(
    index_server: IndexServer, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "w", WheelSpec(name="six", version="1.17.0"))
    url = index_server.add("simple", "/simple", [ServedFile.from_path(wheel.path)])
    reqs = tmp_path / "requirements.txt"
    reqs.write_text('six\nwinonly ; sys_platform == "win32"\n')
    lines, _ = read_requirements(reqs)
    base = Source("base index", "simple", Url.parse(url))
    with IndexClient(IndexConfig(index_url=url), cache_dir=tmp_path / "c") as client:
        res = resolve(lines, target=make_target(), route=Route(key="r", summary="", sources=(),
                      guarded=frozenset()), client=client, base_sources=[base])
    assert [p.name for p in res.pins] == ["six"]
    assert res.pins[0].requested and res.pins[0].source.name == "base index"
