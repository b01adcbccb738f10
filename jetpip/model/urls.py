"""URLs that carry credentials to the transport and show none anywhere else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

MASK = "****"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@")


@dataclass(frozen=True)
class Url:
    """An absolute URL whose text form hides its password: ``str``, ``repr`` and f-strings redact.

    ``https://user:pw@host/x`` shows as ``https://user:****@host/x``; a lone user (a token) as
    ``https://****@host/x``. Only ``secret()`` gives the URL as written, for the transport.
    Equality and hashing use the URL as written, credentials included. ``Url(text)`` takes text
    that is known to be a URL (joined by jetpip itself); ``Url.parse`` checks text from outside.
    """

    _text: str

    @classmethod
    def parse(cls, text: str) -> Url:
        """Check ``text`` is an absolute URL (scheme and host; ``file:`` needs no host); raise ValueError."""
        text = text.strip()
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - a port that is no number raises here, not in the transport
        except ValueError as err:
            raise ValueError(f"{redact_text(text)!r} is not a URL ({err})") from None
        if not parts.scheme or (parts.scheme != "file" and not parts.hostname):
            raise ValueError(f"{redact_text(text)!r} is not an absolute URL (scheme://host/...)")
        return cls(text)

    # -- rendering: never the password --------------------------------------------------
    def __str__(self) -> str:
        if "@" not in self._text:
            return self._text
        parts = urlsplit(self._text)
        userinfo, at, host = parts.netloc.rpartition("@")
        if not at:
            return self._text
        user, colon, _ = userinfo.partition(":")
        shown = f"{user}:{MASK}" if colon else MASK
        return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))

    def __repr__(self) -> str:
        return f"Url({str(self)!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def secret(self) -> str:
        """The URL as written, credentials included: for the transport only, never for output."""
        return self._text

    # -- parts --------------------------------------------------------------------------
    @property
    def _parts(self) -> SplitResult:
        return urlsplit(self._text)

    @property
    def has_credentials(self) -> bool:
        """True when the URL names a user (and perhaps a password)."""
        return "@" in self._parts.netloc

    def without_credentials(self) -> Url:
        """The same URL without ``user:password@``: what a lock file records."""
        if "@" not in self._text:
            return self
        parts = self._parts
        if "@" not in parts.netloc:
            return self
        return Url(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))

    @property
    def scheme(self) -> str:
        """``https``, ``http`` or ``file`` (lower case)."""
        return self._parts.scheme.lower()

    @property
    def host(self) -> str:
        """The host name, lower case ("" for a ``file:`` URL)."""
        return self._parts.hostname or ""

    @property
    def port(self) -> int | None:
        """The port the URL names, if it names one."""
        return self._parts.port

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``, without credentials."""
        parts = self._parts
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    @property
    def path(self) -> str:
        """The path, still percent-encoded."""
        return self._parts.path

    # -- new URLs from this one ---------------------------------------------------------
    def join(self, ref: str) -> Url:
        """Resolve ``ref`` (an href from a page) against this URL, as a browser does."""
        return Url(urljoin(self._text, ref))

    def child(self, path: str) -> Url:
        """This URL with ``path`` added below it: ``.../simple`` + ``torch/`` -> ``.../simple/torch/``."""
        return Url(f"{self._text.rstrip('/')}/{path.lstrip('/')}")

    def appended(self, suffix: str) -> Url:
        """This URL with ``suffix`` added to its end (PEP 658: a file's URL + ``.metadata``)."""
        return Url(self._text + suffix)

    def is_under(self, prefix: Url | str) -> bool:
        """True when this URL is ``prefix`` or lies below it (credentials ignored on both sides)."""
        return _below(self.without_credentials()._text, _plain(prefix)) is not None

    def moved(self, prefix: Url | str, to: Url) -> Url:
        """This URL with ``prefix`` replaced by ``to`` (a mirror); ValueError when it is not under it.

        Credentials come from ``to`` alone: a mirror is another host, which must not get the
        original's.
        """
        rest = _below(self.without_credentials()._text, _plain(prefix))
        if rest is None:
            raise ValueError(f"{self} is not under {prefix}")
        return Url(to._text.rstrip("/") + rest)


def _plain(url: Url | str) -> str:
    return (url if isinstance(url, Url) else Url(url)).without_credentials()._text


def _below(url: str, prefix: str) -> str | None:
    """What follows ``prefix`` in ``url`` ("" or "/..."), or None when ``url`` is not under it."""
    base = prefix.rstrip("/")
    if url == base or url.startswith(base + "/"):
        return url[len(base):]
    return None


def redact_text(text: str) -> str:
    """Free text (pip's output, an exception message) with every ``scheme://user:password@`` redacted."""
    return _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:{MASK}@" if m["user"] else f"{m['scheme']}{MASK}@", text)


def redact_url(url: str) -> str:
    """``url`` as ``Url`` shows it (kept for the transport until it takes ``Url``)."""
    return str(Url(url))


def strip_credentials(url: str) -> str:
    """``url`` without ``user:password@`` (kept for the transport until it takes ``Url``)."""
    return Url(url).without_credentials()._text


def redact(url: str | Url) -> str:
    """``url`` as ``Url`` shows it (kept for the command line until it formats ``Url`` itself)."""
    return str(url if isinstance(url, Url) else Url(url))
