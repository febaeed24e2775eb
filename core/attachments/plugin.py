"""The core's own plugin for attachments: its table, its routes, the ``local`` storage,
the ``member:<id>`` scope and the ``attachments`` CLI group."""

from __future__ import annotations

import click

from agorakit import hookimpl
from agorakit.attachments.cli import attachments
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
def agorakit_cli(cli: click.Group) -> None:
    cli.add_command(attachments)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
def agorakit_scope_access(scope, member):
    """Files of ``member:<id>``: that member's own (e.g. for a qualification application);
    only they upload and read them (operators read every file)."""
    kind, _, ident = scope.partition(":")
    if kind != "member":
        return None
    return ident == str(member.id)
