"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (a thread of its
own) that records what it is sent and answers as scripted.

``Receiver()`` starts it; ``receiver.url`` is where to point an endpoint;
``receiver.script`` lists the answers to give, in order (then ``receiver.default``);
``receiver.requests`` are what it received; ``receiver.release()`` lets a hanging answer
go; ``Receiver(tls=self_signed(name, folder))`` serves https with a certificate for
``name``.  ``wait_until`` polls a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    #: hold the answer until :meth:`Receiver.release` (or 30 s)
    hang: bool = False


@dataclass
class Received:
    path: str
    #: header names in lower case
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def self_signed(name: str, folder: Path) -> tuple[Path, Path]:
    """A certificate for ``name`` (its own CA) and its key, as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Receiver:
    def __init__(
        self, *script: Reply, default: Reply | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.script: list[Reply] = list(script)
        self.default = default or Reply()
        self.requests: list[Received] = []
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                reply = receiver.script.pop(0) if receiver.script else receiver.default
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if reply.hang:
                    receiver._released.wait(30)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the sender gave up waiting and closed the connection
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # https, with the certificate and key given
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def release(self) -> None:
        self._released.set()

    def events(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


async def wait_until(condition: Callable[[], Any], *, seconds: float = 10.0) -> None:
    """Return once ``condition()`` is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s")
        await asyncio.sleep(0.01)
