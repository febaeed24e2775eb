"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (a thread of its
own) that records what it is sent and answers as scripted.

``Receiver()`` starts it; ``receiver.url`` is where to point an endpoint;
``receiver.script`` lists the answers to give, in order (then ``receiver.default``);
``receiver.requests`` are what it received; ``receiver.release()`` lets a hanging answer
go.  ``wait_until`` polls a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class Receiver:
    def __init__(self, *script: Reply, default: Reply | None = None) -> None:
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
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

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
