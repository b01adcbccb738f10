"""A loopback TLS front that speaks only HTTP/2 and passes each request to an IndexServer behind it.

The index server (http.server) knows only HTTP/1.1; this front offers nothing but ``h2`` by ALPN,
so every answer that comes back through it came over HTTP/2. It logs each request with the number
of the connection it came on: one number for a whole run is one multiplexed connection.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import socket
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions

# Meaningful on one HTTP/1.1 hop only; HTTP/2 forbids them.
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})


@dataclass
class H2Front:
    """Serve ``backend`` (an ``http://`` IndexServer URL) over TLS and HTTP/2 until ``stop()``."""

    backend: str
    tls: ssl.SSLContext
    requests: list[tuple[int, str]] = field(default_factory=list)  # (connection number, path)
    connections: int = 0  # TLS connections that chose h2
    _sock: socket.socket | None = None
    _open: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._sock is not None, "front not started"
        host, port = self._sock.getsockname()[:2]
        return f"https://{host}:{port}"

    def start(self) -> H2Front:
        self.tls.set_alpn_protocols(["h2"])
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):  # closed by the client already
                    sock.shutdown(socket.SHUT_RDWR)
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            sock = self.tls.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        with sock:
            if sock.selected_alpn_protocol() != "h2":
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._open.append(sock)
            with contextlib.suppress(OSError, h2.exceptions.ProtocolError):  # the client went away
                _Connection(self, sock, number).run()

    def forward(self, number: int, head: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Ask the backend over HTTP/1.1; its answer, without the headers HTTP/2 forbids."""
        with self._lock:
            self.requests.append((number, head[":path"]))
        backend = urlsplit(self.backend)
        conn = http.client.HTTPConnection(backend.hostname or "", backend.port, timeout=10)
        try:
            headers = {k: v for k, v in head.items() if not k.startswith(":")}
            headers["host"] = head[":authority"]
            conn.request(head[":method"], head[":path"], headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        kept = [(k.lower(), v) for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS]
        return resp.status, kept, body


class _Connection:
    """One client connection: streams answered in the order they complete, bodies sent as the
    client's flow-control window allows (reading its window updates, and any new requests, meanwhile).
    """

    def __init__(self, front: H2Front, sock: ssl.SSLSocket, number: int) -> None:
        self.front = front
        self.sock = sock
        self.number = number
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.heads: dict[int, dict[str, str]] = {}
        self.ready: collections.deque[int] = collections.deque()
        self.reset: set[int] = set()
        self.closed = False

    def run(self) -> None:
        self.h2.initiate_connection()
        self._flush()
        while not self.closed:
            while self.ready and not self.closed:
                self._answer(self.ready.popleft())
            if not self.closed:
                self._receive()

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.heads[event.stream_id] = {str(k): str(v) for k, v in event.headers}
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ready.append(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset.add(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.closed = True
        self._flush()

    def _answer(self, stream_id: int) -> None:
        head = self.heads.pop(stream_id)
        status, headers, body = self.front.forward(self.number, head)
        if head[":method"] == "HEAD":
            body = b""
        self.h2.send_headers(stream_id, [(":status", str(status)), *headers], end_stream=not body)
        self._flush()
        while body and not self.closed and stream_id not in self.reset:
            room = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
            if room <= 0:
                self._receive()
                continue
            chunk, body = body[:room], body[room:]
            self.h2.send_data(stream_id, chunk, end_stream=not body)
            self._flush()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)
