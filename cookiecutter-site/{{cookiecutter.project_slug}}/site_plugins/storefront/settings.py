"""The storefront's settings: ``[plugins.storefront]`` in ``site.toml``.

Every key has a default, so enabling the plugin is one line.  A value that breaks a rule
(a colour that is not a CSS hex colour, a page size out of range) stops start-up with a
message naming ``plugins.storefront.<key>``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from agorakit.settings import SettingsStruct

#: ``#0f766e`` or ``#fff``: the CSS hex colours the stylesheet takes (no names, no alpha)
HexColour = Annotated[
    str,
    msgspec.Meta(pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples=["#0f766e", "#f59e0b"]),
]


class StorefrontSettings(SettingsStruct, frozen=True):
    #: the main colour: header, links, buttons (a CSS hex colour)
    primary_color: HexColour = "#0f766e"
    #: the second colour: prices, highlights, the focus ring (a CSS hex colour)
    accent_color: HexColour = "#f59e0b"
    #: a line under the site's name on the home page; empty: none
    tagline: Annotated[str, msgspec.Meta(max_length=200)] = "Services by independent sellers, paid safely."
    #: gigs per page on the home and search pages, and orders per page
    page_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 12
