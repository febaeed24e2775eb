"""Screening member text for off-platform contact details.

:func:`screen_fields` runs every ``agorakit_screen_text`` implementation on named texts
(a listing's title and description, a plugin's offer message ...) and
:func:`screening_error` is the 422 a blocked text gets.  The core's default screening is
an ordinary ``trylast`` hookimpl of ``agorakit_screen_text`` (below); a site adds its own
screening plugin next to it (every plugin's flags count).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from agorakit import hookimpl
from agorakit.catalog.schemas import ScreenFlagOut
from agorakit.errors import FieldError, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


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


async def screen_fields(
    runtime: Runtime, texts: Mapping[str, str | None], *, context: str
) -> list[ScreenFlagOut]:
    """Screen each named text with every ``agorakit_screen_text`` implementation.

    ``texts`` maps a field name, as the API names it (``"message"``,
    ``"details.rank"``), to the member's text; empty and blank texts are skipped.  Each
    text is screened with the hook context ``"<context>.<field>"`` (a listing's title:
    ``"listing.title"``).  Returns the flags, each once, in the order of ``texts``; what
    they do (a 422 with :func:`screening_error`, or a mark for moderators) is the caller's
    choice.
    """
    flags: list[ScreenFlagOut] = []
    banned = banned_words(runtime)
    for field, text in texts.items():
        if not text or not text.strip():
            continue
        found = await runtime.hooks.collect("agorakit_screen_text", text=text, context=f"{context}.{field}")
        if banned is not None:
            found = [*found, *(ScreenFlag(BANNED, m.group(0)) for m in banned.finditer(text))]
        for flag in found:
            out = ScreenFlagOut(field=field, reason=flag.reason, match=flag.match)
            if out not in flags:
                flags.append(out)
    return flags


#: the reason of a flag for a word of ``[listings] banned_words``
BANNED = "banned word"


def banned_words(runtime: Runtime) -> re.Pattern[str] | None:
    """The site's ``[listings] banned_words`` as one case-insensitive whole-word pattern
    (None when there are none), compiled once per runtime."""
    if hasattr(runtime, "_banned_words"):
        return runtime._banned_words
    words = sorted({w.strip() for w in runtime.settings.listings.banned_words if w.strip()}, key=len)
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in reversed(words))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if words else None
    runtime._banned_words = pattern
    return pattern


def screening_error(flags: list[ScreenFlagOut]) -> ValidationFailed:
    """The 422 for blocked texts: one error per flag on its field, e.g. ``contains a phone
    number ('+1 555 010 9999'); contact details and links to other sites are not allowed,
    members talk through the site``."""
    return ValidationFailed([FieldError(flag.field, _blocked(flag)) for flag in flags])


def _blocked(flag: ScreenFlagOut) -> str:
    article = "an" if flag.reason[:1].lower() in "aeiou" else "a"
    return (
        f"contains {article} {flag.reason} ({flag.match!r}); contact details and links to other sites "
        "are not allowed, members talk through the site"
    )
