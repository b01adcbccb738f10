"""A git repository served over plain HTTP ("dumb" protocol) behind Basic authentication."""

from __future__ import annotations

import base64
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.projects import git


class _AuthHandler(SimpleHTTPRequestHandler):
    expected = ""  # "Basic ..." that the server accepts
    seen: list[str]  # the Authorization headers that came in, as sent

    def do_GET(self) -> None:
        got = self.headers.get("Authorization", "")
        self.seen.append(got)
        if got != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def git_over_http(repo: Path, user: str, password: str) -> Iterator[tuple[str, list[str]]]:
    """Serve a bare copy of ``repo`` at ``http://127.0.0.1:PORT/repo.git``, only to ``user:password``.

    Yields the URL without credentials and the list of Authorization headers received.
    """
    bare = repo.parent / "served" / "repo.git"
    git(repo.parent, "clone", "--quiet", "--bare", str(repo), str(bare))
    git(bare, "update-server-info")
    seen: list[str] = []
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    handler = type("Handler", (_AuthHandler,), {"expected": f"Basic {token}", "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(bare.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo.git", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
