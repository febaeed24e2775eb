"""The building blocks of settings: the base Struct, the spec a plugin declares, the
error, and the annotated types settings use (secrets, currencies, amounts, percents)."""

from __future__ import annotations

from typing import Annotated

import msgspec

#: A string setting that must never be shown: masked in ``GET /-/plugins`` and logs.
Secret = Annotated[str, msgspec.Meta(extra={"secret": True})]

MASK = "********"


class ConfigError(Exception):
    """The site config is unusable; each message says where and why (one line each,
    ``<file>: <key>: <what is wrong>``).  Loading a config reports all its problems at once."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)

    def __str__(self) -> str:
        if len(self.messages) == 1:
            return self.messages[0]
        return f"{len(self.messages)} problems in the site config:\n" + "\n".join(self.messages)


class SettingsStruct(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for settings Structs: unknown keys are errors (they are usually typos).

    Subclasses repeat ``frozen=True``: msgspec inherits it, type checkers do not.
    """


class SettingsSpec(msgspec.Struct, frozen=True):
    """What ``agorakit_settings()`` returns: the section name and its Struct type."""

    name: str
    type: type[SettingsStruct]


CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
Percent = Annotated[str, msgspec.Meta(pattern=r"^(100|\d{1,2}(\.\d{1,2})?)$", examples=["20", "12.5"])]
AmountSetting = Annotated[str, msgspec.Meta(pattern=r"^\d{1,12}(\.\d{1,3})?$", examples=["15.00"])]
