"""Response bodies of the attachments API (uploads are multipart/form-data)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class AttachmentOut(msgspec.Struct):
    id: int
    #: the client's file name, sanitised; the extension matches the detected type
    filename: str
    #: detected from the content, e.g. "image/png"
    content_type: str
    #: bytes
    size: int
    #: SHA-256 of the content, hex
    sha256: str
    #: what the file belongs to: "order:12", "conversation:5" or "member:7" (the uploader's own)
    scope: str
    uploaded_by: int
    created_at: datetime
    #: where to download the content
    url: str
