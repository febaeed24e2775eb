"""Settings of the search_tantivy plugin (``[plugins.search_tantivy]`` in ``site.toml``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agorakit.settings import SettingsStruct


class SearchSettings(SettingsStruct, frozen=True):
    #: folder of the search index; a relative path is relative to the site config file's
    #: folder (default "search-index").  Each host has its own; the app processes of a
    #: host share it.
    index_dir: str = "search-index"
    #: how often each app process reads the listing events after the index's position and
    #: reloads what another process committed, in seconds (default 1.0): a listing changed
    #: through another process or host is found about that late
    refresh_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0
    #: memory the index writer may buffer before it writes a segment, in MB (default 50)
    writer_heap_mb: Annotated[int, msgspec.Meta(ge=15, le=4096)] = 50
