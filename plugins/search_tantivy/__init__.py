"""search_tantivy: listings' full-text search ranked by a tantivy index instead of the database.

Enable it with ``plugins = ["search_tantivy"]``; settings in ``[plugins.search_tantivy]``.
Each host keeps its own index in its own folder: every served app process follows the
listing events of the event feed from the index's stored position, and a process that
finds the folder empty builds the index from the database first.  See
``docs/plugins/search_tantivy.md``.
"""

from __future__ import annotations

from typing import Any

from agorakit import hookimpl
from agorakit.events import event_handler
from agorakit.plugins.search_tantivy.service import command, listing_follower, listing_index, nudge
from agorakit.plugins.search_tantivy.settings import SearchSettings
from agorakit.settings import SettingsSpec

NAME = "search_tantivy"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=SearchSettings)


@hookimpl
def agorakit_rank_listings(runtime, words, offset, limit):

    return listing_index(runtime).rank(words, offset, limit)


@hookimpl
def agorakit_event_followers(runtime):

    return [listing_follower(runtime)]


@hookimpl
@event_handler("listing.*")
async def agorakit_on_events(events, runtime):

    # a listing changed through this process: its follower applies it now, not at the next poll
    await nudge(runtime, events)


@hookimpl
def agorakit_cli(cli: Any) -> None:

    cli.add_command(command)
