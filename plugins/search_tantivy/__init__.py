"""search_tantivy: listings' full-text search ranked by a tantivy index instead of the database.

Enable it with ``plugins = ["search_tantivy"]``; settings in ``[plugins.search_tantivy]``.
After enabling it on a site that already has listings, build the index once with
``agorakit search-index rebuild``; from then on every listing change updates it (the
``listing.*`` events).  See ``docs/plugins/search_tantivy.md``.
"""

from __future__ import annotations

from typing import Any

from agorakit import hookimpl
from agorakit.events import event_handler
from agorakit.plugins.search_tantivy.service import command, index_listing_events, listing_index
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
@event_handler("listing.*")
async def agorakit_on_events(events, runtime):

    await index_listing_events(runtime, events)


@hookimpl
def agorakit_cli(cli: Any) -> None:

    cli.add_command(command)
