"""Operator routes of the test clock: read it, advance it, freeze and unfreeze it.

Every route answers 404 ``not_found`` on a site without a test clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts.auth import operator_only
from agorakit.errors import FieldError, ValidationFailed
from agorakit.http.openapi import problems
from agorakit.runtime import Runtime
from agorakit.testclock import service
from agorakit.testclock.service import Advanced, ClockState

NO_CLOCK = "the site has no test clock ([dev] test_clock is off)"


class ClockOut(msgspec.Struct):
    #: the site's time
    now: datetime
    #: a frozen clock stays at ``now``; a running one moves on with real time
    frozen: bool
    #: the real time the clock was last set at
    set_at: datetime


class AdvanceClock(msgspec.Struct, forbid_unknown_fields=True):
    #: how far: a duration such as ``3d``, ``36h``, ``1w2d``, ``90m`` or ``45s``
    by: Annotated[str, msgspec.Meta(max_length=40, examples=["3d"])] | None = None
    #: or to which instant (ISO 8601 with a timezone); never backwards
    to: datetime | None = None


def _out(runtime: Runtime, state: ClockState) -> ClockOut:
    return ClockOut(now=runtime.clock.now(), frozen=state.frozen, set_at=state.set_at)


class ClockController(Controller):
    path = "/operator/clock"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="getTestClock",
        summary="The test clock: the site's time",
        responses=problems(s404=NO_CLOCK),
    )
    async def show(self, runtime: NamedDependency[Runtime]) -> ClockOut:
        return _out(runtime, await service.read(runtime))

    @post(
        "/advance",
        operation_id="advanceTestClock",
        summary="Move the site's time forward, firing what became due on the way in due order",
        status_code=HTTP_200_OK,
        responses=problems(
            422, s404=NO_CLOCK, s409="the instant is before the clock's time (code clock_backwards)"
        ),
    )
    async def advance(self, runtime: NamedDependency[Runtime], data: JSONBody[AdvanceClock]) -> Advanced:
        by = None
        if data.by is not None:
            try:
                by = service.parse_duration(data.by)
            except ValueError as exc:
                raise ValidationFailed([FieldError(field="by", message=str(exc))]) from None
        return await service.advance(runtime, by=by, to=data.to)

    @post(
        "/freeze",
        operation_id="freezeTestClock",
        summary="Stop the site's time where it is",
        status_code=HTTP_200_OK,
        responses=problems(s404=NO_CLOCK),
    )
    async def freeze(self, runtime: NamedDependency[Runtime]) -> ClockOut:
        return _out(runtime, await service.freeze(runtime))

    @post(
        "/unfreeze",
        operation_id="unfreezeTestClock",
        summary="Let the site's time run on with real time from where it is",
        status_code=HTTP_200_OK,
        responses=problems(s404=NO_CLOCK),
    )
    async def unfreeze(self, runtime: NamedDependency[Runtime]) -> ClockOut:
        return _out(runtime, await service.unfreeze(runtime))
