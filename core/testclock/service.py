"""The test clock: a development site's time, kept in the database and moved by operators.

With ``[dev] test_clock = true`` the runtime's clock is a :class:`DatabaseClock`.  Its
state is one row (:class:`~agorakit.testclock.tables.SiteClock`): an instant, whether the
clock is frozen, and the real time it was last set at.  A running clock moves on with real
time from its instant; a frozen one stays there.  Every app process reads the row at the
start of each request and the worker at the start of each sweep, so one advance is seen
by all of them at once.  Without the setting none of this runs: the runtime reads the
system clock and no request pays for a read.

:func:`advance` never moves the clock backwards.  It steps it to each instant at which
the worker's sweep has something to do (an order timer, an unpaid payment's expiry, an
email's retry) up to the target, in due order, and runs the sweep at each, so that a
30-day jump fires a 3-day timer before a 7-day one, and a timer that the first one
schedules fires at its own due instant too.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.clock import Clock
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.testclock.tables import SiteClock
from agorakit.worker import SweepReport

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.testclock")

#: sweeps one advance runs at most (steps, plus repeats at an instant with more due work
#: than one sweep takes); an advance that needs more stops there and says so
MAX_SWEEPS = 10_000

WARNING = (
    "this site runs on a test clock ([dev] test_clock = true): its time is the one operators "
    "set with `agorakit clock` or POST /operator/clock/advance, not the real time. Never use it in production."
)


class ClockState(msgspec.Struct, frozen=True):
    #: the site's time when the clock was last set
    instant: datetime
    #: a frozen clock stays at ``instant``; a running one moves on with real time
    frozen: bool
    #: the real time the clock was last set at
    set_at: datetime

    def at(self, real: datetime) -> datetime:
        """The site's time when the real time is ``real`` (never before ``instant``)."""
        if self.frozen:
            return self.instant
        return self.instant + max(real - self.set_at, timedelta(0))


class DatabaseClock:
    """The runtime's clock while ``[dev] test_clock`` is on.

    ``base`` is the real clock (the system's; a test passes a frozen one).  Until the first
    :meth:`refresh` the clock reads as ``base``.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.state: ClockState | None = None

    def now(self) -> datetime:
        real = self.base.now()
        return real if self.state is None else self.state.at(real)

    async def refresh(self) -> ClockState:
        """Read the shared state (what the other processes set) into this process."""
        self.state = await _read(self.base)
        return self.state


def clock_for(settings: Any, base: Clock) -> Clock:
    """The runtime's clock: ``base`` itself, or a test clock over it (logged as a warning)."""
    if not settings.dev.test_clock:
        return base
    log.warning(WARNING)
    return DatabaseClock(base)


def test_clock(runtime: Runtime) -> DatabaseClock:
    """The runtime's test clock; 404 ``not_found`` when the site has none."""
    clock = runtime.clock
    if not isinstance(clock, DatabaseClock):
        raise NotFound("this site has no test clock (it is on with [dev] test_clock = true)")
    return clock


async def refresh(runtime: Runtime) -> None:
    """Read the test clock's state if the site runs on one (per request, per sweep)."""
    if isinstance(runtime.clock, DatabaseClock):
        await runtime.clock.refresh()


# --------------------------------------------------------------------------------------
# The stored state
# --------------------------------------------------------------------------------------


def _state(row: dict[str, Any]) -> ClockState:
    return ClockState(instant=row["instant"], frozen=row["frozen"], set_at=row["set_at"])


async def _read(base: Clock) -> ClockState:
    row = await SiteClock.select().where(SiteClock.id == 1).first()
    if row is not None:
        return _state(row)
    from agorakit.db import is_unique_violation

    real = base.now()
    try:  # the first read of a new site: the clock starts at the real time, running
        await SiteClock.insert(SiteClock(id=1, instant=real, frozen=False, set_at=real))
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
    row = await SiteClock.select().where(SiteClock.id == 1).first()
    assert row is not None
    return _state(row)


