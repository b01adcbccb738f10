"""HTTP for the index client on httpx: one pooled client with pip's TLS, proxy, credential and retry rules."""

from __future__ import annotations

import email.utils
import netrc
import re
import ssl
import sys
import threading
import time
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jetpip import __version__
from jetpip.errors import IndexFetchError, IndexUnreachableError
from jetpip.index.config import ConfigError, IndexConfig
from jetpip.model.urls import Url, redact_text


def _no_httpx_cli() -> None:
    raise SystemExit("httpx's command line is not loaded inside jetpip")


def _skip_httpx_cli() -> None:
    """Keep httpx's own command-line client from loading with it.

    httpx's ``__init__`` imports ``httpx._main`` for its ``httpx`` command, and that module imports
    click, rich and pygments whenever they are installed (click always is, as jetpip's CLI uses it).
    Measured: 56 ms to import httpx with them, 17 ms without, on every cold run. A placeholder
    module takes ``httpx._main``'s place; jetpip never runs httpx's command.
    """
    if "httpx._main" not in sys.modules and "httpx" not in sys.modules:
        placeholder = types.ModuleType("httpx._main", "httpx's command line, not loaded by jetpip")
        placeholder.main = _no_httpx_cli  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = placeholder


_skip_httpx_cli()

import httpx  # noqa: E402  (after the placeholder above)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 527})
USER_AGENT = f"jetpip/{__version__}"
MAX_REDIRECTS = 10
_BACKOFF_MAX = 2.0  # seconds between tries, at most, when the server does not say
RETRY_AFTER_MAX = 30.0  # a server asking for longer is retried after this many seconds
# What works while an index is down: a page cached by an earlier run is used on its own (with a
# warning); what no run has cached must come from a wheelhouse.
_OFFLINE_HINT = (
    "--offline runs from what jetpip has cached; to work without the index, make a wheelhouse where it "
    "is reachable (`jetpip download pylock.toml -d DIR`), then `jetpip sync pylock.toml --find-links DIR "
    "--offline`"
)
_CHECK_URL = "check the URL in your index settings (pip.conf, PIP_*, --index-url)"

Route = tuple[str | None, str]  # (proxy URL or None, "plain" | "verify" | "trusted")


def _plain(url: str) -> str:
    """``url`` as sent on the wire: credentials travel in the auth header, never in the request line."""
    return str(Url(url).without_credentials())


@dataclass(frozen=True)
class Response:
    """A finished response: final URL (no credentials), status, lower-cased headers, body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    http_version: str = "HTTP/1.1"


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _bypassed(host: str, port: int | None, no_proxy: Sequence[str]) -> bool:
    """True when NO_PROXY names ``host``: "*", the host itself, or a domain it lies in.

    curl's reading, which pip's users set for it: a bare domain covers its subdomains,
    ``host:port`` one port, ``[::1]`` an IPv6 address; an address is matched whole.
    """
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


def _content_range(value: str | None) -> tuple[int, int]:
    """(first byte, total size) of a ``Content-Range`` header; -1 for what it does not give."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if m is None:
        return -1, -1
    return (int(m[1]) if m[1] else -1), (int(m[2]) if m[2] != "*" else -1)


def _validator(headers: Mapping[str, str]) -> str | None:
    """What ``If-Range`` may name for this answer: a strong ETag, else Last-Modified."""
    etag = headers.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("last-modified")


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number or an HTTP date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = float(value)
    else:
        try:
            wait = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(wait, 0.0), RETRY_AFTER_MAX)


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


