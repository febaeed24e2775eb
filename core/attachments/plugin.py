"""The core's own plugin for attachments: its table, its routes and the ``local`` storage."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.attachments.controllers import AttachmentController
from agorakit.attachments.events import EVENTS
from agorakit.attachments.piccolo_app import APP_CONFIG
from agorakit.attachments.storage import LocalStorage, storage_for


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """Bind the ``[attachments] storage``: an unknown one stops start-up, not the first upload."""
    storage_for(runtime)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [AttachmentController]


@hookimpl(trylast=True)
def agorakit_storages():

    return [LocalStorage()]


@hookimpl
def agorakit_event_types():

    return EVENTS
