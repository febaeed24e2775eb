"""Request parameters shared by several areas."""

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from agorakit.pagination import MAX_LIMIT

#: A request whose ``request.user`` is the authenticated member.  (The member's type is
#: for type checkers; the HTTP area sits below accounts and does not import it.)
if TYPE_CHECKING:
    from agorakit.accounts.schemas import MemberOut

    MemberRequest = Request[MemberOut, Any, Any]
else:
    MemberRequest = Request[Any, Any, Any]

#: ``?limit=`` of a paginated list (1-100, default 20 where it is used).
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]

#: ``Idempotency-Key`` header accepted by every POST that moves money.  Replaying a
#: request with the same key returns the first result (status 200, header
#: ``Idempotent-Replayed: true``) and moves no money again; the same key with a different
#: request is a 422 ``idempotency_key_reused``.
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string per intended operation (e.g. a UUID); replays return the first result.",
    ),
]

#: A database id in a path: ``/orders/{order_id:int}``.  Bounded to the id column's
#: range so an absurd id is a 422 (or 404), never a database overflow.
Id = Annotated[int, PathParameter(ge=1, le=2_147_483_647)]
#: a row id inside a request body (same bounds: a larger number could not be stored)
RowId = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
