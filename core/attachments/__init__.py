"""Attachments: files members upload to an order, a conversation or for themselves.

A file is checked (size, type read from its content), kept by the site's storage
(``[attachments] storage``; the core ships ``local``) under a random key, and described by
a ``core_attachment`` row.  Only the parties of its scope (``order:<id>`` or
``conversation:<id>``; the member of ``member:<id>``) and operators can read it.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.attachments.events import AttachmentUploaded as AttachmentUploaded
    from agorakit.attachments.schemas import AttachmentOut as AttachmentOut
    from agorakit.attachments.service import attachments_by_ids as attachments_by_ids
    from agorakit.attachments.service import check_attachments as check_attachments
    from agorakit.attachments.storage import BindableStorage as BindableStorage
    from agorakit.attachments.storage import CheckableStorage as CheckableStorage
    from agorakit.attachments.storage import LinkableStorage as LinkableStorage
    from agorakit.attachments.storage import Storage as Storage
    from agorakit.attachments.storage import StreamableStorage as StreamableStorage
    from agorakit.attachments.storage import check_storage as check_storage
    from agorakit.attachments.storage import content_disposition as content_disposition
    from agorakit.attachments.storage import storage_for as storage_for

EXPORTS: dict[str, str] = {
    "AttachmentOut": "agorakit.attachments.schemas",
    "AttachmentUploaded": "agorakit.attachments.events",
    "attachments_by_ids": "agorakit.attachments.service",
    "check_attachments": "agorakit.attachments.service",
    "storage_for": "agorakit.attachments.storage",
    "Storage": "agorakit.attachments.storage",
    "BindableStorage": "agorakit.attachments.storage",
    "CheckableStorage": "agorakit.attachments.storage",
    "check_storage": "agorakit.attachments.storage",
    "LinkableStorage": "agorakit.attachments.storage",
    "content_disposition": "agorakit.attachments.storage",
    "StreamableStorage": "agorakit.attachments.storage",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
