"""The core's own plugin for the event outbox: its table."""

from __future__ import annotations

from agorakit import hookimpl


@hookimpl
def agorakit_tables():
    from agorakit.events.piccolo_app import APP_CONFIG

    return [APP_CONFIG]
