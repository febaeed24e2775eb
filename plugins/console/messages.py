"""Messages screening flagged, any conversation as operators read it, and attachments'
files (fetched from the API with the operator's token)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from .evidence import conversation
from .web import ConsolePage

#: what the API says about a file that the console passes on with it
FILE_HEADERS = ("content-type", "content-disposition", "x-content-type-options", "etag")


class MessagePages(Controller):
    path = ""

    @get("/messages")
    async def flagged(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        params = {"flagged": "true"}
        return await page.render_list("messages.html", "/operator/messages", cursor=cursor, params=params)

    @get("/conversations/{conversation_id:int}")
    async def conversation(
        self, page: NamedDependency[ConsolePage], conversation_id: FromPath[int]
    ) -> Response[str]:
        talk = await conversation(page, conversation_id)
        return page.render("conversation.html", conversation=talk)

    @get("/attachments/{attachment_id:int}")
    async def attachment(
        self, page: NamedDependency[ConsolePage], attachment_id: FromPath[int]
    ) -> Response[bytes]:
        answer = await page.api.download(f"/attachments/{attachment_id}/content")
        headers = {name: answer.headers[name] for name in FILE_HEADERS if name in answer.headers}
        media_type = headers.pop("content-type", "application/octet-stream")
        headers.update(
            {"Content-Security-Policy": "default-src 'none'; sandbox", "Cache-Control": "private, no-store"}
        )
        return Response(answer.content, media_type=media_type, headers=headers)
