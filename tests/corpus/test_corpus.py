"""The corpus: real projects' requirements, locked for JetPack 6.2 and 7.0 from a record of the real pages.

Each case is locked with jetpip's library from tests/corpus/data/ (bench/corpus.py recorded it), served
on 127.0.0.1 with stand-in CUDA builds on the route's Jetson index. Three promises are checked per lock:
the set is the one uv resolved from the same pages; every name the Jetson index carries comes from it;
no name the user asked for is locked below the newest version that fits without a warning that says why.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from bench.mirror import MirrorServer
from jetpip.interpreter.probe import synthesize_interpreter
from tests.support.corpus import (
    TARGETS,
    Case,
    CorpusTarget,
    Project,
    carried,
    file_version,
    load_cases,
    load_expected,
    load_projects,
)
from tests.support.corpus_lock import Locked, lock_case
from tests.support.corpus_server import target_mirrors

CASES = load_cases()
EXPECTED = load_expected()
PROJECTS = load_projects()
SUBSTITUTES = {"onnxruntime": "onnxruntime-gpu"}  # indexes.toml [substitutions]

Lock = Callable[[Case, str], Locked]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[MirrorServer, Path]]]:
    """One mirror per target, started once for the module."""
    with target_mirrors(tmp_path_factory, PROJECTS.values(), "corpus") as out:
        yield out


@pytest.fixture(scope="module")
def locked(served: dict[str, tuple[MirrorServer, Path]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lock]:
    """Each case locked once per target; the three checks share the lock. One jetpip cache serves the
    module (no check here is about a cold cache)."""
    done: dict[tuple[str, str], Locked] = {}
    cache = tmp_path_factory.mktemp("corpus-cache")

    def lock(case: Case, key: str) -> Locked:
        if (case.name, key) not in done:
            server, overlay = served[key]
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("JETPIP_CACHE_DIR", str(cache))
                done[case.name, key] = lock_case(case, TARGETS[key], f"{server.url}/simple/", overlay,
                                                 tmp_path_factory.mktemp("reqs"))
        return done[case.name, key]

    yield lock


PARAMS = [pytest.param(case, key, id=f"{case.name}-{key}") for case in CASES for key in TARGETS]


def test_the_corpus_covers_at_least_fifteen_projects_recorded_for_both_targets() -> None:
    assert len(CASES) >= 15
    for case in CASES:
        assert set(EXPECTED.get(case.name, {})) == set(TARGETS), f"{case.name}: not recorded for every target"


@pytest.mark.parametrize(("case", "key"), PARAMS)
def test_the_locked_set_is_the_recorded_resolution(case: Case, key: str, locked: Lock) -> None:
    """The set is uv's, or, where two resolvers may choose differently, an equally valid one.

    A closure can have more than one answer. Where jetpip's differs from uv's, the names the user
    asked for must still get uv's versions, and every locked package's requirements (from the
    recorded metadata, markers evaluated for the target) must be met by the lock itself.
    """
    got = locked(case, key)
    assert got.error is None, f"{case.name} on {key} did not lock:\n{got.error}"
    expected = EXPECTED[case.name][key]
    assert expected is not None, f"the recorder's resolver found no solution for {case.name} on {key}"
    missing = {n: v for n, v in expected.items() if got.pins.get(n) != v}
    extra = {n: v for n, v in got.pins.items() if n not in expected}
    if not missing and not extra:
        return
    differs = f"{case.name} on {key}: {{name: (recorded, locked)}}: " + str(
        {n: (v, got.pins.get(n)) for n, v in missing.items()}) + f"; locked, not recorded: {extra}"
    for line in case.lines:
        asked = canonicalize_name(Requirement(line).name)
        name = SUBSTITUTES.get(asked, asked)
        assert got.pins.get(name) == expected.get(name), f"a requested package differs: {differs}"
    unmet = unmet_requirements(got, TARGETS[key])
    assert not unmet, f"the lock differs from the record and is not consistent: {unmet}; {differs}"


def unmet_requirements(got: Locked, target: CorpusTarget) -> list[str]:
    """Each locked package's Requires-Dist (and those of the extras asked of it) not met by the lock."""
    env = {"python_version": target.python, "python_full_version": f"{target.python}.0", "os_name": "posix",
           "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    metadata = {}
    for name, url in got.urls.items():
        project = PROJECTS.get(name)
        filename = url.rsplit("/", 1)[-1]
        text = project.build_result(filename) if project is not None else None
        if text is not None:  # the stand-in CUDA builds have no record
            metadata[name] = [v for k, v in email.message_from_string(text).items() if k == "Requires-Dist"]
    extras: dict[str, set[str]] = {n: {""} for n in got.pins}
    for line in (*(Requirement(r) for r in got.requested),):
        extras.setdefault(canonicalize_name(line.name), {""}).update(line.extras)
    unmet: list[str] = []
    for _ in range(3):  # extras asked by one package add requirements to another
        unmet = []
        for name, texts in metadata.items():
            for text in texts:
                req = Requirement(text)
                if not any(req.marker is None or req.marker.evaluate({**env, "extra": e})
                           for e in extras[name]):
                    continue
                dep = SUBSTITUTES.get(canonicalize_name(req.name), canonicalize_name(req.name))
                extras.setdefault(dep, {""}).update(req.extras)
                version = got.pins.get(dep)
                if version is None or not req.specifier.contains(version, prereleases=True):
                    unmet.append(f"{name} {got.pins[name]} requires {text} (locked: {version})")
    return unmet


@pytest.mark.parametrize(("case", "key"), PARAMS)
def test_every_name_the_jetson_index_carries_comes_from_it(case: Case, key: str, locked: Lock) -> None:
    got = locked(case, key)
    assert got.error is None, f"{case.name} on {key} did not lock:\n{got.error}"
    target = TARGETS[key]
    jetson_files = f"{target.jetson_prefix}/+f/"
    for name, version in carried(target).items():
        if name in got.pins:
            assert jetson_files in got.urls[name], f"{name} came from {got.urls[name]}, not the Jetson index"
            assert got.pins[name] == version
    for name in set(SUBSTITUTES) & set(got.pins):
        pytest.fail(f"{name} was locked from the base index; the route substitutes {SUBSTITUTES[name]}")
    for name, url in got.urls.items():
        if name not in carried(target):
            assert jetson_files not in url, f"{name} came from the Jetson index, which does not carry it"


@pytest.mark.parametrize(("case", "key"), PARAMS)
def test_no_requested_package_is_silently_downgraded(case: Case, key: str, locked: Lock) -> None:
    got = locked(case, key)
    assert got.error is None, f"{case.name} on {key} did not lock:\n{got.error}"
    target = TARGETS[key]
    for line in case.lines:
        req = Requirement(line)
        name = SUBSTITUTES.get(canonicalize_name(req.name), canonicalize_name(req.name))
        newest = newest_fitting(name, req.specifier, target)
        locked_version = Version(got.pins[name])
        if newest is not None and locked_version < newest:
            said = [w for w in got.warnings if name in w.lower() or req.name.lower() in w.lower()]
            assert said, (f"{case.name} on {key}: {name} locked at {locked_version}, below {newest} "
                          f"(the newest that fits {target.key}), and no warning says why; "
                          f"warnings: {got.warnings}")


def newest_fitting(name: str, spec: SpecifierSet, target: CorpusTarget) -> Version | None:
    """The newest version of ``name`` with a file this target can take, as the record or stand-ins offer."""
    if name in carried(target):
        return Version(carried(target)[name])
    project: Project | None = PROJECTS.get(name)
    if project is None:
        return None
    interp = synthesize_interpreter(target.python, "linux_aarch64", target.glibc)
    tags = set(interp.tags())
    python = Version(interp.version)
    fits: set[Version] = set()
    for row in project.rows:
        version = file_version(row.filename)
        if version is None or row.yanked is not None or version.is_prerelease or version not in spec:
            continue
        if row.requires_python and python not in SpecifierSet(row.requires_python):
            continue
        if row.filename.endswith(".whl") and not _tags(row.filename) & tags:
            continue
        fits.add(version)
    return max(fits, default=None)


def _tags(filename: str) -> set[Tag]:
    return set(parse_wheel_filename(filename)[3])
