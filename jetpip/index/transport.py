"""HTTP for the index client: kept-alive connections, TLS, proxies, credentials, retries, fault messages."""

from __future__ import annotations

import base64
import http.client
import netrc
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

from jetpip import __version__
from jetpip.errors import IndexFetchError
from jetpip.index.cache import CHUNK
from jetpip.index.config import ConfigError, IndexConfig
from jetpip.model.urls import redact_text, redact_url, strip_credentials

RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 527})
_REDIRECT = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_SAFE = "/%?&=+:;@,$!*'()~[]"  # left as they are in a request target
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


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def _bypassed(host: str, port: int | None, no_proxy: Sequence[str]) -> bool:
    """True when NO_PROXY names ``host``: "*", the host itself, or a domain it lies in."""
    host = host.lower()
    for entry in no_proxy:
        entry = entry.strip().lower().lstrip(".")
        if entry == "*":
            return True
        if not entry:
            continue
        if entry.startswith("["):  # [::1] or [::1]:8080
            name, _, rest = entry[1:].partition("]")
            want_port = rest.lstrip(":")
        elif entry.count(":") == 1:  # host:port (a bare IPv6 address has more colons)
            name, _, want_port = entry.partition(":")
        else:
            name, want_port = entry, ""
        if want_port and str(port) != want_port:
            continue
        if host == name or (not re.fullmatch(r"[\d.:]+|localhost", name) and host.endswith("." + name)):
            return True
    return False


def _proxy_auth(proxy: SplitResult) -> dict[str, str]:
    if not proxy.username:
        return {}
    user = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(user.encode()).decode()}


def _exchange(
    pool: _Pool, target: str, headers: Mapping[str, str]
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    conn, reused = pool.take()
    try:
        try:
            conn.request("GET", target, headers=dict(headers))
            return conn.getresponse(), conn
        except _STALE:
            if not reused:
                raise
        # The server closed the kept-alive connection meanwhile: send once more on a new one.
        conn.close()
        conn = pool.connect()
        conn.request("GET", target, headers=dict(headers))
        return conn.getresponse(), conn
    except BaseException:
        conn.close()
        raise


def _release(
    pool: _Pool, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, *, done: bool
) -> None:
    """Keep ``conn`` for the next request if its response was read to the end, else close it."""
    if done and not resp.will_close:
        pool.give(conn)
    else:
        conn.close()


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    return zlib.decompress(body, 16 + zlib.MAX_WBITS)


def ssl_context(config: IndexConfig, *, verify: bool = True) -> ssl.SSLContext:
    """The system trust store (truststore), or the configured CA bundle; plus any client cert.

    ``verify=False`` (a trusted host): no certificate check, but the client cert is still offered.
    """
    try:
        if not verify:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif config.cert:
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


class _Pool:
    """The idle kept-alive connections of one route (origin, proxy and TLS mode)."""

    def __init__(self, connect: Callable[[], http.client.HTTPConnection], keep: int) -> None:
        self.connect = connect
        self._keep = keep
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (True: it was used before), else a new one."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self.connect(), False

    def give(self, conn: http.client.HTTPConnection) -> None:
        """Keep ``conn`` for the next request (its last response was read to the end)."""
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# A kept-alive connection the server closed meanwhile fails like this on its next request.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
          ssl.SSLEOFError)


