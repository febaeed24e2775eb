"""HTTP routes of the attachments area: upload, describe, download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.response import Redirect, Stream
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_201_CREATED, HTTP_307_TEMPORARY_REDIRECT

from agorakit.attachments import service
from agorakit.attachments.schemas import AttachmentOut
from agorakit.attachments.storage import content_disposition
from agorakit.attachments.uploads import read_upload_form
from agorakit.http.openapi import problems
from agorakit.http.params import Id, MemberRequest
from agorakit.runtime import Runtime

_UPLOAD_FORM = Schema(
    type=OpenAPIType.OBJECT,
    required=["file", "scope"],
    properties={
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="The file ([attachments] max_bytes)",
        ),
        "scope": Schema(
            type=OpenAPIType.STRING,
            pattern=r"^(order|conversation|member):[1-9]\d*$",
            examples=["order:12", "conversation:5", "member:7"],
            description="What the file belongs to: an order, a conversation, or the uploader (member:<your id>)",
        ),
    },
)


@dataclass
class UploadOperation(Operation):
    """The upload route reads its body itself; this documents the form it expects."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={RequestEncodingType.MULTI_PART.value: OpenAPIMediaType(schema=_UPLOAD_FORM)},
        )


#: the file's bytes: served as its own type (``*/*``); a client that does not know the type
#: reads them as ``application/octet-stream`` (generated clients type them as a file)
_FILE = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


@dataclass
class DownloadOperation(Operation):
    """The download route serves each file as its own type (image/png, application/pdf,
    ...); this documents its 200 as bytes of any type, and the redirect to a short-lived
    link a storage that hands them out answers with instead."""

    def __post_init__(self) -> None:
        self.responses = dict(self.responses or {})
        self.responses["200"] = OpenAPIResponse(
            description="The file, as its own content type (`content_type` of the attachment)",
            content={
                "application/octet-stream": OpenAPIMediaType(schema=_FILE),
                "*/*": OpenAPIMediaType(schema=_FILE),
            },
        )
        self.responses[str(HTTP_307_TEMPORARY_REDIRECT)] = OpenAPIResponse(
            description=(
                "The file is at a short-lived link of the storage that keeps it (an S3 bucket's "
                "presigned URL): fetch `Location` without this request's credentials; it answers "
                "with the same Content-Type, Content-Disposition and Cache-Control"
            ),
            headers={
                "Location": OpenAPIHeader(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI),
                    description="The link; it expires after the storage's link lifetime",
                )
            },
        )


class FileStream(Stream):
    """A streamed file served as its own type: Litestar's ``Stream`` takes the route's
    media type (``application/octet-stream`` here) over its own."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        return super().to_asgi_response(*args, **{**kwargs, "media_type": self.media_type})


def download_headers(attachment: AttachmentOut) -> dict[str, str]:
    return {
        "Content-Disposition": content_disposition(attachment.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "ETag": f'"{attachment.sha256}"',
    }


class AttachmentController(Controller):
    path = "/attachments"
    tags = ["attachments"]

    @post(
        "",
        operation_id="uploadAttachment",
        responses=problems(400, 404, 413, 415, 422, s503="the file storage is unreachable; try again later"),
        summary="Upload a file for an order, a conversation or yourself (multipart/form-data)",
        status_code=HTTP_201_CREATED,
        # The body may be as large as [attachments] max_bytes: read_upload_form enforces it.
        request_max_body_size=None,
        operation_class=UploadOperation,
    )
    async def upload(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> AttachmentOut:
        form = await read_upload_form(request, max_file_bytes=runtime.settings.attachments.max_bytes)
        return await service.upload(
            runtime,
            member=request.user,
            scope=form.fields.get("scope"),
            filename=form.filename,
            data=form.data,
        )

    @get("/{attachment_id:int}", operation_id="getAttachment", summary="An attachment's description")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], attachment_id: Id
    ) -> AttachmentOut:
        return await service.get_attachment(runtime, attachment_id, viewer=request.user)

    @get(
        "/{attachment_id:int}/content",
        operation_id="downloadAttachment",
        summary="Download an attachment's content",
        responses=problems(404, s503="the file storage is unreachable; try again later"),
        media_type="application/octet-stream",
        # served as the attachment's own type (image/png, application/pdf, ...)
        operation_class=DownloadOperation,
    )
    async def content(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], attachment_id: Id
    ) -> Response[bytes] | FileStream | Redirect:
        found = await service.download(runtime, attachment_id, viewer=request.user)
        if found.url is not None:
            # The link is a credential for a while: no cache keeps it, no Referer carries it on.
            headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
            return Redirect(
                found.url, status_code=HTTP_307_TEMPORARY_REDIRECT, headers=headers, media_type=MediaType.TEXT
            )
        attachment = found.attachment
        if found.chunks is not None:
            headers = {**download_headers(attachment), "Content-Length": str(attachment.size)}
            # Litestar adds "; charset=utf-8" to text types, as below.
            return FileStream(found.chunks, media_type=attachment.content_type, headers=headers)
        # Litestar adds "; charset=utf-8" to text types (text files are checked to be UTF-8).
        return Response(found.data, media_type=attachment.content_type, headers=download_headers(attachment))
