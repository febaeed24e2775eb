"""Rules for the short, single-line names people type and others read.

Display names, listing and gig-extra titles and category names are shown to other
members next to prices and order actions.  Unicode *format* characters (category Cf:
right-to-left overrides such as U+202E, isolates such as U+2066, zero-width spaces and
joiners such as U+200B) are invisible but change how the text around them is shown or
compared: "Ada\u202eLx" renders as another name, and a name with a zero-width space looks
identical to one without.  Such names are refused with a 422 field error.
"""

from __future__ import annotations

import unicodedata

from agorakit.errors import FieldError, ValidationFailed


def format_character(text: str) -> str | None:
    """The first Unicode format character (category Cf) in ``text``, or None."""
    if text.isascii():  # the common case; ASCII has no format characters
        return None
    for char in text:
        if unicodedata.category(char) == "Cf":
            return char
    return None


def name_error(text: str, *, field: str) -> FieldError | None:
    """The field error for a name that holds a format character, or None when it has none."""
    char = format_character(text)
    if char is None:
        return None
    message = (
        f"must not contain invisible formatting characters (found U+{ord(char):04X}, "
        f"{unicodedata.name(char, 'a format character')})"
    )
    return FieldError(field, message)


def check_name(text: str, *, field: str) -> str:
    """``text`` unchanged, or a 422 ``validation_error`` on ``field`` if it holds a format character."""
    error = name_error(text, field=field)
    if error is not None:
        raise ValidationFailed([error])
    return text


__all__ = ["check_name", "format_character", "name_error"]
