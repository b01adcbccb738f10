"""HTTP for the index client: TLS, proxies, credentials, retries with backoff, and fault messages."""

from __future__ import annotations

import netrc
import re
import ssl
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from jetpip import __version__
from jetpip.cache import CHUNK
from jetpip.config import ConfigError, IndexConfig
from jetpip.errors import IndexFetchError
from jetpip.links import redact_text, redact_url, strip_credentials

RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 527})
USER_AGENT = f"jetpip/{__version__}"
_OFFLINE_HINT = "--offline uses only what is already in the cache"


@dataclass(frozen=True)
class Response:
    """A finished response: final URL (no credentials), status, lower-cased headers, body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def ssl_context(config: IndexConfig) -> ssl.SSLContext:
    """The system trust store (truststore), or the configured CA bundle; plus any client cert."""
    try:
        if config.cert:
            if Path(config.cert).is_dir():
                ctx = ssl.create_default_context(capath=config.cert)
            else:
                ctx = ssl.create_default_context(cafile=config.cert)
        else:
            import truststore

            ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if config.client_cert:
            ctx.load_cert_chain(config.client_cert)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"cannot load the TLS certificate settings (cert={config.cert}, "
            f"client-cert={config.client_cert}): {err}",
            "point --cert at a PEM CA bundle and --client-cert at a PEM file holding cert and key",
        ) from err
    return ctx


class _OnFirstUse(httpx.BaseTransport):
    """A transport built by its first request (once, whichever thread asks first)."""

    def __init__(self, build: Callable[[], httpx.BaseTransport]) -> None:
        self._build = build
        self._real: httpx.BaseTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._real is None:
                self._real = self._build()
            real = self._real
        return real.handle_request(request)

    def close(self) -> None:
        with self._lock:
            real, self._real = self._real, None
        if real is not None:
            real.close()


class Http:
    """One pooled httpx client (and one unverified client for trusted hosts) with pip's policies."""

    def __init__(self, config: IndexConfig, *, max_workers: int = 16, backoff: float = 0.1) -> None:
        self.config = config
        self.backoff = backoff
        self._max_workers = max_workers
        self._clients: dict[bool, httpx.Client] = {}
        self._lock = threading.Lock()
        self._creds: dict[str, tuple[str, str]] = {}
        for url in (config.index_url or "", *config.extra_index_urls, *config.find_links):
            parts = urlsplit(url)
            if parts.username:
                self._creds[_hostport(url)] = (unquote(parts.username), unquote(parts.password or ""))
        self._netrc: netrc.netrc | None = None
        if config.netrc:
            try:
                self._netrc = netrc.netrc(config.netrc)
            except (OSError, netrc.NetrcParseError):
                self._netrc = None

    def _client(self, url: str) -> httpx.Client:
        verify = not (urlsplit(url).scheme == "https" and self.config.is_trusted(url))
        with self._lock:
            client = self._clients.get(verify)
            if client is None:
                client = self._clients[verify] = self._build(verify)
            return client

    def _build(self, verify: bool) -> httpx.Client:
        limits = httpx.Limits(max_connections=self._max_workers,
                              max_keepalive_connections=self._max_workers)

        def transport(proxy: str | None = None) -> httpx.BaseTransport:
            # The TLS context (the trust store, a CA bundle) is set up by the first request that
            # needs it: an index served over plain http never pays for it.
            return _OnFirstUse(lambda: httpx.HTTPTransport(
                proxy=proxy, verify=ssl_context(self.config) if verify else False, limits=limits,
            ))

        mounts: dict[str, httpx.BaseTransport | None] = {}
        proxies = {"all": self.config.proxy} if self.config.proxy else dict(self.config.proxies)
        if not proxies:
            mounts["http://"] = _OnFirstUse(lambda: httpx.HTTPTransport(verify=False, limits=limits))
        if "*" not in self.config.no_proxy:
            for scheme, proxy in proxies.items():
                mounts[f"{scheme}://"] = transport(proxy)
            for host in self.config.no_proxy if proxies else ():
                host = host.strip().lstrip(".")
                if host:
                    plain = re.fullmatch(r"[\d.:\[\]]+|localhost", host.split(":")[0])
                    mounts[f"all://{host}" if plain else f"all://*{host}"] = None
        return httpx.Client(
            transport=transport(), mounts=mounts, trust_env=False, follow_redirects=True,
            timeout=httpx.Timeout(self.config.timeout), headers={"User-Agent": USER_AGENT},
        )

    def _auth(self, url: str) -> httpx.BasicAuth | None:
        key = _hostport(url)
        creds = self._creds.get(key)
        if creds is None and self._netrc is not None:
            found = self._netrc.authenticators(urlsplit(url).hostname or "")
            if found:
                creds = (found[0] or "", found[2] or "")
        return httpx.BasicAuth(*creds) if creds else None

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # -- requests ------------------------------------------------------------------
    def get(self, url: str, headers: Mapping[str, str], *, ok: Collection[int], what: str) -> Response:
        """GET with retries on 5xx, timeouts and dropped connections; other statuses not in ok fail."""
        target = strip_credentials(url)
        headers = dict(headers)
        if "Range" in headers or what != "index page":
            headers["Accept-Encoding"] = "identity"  # byte ranges of a compressed body are useless
        last: tuple[str, object] = ("none", None)
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 2.0))
            try:
                r = self._client(url).get(target, headers=headers, auth=self._auth(url))
            except httpx.TimeoutException as err:
                last = ("timeout", err)
                continue
            except httpx.TransportError as err:
                self._raise_if_tls(url, err, what)
                last = ("transport", err)
                continue
            if r.status_code in ok:
                return Response(strip_credentials(str(r.url)), r.status_code,
                                {k.lower(): v for k, v in r.headers.items()}, r.content)
            if r.status_code in RETRY_STATUS:
                last = ("status", r.status_code)
                continue
            raise self._status_error(url, r.status_code, what)
        raise self._exhausted(url, last, what)

    def download(self, url: str, dest: Path, *, what: str) -> tuple[int, int] | None:
        """Stream ``url`` into ``dest``; return (got, expected) bytes if every try was cut short."""
        target = strip_credentials(url)
        last: tuple[str, object] = ("none", None)
        short: tuple[int, int] | None = None
        headers = {"Accept-Encoding": "identity"}
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 2.0))
            got = 0
            expected = -1
            try:
                with self._client(url).stream("GET", target, headers=headers,
                                              auth=self._auth(url)) as r:
                    if r.status_code in RETRY_STATUS:
                        last = ("status", r.status_code)
                        continue
                    if r.status_code != 200:
                        raise self._status_error(url, r.status_code, what)
                    expected = int(r.headers.get("content-length", "-1"))
                    with dest.open("wb") as out:
                        for chunk in r.iter_bytes(CHUNK):
                            out.write(chunk)
                            got += len(chunk)
                if expected >= 0 and got != expected:
                    short = (got, expected)
                    last = ("short", short)
                    continue
                return None
            except httpx.TimeoutException as err:
                last = ("timeout", err)
            except httpx.RemoteProtocolError as err:
                short = (got, expected) if got or expected > 0 else short
                last = ("short", short) if short else ("transport", err)
            except httpx.TransportError as err:
                self._raise_if_tls(url, err, what)
                last = ("transport", err)
        if last[0] == "short" and short is not None:
            return short
        raise self._exhausted(url, last, what)

    # -- messages ------------------------------------------------------------------
    def _raise_if_tls(self, url: str, err: Exception, what: str) -> None:
        text = str(err)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
            host = urlsplit(url).hostname
            raise IndexFetchError(
                f"TLS verification failed for {what} {redact_url(url)}: {redact_text(text)}",
                f"if a proxy re-signs TLS, point --cert (or cert in pip.conf) at its CA bundle; "
                f"--trusted-host {host} turns verification off for that host",
            ) from err

    def _status_error(self, url: str, status: int, what: str) -> IndexFetchError:
        shown = redact_url(url)
        if status in (401, 403):
            return IndexFetchError(
                f"{what} {shown} answered HTTP {status}: credentials are missing or refused",
                "put credentials in the URL (https://user:password@host/...) or in ~/.netrc",
            )
        return IndexFetchError(f"{what} {shown} answered HTTP {status}",
                               "check the URL in your index settings (pip.conf, PIP_*, --index-url)")

    def _exhausted(self, url: str, last: tuple[str, object], what: str) -> IndexFetchError:
        shown = redact_url(url)
        tries = self.config.retries + 1
        kind, detail = last
        if kind == "timeout":
            return IndexFetchError(
                f"{what} {shown}: no answer within {self.config.timeout:g} s ({tries} tries)",
                f"the index may be down or overloaded: try again later or raise --timeout; "
                f"{_OFFLINE_HINT}",
            )
        if kind == "status":
            return IndexFetchError(
                f"{what} {shown} answered HTTP {detail} on all {tries} tries",
                f"the index is failing on its side: try again later; {_OFFLINE_HINT}",
            )
        host = urlsplit(url).hostname or shown
        return IndexFetchError(
            f"cannot reach {host} for {what} {shown} ({tries} tries): "
            f"{redact_text(str(detail)) or type(detail).__name__}",
            "check the URL, the network and the proxy settings (HTTPS_PROXY, NO_PROXY); "
            + _OFFLINE_HINT,
        )

