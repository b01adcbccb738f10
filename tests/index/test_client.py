"""The index client against the real loopback server: every form, metadata three ways, faults, cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jetpip.errors import (
    HashMismatchError,
    IndexFetchError,
    MetadataError,
    OfflineMissError,
    UntrustedFileError,
)
from jetpip.index.client import MAX_WORKERS, IndexClient
from jetpip.index.config import ConfigError, IndexConfig
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from jetpip.report import RecordingReporter
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import BuiltWheel

MakeWheel = Callable[..., BuiltWheel]


class EventReporter(RecordingReporter):
    def __init__(self) -> None:
        super().__init__()
        self.pages: list[tuple[str, bool]] = []
        self.metadata: list[tuple[str, str]] = []

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        self.pages.append((url, from_cache))

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        self.metadata.append((filename, how))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def client(config: IndexConfig | str, cache_dir: Path, **kw: object) -> IndexClient:
    cfg = IndexConfig(index_url=config) if isinstance(config, str) else config
    return IndexClient(cfg, cache_dir=cache_dir, **kw)  # type: ignore[arg-type]


def test_pep691_json_page_and_pep658_metadata(index_server: IndexServer, make_wheel: MakeWheel,
                                               cache_dir: Path) -> None:
    w = make_wheel("demo-pkg", "1.0", requires=["numpy<2"], requires_python=">=3.8")
    old = make_wheel("demo-pkg", "0.9")
    url = index_server.add("simple", "/simple", [
        ServedFile.from_path(w.path, requires_python=">=3.8"),
        ServedFile.from_path(old.path, yanked="broken"),
    ])
    src = Source("base index", "simple", Url.parse(url))
    rep = EventReporter()
    with client(url, cache_dir, reporter=rep) as c:
        page = c.project_page(src, "Demo_Pkg")
        assert page.found and page.name == "demo-pkg"
        new, yanked = page.files
        assert new.filename == w.filename and new.hashes == {"sha256": w.sha256}
        assert new.requires_python == ">=3.8" and new.size == w.path.stat().st_size
        assert yanked.yanked == "broken"
        meta = c.metadata(new)
    assert (meta.name, meta.version, meta.requires_dist) == ("demo-pkg", "1.0", ("numpy<2",))
    assert meta.requires_python == ">=3.8"
    assert rep.metadata == [(w.filename, "pep658")]
    (page_req,) = index_server.requests("/simple/")
    assert "application/vnd.pypi.simple.v1+json" in page_req.accept
    file_reqs = index_server.requests("/files/")
    assert [r.path.endswith(".metadata") for r in file_reqs] == [True]


@pytest.mark.parametrize("status", ["404", "410"])
def test_a_metadata_file_the_page_lists_but_the_index_lacks_falls_back_to_the_wheel(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path, status: str,
) -> None:
    # A page may offer a PEP 658 file the server no longer has (devpi answers 410 Gone at the old
    # URL of a re-uploaded file): the metadata comes from the wheel itself, as pip reads it then.
    w = make_wheel("demo-pkg", "1.0", requires=["numpy<2"])
    url = index_server.add("simple", "/simple", [ServedFile.from_path(w.path)])
    index_server.fault(".whl.metadata", status)
    rep = EventReporter()
    with client(url, cache_dir, reporter=rep) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "demo-pkg").files
        assert link.metadata_hashes is not None
        meta = c.metadata(link)
    assert (meta.name, meta.requires_dist) == ("demo-pkg", ("numpy<2",))
    assert rep.metadata == [(w.filename, "range")]
    assert [r.status for r in index_server.requests(".metadata")] == [int(status)]


def test_pep503_html_page(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path) -> None:
    w = make_wheel("demo", "2.0")
    url = index_server.add("simple", "/html/simple", [ServedFile.from_path(w.path, requires_python=">=3.9")],
                           json=False)
    with client(url, cache_dir) as c:
        page = c.project_page(Source("html", "simple", Url.parse(url)), "demo")
        (link,) = page.files
        assert link.requires_python == ">=3.9" and link.metadata_hashes
        assert c.metadata(link).version == "2.0"
    assert [r.status for r in index_server.requests("/html/simple/demo/")] == [200]


def test_devpi_only_through_plus_simple(index_server: IndexServer, make_wheel: MakeWheel,
                                        cache_dir: Path) -> None:
    w = make_wheel("torch", "2.8.0", tag="cp310-cp310-linux_aarch64", build="jetson")
    url = index_server.add("devpi", "/jp6/cu126", [w.path])
    src = Source("jetson-ai-lab jp6/cu126", "devpi", Url.parse(url), jetson=True)
    with client(url, cache_dir) as c:
        (link,) = c.project_page(src, "torch").files
        assert "/jp6/cu126/+f/" in link.url.path and link.hashes["sha256"] == w.sha256
        assert c.metadata(link).version == "2.8.0"
        c.download(link, cache_dir.parent / "dl")
    paths = [r.path for r in index_server.requests()]
    assert "/jp6/cu126/+simple/torch/" in paths
    assert "/jp6/cu126/torch/" not in paths  # the bare path serves a web page to non-pip clients


def test_flat_listing_with_plus_and_range_metadata(index_server: IndexServer, make_wheel: MakeWheel,
                                                   cache_dir: Path) -> None:
    torch = make_wheel("torch", "2.1.0", tag="cp38-cp38-linux_aarch64",
                       filename_version="2.1.0a0+41361538.nv23.06", build="jetson",
                       files={"torch/big.bin": "x" * 200_000})
    other = make_wheel("numpy", "1.24.4")
    url = index_server.add("flat", "/redist/jp/v512/pytorch", [torch.path, other.path])
    src = Source("NVIDIA redist v512", "flat", Url.parse(url), jetson=True, trusted=True)
    rep = EventReporter()
    with client(url, cache_dir, reporter=rep) as c:
        page = c.project_page(src, "torch")
        (link,) = page.files
        assert link.filename == "torch-2.1.0a0+41361538.nv23.06-cp38-cp38-linux_aarch64.whl"
        assert "%2B" in link.url.path
        assert [f.filename for f in c.project_page(src, "numpy").files] == [other.filename]
        assert not c.project_page(src, "scipy").found
        meta = c.metadata(link)
    assert meta.version == "2.1.0"
    assert rep.metadata == [(link.filename, "range")]
    assert any("filename says version" in w and "metadata says 2.1.0" in w for w in rep.warnings)
    file_reqs = index_server.requests(".whl")
    assert file_reqs and all(r.range and r.status == 206 for r in file_reqs)
    assert len(index_server.requests("/redist/jp/v512/pytorch/")) == 1 + len(file_reqs)  # one page fetch


def test_metadata_by_full_download_when_range_unsupported(index_server: IndexServer,
                                                          make_wheel: MakeWheel, cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [ServedFile.from_path(w.path, pep658=False)])
    index_server.fault(w.filename, "no-range")
    rep = EventReporter()
    with client(url, cache_dir, reporter=rep) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "demo").files
        assert link.metadata_hashes is None
        assert c.metadata(link).name == "demo"
        c.download(link, cache_dir.parent / "dl")  # served from what the metadata read fetched
    assert rep.metadata == [(w.filename, "download")]
    file_reqs = index_server.requests(w.filename)
    assert [r.status for r in file_reqs] == [200]
    assert not index_server.requests(".metadata")


def test_local_directory_and_file_url_find_links(make_wheel: MakeWheel, wheel_dir: Path,
                                                 cache_dir: Path, tmp_path: Path) -> None:
    w = make_wheel("demo", "1.0", tag="cp310-cp310-linux_aarch64")
    make_wheel("other", "1.0")
    for find_links in (str(wheel_dir), wheel_dir.as_uri(), str(w.path)):
        config = IndexConfig(index_url=None, find_links=(find_links,))
        (src,) = config.sources()
        assert src.kind == "flat" and src.url.scheme == "file" and src.trusted
        with client(config, cache_dir) as c:
            (link,) = c.project_page(src, "demo").files
            assert link.url.scheme == "file"
            assert c.metadata(link).version == "1.0"
            out = c.download(link, tmp_path / "dl")
            assert out.read_bytes() == w.path.read_bytes()


def test_500_then_200_is_retried(index_server: IndexServer, make_wheel: MakeWheel,
                                 cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path])
    index_server.fault("/simple/demo/", "500", count=2)
    with client(url, cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
    assert [r.status for r in index_server.requests("/simple/demo/")] == [500, 500, 200]


def test_500_forever_gives_up_with_a_message(index_server: IndexServer, cache_dir: Path) -> None:
    url = index_server.add("simple", "/simple", [])
    index_server.fault("/simple/demo/", "500")
    with client(IndexConfig(index_url=url, retries=2), cache_dir) as c, \
            pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "answered HTTP 500 on all 3 tries" in str(err.value)
    assert "/simple/demo/" in str(err.value) and "--offline" in (err.value.hint or "")


def test_stall_times_out(index_server: IndexServer, cache_dir: Path) -> None:
    url = index_server.add("simple", "/simple", [])
    index_server.fault("/simple/demo/", "stall", seconds=3)
    # The stalled server would answer 404 ("no files here") after 3 s; an error naming the 0.3 s limit
    # shows the client gave up first, whatever the machine's load.
    with client(IndexConfig(index_url=url, timeout=0.3, retries=1), cache_dir) as c, \
            pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "no answer within 0.3 s (2 tries)" in str(err.value)
    assert "--timeout" in (err.value.hint or "")


def test_404_means_no_files_here(index_server: IndexServer, cache_dir: Path) -> None:
    url = index_server.add("simple", "/simple", [])
    with client(url, cache_dir) as c:
        page = c.project_page(Source("b", "simple", Url.parse(url)), "nothing")
    assert not page.found and page.files == ()


def test_dead_index(cache_dir: Path) -> None:
    url = "http://127.0.0.1:9/simple"  # discard port: nothing listens
    with client(IndexConfig(index_url=url, retries=1), cache_dir) as c, \
            pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "cannot reach 127.0.0.1" in str(err.value) and "(2 tries)" in str(err.value)
    assert "proxy" in (err.value.hint or "")


def test_truncated_download(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0", files={"demo/blob.txt": "y" * 50_000})
    url = index_server.add("simple", "/simple", [w.path])
    index_server.fault(w.filename, "truncate")
    with client(IndexConfig(index_url=url, retries=1), cache_dir) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "demo").files
        with pytest.raises(HashMismatchError) as err:
            c.download(link, cache_dir.parent / "dl")
    text = str(err.value)
    assert "cut short" in text and str(link.url) in text and w.sha256 in text
    # Every byte that arrived is kept for the next try, however small the file.
    size = w.path.stat().st_size
    assert f"{size // 2} of {size} bytes arrived" in text
    assert not (cache_dir.parent / "dl" / w.filename).exists()


def test_wrong_hash_on_a_jetson_source(index_server: IndexServer, make_wheel: MakeWheel,
                                       cache_dir: Path) -> None:
    w = make_wheel("torch", "2.8.0", tag="cp310-cp310-linux_aarch64")
    lie = "0" * 64
    url = index_server.add("devpi", "/jp6/cu126", [ServedFile.from_path(w.path, advertised_sha256=lie,
                                                                        pep658=False)])
    src = Source("jetson-ai-lab jp6/cu126", "devpi", Url.parse(url), jetson=True)
    with client(url, cache_dir) as c:
        (link,) = c.project_page(src, "torch").files
        with pytest.raises(HashMismatchError) as err:
            c.download(link, cache_dir.parent / "dl")
    text = str(err.value)
    assert lie in text and w.sha256 in text and str(link.url) in text
    assert "re-upload files under the same name" in text
    assert "--refresh" in (err.value.hint or "")



def test_wrong_hash_on_a_plain_index_names_both_hashes_without_the_jetson_note(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path
) -> None:
    w = make_wheel("demo", "1.0")
    lie = "f" * 64
    url = index_server.add("simple", "/simple", [ServedFile.from_path(w.path, advertised_sha256=lie,
                                                                      pep658=False)])
    secret = url.replace("http://", "http://ci:t0ken@")
    with client(secret, cache_dir) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(secret)), "demo").files
        with pytest.raises(HashMismatchError) as err:
            c.download(link, cache_dir.parent / "dl")
    text = str(err.value)
    assert f"expected sha256: {lie}" in text and f"actual   sha256: {w.sha256}" in text
    assert "re-upload" not in text and "t0ken" not in text
    assert not (cache_dir.parent / "dl" / w.filename).exists()


def test_hashless_file_needs_a_trusted_source(index_server: IndexServer, make_wheel: MakeWheel,
                                              cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("flat", "/links", [w.path])
    rep = EventReporter()
    with client(IndexConfig(index_url=None, find_links=(url,)), cache_dir, reporter=rep) as c:
        (src,) = c.config.sources()
        (link,) = c.project_page(src, "demo").files
        with pytest.raises(UntrustedFileError) as err:
            c.download(link, cache_dir.parent / "dl")
    assert "no hash" in str(err.value) and "--trusted-host 127.0.0.1" in (err.value.hint or "")
    trusted = IndexConfig(index_url=None, find_links=(url,), trusted_hosts=("127.0.0.1",))
    with client(trusted, cache_dir, reporter=rep) as c:
        (src,) = trusted.sources()
        (link,) = c.project_page(src, "demo").files
        assert c.download(link, cache_dir.parent / "dl").read_bytes() == w.path.read_bytes()
    assert any("no published hash" in m and "trusted" in m for m in rep.warnings)


def test_cache_revalidates_with_etag(index_server: IndexServer, make_wheel: MakeWheel,
                                     cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path])
    src = Source("b", "simple", Url.parse(url))
    for _ in range(2):
        with client(url, cache_dir) as c:
            (link,) = c.project_page(src, "demo").files
            c.metadata(link)
    assert [r.status for r in index_server.requests("/simple/demo/")] == [200, 304]
    assert len(index_server.requests(".metadata")) == 1  # metadata is kept by hash


def test_max_age_is_honoured_and_refresh_revalidates(index_server: IndexServer, make_wheel: MakeWheel,
                                                     cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path], max_age=600)
    src = Source("b", "simple", Url.parse(url))
    rep = EventReporter()
    for refresh in (False, False, True):
        with client(url, cache_dir, refresh=refresh, reporter=rep) as c:
            assert c.project_page(src, "demo").found
    assert [r.status for r in index_server.requests("/simple/demo/")] == [200, 304]
    assert [cached for _, cached in rep.pages] == [False, True, True]


def test_offline_uses_cache_and_names_what_is_missing(index_server: IndexServer, make_wheel: MakeWheel,
                                                      cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path])
    src = Source("b", "simple", Url.parse(url))
    with client(url, cache_dir) as c:
        (link,) = c.project_page(src, "demo").files
        c.metadata(link)
    before = len(index_server.requests())
    with client(url, cache_dir, offline=True) as c:
        (link,) = c.project_page(src, "demo").files
        assert c.metadata(link).version == "1.0"
        with pytest.raises(OfflineMissError) as err:
            c.project_page(src, "numpy")
        assert f"{url}/numpy/" in str(err.value) and "--offline" in (err.value.hint or "")
        with pytest.raises(OfflineMissError) as err:
            c.download(link, cache_dir.parent / "dl")
        assert w.filename in str(err.value)
    assert len(index_server.requests()) == before


def test_credentials_are_sent_and_redacted(index_server: IndexServer, make_wheel: MakeWheel,
                                           cache_dir: Path) -> None:
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path])
    secret_url = url.replace("http://", "http://alice:s3cret@")
    rep = EventReporter()
    src = Source("b", "simple", Url.parse(secret_url))
    with client(secret_url, cache_dir, reporter=rep) as c:
        (link,) = c.project_page(src, "demo").files
        c.download(link, cache_dir.parent / "dl")
    assert all(r.authorization and r.authorization.startswith("Basic ") for r in index_server.requests())
    assert not link.url.has_credentials and all("s3cret" not in u for u, _ in rep.pages)
    index_server.fault("/simple/gone/", "500")
    with client(IndexConfig(index_url=secret_url, retries=0), cache_dir) as c, \
            pytest.raises(IndexFetchError) as err:
        c.project_page(src, "gone")
    assert "alice:****@" in str(err.value) and "s3cret" not in str(err.value)


def test_netrc_credentials(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path,
                           tmp_path: Path) -> None:
    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password hunter2\n")
    with client(IndexConfig(index_url=url, netrc=str(netrc)), cache_dir) as c:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    (req,) = index_server.requests("/simple/demo/")
    assert req.authorization == "Basic Ym9iOmh1bnRlcjI="  # bob:hunter2


def test_http_proxy_and_no_proxy(index_server: IndexServer, make_wheel: MakeWheel,
                                 cache_dir: Path) -> None:
    # The loopback server answers absolute-form requests too, so it can stand in for a proxy.
    index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    url = "http://index.invalid/simple"
    config = IndexConfig(index_url=url, proxies={"http": index_server.url}, retries=0)
    with client(config, cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
    assert index_server.requests("/simple/demo/")
    bypass = IndexConfig(index_url=url, proxies={"http": index_server.url}, no_proxy=("index.invalid",),
                         retries=0)
    # A cold cache: with the page cached, a copy would stand in for the unreachable index.
    with client(bypass, cache_dir.parent / "cold") as c, pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "cannot reach index.invalid" in str(err.value)



def test_proxy_from_the_environment_reaches_the_index(index_server: IndexServer, make_wheel: MakeWheel,
                                                     cache_dir: Path) -> None:
    # HTTPS_PROXY/HTTP_PROXY as a fleet sets them, read by the config loader, used by the client.
    from jetpip.index.config import load_index_config

    index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    url = "http://index.invalid/simple"
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": url, "PIP_RETRIES": "0",
           "HTTP_PROXY": index_server.url.removeprefix("http://")}
    with client(load_index_config(None, env, {}), cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
    assert index_server.requests("/simple/demo/")
    env["NO_PROXY"] = "*"
    cold = cache_dir.parent / "cold"  # no cached copy to stand in for the index it cannot reach
    with client(load_index_config(None, env, {}), cold) as c, pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "cannot reach index.invalid" in str(err.value)


def test_pip_proxy_setting_is_used_for_every_request(index_server: IndexServer, make_wheel: MakeWheel,
                                                     cache_dir: Path) -> None:
    index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    url = "http://index.invalid/simple"
    config = IndexConfig(index_url=url, proxy=index_server.url, proxies={"http": "http://127.0.0.1:9"},
                         retries=0)
    with client(config, cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found


def test_pip_proxy_setting_may_leave_out_the_scheme(index_server: IndexServer, make_wheel: MakeWheel,
                                                   cache_dir: Path) -> None:
    # pip documents --proxy as [user:passwd@]proxy.server:port.
    index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    url = "http://index.invalid/simple"
    config = IndexConfig(index_url=url, proxy=index_server.url.removeprefix("http://"), retries=0)
    with client(config, cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found


def test_netrc_named_by_the_environment(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path,
                                        tmp_path: Path) -> None:
    from jetpip.index.config import load_index_config

    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    netrc = tmp_path / "fleet-netrc"
    netrc.write_text("machine 127.0.0.1 login bob password hunter2\n")
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": url, "NETRC": str(netrc),
           "HOME": str(tmp_path / "nohome")}
    with client(load_index_config(None, env, {}), cache_dir) as c:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    (req,) = index_server.requests("/simple/demo/")
    assert req.authorization == "Basic Ym9iOmh1bnRlcjI="  # bob:hunter2


def test_prefetch_fetches_each_page_once_and_concurrently(index_server: IndexServer,
                                                          make_wheel: MakeWheel, cache_dir: Path) -> None:
    # Concurrency is proven by the server's own count of requests in flight at once, not by a clock:
    # a timed assertion fails on a loaded machine (speed is measured in the benchmark instead).
    names = [f"pkg{i}" for i in range(MAX_WORKERS + 8)]
    wheels = [make_wheel(n, "1.0") for n in names]
    url = index_server.add("simple", "/simple", [w.path for w in wheels])
    src = Source("b", "simple", Url.parse(url))
    index_server.delay = 0.05  # each answer is held long enough for the others to overlap it
    with client(url, cache_dir) as c:
        c.prefetch_pages((src, n) for n in names)
        c.prefetch_pages((src, n) for n in names)  # asked twice: still one fetch each
        pages = [c.project_page(src, n) for n in names]
        pages_peak = index_server.max_in_flight
        index_server.reset_in_flight_peak()
        links = [p.files[0] for p in pages]
        c.prefetch_metadata(links)
        metas = [c.metadata(link) for link in links]
        metadata_peak = index_server.max_in_flight
        assert [m.name for m in metas] == names
    for n in names:
        assert len(index_server.requests(f"/simple/{n}/")) == 1
        assert len(index_server.requests(f"/{n}-1.0-py3-none-any.whl.metadata")) == 1
    assert 1 < pages_peak <= MAX_WORKERS  # concurrent, and within the bounded pool
    assert 1 < metadata_peak <= MAX_WORKERS


def test_sequential_lookups_have_one_request_in_flight(index_server: IndexServer,
                                                       make_wheel: MakeWheel, cache_dir: Path) -> None:
    # The control for the test above: without prefetch the peak is 1, so the peak does measure overlap.
    names = [f"pkg{i}" for i in range(4)]
    url = index_server.add("simple", "/simple", [make_wheel(n, "1.0").path for n in names])
    src = Source("b", "simple", Url.parse(url))
    index_server.delay = 0.02
    with client(url, cache_dir) as c:
        for n in names:
            assert c.project_page(src, n).found
    assert index_server.max_in_flight == 1


def test_devpi_root_configured_as_a_plain_index_switches_to_plus_simple(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path
) -> None:
    # jetson-containers sets PIP_INDEX_URL to the devpi index root, without /+simple/.
    url = index_server.add("devpi", "/jp6/cu126", [make_wheel("torch", "2.8.0").path,
                                                    make_wheel("numpy", "1.26.4").path])
    src = Source("base index", "simple", Url.parse(url))
    with client(url, cache_dir) as c:
        (torch,) = c.project_page(src, "torch").files
        (numpy,) = c.project_page(src, "numpy").files
    assert "/+f/" in torch.url.path and "/+f/" in numpy.url.path
    paths = [r.path for r in index_server.requests()]
    assert paths == ["/jp6/cu126/torch/", "/jp6/cu126/+simple/torch/", "/jp6/cu126/+simple/numpy/"]


def _wheel_with_metadata_first(name: str, version: str, blob: bytes) -> ServedFile:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: six\n\n")
        zf.writestr(f"{name}/blob.bin", blob, compress_type=zipfile.ZIP_STORED)
        zf.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return ServedFile(f"{name}-{version}-py3-none-any.whl", buf.getvalue(), pep658=False)


def test_range_metadata_far_from_the_end_reads_only_two_slices(index_server: IndexServer,
                                                               cache_dir: Path) -> None:
    served = _wheel_with_metadata_first("big", "3.0", bytes(range(256)) * 2048)  # 512 KiB stored
    url = index_server.add("simple", "/simple", [served])
    rep = EventReporter()
    with client(url, cache_dir, reporter=rep) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "big").files
        meta = c.metadata(link)
    assert meta.requires_dist == ("six",) and rep.metadata == [(served.filename, "range")]
    reqs = index_server.requests(served.filename)
    assert [r.status for r in reqs] == [206, 206]
    assert reqs[0].range == "bytes=-65536" and reqs[1].range and reqs[1].range.startswith("bytes=0-")


def test_a_wheel_that_is_not_a_zip(index_server: IndexServer, cache_dir: Path) -> None:
    junk = ServedFile("junk-1.0-py3-none-any.whl", b"<html>login page</html>", pep658=False)
    url = index_server.add("simple", "/simple", [junk])
    with client(url, cache_dir) as c:
        (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "junk").files
        with pytest.raises(MetadataError) as err:
            c.metadata(link)
    assert "junk-1.0-py3-none-any.whl" in str(err.value) and "not a readable zip" in str(err.value)


def test_a_moved_page_is_followed_and_its_files_resolve_against_the_new_place(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path
) -> None:
    w = make_wheel("demo", "1.0", requires=["six"])
    url = index_server.add("simple", "/new/simple", [w.path])
    index_server.fault("/old/simple/demo/", "redirect", location="/new/simple/demo/")
    old = index_server.url + "/old/simple"
    with client(old, cache_dir) as c:
        page = c.project_page(Source("b", "simple", Url.parse(old)), "demo")
        (link,) = page.files
        assert link.url.is_under(index_server.url + "/new/files/")
        assert list(c.metadata(link).requires_dist) == ["six"]
    assert page.url == Url(url + "/demo/")
    assert [r.status for r in index_server.requests("/simple/demo/")] == [302, 200]


def test_compressed_pages_are_read(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path) -> None:
    wheels = [make_wheel("demo", v) for v in ("1.0", "1.1")]
    url = index_server.add("simple", "/simple", [w.path for w in wheels], gzip=True)
    with client(url, cache_dir) as c:
        page = c.project_page(Source("b", "simple", Url.parse(url)), "demo")
        assert sorted(f.filename for f in page.files) == sorted(w.filename for w in wheels)
        (meta,) = [c.metadata(f) for f in page.files if f.filename == wheels[1].filename]
        assert meta.version == "1.1"  # files and metadata are asked for uncompressed, as they are served


def test_no_proxy_names_a_domain_and_everything_in_it(index_server: IndexServer, make_wheel: MakeWheel,
                                                       cache_dir: Path) -> None:
    index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    url = "http://index.fleet.invalid/simple"
    for entries, through_proxy in (((".fleet.invalid",), False), (("fleet.invalid",), False),
                                   (("leet.invalid",), True), (("fleet.invalid:8080",), True)):
        config = IndexConfig(index_url=url, proxies={"http": index_server.url}, no_proxy=entries,
                             retries=0)
        with client(config, cache_dir / str(entries)) as c:
            if through_proxy:
                assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found, entries
            else:
                with pytest.raises(IndexFetchError, match=r"cannot reach index\.fleet\.invalid"):
                    c.project_page(Source("b", "simple", Url.parse(url)), "demo")


def test_a_kept_alive_connection_the_server_dropped_is_replaced_without_a_retry(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path
) -> None:
    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path,
                                                 make_wheel("other", "1.0").path])
    index_server.fault("/simple/demo/", "hangup")
    with client(IndexConfig(index_url=url, retries=0), cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
        assert c.project_page(Source("b", "simple", Url.parse(url)), "other").found  # no retries are allowed
    assert [r.status for r in index_server.requests("/simple/")] == [200, 200]


def test_a_request_the_server_drops_on_a_kept_alive_connection_is_sent_again_on_a_new_one(
    index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path
) -> None:
    # The server closing an idle connection just as the next request goes out on it, made certain.
    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path,
                                                 make_wheel("other", "1.0").path])
    index_server.fault("/simple/other/", "drop", count=1)
    with client(IndexConfig(index_url=url, retries=0), cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
        assert c.project_page(Source("b", "simple", Url.parse(url)), "other").found  # no retries are allowed
    first, dropped, again = index_server.requests("/simple/")
    assert [r.status for r in (first, dropped, again)] == [200, 0, 200]
    assert first.peer_port == dropped.peer_port != again.peer_port


def test_a_request_dropped_on_a_new_connection_is_an_error(index_server: IndexServer,
                                                           cache_dir: Path) -> None:
    url = index_server.add("simple", "/simple", [])
    index_server.fault("/simple/demo/", "drop")
    with client(IndexConfig(index_url=url, retries=1), cache_dir) as c, \
            pytest.raises(IndexFetchError, match=r"cannot reach 127\.0\.0\.1 .*\(2 tries\)"):
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert [r.status for r in index_server.requests("/simple/demo/")] == [0, 0]


@pytest.mark.parametrize(("host", "port", "entry", "bypassed"), [
    ("index.fleet.internal", None, ".fleet.internal", True),
    ("fleet.internal", None, "fleet.internal", True),
    ("index.fleet.internal", 8080, "fleet.internal:8080", True),
    ("index.fleet.internal", 8081, "fleet.internal:8080", False),
    ("notfleet.internal", None, "fleet.internal", False),
    ("10.0.0.5", None, "10.0.0.5", True),
    ("110.0.0.5", None, "0.0.5", False),  # an address is matched whole, never as a suffix
    ("::1", None, "::1", True),
    ("::1", 3141, "[::1]:3141", True),
    ("::1", 3142, "[::1]:3141", False),
    ("anything.example", None, "*", True),
])
def test_no_proxy_entries(host: str, port: int | None, entry: str, bypassed: bool) -> None:
    from jetpip.index.transport import _bypassed

    assert _bypassed(host, port, (entry,)) is bypassed


def test_retry_after_is_honoured(index_server: IndexServer, make_wheel: MakeWheel, cache_dir: Path) -> None:
    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    index_server.fault("/simple/demo/", "503", count=1, retry_after="1")
    # The backoff alone would wait 0.1 s: a second between the tries is the server's Retry-After.
    with client(url, cache_dir) as c:
        assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
    busy, answered = index_server.requests("/simple/demo/")
    assert (busy.status, answered.status) == (503, 200)
    assert answered.arrived - busy.arrived >= 0.95


def test_retry_after_values() -> None:
    from email.utils import formatdate

    from jetpip.index.transport import RETRY_AFTER_MAX, retry_after

    now = 1_700_000_000.0
    assert retry_after("3", now) == 3.0
    assert retry_after(formatdate(now + 7, usegmt=True), now) == 7.0
    assert retry_after(formatdate(now - 60, usegmt=True), now) == 0.0  # a time already past: at once
    assert retry_after("86400", now) == RETRY_AFTER_MAX  # a day is not waited for
    assert retry_after("soon", now) is None and retry_after(None, now) is None  # the usual backoff


def test_one_kept_alive_connection_serves_a_run_of_requests(index_server: IndexServer, make_wheel: MakeWheel,
                                                            cache_dir: Path) -> None:
    names = ["alpha", "beta", "gamma"]
    url = index_server.add("simple", "/simple", [make_wheel(n, "1.0").path for n in names])
    src = Source("b", "simple", Url.parse(url))
    with client(url, cache_dir) as c:
        for n in names:
            (link,) = c.project_page(src, n).files
            c.metadata(link)
            c.download(link, cache_dir.parent / "dl")
    reqs = index_server.requests()
    assert len(reqs) == 3 * len(names)  # page, metadata file, wheel
    assert len({r.peer_port for r in reqs}) == 1  # one client, one connection, kept alive throughout


def test_a_redirect_to_another_host_carries_no_credentials(index_server: IndexServer, make_wheel: MakeWheel,
                                                           cache_dir: Path) -> None:
    other = IndexServer().start()
    try:
        other.add("simple", "/simple", [make_wheel("demo", "1.0").path])
        index_server.fault("/simple/demo/", "redirect", location=other.url + "/simple/demo/")
        url = index_server.url.replace("http://", "http://alice:s3cret@") + "/simple"
        with client(url, cache_dir) as c:
            (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "demo").files
            c.download(link, cache_dir.parent / "dl")
        (asked,) = index_server.requests("/simple/demo/")
        assert asked.status == 302 and asked.authorization and asked.authorization.startswith("Basic ")
        moved = other.requests()
        assert [r.status for r in moved] == [200, 200]  # the page, then the wheel it lists
        assert all(r.authorization is None for r in moved)
    finally:
        other.stop()


def test_request_targets_are_escaped_as_pip_escapes_them(index_server: IndexServer) -> None:
    # A page may leave a space in an href; what it escaped already (%2B for '+') is sent as it is.
    from jetpip.index.transport import Http

    http = Http(IndexConfig(index_url=index_server.url, retries=0))
    try:
        resp = http.get(index_server.url + "/odd dir/torch-2.1.0a0%2Bnv23.06.whl", {}, ok=(404,),
                        what="file")
    finally:
        http.close()
    assert resp.status == 404
    (req,) = index_server.requests()
    assert req.path == "/odd%20dir/torch-2.1.0a0%2Bnv23.06.whl"


def test_a_socks_proxy_is_refused_with_a_message_naming_it(cache_dir: Path) -> None:
    url = "https://index.invalid/simple"
    config = IndexConfig(index_url=url, proxy="socks5://fleet:s3cret@proxy.invalid:1080", retries=0)
    with client(config, cache_dir) as c, pytest.raises(ConfigError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "socks5://fleet:****@proxy.invalid:1080" in str(err.value) and "s3cret" not in str(err.value)
    assert "http://" in (err.value.hint or "")


_WARM_RUN = """
import sys
from pathlib import Path

from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.sources import Source
from jetpip.model.urls import Url

url, cache = sys.argv[1], Path(sys.argv[2])
with IndexClient(IndexConfig(index_url=url), cache_dir=cache) as c:
    assert c.project_page(Source("b", "simple", Url.parse(url)), "demo").found
# rich and pygments are installed beside jetpip in the test venv: httpx's own command line would load them
print(sorted(m for m in ("httpx", "httpcore", "h2", "jetpip.index.transport", "rich", "pygments")
             if m in sys.modules))
"""


def test_only_a_run_that_goes_online_loads_the_http_stack(index_server: IndexServer, make_wheel: MakeWheel,
                                                          cache_dir: Path) -> None:
    import subprocess
    import sys

    url = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path], max_age=600)
    root = Path(__file__).resolve().parents[2]

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", _WARM_RUN, url, str(cache_dir)], cwd=root,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    # cold: the page is fetched, and httpx's command-line client (rich, pygments) stays unloaded
    assert run() == "['h2', 'httpcore', 'httpx', 'jetpip.index.transport']"
    assert run() == "[]"  # warm: the cache answers, and no HTTP code is imported
    assert len(index_server.requests("/simple/demo/")) == 1
