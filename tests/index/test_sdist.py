"""sdist metadata on a real loopback index: static PKG-INFO read as is, dynamic metadata prepared once."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jetpip.errors import MetadataError
from jetpip.index.cache import Cache
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.index.sdist import BuildIndexes, is_static, pkg_info, sdist_metadata
from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from jetpip.report import NullReporter
from tests.support.sdists import build_sdist, pkg_info_text
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import WheelSpec, build_wheel


class _Reads(NullReporter):
    def __init__(self) -> None:
        self.how: list[tuple[str, str]] = []
        self.steps: list[str] = []

    def step(self, description: str) -> None:
        self.steps.append(description)

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        self.how.append((filename, how))


def _hooks(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _link(client: IndexClient, name: str, filename: str) -> FileLink:
    page = client.project_page(client.config.sources()[0], name)
    return next(f for f in page.files if f.filename == filename)


@pytest.fixture
def index(index_server: IndexServer, tmp_path: Path) -> str:
    helper = build_wheel(tmp_path / "wheels", WheelSpec(
        name="build-helper", version="1.0", files={"build_helper/__init__.py": "DEPENDENCY = 'six>=1.16'\n"},
    ))
    return index_server.add("simple", "/simple", [ServedFile.from_path(helper.path)])


def _client(index: str, tmp_path: Path, reporter: _Reads | None = None) -> IndexClient:
    return IndexClient(IndexConfig(index_url=index), cache_dir=tmp_path / "cache", reporter=reporter)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "hooks.log"


def test_static_metadata_is_read_from_pkg_info_without_a_build(
    index_server: IndexServer, index: str, tmp_path: Path, log: Path
) -> None:
    sdist = build_sdist(tmp_path / "sdists", "tiny-static", "1.0", requires=["six>=1.16"], log=log,
                        requires_python=">=3.8")
    index_server.add_files("/simple", [sdist.path])
    reads = _Reads()
    with _client(index, tmp_path, reads) as client:
        link = _link(client, "tiny-static", sdist.filename)
        assert link.is_sdist and not link.is_wheel
        meta = client.metadata(link)
    assert (meta.name, meta.version, meta.requires_dist) == ("tiny-static", "1.0", ("six>=1.16",))
    assert meta.requires_python == ">=3.8"
    assert reads.how == [(sdist.filename, "pkg-info")] and reads.steps == []
    assert _hooks(log) == []  # no backend ran


def test_dynamic_metadata_is_prepared_by_the_hook_with_build_requirements_from_the_index(
    index_server: IndexServer, index: str, tmp_path: Path, log: Path
) -> None:
    # The backend asks for build-helper, which uv installs from the loopback index; the helper
    # names one of the project's requirements, so the metadata shows it was really installed.
    sdist = build_sdist(tmp_path / "sdists", "tiny-dynamic", "2.0", requires=["packaging"], static=False,
                        build_requires=["build-helper"], from_helper=True, log=log)
    index_server.add_files("/simple", [sdist.path])
    reads = _Reads()
    with _client(index, tmp_path, reads) as client:
        meta = client.metadata(_link(client, "tiny-dynamic", sdist.filename))
    assert meta.requires_dist == ("packaging", "six>=1.16")
    assert reads.how == [(sdist.filename, "prepared")]
    assert reads.steps == [f"preparing the metadata of {sdist.filename} with its build backend (PEP 517)"]
    assert _hooks(log) == ["get_requires_for_build_wheel", "prepare_metadata_for_build_wheel"]
    assert index_server.requests("build_helper-1.0-py3-none-any.whl")  # uv asked the same index


def test_a_second_run_reads_prepared_metadata_from_the_cache(
    index_server: IndexServer, index: str, tmp_path: Path, log: Path
) -> None:
    sdist = build_sdist(tmp_path / "sdists", "tiny-dynamic", "2.0", requires=["packaging"], static=False,
                        log=log)
    index_server.add_files("/simple", [sdist.path])
    for _ in range(2):
        reads = _Reads()
        with _client(index, tmp_path, reads) as client:
            meta = client.metadata(_link(client, "tiny-dynamic", sdist.filename))
            assert meta.requires_dist == ("packaging",)
    assert reads.how == [(sdist.filename, "cache")]
    assert _hooks(log).count("prepare_metadata_for_build_wheel") == 1


def test_prepared_metadata_is_kept_by_the_sdists_hash(tmp_path: Path, log: Path) -> None:
    sdist = build_sdist(tmp_path, "tiny-dynamic", "2.0", requires=["packaging"], static=False, log=log)
    cache = Cache(tmp_path / "cache")
    first = sdist_metadata(sdist.path, sdist.sha256, cache, BuildIndexes(("--no-index",)))
    again = sdist_metadata(sdist.path, sdist.sha256, cache, BuildIndexes(("--no-index",)))
    assert (first[1], again[1]) == ("prepared", "cache")
    assert first[0] == again[0]
    assert _hooks(log).count("prepare_metadata_for_build_wheel") == 1


@pytest.mark.parametrize(("metadata_version", "dynamic", "static"), [
    ("2.2", (), True),
    ("2.4", ("Description",), True),  # a field the resolver does not read may be dynamic
    ("2.2", ("Requires-Dist",), False),
    ("2.2", ("requires-python",), False),
    ("2.3", ("Provides-Extra",), False),
    ("2.1", (), False),  # before PEP 643 nothing says the fields are final
    ("1.0", (), False),
])
def test_pkg_info_is_used_only_when_pep_643_says_it_is_final(
    metadata_version: str, dynamic: tuple[str, ...], static: bool
) -> None:
    text = pkg_info_text("demo", "1.0", ["six"], metadata_version=metadata_version, dynamic=dynamic)
    assert is_static(text.encode()) is static


def test_zip_sdists_are_read_too(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "tiny-zip", "1.0", requires=["six"], fmt=".zip")
    data = pkg_info(sdist.path)
    assert data is not None and b"Requires-Dist: six" in data


def test_only_the_sdists_own_pkg_info_counts(tmp_path: Path) -> None:
    # A bundled project's PKG-INFO deeper in the tree is not the sdist's metadata.
    path = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        data = pkg_info_text("vendored", "9.9").encode()
        info = tarfile.TarInfo("demo-1.0/vendor/vendored-9.9/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert pkg_info(path) is None


def test_a_failing_backend_is_an_error_with_its_output(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "tiny-broken", "1.0", static=False, build_requires=["no-such-thing"])
    with pytest.raises(MetadataError) as err:
        sdist_metadata(sdist.path, sdist.sha256, Cache(tmp_path / "cache"), BuildIndexes(("--no-index",)))
    assert "cannot prepare the metadata of tiny_broken-1.0.tar.gz" in err.value.message
    assert "no-such-thing" in err.value.message  # uv's own words on what it could not find
    assert "wheel" in (err.value.hint or "")


def test_an_archive_reaching_outside_its_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, text in (("evil-1.0/PKG-INFO", pkg_info_text("evil", "1.0", metadata_version="2.1")),
                           ("evil-1.0/../../escaped.txt", "x")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(MetadataError, match="outside its folder"):
        sdist_metadata(path, "0" * 64, Cache(tmp_path / "cache"), BuildIndexes(("--no-index",)))
    assert not (tmp_path / "escaped.txt").exists()


def test_build_indexes_follow_the_configuration_and_hide_passwords() -> None:
    config = IndexConfig(index_url="https://user:s3cret@mirror.example/simple",
                         extra_index_urls=("https://extra.example/simple",), find_links=("/wheels",),
                         trusted_hosts=("extra.example",), cert="/etc/ca.pem")
    indexes = BuildIndexes.from_config(config, offline=True)
    assert indexes.args == (
        "--offline", "--index-url", "https://user:s3cret@mirror.example/simple",
        "--extra-index-url", "https://extra.example/simple", "--find-links", "/wheels",
        "--allow-insecure-host", "extra.example",
    )
    assert indexes.env == {"SSL_CERT_FILE": "/etc/ca.pem"}
    assert "s3cret" not in repr(indexes)
    assert BuildIndexes.from_config(IndexConfig(index_url=None, find_links=("/w",))).args == (
        "--no-index", "--find-links", "/w")


@pytest.fixture
def flat(tmp_path: Path) -> Iterator[Source]:
    yield Source("find-links", "flat", Url.parse((tmp_path / "sdists").as_uri() + "/"), trusted=True)


def test_a_local_sdist_without_a_published_hash_is_read_from_its_file(tmp_path: Path, flat: Source) -> None:
    sdist = build_sdist(tmp_path / "sdists", "tiny-local", "1.0", requires=["six"])
    with IndexClient(IndexConfig(index_url=None), cache_dir=tmp_path / "cache") as client:
        page = client.project_page(flat, "tiny-local")
        (link,) = page.files
        assert link.filename == sdist.filename
        assert client.metadata(link).requires_dist == ("six",)
