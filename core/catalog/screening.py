"""The core's default text screening: off-platform contact details in member text.

Registered as an ordinary ``trylast`` hookimpl of ``agorakit_screen_text``; a site adds
its own screening plugin next to it (every plugin's flags count).
"""

from __future__ import annotations

import re

import msgspec

from agorakit import hookimpl


class ScreenFlag(msgspec.Struct, frozen=True):
    """Something in a text that looks like off-platform advertising."""

    #: what kind of thing was found, e.g. "e-mail address"
    reason: str
    #: the text that was found
    match: str


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s*(?:@|\(at\)|\[at\])\s*[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9\-]+\.(?:com|net|org|io|co|me|biz|info|ly|gg|app|dev)\b(?:/[^\s]*)?",
    re.IGNORECASE,
)
# 7+ digits, optionally with a leading +, separated by spaces, dots, dashes or brackets.
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[\s.\-()]*\d){6,14}(?![\w.])")


@hookimpl(trylast=True)
def agorakit_screen_text(text: str, context: str) -> list[ScreenFlag]:
    flags: list[ScreenFlag] = []
    emails = [m.group(0) for m in _EMAIL.finditer(text)]
    flags += [ScreenFlag("e-mail address", m) for m in emails]
    without_emails = _EMAIL.sub(" ", text)
    flags += [ScreenFlag("URL", m.group(0)) for m in _URL.finditer(without_emails)]
    flags += [ScreenFlag("phone number", m.group(0).strip()) for m in _PHONE.finditer(without_emails)]
    return flags
