"""The one clock all domain code reads.

Services never call ``datetime.now()``; they ask the runtime's clock, so tests and the CLI
(``agorakit tick --at``) can run the marketplace "as of" any instant without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: for tests and ``tick --at``."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = _aware(at or datetime.now(UTC))

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new instant."""
        self._at = self._at + (delta if delta is not None else timedelta(**kwargs))
        return self._at


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        message = "the clock needs a timezone-aware datetime (naive times are ambiguous)"
        raise ValueError(message)
    return at.astimezone(UTC)
