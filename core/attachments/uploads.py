"""Reading an upload's multipart/form-data body with the site's file size limit.

The site-wide body limit (``[http] max_body_bytes``) is far below ``[attachments]
max_bytes``, so the upload route lifts Litestar's limit and reads the stream itself:
the body may be at most the file limit plus a little room for the form around the file,
the ``file`` part at most ``max_bytes``, every other field at most 1 KiB.  Nothing larger
is buffered: an announced or actual excess stops reading with a 413.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import Request
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from agorakit.attachments.service import UnsupportedMediaType, too_large
from agorakit.errors import AgorakitError, FieldError, ValidationFailed

#: room for the multipart framing and the small fields around the file, in bytes
FORM_OVERHEAD = 64 * 1024
#: largest value of a form field other than ``file``, in bytes
MAX_FIELD_BYTES = 1024
#: most parts a form may have
MAX_PARTS = 8


@dataclass
class UploadForm:
    """The ``file`` part (name and bytes, None if absent) and the other fields."""

    filename: str | None = None
    data: bytes | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _FormReader:
    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.form = UploadForm()
        self.segment: MultipartSegment | None = None
        self.buffer = bytearray()

    def feed(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self.segment, self.buffer = event, bytearray()
        elif event:
            self.buffer.extend(event)
            self._check_size()
        elif self.segment is not None:
            self._finish(self.segment)

    def _check_size(self) -> None:
        assert self.segment is not None
        if self.segment.name == "file":
            if len(self.buffer) > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
        elif len(self.buffer) > MAX_FIELD_BYTES:
            message = f"must be at most {MAX_FIELD_BYTES} bytes"
            raise ValidationFailed([FieldError(self.segment.name or "form", message)])

    def _finish(self, segment: MultipartSegment) -> None:
        if segment.name == "file":
            if self.form.data is None:
                self.form.filename, self.form.data = segment.filename, bytes(self.buffer)
        elif segment.name:
            self.form.fields.setdefault(segment.name, self.buffer.decode("utf-8", "replace").strip())
        self.segment, self.buffer = None, bytearray()


def _boundary(request: Request) -> str:
    media_type, options = request.content_type
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        message = "send the upload as multipart/form-data with the fields file and scope"
        raise UnsupportedMediaType(message)
    return boundary


async def read_upload_form(request: Request, *, max_file_bytes: int) -> UploadForm:
    """Parse the upload form, refusing bodies beyond ``max_file_bytes`` (+ the form's room)."""
    boundary = _boundary(request)
    limit = max_file_bytes + FORM_OVERHEAD
    if (request.content_length or 0) > limit:
        raise too_large(max_file_bytes)
    reader = _FormReader(max_file_bytes)
    received = 0
    try:
        with PushMultipartParser(boundary, max_segment_count=MAX_PARTS) as parser:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise too_large(max_file_bytes)
                for event in parser.parse(chunk):
                    reader.feed(event)
                if parser.closed:
                    break
    except ParserLimitReached:
        raise AgorakitError(
            f"the form has too many parts or headers; send at most {MAX_PARTS} fields"
        ) from None
    except ParserError:
        raise AgorakitError("the body is not valid multipart/form-data") from None
    return reader.form
