"""The core's own plugin for the event outbox: its table."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.events.piccolo_app import APP_CONFIG


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]