class Http:
    """Kept-alive connections per origin, with pip's policies: TLS, proxies, credentials, retries.

    It is built on http.client: an index client sends a few hundred plain GETs, and a
    general-purpose client cost more CPU per request than the resolution around them.
    """

    def __init__(self, config: IndexConfig, *, max_workers: int = 16, backoff: float = 0.1) -> None:
        self.config = config
        self.backoff = backoff
        self._keep = max_workers  # idle connections kept per route
        self._pools: dict[tuple[str, str, int, str | None, bool], _Pool] = {}
        self._tls: dict[bool, ssl.SSLContext] = {}
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

    # -- connections -----------------------------------------------------------------
    def _context(self, verify: bool) -> ssl.SSLContext:
        # Set up by the first https request: an index on plain http never loads the trust store.
        with self._lock:
            ctx = self._tls.get(verify)
            if ctx is None:
                ctx = self._tls[verify] = ssl_context(self.config, verify=verify)
            return ctx

    def _proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        config = self.config
        proxy = config.proxy or config.proxies.get(scheme) or config.proxies.get("all")
        if proxy is None or _bypassed(host, port, config.no_proxy):
            return None
        return proxy

    def _pool(self, scheme: str, host: str, port: int, proxy: str | None, verify: bool) -> _Pool:
        key = (scheme, host, port, proxy, verify)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool(lambda: self._connect(*key), self._keep)
            return pool

    def _connect(
        self, scheme: str, host: str, port: int, proxy: str | None, verify: bool
    ) -> http.client.HTTPConnection:
        timeout = self.config.timeout
        if proxy is None:
            if scheme == "https":
                return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context(verify))
            return http.client.HTTPConnection(host, port, timeout=timeout)
        p = urlsplit(proxy)
        p_host, p_port = p.hostname or "", p.port or (443 if p.scheme == "https" else 80)
        if scheme == "https":
            if p.scheme == "https":
                raise ConfigError(
                    f"the proxy {redact_url(proxy)} is itself reached over https, which jetpip does "
                    "not support for https indexes",
                    "give the proxy as http://host:port (HTTPS_PROXY, --proxy)",
                )
            conn = http.client.HTTPSConnection(p_host, p_port, timeout=timeout, context=self._context(verify))
            conn.set_tunnel(host, port, headers=_proxy_auth(p))
            return conn
        if p.scheme == "https":
            return http.client.HTTPSConnection(p_host, p_port, timeout=timeout, context=self._context(True))
        return http.client.HTTPConnection(p_host, p_port, timeout=timeout)

    def _auth(self, url: str) -> str | None:
        key = _hostport(url)
        creds = self._creds.get(key)
        if creds is None and self._netrc is not None:
            found = self._netrc.authenticators(urlsplit(url).hostname or "")
            if found:
                creds = (found[0] or "", found[2] or "")
        if not creds:
            return None
        return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()

    def close(self) -> None:
        """Close every idle connection (those in use close when their response is done)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def _open(
        self, url: str, headers: Mapping[str, str]
    ) -> tuple[str, http.client.HTTPResponse, _Pool, http.client.HTTPConnection]:
        """Send a GET for ``url`` (following redirects); the caller reads the response, then releases it."""
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https"):
                raise http.client.InvalidURL(f"unsupported URL scheme {scheme!r}")
            host = parts.hostname or ""
            port = parts.port or (443 if scheme == "https" else 80)
            verify = not (scheme == "https" and self.config.is_trusted(url))
            proxy = self._proxy_for(scheme, host, parts.port)
            # As browsers and pip do: what a page left unescaped (a space) is escaped, escapes stay.
            target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_SAFE)
            sent = {"User-Agent": USER_AGENT, **headers}
            auth = self._auth(url)
            if auth:
                sent["Authorization"] = auth
            if proxy is not None and scheme == "http":
                target = f"{scheme}://{_netloc(host, parts.port)}{target}"  # absolute form, for the proxy
                sent.update(_proxy_auth(urlsplit(proxy)))
            pool = self._pool(scheme, host, port, proxy, verify)
            resp, conn = _exchange(pool, target, sent)
            location = resp.getheader("location") if resp.status in _REDIRECT else None
            if not location:
                return url, resp, pool, conn
            resp.read()
            _release(pool, conn, resp, done=True)
            url = urljoin(url, location)
        raise http.client.HTTPException(f"more than {_MAX_REDIRECTS} redirects")

    # -- requests ------------------------------------------------------------------
    def get(self, url: str, headers: Mapping[str, str], *, ok: Collection[int], what: str) -> Response:
        """GET with retries on 5xx, timeouts and dropped connections; other statuses not in ok fail."""
        headers = dict(headers)
        # Index pages may come compressed; byte ranges and files never (a range of gzip is useless).
        compressed = "Range" not in headers and what == "index page"
        headers["Accept-Encoding"] = "gzip" if compressed else "identity"
        last: tuple[str, object] = ("none", None)
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 2.0))
            try:
                final, resp, pool, conn = self._open(url, headers)
                done = False
                try:
                    status = resp.status
                    if status not in ok:
                        if status in RETRY_STATUS:
                            last = ("status", status)
                            continue
                        raise self._status_error(url, status, what)
                    body = resp.read()
                    done = True
                finally:
                    _release(pool, conn, resp, done=done)
                found = {k.lower(): v for k, v in resp.getheaders()}
                encoding = found.get("content-encoding", "").lower()
                if encoding in ("gzip", "x-gzip", "deflate"):
                    body = _decompress(body, encoding)
                return Response(strip_credentials(final), status, found, body)
            except TimeoutError as err:
                last = ("timeout", err)
            except ssl.SSLError as err:
                self._raise_if_tls(url, err, what)
                last = ("transport", err)
            except (OSError, http.client.HTTPException, zlib.error) as err:
                last = ("transport", err)
        raise self._exhausted(url, last, what)

    def download(self, url: str, dest: Path, *, what: str) -> tuple[int, int] | None:
        """Stream ``url`` into ``dest``; return (got, expected) bytes if every try was cut short."""
        last: tuple[str, object] = ("none", None)
        short: tuple[int, int] | None = None
        headers = {"Accept-Encoding": "identity"}
        for attempt in range(self.config.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 2.0))
            got = 0
            expected = -1
            try:
                _, resp, pool, conn = self._open(url, headers)
                done = False
                try:
                    if resp.status in RETRY_STATUS:
                        last = ("status", resp.status)
                        continue
                    if resp.status != 200:
                        raise self._status_error(url, resp.status, what)
                    expected = int(resp.getheader("content-length") or "-1")
                    with dest.open("wb") as out:
                        while chunk := resp.read(CHUNK):
                            out.write(chunk)
                            got += len(chunk)
                    done = True
                finally:
                    _release(pool, conn, resp, done=done)
                if expected >= 0 and got != expected:
                    short = (got, expected)
                    last = ("short", short)
                    continue
                return None
            except TimeoutError as err:
                last = ("timeout", err)
            except ssl.SSLError as err:
                self._raise_if_tls(url, err, what)
                last = ("transport", err)
            except (http.client.IncompleteRead, ConnectionError) as err:
                short = (got, expected) if got or expected > 0 else short
                last = ("short", short) if short else ("transport", err)
            except (OSError, http.client.HTTPException) as err:
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

