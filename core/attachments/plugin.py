"""The core's own plugin for attachments: its table, its routes and the ``local`` storage."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.attachments.storage import storage_for


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """Bind the ``[attachments] storage``: an unknown one stops start-up, not the first upload."""
    storage_for(runtime)


@hookimpl
def agorakit_tables():
    from agorakit.attachments.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.attachments.controllers import AttachmentController

    return [AttachmentController]


@hookimpl(trylast=True)
def agorakit_storages():
    from agorakit.attachments.storage import LocalStorage

    return [LocalStorage()]


@hookimpl
def agorakit_event_types():
    from agorakit.attachments.events import EVENTS

    return EVENTS
