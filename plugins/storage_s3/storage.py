"""The ``s3`` storage: attachments in an S3 bucket (AWS or an S3-compatible service).

Files are read and written with obstore (an async client on Rust's ``object_store``),
under the core's random keys below the bucket's ``prefix``.  Presigned download URLs are
signed with botocore's SigV4 query signer: obstore signs URLs too, but without the
``response-content-disposition`` / ``response-content-type`` / ``response-cache-control``
parameters that make the bucket answer with the headers the app would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from agorakit.attachments import content_disposition
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.plugins.storage_s3.settings import S3Settings
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.plugins.storage_s3")

NAME = "storage_s3"
#: what ``[plugins.storage_s3]`` needs installed: the ``s3`` extra
EXTRA = "install agorakit's s3 extra: pip install 'agorakit[s3]'"
#: the object ``check()`` writes (not a key :func:`agorakit.attachments.storage.new_key` makes)
PROBE_KEY = "agorakit-ready-check"
#: how long ``check()`` waits for the bucket, in seconds
CHECK_SECONDS = 5.0
#: the size of the pieces a download through the app is sent in, in bytes
CHUNK_BYTES = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{16,64}$")


class BucketMissing(Exception):
    """The bucket itself is not there (a read's 404 that is not about the file)."""


class S3Storage:
    """Files in an S3 bucket (``[plugins.storage_s3]``), one object per key."""

    name = "s3"

    def __init__(self) -> None:
        self.settings: S3Settings | None = None
        self._store: Any = None
        self._credentials: Any = None

    def bind(self, runtime: Runtime) -> None:
        """Reads ``[plugins.storage_s3]``; a site that selects this storage without naming
        its bucket stops at start-up."""
        settings: S3Settings = runtime.plugin_settings(NAME)
        if not settings.bucket:
            message = (
                f"{runtime.settings.source}: plugins.storage_s3.bucket: name the bucket that keeps "
                'the files (attachments.storage = "s3" or a migration to s3 uses it)'
            )
            raise ConfigError(message)
        self.settings = settings
        self._store = _open_store(settings, runtime.settings.source)

    # -- the Storage protocol ---------------------------------------------------------

    async def save(self, key: str, data: bytes) -> None:
        import obstore

        await obstore.put_async(self._bound(), _checked(key), data)

    async def read(self, key: str) -> bytes:
        found = await self._get(key)
        return bytes(await found.bytes_async())

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's pieces (``CHUNK_BYTES`` each, the last one shorter), as the bucket
        sends them: a download through the app holds one piece at a time."""
        found = await self._get(key)

        async def pieces() -> AsyncIterator[bytes]:
            async for piece in found.stream(min_chunk_size=CHUNK_BYTES):
                yield bytes(piece)

        return pieces()

    async def _get(self, key: str) -> Any:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return await obstore.get_async(self._bound(), _checked(key))
        except (FileNotFoundError, NotFoundError) as exc:  # obstore raises the first for a 404
            if "NoSuchBucket" in str(exc):
                raise BucketMissing(f"the S3 bucket {self._settings().bucket!r} does not exist") from exc
            raise FileNotFoundError(key) from exc

    async def delete(self, key: str) -> None:
        import obstore
        from obstore.exceptions import NotFoundError

        # S3 answers a delete of a missing key with success; some compatible services don't
        with contextlib.suppress(FileNotFoundError, NotFoundError):
            await obstore.delete_async(self._bound(), _checked(key))

    async def check(self) -> str | None:
        """The bucket is reachable and takes a write now (one small object, written over
        each time); a sentence saying what is wrong otherwise, never an exception."""
        import obstore

        settings = self.settings
        if settings is None:
            return "the S3 storage is not configured"
        try:
            await asyncio.wait_for(obstore.put_async(self._bound(), PROBE_KEY, b"ok"), CHECK_SECONDS)
        except Exception as exc:
            log.warning("S3 bucket %r failed its check: %r", settings.bucket, exc)
            return _problem(exc, settings.bucket)
        return None

    # -- LinkableStorage: presigned downloads -----------------------------------------

    def link_seconds(self) -> int | None:
        settings = self.settings
        if settings is None or settings.downloads != "presigned":
            return None
        return settings.presign_seconds

    async def download_url(self, key: str, *, filename: str, content_type: str, seconds: int) -> str:
        """A presigned GET URL of ``key`` valid for ``seconds``, whose answer carries the
        app's Content-Type, Content-Disposition and Cache-Control (S3's response
        overrides are part of what is signed, so they cannot be changed)."""
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        settings = self._settings()
        overrides = {
            "response-cache-control": "private, no-store",
            "response-content-disposition": content_disposition(filename),
            "response-content-type": content_type,
        }
        url = f"{_object_url(settings, _checked(key))}?{urlencode(overrides, quote_via=quote)}"
        request = AWSRequest(method="GET", url=url)
        # Signed at the real time, not the site's clock (a test clock may be days ahead):
        # the bucket checks the expiry against its own.
        signer = S3SigV4QueryAuth(await self._signing_credentials(), "s3", settings.region, expires=seconds)
        signer.add_auth(request)
        return str(request.url)

    # -- helpers ----------------------------------------------------------------------

    def _bound(self) -> Any:
        if self._store is None:
            raise RuntimeError("the s3 storage is used before bind(runtime)")
        return self._store

    def _settings(self) -> S3Settings:
        if self.settings is None:
            raise RuntimeError("the s3 storage is used before bind(runtime)")
        return self.settings

    async def _signing_credentials(self) -> Any:
        """The keys of ``[plugins.storage_s3]``, else the process's AWS credentials
        (environment, shared files, an instance or container role; temporary ones
        refresh themselves)."""
        if self._credentials is None:
            settings = self._settings()
            if settings.access_key_id:
                from botocore.credentials import Credentials

                self._credentials = Credentials(settings.access_key_id, settings.secret_access_key)
            else:
                from botocore.session import get_session

                found = await asyncio.to_thread(get_session().get_credentials)
                if found is None:
                    raise RuntimeError("no AWS credentials to sign a download URL with")
                self._credentials = found
        return self._credentials


def _open_store(settings: S3Settings, source: str) -> Any:
    try:
        from obstore.store import S3Store
    except ImportError:
        raise ConfigError(f'{source}: attachments.storage = "s3": {EXTRA}') from None
    config: dict[str, Any] = {
        "region": settings.region,
        "virtual_hosted_style_request": not _path_style(settings),
    }
    if settings.endpoint_url:
        config["endpoint"] = settings.endpoint_url.rstrip("/")
    if settings.access_key_id:
        config["access_key_id"] = settings.access_key_id
        config["secret_access_key"] = settings.secret_access_key
    timeout = timedelta(seconds=settings.timeout_seconds)
    client_options: dict[str, Any] = {
        "timeout": timeout,
        "connect_timeout": timedelta(seconds=min(settings.timeout_seconds, 5.0)),
        "allow_http": settings.endpoint_url.startswith("http://"),
    }
    return S3Store(
        settings.bucket,
        prefix=_prefix(settings) or None,
        config=config,  # pyright: ignore[reportArgumentType]  # S3Config is a TypedDict
        client_options=client_options,  # pyright: ignore[reportArgumentType]
        retry_config={"max_retries": 3, "retry_timeout": timeout},
    )


def _path_style(settings: S3Settings) -> bool:
    return settings.path_style if settings.path_style is not None else bool(settings.endpoint_url)


def _prefix(settings: S3Settings) -> str:
    """The prefix as object keys start with it: ``""`` or folders ending in ``/``."""
    prefix = settings.prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def object_key(settings: S3Settings, key: str) -> str:
    """The name of the object that keeps ``key`` in the bucket."""
    return f"{_prefix(settings)}{key}"


def _object_url(settings: S3Settings, key: str) -> str:
    path = quote(object_key(settings, key))
    if settings.endpoint_url:
        endpoint = settings.endpoint_url.rstrip("/")
        return f"{endpoint}/{settings.bucket}/{path}" if _path_style(settings) else f"{endpoint}/{path}"
    if _path_style(settings):
        return f"https://s3.{settings.region}.amazonaws.com/{settings.bucket}/{path}"
    return f"https://{settings.bucket}.s3.{settings.region}.amazonaws.com/{path}"


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def _problem(exc: BaseException, bucket: str) -> str:
    """One sentence about a failed write to the bucket (no endpoint, no keys: the
    readiness answer is public)."""
    from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError

    text = str(exc)
    if isinstance(exc, FileNotFoundError | NotFoundError) or "NoSuchBucket" in text:
        return f"the S3 bucket {bucket!r} does not exist"
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return f"the S3 bucket {bucket!r} refuses this site's credentials (no write access)"
    if isinstance(exc, TimeoutError):
        return f"the S3 endpoint did not answer within {CHECK_SECONDS:g} seconds"
    if "error sending request" in text or "Connect" in text:
        return "the S3 endpoint is unreachable"
    return f"the S3 bucket {bucket!r} does not take a write ({type(exc).__name__})"
