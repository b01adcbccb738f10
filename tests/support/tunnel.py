"""A loopback HTTP proxy that answers CONNECT only, as a fleet's proxy does for https indexes.

Given a server-side TLS context it is an https proxy: the client speaks TLS to the proxy, and the
index's TLS runs inside that.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from dataclasses import dataclass, field


@dataclass
class TunnelProxy:
    """``CONNECT host:port`` opens a tunnel and copies bytes both ways; anything else gets a 405."""

    tunnels: list[str] = field(default_factory=list)  # "host:port" of each CONNECT, in order
    proxy_authorization: list[str | None] = field(default_factory=list)
    tls: ssl.SSLContext | None = None
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._sock is not None, "proxy not started"
        host, port = self._sock.getsockname()[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> TunnelProxy:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            self._tunnel(client)
        except OSError:
            pass  # either end hung up, or reset (a client that refused the certificate does)
        finally:
            client.close()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.tunnels.append(target)
        self.proxy_authorization.append(headers.get("proxy-authorization"))
        host, _, port = target.rpartition(":")
        with socket.create_connection((host, int(port))) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._pipe(client, upstream)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._stop.is_set():
            # TLS may hold decrypted bytes that select() cannot see on the socket.
            ready = [s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(list(peers), [], [], 0.2)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
