"""URLs that carry credentials to the transport and show none anywhere else."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

MASK = "****"
_BARE_USERINFO = re.compile(r"[^/@\s]*@")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?P<password>:[^/\s]*)?@")


class Url:
    """An absolute URL whose text form hides its password: ``str``, ``repr`` and f-strings redact.

    ``https://user:pw@host/x`` shows as ``https://user:****@host/x``; a lone user (a token) as
    ``https://****@host/x``. Only ``secret()`` gives the URL as written, for the transport.
    Equality and hashing use the URL as written, credentials included. ``Url(text)`` takes text
    that is known to be a URL (joined by jetpip itself); ``Url.parse`` checks text from outside.

    Immutable, and deliberately no dataclass: ``dataclasses.asdict`` of a record holding one
    would copy the secret into a plain dict, and ``json.dumps`` of a ``Url`` fails instead of
    writing it.
    """

    __slots__ = ("_text",)
    _text: str

    def __init__(self, text: str) -> None:
        object.__setattr__(self, "_text", text)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Url is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Url is immutable (cannot delete {name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Url) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> tuple[type[Url], tuple[str]]:
        return (Url, (self._text,))

    @classmethod
    def parse(cls, text: str) -> Url:
        """Check ``text`` is an absolute URL (scheme and host; ``file:`` needs no host); raise ValueError."""
        text = text.strip()
        try:
            parts = urlsplit(text)
            _ = parts.port  # a port that is no number raises here, not in the transport
        except ValueError as err:
            raise ValueError(f"{_hidden(text)!r} is not a URL ({err})") from None
        if not parts.scheme or (parts.scheme != "file" and not parts.hostname):
            raise ValueError(f"{_hidden(text)!r} is not an absolute URL (scheme://host/...)")
        return cls(text)

    # -- rendering: never the password --------------------------------------------------
    def __str__(self) -> str:
        if "@" not in self._text:
            return self._text
        try:
            parts = urlsplit(self._text)
        except ValueError:  # a malformed host ("[" alone): still no password shown
            return redact_text(self._text)
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
        """The URL with ``path`` added below it: ``.../simple`` + ``torch/`` -> ``.../simple/torch/``."""
        return Url(f"{self._text.rstrip('/')}/{path.lstrip('/')}")

    def appended(self, suffix: str) -> Url:
        """The URL with ``suffix`` added to its end (PEP 658: a file's URL + ``.metadata``)."""
        return Url(self._text + suffix)

    def is_under(self, prefix: Url | str) -> bool:
        """True when this URL is ``prefix`` or lies below it (credentials ignored on both sides)."""
        return _below(self.without_credentials()._text, _plain(prefix)) is not None

    def moved(self, prefix: Url | str, to: Url) -> Url:
        """The URL with ``prefix`` replaced by ``to`` (a mirror); ValueError when it is not under it.

        Credentials come from ``to`` alone: a mirror is another host, which must not get the
        original's.
        """
        rest = _below(self.without_credentials()._text, _plain(prefix))
        if rest is None:
            raise ValueError(f"{self} is not under {prefix if isinstance(prefix, Url) else Url(prefix)}")
        return Url(to._text.rstrip("/") + rest)


def _hidden(text: str) -> str:
    """Text that is no URL, with anything that could be a password (before an ``@``) hidden."""
    return redact_text(text) if "://" in text else _BARE_USERINFO.sub(f"{MASK}@", text)


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
    # As ``Url`` shows them: a user with a password keeps the user; a lone user is a token, hidden.
    return _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:{MASK}@" if m["password"] is not None
        else f"{m['scheme']}{MASK}@", text)
