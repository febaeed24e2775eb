"""Test clocks: a development or staging site's time, kept in the database, that operators
move on (``[dev] test_clock``; see ``docs/test-clock.md``).

The names below are this area's plugin API; its modules are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.testclock.service import ClockState as ClockState
    from agorakit.testclock.service import DatabaseClock as DatabaseClock
    from agorakit.testclock.service import parse_duration as parse_duration

EXPORTS: dict[str, str] = {
    "ClockState": "agorakit.testclock.service",
    "DatabaseClock": "agorakit.testclock.service",
    "parse_duration": "agorakit.testclock.service",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
