"""Checking a listing before it is stored: its kind, attributes and texts, the plugins'
validation (``agorakit_validate_listing``) and the text screening (``agorakit_screen_text``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from agorakit.catalog.kinds import ListingKind, listing_kinds
from agorakit.catalog.schemas import ListingDraft, ScreenFlagOut
from agorakit.catalog.screening import screen_fields, screening_error
from agorakit.errors import FieldError, ValidationFailed
from agorakit.runtime import Runtime
from agorakit.text import name_error

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def kind_named(runtime: Runtime, name: str) -> ListingKind:
    kinds = listing_kinds(runtime)
    if name not in kinds:
        known = ", ".join(sorted(kinds)) or "none (enable a marketplace plugin)"
        raise ValidationFailed([FieldError("kind", f"unknown listing kind {name!r}; this site has: {known}")])
    return kinds[name]


def validate_attributes(kind: ListingKind, attributes: dict[str, Any]) -> msgspec.Struct:
    """Convert attributes to the kind's Struct; errors are ``attributes.<field>``."""
    try:
        # Strict like the body it came in: "3" is not a number of days.
        return msgspec.convert(attributes, kind.attributes, strict=True)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        assert match is not None
        path = (match.group("path") or "").lstrip(".")
        field = f"attributes.{path}" if path else "attributes"
        raise ValidationFailed([FieldError(field, match.group("message"))]) from None


def clean_text(runtime: Runtime, title: str, description: str) -> tuple[str, str, list[FieldError]]:
    limits = runtime.settings.listings
    title = " ".join(title.split())
    description = description.strip()
    errors = []
    if not title or _CONTROL.search(title):
        errors.append(FieldError("title", "must have visible characters"))
    elif (error := name_error(title, field="title")) is not None:
        errors.append(error)
    elif len(title) > limits.max_title_length:
        errors.append(FieldError("title", f"must be at most {limits.max_title_length} characters"))
    if not description or _CONTROL.search(description):
        errors.append(FieldError("description", "must have visible characters"))
    elif len(description) > limits.max_description_length:
        errors.append(
            FieldError("description", f"must be at most {limits.max_description_length} characters")
        )
    return title, description, errors


async def screen(runtime: Runtime, draft: ListingDraft) -> list[ScreenFlagOut]:
    """Run ``agorakit_screen_text`` on the title, the description and the text
    attributes the kind names in ``screened_attributes``."""
    texts: dict[str, str | None] = {"title": draft.title, "description": draft.description}
    kind = listing_kinds(runtime).get(draft.kind)
    for name in kind.screened_attributes if kind is not None else ():
        value = getattr(draft.attributes, name, None)
        if isinstance(value, str):
            texts[f"attributes.{name}"] = value
    return await screen_fields(runtime, texts, context="listing")


async def check_draft(runtime: Runtime, draft: ListingDraft) -> list[ScreenFlagOut]:
    """Plugins' validation and the screening; raises 422 with every problem found.

    Returns the screening flags to store when the site only flags (``screening = "flag"``).
    """
    errors: list[FieldError] = await runtime.hooks.collect(
        "agorakit_validate_listing", listing=draft, runtime=runtime
    )
    flags = await screen(runtime, draft)
    if flags and runtime.settings.listings.screening == "block":
        errors += screening_error(flags).errors
    if errors:
        raise ValidationFailed(errors)
    return flags


def countries_of(attributes: msgspec.Struct | None) -> str:
    codes = getattr(attributes, "countries", None) or []
    return "".join(f",{c.upper()}" for c in codes) + ("," if codes else "")
