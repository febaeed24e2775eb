"""Request bodies: decoded once, strictly, straight into the route's type.

Litestar decodes a JSON body into plain Python objects and then converts them to the
route's ``data`` type with lax rules (so ``"3"`` became the integer 3, and ``"true"`` a
boolean).  :class:`BodyRequest` decodes the body bytes directly into that type with
msgspec's strict rules instead, so the API accepts exactly what its schema says: an
integer is a JSON integer, a boolean is ``true``/``false``, an amount is a string.  Query
and path parameters are strings by nature and keep Litestar's conversion.

Failures are client errors, never a 500:

- a body that is not JSON → 400 ``bad_request`` (as before);
- a body nested deeper than the decoder can follow (a few kilobytes of ``[[[[...``) →
  400 ``malformed_body``, without a traceback in the log;
- a body of the wrong shape → 422 ``validation_error`` with one field error per problem
  (the same format as every other validation error).
"""

from __future__ import annotations

import re
import weakref
from functools import partial
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException
from litestar.serialization.msgspec_hooks import default_deserializer
from litestar.types import Empty

from agorakit.errors import AgorakitError

_PATH = re.compile(r"`\$\.(?P<path>.+)`$")


class MalformedBody(AgorakitError):
    status = 400
    code = "malformed_body"
    title = "The request body cannot be read"


#: One strict decoder per route handler, made on the route's first request (a decoder
#: costs far more to make than to use), and gone with the handler's app.
_decoders: weakref.WeakKeyDictionary[Any, msgspec.json.Decoder[Any]] = weakref.WeakKeyDictionary()


def body_decoder(route_handler: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(route_handler)
    if decoder is None:
        parameter = route_handler.parsed_fn_signature.parameters.get("data")
        target = parameter.annotation if parameter is not None else Any
        decoder = msgspec.json.Decoder(
            target,
            strict=True,
            dec_hook=partial(default_deserializer, type_decoders=route_handler.resolve_type_decoders()),
        )
        _decoders[route_handler] = decoder
    return decoder


def decode_body(body: bytes, route_handler: Any) -> Any:
    """Decode ``body`` into the ``data`` type of ``route_handler``, or raise a client error."""
    try:
        return body_decoder(route_handler).decode(body)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at ")
        path = _PATH.search(where)
        # The same shape Litestar gives its own validation errors, so one handler
        # (agorakit.http.problem_details) turns both into field errors.
        error = {"message": message, "key": path.group("path") if path else "data", "source": "body"}
        raise ValidationException(detail="the request body has invalid fields", extra=[error]) from None
    except msgspec.DecodeError as exc:
        raise SerializationException(str(exc)) from None
    except RecursionError:
        # msgspec stops at its recursion limit; what it met is a hostile or broken
        # client, not a server fault, so no traceback is logged.
        detail = "the JSON body is nested too deeply; send at most a few levels of objects and arrays"
        raise MalformedBody(detail) from None


class BodyRequest(Request[Any, Any, Any]):
    """The app's request class: its JSON body is decoded by :func:`decode_body`."""

    __slots__ = ()

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                body = await self.body()
                self._json = self._connection_state.json = decode_body(body or b"null", self.route_handler)
        return self._json
