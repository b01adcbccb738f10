"""URLs that carry credentials to the transport and show none anywhere else."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``****`` (a bare token user is hidden too)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    shown = f"{user}:****" if sep else "****"
    return urlunsplit((parts.scheme, f"{shown}@{host}", parts.path, parts.query, parts.fragment))


def strip_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    if "@" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query,
                       parts.fragment))


def redact_text(text: str) -> str:
    """Every ``scheme://user:password@`` inside free text, redacted."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:****@" if m["user"] else
                         f"{m['scheme']}****@", text)


def redact(url: str) -> str:
    """``https://user:pw@host/x`` -> ``https://***@host/x``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
