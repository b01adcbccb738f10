"""Local sources: a directory or file named by a file:// URL, read as the page an index would serve."""

from __future__ import annotations

from pathlib import Path

from jetpip.index.cache import CachedPage
from jetpip.model.urls import Url

DIR_LISTING = "x-jetpip/directory"  # a page that is a list of file names, one a line


def local_path(url: Url) -> Path:
    """The filesystem path a file:// URL names."""
    from urllib.request import url2pathname  # here, not at the top: it imports http.client and email

    return Path(url2pathname(url.path))


def local_page(url: Url) -> CachedPage:
    """A directory's index.html or its file names; an HTML file; a wheel or sdist as a one-file page."""
    path = local_path(url)
    text = str(url.without_credentials())  # a file: URL has no credentials
    if path.is_dir():
        index = path / "index.html"
        if index.is_file():
            return CachedPage(text, 200, "text/html", index.read_bytes())
        names = sorted(p.name for p in path.iterdir() if p.is_file())
        base = text if text.endswith("/") else text + "/"
        return CachedPage(base, 200, DIR_LISTING, "\n".join(names).encode())
    if path.is_file():
        if path.suffix in (".whl", ".zip") or path.name.endswith(".tar.gz"):
            return CachedPage(text.rsplit("/", 1)[0] + "/", 200, DIR_LISTING, path.name.encode())
        return CachedPage(text, 200, "text/html", path.read_bytes())
    return CachedPage(text, 404, "text/plain", b"")
