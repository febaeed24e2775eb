"""Where uploaded files are kept: the :class:`Storage` interface and the ``local`` folder.

Storages come from the ``agorakit_storages`` hook; the site picks one by name with
``[attachments] storage``.  Keys are random strings made by :func:`new_key`, never derived
from what the client sent, so a storage never sees a client's file name or path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


@runtime_checkable
class Storage(Protocol):
    """A place to keep files, addressed by keys from :func:`new_key`.

    Implementations may also have ``bind(runtime)``, called once before first use
    (read settings there).  ``read`` of a key that is not there raises
    :class:`FileNotFoundError`; ``delete`` of a missing key does nothing.
    """

    #: the name a site selects with ``[attachments] storage``
    name: str

    async def save(self, key: str, data: bytes) -> None: ...

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


@runtime_checkable
class BindableStorage(Storage, Protocol):
    """A :class:`Storage` with the optional ``bind(runtime)``: called once, before the
    storage's first use, to read the site's settings; it configures the storage in place."""

    def bind(self, runtime: Runtime) -> None: ...


@runtime_checkable
class CheckableStorage(Storage, Protocol):
    """A :class:`Storage` with the optional ``check()``, which ``GET /health/ready`` calls:
    None when the storage can keep and give back files now, else a sentence saying what is
    wrong.  A storage without it counts as reachable."""

    async def check(self) -> str | None: ...


@runtime_checkable
class LinkableStorage(Storage, Protocol):
    """A :class:`Storage` that can hand out short-lived links to its files (an S3 bucket's
    presigned URLs): the download route then answers with a redirect to the link instead
    of sending the bytes itself.

    ``link_seconds()`` says how long a link lives, or None when the storage is set to
    send its files through the app.  ``download_url`` makes a link to ``key`` valid for
    ``seconds``; the storage's answer to it must carry the headers the app sends with a
    file: ``Content-Type: <content_type>``, ``Content-Disposition:
    <content_disposition(filename)>`` and ``Cache-Control: private, no-store``.
    """

    def link_seconds(self) -> int | None: ...

    async def download_url(self, key: str, *, filename: str, content_type: str, seconds: int) -> str: ...


@runtime_checkable
class StreamableStorage(Storage, Protocol):
    """A :class:`Storage` that can give a file back in pieces: the download route then
    streams it to the client instead of holding the whole file in memory.

    ``open(key)`` raises :class:`FileNotFoundError` for a key that is not there (when
    awaited, before the first piece) and returns the file's pieces, in order.
    """

    async def open(self, key: str) -> AsyncIterator[bytes]: ...


async def download_link(storage: Storage, key: str, *, filename: str, content_type: str) -> str | None:
    """A link to the file ``key`` of ``storage`` (None: the storage links no downloads, or
    is set to send them through the app)."""
    if not isinstance(storage, LinkableStorage):
        return None
    seconds = storage.link_seconds()
    if seconds is None:
        return None
    return await storage.download_url(key, filename=filename, content_type=content_type, seconds=seconds)


def content_disposition(filename: str) -> str:
    """The ``Content-Disposition`` of a download: an attachment (never shown in the page)
    named ``filename``, as ASCII with a UTF-8 ``filename*`` beside it (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


async def check_storage(storage: Storage) -> str | None:
    """What is wrong with ``storage`` now (None: nothing, or it has no ``check()``)."""
    if isinstance(storage, CheckableStorage):
        return await storage.check()
    return None


def new_key() -> str:
    """A fresh random storage key: 32 lower-case hex digits."""
    return secrets.token_hex(16)


class LocalStorage:
    """Files in a folder on disk (``[attachments] path``), two-level fan-out by key."""

    name = "local"
    _KEY = re.compile(r"^[0-9a-f]{16,64}$")

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else None

    def bind(self, runtime: Runtime) -> None:
        """Reads ``[attachments] path`` and makes the folder if it is not there yet (a new
        site); a folder that goes away later is what :meth:`check` reports."""
        if self.root is None:
            self.root = Path(runtime.settings.attachments.path).resolve()
        with contextlib.suppress(OSError):  # check() says what is wrong
            self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        """The file of ``key``; anything but a key from :func:`new_key` is refused."""
        if self.root is None:
            raise RuntimeError("LocalStorage is used before bind(runtime)")
        if not self._KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key

    async def save(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(_write_atomically, self.path_of(key), data)

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path_of(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)

    async def check(self) -> str | None:
        """The folder exists and this process may write in it."""
        if self.root is None:
            raise RuntimeError("LocalStorage is used before bind(runtime)")
        return await asyncio.to_thread(_folder_problem, self.root)


def _folder_problem(root: Path) -> str | None:
    if not root.is_dir():
        return f"the attachments folder {root.name!r} does not exist"
    if not os.access(root, os.W_OK | os.X_OK):
        return f"the attachments folder {root.name!r} is not writable"
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader never sees half a file: write a temporary file, then rename it in place.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def storages(runtime: Runtime) -> dict[str, Any]:
    """Every storage the plugins offer, by name (collected once per runtime)."""
    found = getattr(runtime, "_attachment_storages", None)
    if found is None:
        found = {}
        for storage in runtime.hooks.collect_sync("agorakit_storages"):
            if storage.name in found:
                raise ConfigError(
                    f"{runtime.settings.source}: two plugins provide a storage named {storage.name!r}"
                )
            found[storage.name] = storage
        runtime._attachment_storages = found
        runtime._attachment_storages_bound = set()
    return found


def storage_for(runtime: Runtime, name: str | None = None) -> Storage:
    """The bound storage called ``name`` (default: the site's ``[attachments] storage``).

    Raises :class:`~agorakit.settings.ConfigError` when no plugin provides it.
    """
    available = storages(runtime)
    name = name or str(runtime.settings.attachments.storage)
    storage = available.get(name)
    if storage is None:
        known = ", ".join(sorted(available)) or "none"
        message = (
            f"{runtime.settings.source}: attachments.storage: no storage named {name!r}; "
            f"storages available: {known}"
        )
        raise ConfigError(message)
    if name not in runtime._attachment_storages_bound:
        if isinstance(storage, BindableStorage):
            storage.bind(runtime)
        runtime._attachment_storages_bound.add(name)
    return storage
