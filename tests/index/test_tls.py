"""TLS against a real loopback HTTPS index: the CA bundle (--cert), client certificates, trusted hosts,
proxies (CONNECT over http and over https), and HTTP/2 where the index offers it."""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jetpip.errors import IndexFetchError
from jetpip.index.client import IndexClient
from jetpip.index.config import ConfigError, IndexConfig
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from tests.support.h2front import H2Front
from tests.support.server import IndexServer
from tests.support.tunnel import TunnelProxy
from tests.support.wheels import BuiltWheel

MakeWheel = Callable[..., BuiltWheel]

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=Fleet Proxy CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out", f"{who}.csr",
                 "-subj", f"/CN={who}", cwd=d)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{who}.pem", "-days", "2", "-extfile", f"{who}.ext", cwd=d)
    # pip's client-cert is one PEM file holding the certificate and its key
    (d / "client-bundle.pem").write_text((d / "client.pem").read_text() + (d / "client.key").read_text())
    return d


def _server_context(pki: Path, *, require_client: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    if require_client:
        ctx.load_verify_locations(pki / "ca.pem")
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _https_server(pki: Path, make_wheel: MakeWheel, *, require_client: bool = False) -> Iterator[IndexServer]:
    server = IndexServer(tls=_server_context(pki, require_client=require_client)).start()
    try:
        server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
        yield server
    finally:
        server.stop()


@pytest.fixture
def https_server(pki: Path, make_wheel: MakeWheel) -> Iterator[IndexServer]:
    yield from _https_server(pki, make_wheel)


def _page_found(config: IndexConfig, url: str, cache_dir: Path) -> bool:
    with IndexClient(config, cache_dir=cache_dir) as c:
        return c.project_page(Source("b", "simple", Url.parse(url)), "demo").found


def test_private_ca_is_refused_with_a_hint_naming_cert_and_trusted_host(https_server: IndexServer,
                                                                        tmp_path: Path) -> None:
    # A corporate TLS proxy's CA is in no trust store: the user is told the two ways out.
    url = https_server.url + "/simple"
    with pytest.raises(IndexFetchError) as err:
        _page_found(IndexConfig(index_url=url, retries=0), url, tmp_path / "cache")
    assert "TLS verification failed for" in str(err.value) and "https://127.0.0.1:" in str(err.value)
    hint = err.value.hint or ""
    assert "--cert" in hint and "--trusted-host 127.0.0.1" in hint


def test_cert_bundle_from_config_verifies_the_private_ca(https_server: IndexServer, pki: Path,
                                                         tmp_path: Path) -> None:
    url = https_server.url + "/simple"
    assert _page_found(IndexConfig(index_url=url, cert=str(pki / "ca.pem"), retries=0), url, tmp_path / "c")
    assert https_server.requests("/simple/demo/")


def test_trusted_host_skips_verification_for_that_host_only(https_server: IndexServer,
                                                            tmp_path: Path) -> None:
    url = https_server.url + "/simple"
    trusted = IndexConfig(index_url=url, trusted_hosts=("127.0.0.1",), retries=0)
    assert _page_found(trusted, url, tmp_path / "c")
    other = IndexConfig(index_url=url, trusted_hosts=("mirror.example",), retries=0)
    with pytest.raises(IndexFetchError, match="TLS verification failed"):
        _page_found(other, url, tmp_path / "c2")


def test_client_certificate_is_presented(pki: Path, make_wheel: MakeWheel, tmp_path: Path) -> None:
    for server in _https_server(pki, make_wheel, require_client=True):
        url = server.url + "/simple"
        with_cert = IndexConfig(index_url=url, cert=str(pki / "ca.pem"),
                                client_cert=str(pki / "client-bundle.pem"), retries=0)
        assert _page_found(with_cert, url, tmp_path / "c")
        without = IndexConfig(index_url=url, cert=str(pki / "ca.pem"), retries=0)
        with pytest.raises(IndexFetchError, match="asks for a client certificate") as err:
            _page_found(without, url, tmp_path / "c2")
        assert "--client-cert" in (err.value.hint or "")


def test_unreadable_cert_settings_are_an_error_naming_them(https_server: IndexServer, tmp_path: Path) -> None:
    url = https_server.url + "/simple"
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ConfigError) as err:
        _page_found(IndexConfig(index_url=url, cert=str(missing), retries=0), url, tmp_path / "c")
    assert f"cannot load the TLS certificate settings (cert={missing}" in str(err.value)
    assert "--cert" in (err.value.hint or "")


