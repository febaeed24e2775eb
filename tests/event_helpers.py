"""Ad-hoc typed events for tests (what a plugin declares as :class:`agorakit.events.Event`
subclasses)."""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from agorakit.events import Event


@functools.cache
def _event_class(name: str, fields: tuple[tuple[str, type], ...]) -> type[Event]:
    class_name = "".join(part.title() for part in re.split(r"[._]", name))
    return msgspec.defstruct(
        class_name, list(fields), bases=(Event,), namespace={"name": name}, frozen=True, kw_only=True
    )


def make_event(name: str, **facts: Any) -> Event:
    """A typed event named ``name`` whose fields are ``facts``."""
    cls = _event_class(name, tuple((key, type(value)) for key, value in sorted(facts.items())))
    return cls(**facts)
