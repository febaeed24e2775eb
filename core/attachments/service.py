"""Uploading, reading and checking attachments.

Who may use a file is decided by its scope: ``order:<id>`` belongs to the order's buyer
and seller, ``conversation:<id>`` to the conversation's participants, ``member:<id>`` to
that member alone (files of their own, such as those a qualification application
refers to).  Anyone else gets a 404, as if the file did not exist; operators may read
every file.  A file is written to
the storage first and its row inserted afterwards; if the row does not make it into the
database, the file is deleted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import filetype

from agorakit.accounts import is_operator
from agorakit.attachments.events import AttachmentUploaded
from agorakit.attachments.schemas import AttachmentOut
from agorakit.attachments.storage import StreamableStorage, download_link, new_key, storage_for
from agorakit.attachments.tables import Attachment
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import AgorakitError, FieldError, NotFound, ServiceUnavailable, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.attachments")

_SCOPE = re.compile(r"^(order|conversation|member):([1-9]\d{0,9})$")
_MARKUP = re.compile(rb"^\s*<(?:!doctype|html|head|body|script|iframe|svg|\?xml)", re.IGNORECASE)
#: longest stored file name, in characters
MAX_FILENAME = 120
#: extensions a file of a type may keep; other names get the type's extension appended
_EXTENSIONS = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg", "jpe"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "application/pdf": ("pdf",),
    "application/zip": ("zip",),
    "text/plain": ("txt", "text", "log", "csv", "md"),
}


class PayloadTooLarge(AgorakitError):
    status = 413
    code = "request_too_large"
    title = "Request body too large"


class UnsupportedMediaType(AgorakitError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


def too_large(max_bytes: int) -> PayloadTooLarge:
    message = f"the file is larger than {max_bytes} bytes, the most this site accepts"
    return PayloadTooLarge(message, extra={"max_bytes": max_bytes})


# --------------------------------------------------------------------------------------
# Checking the content
# --------------------------------------------------------------------------------------


def detect_type(data: bytes) -> str | None:
    """The media type of ``data`` from its content (never from the client's word).

    Text is ``text/plain`` only when it is UTF-8 without NUL bytes and does not start
    like HTML, SVG or XML (those are ``text/html`` and are refused unless allowed).
    """
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/html" if _MARKUP.match(data.removeprefix(b"\xef\xbb\xbf")) else "text/plain"


def accepted_type(data: bytes, allowed: list[str]) -> str:
    content_type = detect_type(data)
    if content_type not in allowed:
        found = content_type or "an unknown type"
        message = f"the file is {found}; this site accepts {', '.join(allowed)}"
        raise UnsupportedMediaType(message, extra={"allowed_types": list(allowed), "detected": content_type})
    return content_type


def clean_filename(name: str | None, content_type: str) -> str:
    """A display name: no folders, no control characters, bounded, with a fitting extension."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(". ") or "file"
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        stem, extension = name, ""
    fitting = _EXTENSIONS.get(content_type) or tuple(
        e.lstrip(".") for e in mimetypes.guess_all_extensions(content_type)
    )
    if fitting and extension.lower() not in fitting:
        stem, extension = name, fitting[0]
    if not extension:
        return name[:MAX_FILENAME]
    return f"{stem[: MAX_FILENAME - len(extension) - 1]}.{extension}"


def parse_scope(scope: str | None) -> tuple[str, int]:
    """``"order:12"`` → ``("order", 12)``; anything else is a 422 on ``scope``."""
    match = _SCOPE.fullmatch(scope or "")
    if match is None:
        message = "say what the file belongs to: order:<id>, conversation:<id> or member:<your id>"
        raise ValidationFailed([FieldError("scope", message)])
    return match.group(1), int(match.group(2))


# --------------------------------------------------------------------------------------
# Who may use a scope
# --------------------------------------------------------------------------------------


async def check_scope_access(runtime: Runtime, scope: str, member: MemberOut, *, write: bool) -> None:
    """Pass if ``member`` may upload to (``write``) or read files of ``scope``; else 404.

    The area that owns the scope's kind decides (``agorakit_scope_access``): orders
    for ``order:<id>``, messaging for ``conversation:<id>``, this area for
    ``member:<id>``.
    """
    kind, ident = parse_scope(scope)
    allowed = await runtime.hooks.first(
        "agorakit_scope_access", scope=f"{kind}:{ident}", member=member, write=write, runtime=runtime
    )
    if not allowed:
        raise NotFound(f"there is no {kind} {ident}")


# --------------------------------------------------------------------------------------
# Uploading
# --------------------------------------------------------------------------------------


async def upload(
    runtime: Runtime, *, member: MemberOut, scope: str | None, filename: str | None, data: bytes | None
) -> AttachmentOut:
    """Keep a file for ``scope`` after checking the uploader, the size and the type."""
    errors = []
    if data is None:
        errors.append(FieldError("file", "send the file in a multipart/form-data field named file"))
    elif not data:
        errors.append(FieldError("file", "the file is empty"))
    try:
        parse_scope(scope)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    assert scope is not None and data is not None
    await check_scope_access(runtime, scope, member, write=True)
    limits = runtime.settings.attachments
    if len(data) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    content_type = accepted_type(data, limits.allowed_types)
    name = clean_filename(filename, content_type)
    return await _store(runtime, member.id, scope, name, content_type, data)


def storage_down(storage_name: str, exc: BaseException) -> ServiceUnavailable:
    """The 503 of a storage that failed (unreachable, refusing, full): the client may try
    again later; the log has what went wrong."""
    log.error("attachments: storage %s failed: %r", storage_name, exc)
    return ServiceUnavailable("the site cannot reach its file storage right now; try again later")


async def _store(runtime: Runtime, member_id: int, scope: str, name: str, content_type: str, data: bytes):
    storage = storage_for(runtime)
    key = new_key()
    try:
        await storage.save(key, data)
    except Exception as exc:
        raise storage_down(storage.name, exc) from None
    try:
        async with runtime.unit_of_work() as uow:
            attachment_id = await _insert_row(
                uow, member_id, scope, name, content_type, data, storage.name, key
            )
    except BaseException:
        # The row may have committed before a later step failed: keep the file then.
        if not await Attachment.exists().where(Attachment.storage_key == key):
            with contextlib.suppress(Exception):
                await storage.delete(key)
        raise
    return await _get(attachment_id)


async def _insert_row(uow, member_id, scope, name, content_type, data, storage_name, key) -> int:
    rows = await Attachment.insert(
        Attachment(
            uploaded_by=member_id,
            scope=scope,
            filename=name,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage=storage_name,
            storage_key=key,
            created_at=uow.now,
        )
    ).returning(Attachment.id)
    attachment_id = rows[0]["id"]
    uploaded = AttachmentUploaded(
        attachment_id=attachment_id, scope=scope, content_type=content_type, size=len(data)
    )
    uow.record(uploaded, subject=f"attachment:{attachment_id}", actor_id=member_id)
    return attachment_id


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _to_out(row: dict[str, Any]) -> AttachmentOut:
    return AttachmentOut(
        id=row["id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        scope=row["scope"],
        uploaded_by=row["uploaded_by"],
        created_at=row["created_at"],
        url=f"/attachments/{row['id']}/content",
    )


async def _row(attachment_id: int) -> dict[str, Any]:
    row = await Attachment.select().where(Attachment.id == attachment_id).first()
    if row is None:
        raise NotFound(f"there is no attachment {attachment_id}")
    return row


async def _get(attachment_id: int) -> AttachmentOut:
    return _to_out(await _row(attachment_id))


async def _readable_row(runtime: Runtime, attachment_id: int, viewer: MemberOut) -> dict[str, Any]:
    row = await _row(attachment_id)
    if not is_operator(viewer):
        try:
            await check_scope_access(runtime, row["scope"], viewer, write=False)
        except NotFound:
            raise NotFound(f"there is no attachment {attachment_id}") from None
    return row


async def get_attachment(runtime: Runtime, attachment_id: int, *, viewer: MemberOut) -> AttachmentOut:
    """An attachment's description, for the parties of its scope and operators."""
    return _to_out(await _readable_row(runtime, attachment_id, viewer))


def served_type(content_type: str) -> str:
    """The ``Content-Type`` a file is served with: text gets its charset (text files are
    checked to be UTF-8 when they are uploaded)."""
    if content_type.startswith("text/") and "charset=" not in content_type:
        return f"{content_type}; charset=utf-8"
    return content_type


@dataclass(frozen=True)
class Download:
    """What the download route sends: a link to the file in its storage (``url``, a
    redirect), the file's pieces (``chunks``, streamed) or its bytes (``data``)."""

    attachment: AttachmentOut
    url: str | None = None
    chunks: AsyncIterator[bytes] | None = None
    data: bytes = b""


async def download(runtime: Runtime, attachment_id: int, *, viewer: MemberOut) -> Download:
    """An attachment's content for the parties of its scope and operators: a short-lived
    link when the storage that keeps it hands them out (a
    :class:`~agorakit.attachments.storage.LinkableStorage` set to), else its bytes."""
    row = await _readable_row(runtime, attachment_id, viewer)
    attachment = _to_out(row)
    storage = storage_for(runtime, row["storage"])
    try:
        url = await download_link(
            storage,
            row["storage_key"],
            filename=row["filename"],
            content_type=served_type(row["content_type"]),
        )
    except Exception as exc:
        raise storage_down(storage.name, exc) from None
    if url is not None:
        return Download(attachment, url=url)
    if isinstance(storage, StreamableStorage):
        return Download(attachment, chunks=await _open_file(storage, row))
    return Download(attachment, data=await _read_file(runtime, row))


async def _open_file(storage: StreamableStorage, row: dict[str, Any]) -> AsyncIterator[bytes]:
    try:
        return await storage.open(row["storage_key"])
    except FileNotFoundError:
        raise _missing(row) from None
    except Exception as exc:
        raise storage_down(row["storage"], exc) from None


def _missing(row: dict[str, Any]) -> NotFound:
    log.error("attachment %s: file %s missing from storage %s", row["id"], row["storage_key"], row["storage"])
    return NotFound(f"the file of attachment {row['id']} is missing; tell the site's operators")


async def _read_file(runtime: Runtime, row: dict[str, Any]) -> bytes:
    try:
        data = await storage_for(runtime, row["storage"]).read(row["storage_key"])
    except FileNotFoundError:
        raise _missing(row) from None
    except Exception as exc:
        raise storage_down(row["storage"], exc) from None
    return data


async def attachments_by_ids(ids: list[int]) -> list[AttachmentOut]:
    """Attachments in the order of ``ids`` (unknown ids are left out); no access check."""
    if not ids:
        return []
    rows = {r["id"]: r for r in await Attachment.select().where(Attachment.id.is_in(list(set(ids))))}
    return [_to_out(rows[i]) for i in ids if i in rows]


_MOVE_SCOPE = Prepared(
    lambda new, ids, old: Attachment.update({Attachment.scope: new}).where(
        any_of(Attachment.id, ids) & (Attachment.scope == old)
    )
)


async def move_to_scope(ids: list[int], *, old: str, new: str) -> None:
    """Hand the files ``ids`` that belong to ``old`` over to ``new`` (an order's
    conversation that ended when its seller left keeps its files to itself: they move from
    ``order:<id>`` to ``conversation:<id>``).  Files of another scope stay where they are."""
    if ids:
        await _MOVE_SCOPE.run(new, sorted(set(ids)), old)


async def check_attachments(ids: list[int], *, scope: str, member_id: int) -> list[AttachmentOut]:
    """The attachments ``ids`` if every one was uploaded by ``member_id`` for ``scope``.

    Used when a message, a proof, a delivery or a qualification application refers to
    uploaded files: a member can only attach their own uploads, made for the same order,
    conversation or (``member:<id>``) for themselves.  Repeated
    ids count once.  Otherwise a 422 on ``attachments``.
    """
    unique = list(dict.fromkeys(ids))
    found = {a.id: a for a in await attachments_by_ids(unique)}
    wrong = [
        i for i in unique if i not in found or found[i].scope != scope or found[i].uploaded_by != member_id
    ]
    if wrong:
        listed = ", ".join(str(i) for i in wrong)
        message = (
            f"attachment {listed} is not one of your uploads for {scope}; upload the file with scope {scope}"
        )
        raise ValidationFailed([FieldError("attachments", message)])
    return [found[i] for i in unique]
