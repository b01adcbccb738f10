"""The https mirror: a throwaway CA and certificate, TLS on the loopback mirror, HTTP/2 where offered.

Each connection is accepted, held for the per-request delay (the handshake's round trip; the TCP
connect's is not modelled), then handshaken. ALPN picks HTTP/2 when the client offers ``h2`` and the
``h2`` package is importable here; everything else is HTTP/1.1 over TLS, served by the plain mirror's
handler. Under HTTP/2 every stream waits the per-request delay on its own, as a request on its own
HTTP/1.1 connection does, so the delay is per request under both protocols.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib.util
import ipaddress
import select
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bench.mirror import Answer, Hit, Httpd, MirrorServer, answer

HAS_H2 = importlib.util.find_spec("h2") is not None


@dataclass(frozen=True)
class Pki:
    """The files of a throwaway CA: clients trust ``ca``; the server holds ``cert`` and ``key``."""

    ca: Path
    cert: Path
    key: Path
    made_by: str  # "cryptography" or "openssl"


def make_pki(dest: Path) -> Pki | None:
    """A CA and a certificate for 127.0.0.1 valid for two days, or None when nothing here can make one."""
    dest.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("cryptography") is not None:
        return _pki_with_cryptography(dest)
    if shutil.which("openssl"):
        return _pki_with_openssl(dest)
    return None


def _pki_with_cryptography(dest: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def builder(subject: str, issuer: str, public: Any) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "encipher_only", "decipher_only"),
        False,
    )
    ca = (
        builder("jetpip bench CA", "jetpip bench CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        builder("127.0.0.1", "jetpip bench CA", key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (dest / "ca.pem").write_bytes(ca.public_bytes(pem))
    (dest / "server.pem").write_bytes(cert.public_bytes(pem))
    (dest / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Pki(dest / "ca.pem", dest / "server.pem", dest / "server.key", "cryptography")


def _pki_with_openssl(dest: Path) -> Pki:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=dest, check=True, capture_output=True)

    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec_key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=jetpip bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (dest / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("req", *ec_key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return Pki(dest / "ca.pem", dest / "server.pem", dest / "server.key", "openssl")


@dataclass
class TlsMirrorServer(MirrorServer):
    """The mirror over TLS; counts connections by the protocol ALPN chose for each."""

    pki: Pki | None = None
    http2: bool = HAS_H2
    connections: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "https" + super().url[len("http") :]

    def _make_httpd(self) -> ThreadingHTTPServer:
        assert self.pki is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.cert, self.pki.key)
        ctx.set_alpn_protocols(["h2", "http/1.1"] if self.http2 else ["http/1.1"])
        owner, handler = self, self.handler()

        class TlsHttpd(Httpd):
            def finish_request(self, request: Any, client_address: Any) -> None:
                owner.serve_connection(ctx, request, client_address, handler, self)

        return TlsHttpd(("127.0.0.1", 0), handler)

    def serve_connection(self, ctx: ssl.SSLContext, raw: socket.socket, addr: Any, handler: Any,
                         httpd: ThreadingHTTPServer) -> None:
        if self.delay:
            time.sleep(self.delay)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up, or refused the certificate: nothing was asked
        try:
            proto = conn.selected_alpn_protocol() or "http/1.1"
            with self._lock:
                self.connections.append(proto)
            if proto == "h2":
                _H2Connection(self, conn).serve()
            else:
                handler(conn, addr, httpd)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    def connection_mark(self) -> int:
        with self._lock:
            return len(self.connections)

    def connections_since(self, mark: int) -> list[str]:
        with self._lock:
            return list(self.connections[mark:])


class _H2Connection:
    """One HTTP/2 connection, served from one thread: due responses by a timer heap, data by window."""

    def __init__(self, owner: TlsMirrorServer, sock: ssl.SSLSocket) -> None:
        import h2.config
        import h2.connection

        self.owner, self.sock = owner, sock
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=config)
        self.due: list[tuple[float, int, dict[str, str]]] = []  # (when, stream, request headers)
        self.sending: dict[int, memoryview] = {}  # stream -> body left to send

    def serve(self) -> None:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h2.initiate_connection()
        self.sock.sendall(self.h2.data_to_send())
        while True:
            wait = max(0.0, self.due[0][0] - time.monotonic()) if self.due else None
            if self.sock.pending() or select.select([self.sock], [], [], wait)[0]:
                data = self.sock.recv(65536)
                if not data or not self._received(data):
                    return
            now = time.monotonic()
            while self.due and self.due[0][0] <= now:
                _, stream, headers = heapq.heappop(self.due)
                self._respond(stream, headers)
            self._pump()
            out = self.h2.data_to_send()
            if out:
                self.sock.sendall(out)

    def _received(self, data: bytes) -> bool:
        import h2.events

        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers or []}
                heapq.heappush(self.due, (time.monotonic() + self.owner.delay, event.stream_id or 0, headers))
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.sending.pop(event.stream_id or 0, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return False
        return True

    def _respond(self, stream: int, headers: dict[str, str]) -> None:
        import h2.exceptions

        method, target = headers.get(":method", "GET"), headers.get(":path", "/")
        path = unquote(urlsplit(target).path)
        got: Answer = answer(self.owner.mirror, method, path, headers)
        fields = [(":status", str(got.status)), *((k.lower(), v) for k, v in got.headers)]
        try:
            self.h2.send_headers(stream, fields, end_stream=not got.body)
        except h2.exceptions.ProtocolError:  # the client reset the stream while it waited
            return
        if got.body:
            self.sending[stream] = memoryview(got.body)
        hit = Hit(method, path, got.status, got.kind, headers.get("user-agent", ""), got.sent, "h2")
        self.owner.record(hit)

    def _pump(self) -> None:
        """Send DATA frames round-robin over the streams, as far as the client's windows allow."""
        import h2.exceptions

        moved = True
        while moved and self.sending:
            moved = False
            for stream, left in list(self.sending.items()):
                try:
                    room = min(self.h2.local_flow_control_window(stream), self.h2.max_outbound_frame_size)
                    if room <= 0:
                        continue
                    chunk, rest = left[:room], left[room:]
                    self.h2.send_data(stream, chunk.tobytes(), end_stream=not rest)
                except h2.exceptions.ProtocolError:  # closed or reset under us: drop what is left
                    self.sending.pop(stream, None)
                    continue
                moved = True
                if rest:
                    self.sending[stream] = rest
                else:
                    del self.sending[stream]
            out = self.h2.data_to_send()
            if out:
                self.sock.sendall(out)