class _Routes(httpx.BaseTransport):
    """Sends each request (each redirect hop too) through the connection pool of its route.

    A route is the proxy a request goes through (none where NO_PROXY names the host) and how its
    certificate is checked (not at all for a trusted host). httpx's own mounts match host patterns
    but cannot say "this host, through that proxy, unverified", and they are built up front; here a
    pool is built by its route's first request, so a plain-http mirror never loads the trust store.
    """

    def __init__(self, route: Callable[[httpx.URL], Route],
                 build: Callable[[str | None, str], httpx.BaseTransport]) -> None:
        self._route = route
        self._build = build
        self._pools: dict[Route, httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = self._route(request.url)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._build(*key)
        while True:
            connected: list[str] = []

            def trace(event: str, info: Mapping[str, object], connected: list[str] = connected) -> None:
                if ".connect_tcp." in event:
                    connected.append(event)

            request.extensions["trace"] = trace
            try:
                return pool.handle_request(request)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                # The server closed a kept-alive connection just as this request went out on it. A GET
                # that got no answer may be sent again (RFC 9112, 9.3.1): on a new connection, and not
                # as one of the user's retries. A new connection that fails this way is an error.
                if connected or request.method != "GET":
                    raise

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


class Http:
    """One pooled httpx client for a run, HTTP/2 where an https index offers it, with pip's policies."""

    def __init__(self, config: IndexConfig, *, max_workers: int = 16, backoff: float = 0.1) -> None:
        self.config = config
        self.backoff = backoff
        self._limits = httpx.Limits(max_connections=None, max_keepalive_connections=max_workers)
        self._tls: dict[tuple[bool, bool], ssl.SSLContext] = {}
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
        # The environment was read into the config already (pip's precedence): httpx must not read it again.
        self._client = httpx.Client(
            transport=_Routes(self._route, self._pool), trust_env=False, follow_redirects=True,
            max_redirects=MAX_REDIRECTS, timeout=httpx.Timeout(config.timeout),
            headers={"User-Agent": USER_AGENT},
        )

    # -- routes and pools ------------------------------------------------------------
    def _proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        config = self.config
        proxy = config.proxy or config.proxies.get(scheme) or config.proxies.get("all")
        if proxy is None or _bypassed(host, port, config.no_proxy):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"  # pip's --proxy takes [user:pw@]host:port

    def _route(self, url: httpx.URL) -> Route:
        proxy = self._proxy_for(url.scheme, url.host, url.port)
        if url.scheme != "https":
            return proxy, "plain"
        return proxy, "trusted" if self.config.is_trusted(str(url)) else "verify"

    def _context(self, verify: bool, *, for_proxy: bool = False) -> ssl.SSLContext:
        # Called while _Routes holds its lock. A proxy gets a context of its own: httpcore sets the
        # ALPN protocols on the context it is given, HTTP/1.1 for a proxy and h2 too for an index.
        key = (verify, for_proxy)
        ctx = self._tls.get(key)
        if ctx is None:
            ctx = self._tls[key] = ssl_context(self.config, verify=verify)
        return ctx

    def _pool(self, proxy: str | None, tls: str) -> httpx.BaseTransport:
        via = None
        if proxy is not None:
            scheme = urlsplit(proxy).scheme.lower()
            if scheme not in ("http", "https"):
                raise ConfigError(
                    f"the proxy {Url(proxy)} is a {scheme} proxy, which jetpip does not support",
                    "give an http:// or https:// proxy (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, --proxy)",
                )
            tunnel_tls = self._context(not self.config.is_trusted(proxy), for_proxy=True)
            via = httpx.Proxy(proxy, ssl_context=tunnel_tls if scheme == "https" else None)
        # An http origin needs no context: one that trusts nothing keeps it from ever being misused.
        verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if tls == "plain" else self._context(tls == "verify")
        # http2=True lets an https origin choose h2 by ALPN; an http origin is always spoken to in HTTP/1.1.
        return httpx.HTTPTransport(verify=verify, http2=True, limits=self._limits, proxy=via,
                                   trust_env=False)

    def _auth(self, url: str) -> httpx.BasicAuth | None:
        """Credentials in the URL, else those of the configured index on that host, else netrc's."""
        parts = urlsplit(url)
        creds: tuple[str, str] | None = None
        if parts.username is not None:
            creds = (unquote(parts.username), unquote(parts.password or ""))
        else:
            creds = self._creds.get(_hostport(url))
        if creds is None and self._netrc is not None:
            found = self._netrc.authenticators(parts.hostname or "")
            if found:
                creds = (found[0] or "", found[2] or "")
        # Sent with the first request only: httpx drops it when a redirect leaves the host.
        return httpx.BasicAuth(*creds) if creds else None

    def close(self) -> None:
        """Close every connection."""
        self._client.close()

    # -- requests ------------------------------------------------------------------
    def get(self, url: str, headers: Mapping[str, str], *, ok: Collection[int], what: str) -> Response:
        """GET with retries on 5xx and 429 (after any Retry-After), timeouts and dropped connections.

        A status neither in ``ok`` nor retried fails at once.
        """
        sent = dict(headers)
        # Index pages may come compressed; byte ranges and files never (a range of gzip is useless).
        compressed = "Range" not in sent and what == "index page"
        sent["Accept-Encoding"] = "gzip" if compressed else "identity"
        target, auth = _plain(url), self._auth(url)
        last: tuple[str, object] = ("none", None)
        wait: float | None = None
        for attempt in range(self.config.retries + 1):
            if attempt:
                self._pause(attempt, wait)
            try:
                r = self._client.get(target, headers=sent, auth=auth)
            except (httpx.RequestError, httpx.InvalidURL) as err:
                last, wait = self._failed(url, err, what), None
                continue
            if r.status_code in ok:
                return Response(_plain(str(r.url)), r.status_code,
                                {k.lower(): v for k, v in r.headers.items()}, r.content, r.http_version)
            if r.status_code not in RETRY_STATUS:
                raise self._status_error(url, r.status_code, what)
            last, wait = ("status", r.status_code), retry_after(r.headers.get("retry-after"), time.time())
        raise self._exhausted(url, last, what)

    def download(
        self, url: str, dest: Path, *, what: str, validator: str | None = None, resume: bool = False,
        remember: Callable[[str | None], None] | None = None,
        on_bytes: Callable[[int, bytes], None] | None = None,
    ) -> tuple[int, int] | None:
        """Stream ``url`` into ``dest``; return (bytes in ``dest``, expected) if every try was cut short.

        Bytes already in ``dest`` are kept and only the rest is asked for (``Range``), when they can
        be told to belong to the same file: ``If-Range`` with the ``validator`` they came with, so a
        changed file comes whole, or, with ``resume``, a hash the caller checks at the end. A server
        that ignores the range sends the whole file, which is then written from the start.
        ``remember`` hears each answer's validator before its bytes are written, and ``on_bytes``
        each chunk as it is written, with its offset in ``dest`` (a caller hashes the file meanwhile).
        """
        target, auth = _plain(url), self._auth(url)
        last: tuple[str, object] = ("none", None)
        short: tuple[int, int] | None = None
        wait: float | None = None
        attempt, restarted = 0, False
        while attempt <= self.config.retries:
            if attempt:
                self._pause(attempt, wait)
            attempt += 1
            have = dest.stat().st_size if dest.exists() else 0
            if not (validator or resume):
                have = 0  # nothing would show that the rest belongs to these bytes
            sent = {"Accept-Encoding": "identity"}
            if have:
                sent["Range"] = f"bytes={have}-"
                if validator:
                    sent["If-Range"] = validator
            got, expected, wait, began = have, -1, None, False
            try:
                with self._client.stream("GET", target, headers=sent, auth=auth) as r:
                    if r.status_code in RETRY_STATUS:
                        last, wait = ("status", r.status_code), retry_after(r.headers.get("retry-after"),
                                                                            time.time())
                        continue
                    start, total = _content_range(r.headers.get("content-range"))
                    if have and r.status_code in (206, 416) and (start, r.status_code) != (have, 206):
                        # Longer than the file, or a range other than asked: start over, once for free.
                        dest.unlink()
                        attempt, restarted = attempt - (not restarted), True
                        short, wait = (0, total), 0.0
                        last = ("short", short)
                        continue
                    if r.status_code not in (200, 206):
                        raise self._status_error(url, r.status_code, what)
                    if r.status_code == 200:
                        got = 0
                    length = int(r.headers.get("content-length", "-1"))
                    expected = total if r.status_code == 206 else length
                    validator = _validator(r.headers)
                    if remember is not None:
                        remember(validator)
                    began = True
                    with dest.open("ab" if got else "wb") as out:
                        # The bytes as sent, as pip keeps them: the hash is of the file the index serves.
                        # No chunk size: httpx would hold up to that many bytes back, and lose them when
                        # the connection ends early; as received, every byte that arrived is kept.
                        for chunk in r.iter_raw():
                            out.write(chunk)
                            if on_bytes is not None:
                                on_bytes(got, chunk)
                            got += len(chunk)
                if expected >= 0 and got != expected:
                    short = (got, expected)
                    last = ("short", short)
                    continue
                return None
            except (httpx.RemoteProtocolError, httpx.ReadError) as err:
                if began:  # the answer began, then the connection ended
                    short = (got, expected)
                    last = ("short", short)
                else:
                    last = self._failed(url, err, what)
            except (httpx.RequestError, httpx.InvalidURL) as err:
                last = self._failed(url, err, what)
        if last[0] == "short" and short is not None:
            return short
        raise self._exhausted(url, last, what)

    def _pause(self, attempt: int, asked: float | None) -> None:
        """Wait before another try: as long as the server asked, else an exponential backoff."""
        time.sleep(asked if asked is not None else min(self.backoff * 2 ** (attempt - 1), _BACKOFF_MAX))

    # -- messages ------------------------------------------------------------------
    def _failed(self, url: str, err: Exception, what: str) -> tuple[str, object]:
        """What to report if no try succeeds; raises at once for what another try cannot mend."""
        if isinstance(err, httpx.TimeoutException):
            return ("timeout", err)
        shown = str(Url(url))
        if isinstance(err, httpx.TooManyRedirects):
            raise IndexFetchError(f"{what} {shown} redirects more than {MAX_REDIRECTS} times",
                                  _CHECK_URL) from err
        if isinstance(err, httpx.InvalidURL):
            raise IndexFetchError(f"{what} {shown} is not a URL jetpip can fetch: {redact_text(str(err))}",
                                  _CHECK_URL) from err
        text = str(err)
        parts = urlsplit(url)
        host = parts.hostname
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
            proxy = self._proxy_for(parts.scheme, host or "", parts.port)
            # An https proxy's certificate is checked too, and the error does not say whose failed.
            via = (f" (or for the https proxy {Url(proxy)} it goes through)"
                   if proxy is not None and urlsplit(proxy).scheme.lower() == "https" else "")
            raise IndexFetchError(
                f"TLS verification failed for {what} {shown}{via}: {redact_text(text)}",
                f"if a proxy re-signs TLS, point --cert (or cert in pip.conf) at its CA bundle; "
                f"--trusted-host {host} turns verification off for that host",
            ) from err
        if "CERTIFICATE_REQUIRED" in text:
            raise IndexFetchError(
                f"{host} asks for a client certificate for {what} {shown}, and none was accepted",
                "point --client-cert (client-cert in pip.conf) at a PEM file holding the certificate "
                "and its key",
            ) from err
        return ("transport", err)

    def _status_error(self, url: str, status: int, what: str) -> IndexFetchError:
        shown = str(Url(url))
        if status in (401, 403):
            return IndexFetchError(
                f"{what} {shown} answered HTTP {status}: credentials are missing or refused",
                "put credentials in the URL (https://user:password@host/...) or in ~/.netrc",
            )
        hint = _CHECK_URL
        if status in (404, 410) and what != "index page":
            # The page listed it: the index removed or re-uploaded it since the page was read.
            hint = ("the index no longer serves a file its page listed (removed, or re-uploaded under a new "
                    "URL): run the same command with --refresh to read the page afresh")
        err = IndexFetchError(f"{what} {shown} answered HTTP {status}", hint)
        err.status = status  # a locked file's 404/410 is explained by the caller that knows the lock
        return err

    def _exhausted(self, url: str, last: tuple[str, object], what: str) -> IndexUnreachableError:
        shown = str(Url(url))
        tries = self.config.retries + 1
        kind, detail = last
        if kind == "timeout":
            return _unreachable(
                f"{what} {shown}: no answer within {self.config.timeout:g} s ({tries} tries)",
                f"the index may be down or overloaded: try again later or raise --timeout; {_OFFLINE_HINT}",
                f"no answer within {self.config.timeout:g} s",
            )
        if kind == "status":
            return _unreachable(
                f"{what} {shown} answered HTTP {detail} on all {tries} tries",
                f"the index is failing on its side: try again later; {_OFFLINE_HINT}",
                f"HTTP {detail}",
            )
        parts = urlsplit(url)
        host = parts.hostname or shown
        proxy = self._proxy_for(parts.scheme, host, parts.port)
        why = redact_text(str(detail)) or type(detail).__name__
        if proxy is not None and isinstance(detail, httpx.ProxyError):  # CONNECT answered with an error
            return _unreachable(
                f"the proxy {Url(proxy)} would not open a tunnel to {host} for {what} {shown} "
                f"({tries} tries): {why}",
                "check the proxy URL and its credentials (HTTPS_PROXY, HTTP_PROXY, --proxy), or name "
                f"{host} in NO_PROXY if it is reached directly; {_OFFLINE_HINT}",
                f"the proxy {Url(proxy)} refused a tunnel",
            )
        if isinstance(detail, httpx.RemoteProtocolError) and (
                "message body" in str(detail) or "chunked read" in str(detail)):
            # The host answered, then dropped the connection mid-answer: not a network setting.
            return _unreachable(
                f"{host} cut its answer short for {what} {shown} ({tries} tries): {why}",
                f"the index or a proxy on the way is failing: try again later; {_OFFLINE_HINT}",
                why,
            )
        via = f" through the proxy {Url(proxy)}" if proxy is not None else ""
        return _unreachable(
            f"cannot reach {host}{via} for {what} {shown} ({tries} tries): {why}",
            "check the URL, the network and the proxy settings (HTTPS_PROXY, NO_PROXY); "
            + _OFFLINE_HINT,
            why,
        )


def _unreachable(message: str, hint: str, reason: str) -> IndexUnreachableError:
    err = IndexUnreachableError(message, hint)
    err.reason = reason
    return err