def test_a_plain_http_index_needs_no_tls_settings_and_https_beside_it_is_still_verified(
    https_server: IndexServer, index_server: IndexServer, make_wheel: MakeWheel, tmp_path: Path
) -> None:
    # The TLS context is set up by the first https request: an unreadable --cert does not stop an
    # index on plain http, and an https index read by the same client afterwards is verified.
    plain = index_server.add("simple", "/simple", [make_wheel("demo", "1.0").path])
    secure = https_server.url + "/simple"
    config = IndexConfig(index_url=plain, extra_index_urls=(secure,), cert=str(tmp_path / "none.pem"),
                         retries=0)
    with IndexClient(config, cache_dir=tmp_path / "c") as c:
        assert c.project_page(Source("b", "simple", Url.parse(plain)), "demo").found
        with pytest.raises(ConfigError, match="cannot load the TLS certificate settings"):
            c.project_page(Source("x", "simple", Url.parse(secure)), "demo")
    unverified = IndexConfig(index_url=plain, extra_index_urls=(secure,), retries=0)
    with IndexClient(unverified, cache_dir=tmp_path / "c2") as c:
        assert c.project_page(Source("b", "simple", Url.parse(plain)), "demo").found
        with pytest.raises(IndexFetchError, match="TLS verification failed"):
            c.project_page(Source("x", "simple", Url.parse(secure)), "demo")


def test_an_https_index_through_an_http_proxy_goes_through_a_connect_tunnel(
    https_server: IndexServer, pki: Path, tmp_path: Path
) -> None:
    # HTTPS_PROXY=http://user:pw@proxy:port, as a fleet sets it: the proxy sees only CONNECT, and the
    # index's certificate is still checked against the CA bundle, end to end through the tunnel.
    url = https_server.url + "/simple"
    proxy = TunnelProxy().start()
    try:
        authed = proxy.url.replace("http://", "http://fleet:s%40crit@")
        config = IndexConfig(index_url=url, cert=str(pki / "ca.pem"), proxies={"https": authed}, retries=0)
        assert _page_found(config, url, tmp_path / "c")
        host_port = https_server.url.removeprefix("https://")
        assert proxy.tunnels == [host_port]
        assert proxy.proxy_authorization == ["Basic ZmxlZXQ6c0Bjcml0"]  # fleet:s@crit
        assert https_server.requests("/simple/demo/")
        unverified = IndexConfig(index_url=url, proxies={"https": proxy.url}, retries=0)
        with pytest.raises(IndexFetchError, match="TLS verification failed"):
            _page_found(unverified, url, tmp_path / "c2")
    finally:
        proxy.stop()


def test_an_https_index_through_an_https_proxy_runs_tls_inside_tls(https_server: IndexServer, pki: Path,
                                                                   tmp_path: Path) -> None:
    # A proxy that is itself reached over https: the index's TLS runs inside the proxy's, and both
    # certificates are checked against the CA bundle.
    url = https_server.url + "/simple"
    proxy = TunnelProxy(tls=_server_context(pki, require_client=False)).start()
    try:
        authed = proxy.url.replace("https://", "https://fleet:s%40crit@")
        config = IndexConfig(index_url=url, cert=str(pki / "ca.pem"), proxy=authed, retries=0)
        assert _page_found(config, url, tmp_path / "c")
        assert proxy.tunnels == [https_server.url.removeprefix("https://")]
        assert proxy.proxy_authorization == ["Basic ZmxlZXQ6c0Bjcml0"]  # fleet:s@crit
        assert https_server.requests("/simple/demo/")
        unverified = IndexConfig(index_url=url, proxy=authed, retries=0)
        with pytest.raises(IndexFetchError, match="TLS verification failed") as err:
            _page_found(unverified, url, tmp_path / "c2")
        shown = proxy.url.replace("https://", "https://fleet:****@")
        assert f"or for the https proxy {shown}" in str(err.value)
        assert "s@crit" not in str(err.value) and "s%40crit" not in str(err.value)
        assert len(proxy.tunnels) == 1  # the proxy's own certificate was refused before any CONNECT
    finally:
        proxy.stop()


def test_an_https_index_that_offers_http2_is_read_over_one_http2_connection(
    index_server: IndexServer, pki: Path, make_wheel: MakeWheel, tmp_path: Path
) -> None:
    # The front speaks only h2, so every answer through it came over HTTP/2. The wheel is larger than
    # one HTTP/2 flow-control window (64 KiB), so the download needs the client's window updates.
    w = make_wheel("demo", "1.0", files={"demo/blob.txt": secrets.token_hex(150_000)})
    index_server.add("simple", "/simple", [w.path])
    front = H2Front(index_server.url, _server_context(pki, require_client=False)).start()
    try:
        url = front.url + "/simple"
        config = IndexConfig(index_url=url, cert=str(pki / "ca.pem"), retries=0)
        with IndexClient(config, cache_dir=tmp_path / "c") as c:
            (link,) = c.project_page(Source("b", "simple", Url.parse(url)), "demo").files
            assert c.metadata(link).version == "1.0"
            assert c.download(link, tmp_path / "dl").read_bytes() == w.path.read_bytes()
            page = c.http.get(url + "/demo/", {}, ok=(200,), what="index page")
        assert page.http_version == "HTTP/2"
        assert [path for _, path in front.requests][:1] == ["/simple/demo/"]
        assert len(front.requests) == 4  # page, metadata file, wheel, page again
        assert front.connections == 1 and {n for n, _ in front.requests} == {1}
    finally:
        front.stop()
