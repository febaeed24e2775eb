"""Jinja filters for pages that show the API's answers, and a safe "next" path."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit


def money(value: Any) -> str:
    """``{"amount": "25.00", "currency": "USD"}`` → ``25.00 USD`` (the API's own wording)."""
    if isinstance(value, dict):
        return f"{value.get('amount')} {value.get('currency')}"
    return "" if value is None else str(value)


def when(value: Any) -> str:
    """An ISO 8601 instant → ``5 Jan 2026, 09:00 UTC``."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return f"{at.day} {at:%b %Y, %H:%M} UTC"


def human(value: Any) -> str:
    """``pending_review`` → ``pending review``."""
    return str(value or "").replace("_", " ")


def age(seconds: Any) -> str:
    """A duration in seconds → ``45 s``, ``12 min``, ``5 h``, ``3 d 4 h``."""
    if seconds is None or seconds == "":
        return ""
    total = max(0, int(float(seconds)))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min"
    if total < 86400:
        hours, minutes = divmod(total // 60, 60)
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    days, hours = divmod(total // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def shown(value: Any) -> str:
    """A JSON value (a listing's attributes) for a person: lists joined, amounts as
    ``money``, objects as ``name: value`` pairs, yes/no, "none" for an empty list."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"}:
            return money(value)
        return ", ".join(f"{human(key)}: {shown(item)}" for key, item in value.items())
    if isinstance(value, list):
        if not value:
            return "none"
        separator = "; " if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(shown(item) for item in value)
    return str(value)


FILTERS = {"money": money, "when": when, "human": human, "age": age, "shown": shown}


def safe_next(value: str | None, prefix: str) -> str:
    """A path inside ``prefix`` to go back to after signing in (never another site)."""
    if not value or not value.startswith(prefix) or value.startswith("//") or "\\" in value:
        return prefix
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return prefix
    return value
