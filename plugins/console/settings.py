"""Settings of the operator console (``[plugins.console]``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agorakit.settings import SettingsStruct


class ConsoleSettings(SettingsStruct, frozen=True):
    #: rows on one page of a queue or list (5 to 100); default 25
    page_size: Annotated[int, msgspec.Meta(ge=5, le=100)] = 25
    #: minutes an operator stays signed in without signing in again (at most the API
    #: token's lifetime, ``[auth] token_ttl_minutes``); default 480 (a working day)
    session_minutes: Annotated[int, msgspec.Meta(ge=5, le=10080)] = 480