async def _write(runtime: Runtime, *, to: datetime | None = None, frozen: bool | None = None) -> ClockState:
    """Set the clock (never backwards: ``to`` before the clock's time leaves it there)."""
    clock = test_clock(runtime)
    await _read(clock.base)  # the row exists
    async with runtime.db.transaction():
        query = SiteClock.select().where(SiteClock.id == 1)
        if runtime.db.is_postgres:
            query = query.lock_rows()
        row = await query.first()
        assert row is not None
        real = clock.base.now()
        current = _state(row).at(real)
        state = ClockState(
            instant=max(current, to) if to is not None else current,
            frozen=row["frozen"] if frozen is None else frozen,
            set_at=real,
        )
        await SiteClock.update(
            {SiteClock.instant: state.instant, SiteClock.frozen: state.frozen, SiteClock.set_at: real}
        ).where(SiteClock.id == 1)
    clock.state = state
    return state


async def read(runtime: Runtime) -> ClockState:
    return await test_clock(runtime).refresh()


async def freeze(runtime: Runtime) -> ClockState:
    """Stop the clock at its current instant."""
    return await _write(runtime, frozen=True)


async def unfreeze(runtime: Runtime) -> ClockState:
    """Let the clock run on with real time from its current instant."""
    return await _write(runtime, frozen=False)


# --------------------------------------------------------------------------------------
# Advancing
# --------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
#: the longest single advance (ten years)
MAX_ADVANCE = timedelta(days=3653)


class ClockBackwards(Conflict):
    code = "clock_backwards"
    title = "The clock never goes backwards"


def parse_duration(text: str) -> timedelta:
    """``"3d"``, ``"36h"``, ``"90m"``, ``"45s"``, ``"1w"``, or several (``"2d12h"``)."""
    compact = "".join(text.split()).lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration: write e.g. 3d, 36h, 1w2d, 90m or 45s")
    try:
        return sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta(0))
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any clock goes") from None


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, message=message)])


class Step(msgspec.Struct):
    #: the instant the clock was set to for this sweep
    at: datetime
    #: what the sweep did there (only steps that did something are listed)
    report: SweepReport


class Advanced(msgspec.Struct):
    #: the site's time before and after
    started: datetime
    reached: datetime
    frozen: bool
    #: sweeps run, one per due instant on the way (and at the target)
    sweeps: int
    #: the sweeps that did something, in order
    steps: list[Step]


async def advance(runtime: Runtime, *, by: timedelta | None = None, to: datetime | None = None) -> Advanced:
    """Move the clock forward by ``by`` or to ``to``, running the worker's sweep at every
    instant on the way at which something became due, in due order."""
    from agorakit.worker import next_due, sweep

    clock = test_clock(runtime)
    state = await clock.refresh()
    started = clock.now()
    if (by is None) == (to is None):
        raise _invalid("by", "give either a duration (by) or an instant (to), not both")
    if by is not None and by <= timedelta(0):
        raise _invalid("by", "give a positive duration: the clock never goes backwards")
    if to is not None and to.tzinfo is None:
        raise _invalid("to", "give the instant with its timezone, e.g. 2026-05-01T12:00:00Z")
    if by is not None and by > MAX_ADVANCE:
        raise _invalid("by", "one advance moves the clock ten years at most")
    target = started + by if by is not None else to
    assert target is not None
    if target < started:
        message = (
            f"the clock is at {started.isoformat()}, after {target.isoformat()}: it never goes backwards"
        )
        raise ClockBackwards(message)
    if target - started > MAX_ADVANCE:
        raise _invalid("to", "one advance moves the clock ten years at most")
    steps: list[Step] = []
    sweeps = 0
    current = started
    while sweeps < MAX_SWEEPS:
        report = await sweep(runtime, refresh_clock=False)
        sweeps += 1
        if any(msgspec.to_builtins(report).values()):
            steps.append(Step(at=current, report=report))
        if (report.timers_fired or report.expired_payments) and await next_due(runtime, until=current):
            continue  # more was due at this instant than one sweep takes
        if current >= target:
            break
        due = await next_due(runtime, after=current)
        state = await _write(runtime, to=min(due, target) if due is not None else target)
        current = clock.now()
    else:
        log.warning("advance stopped after %d sweeps at %s", sweeps, current.isoformat())
    return Advanced(started=started, reached=clock.now(), frozen=state.frozen, sweeps=sweeps, steps=steps)
