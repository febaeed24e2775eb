"""Request parameters shared by several areas."""

from typing import Annotated

from litestar.params import HeaderParameter, PathParameter

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
