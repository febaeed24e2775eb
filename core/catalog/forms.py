"""Detail forms: structured fields an operator configures per category.

A model asks its members for details that depend on the category (a prepaid request's
"rank" and "duration", a lead's "number of rooms" and "when").  The site's config lists
:class:`DetailField` s per category slug; a category without its own list uses its
nearest configured ancestor's (:func:`fields_for_category`).  :func:`clean_details`
checks what a member sent against the fields and reports every problem at once as field
errors under ``details.<name>``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from agorakit.catalog.service import category_ancestors
from agorakit.errors import FieldError, ValidationFailed
from agorakit.settings import SettingsStruct

FieldName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
T = TypeVar("T")


class DetailField(SettingsStruct, frozen=True):
    """One structured field of a form (a settings value, e.g. in ``[plugins.<name>]``)."""

    #: key in the ``details`` object (lower case, digits, underscores)
    name: FieldName
    #: shown to people
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    #: "text" (free text), "integer" (whole number, ``min``/``max``) or "choice" (one of ``choices``)
    type: Literal["text", "integer", "choice"] = "text"
    #: whether it must be filled (default true)
    required: bool = True
    #: longest text (type text; default 2000)
    max_length: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 2000
    #: bounds of an integer (type integer)
    min: int | None = None
    max: int | None = None
    #: allowed values (type choice)
    choices: list[Annotated[str, msgspec.Meta(min_length=1, max_length=80)]] = []


class DetailFieldOut(msgspec.Struct):
    """A form field as clients see it (to draw the form)."""

    name: str
    label: str
    type: str
    required: bool
    max_length: int | None = None
    min: int | None = None
    max: int | None = None
    choices: list[str] = []


def check_fields(fields: list[DetailField], where: str) -> None:
    """A ValueError for a form that cannot work (settings validation): duplicate names, a
    choice without choices, min above max."""
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: two fields share a name")
    for field in fields:
        if field.type == "choice" and not field.choices:
            raise ValueError(f"{where}.{field.name}: a choice needs choices")
        if field.min is not None and field.max is not None and field.min > field.max:
            raise ValueError(f"{where}.{field.name}: min exceeds max")


async def fields_for_category(
    configured: dict[str, T], category: str, default: T, *, field: str = "category"
) -> T:
    """What ``configured`` (by category slug) holds for ``category``: its own entry, else
    its nearest configured ancestor's, else ``default``; a 422 naming ``field`` for an
    unknown category."""
    for slug in await category_ancestors(category, field=field):
        if slug in configured:
            return configured[slug]
    return default


def field_out(field: DetailField) -> DetailFieldOut:
    return DetailFieldOut(
        name=field.name,
        label=field.label,
        type=field.type,
        required=field.required,
        max_length=field.max_length if field.type == "text" else None,
        min=field.min,
        max=field.max,
        choices=list(field.choices),
    )


def clean_details(
    fields: list[DetailField], details: dict[str, Any], *, form: str = "this form"
) -> dict[str, Any]:
    """``details`` checked against ``fields`` (every problem at once, as 422 field errors
    under ``details.<name>``): unknown keys, missing required fields, wrong types, bounds
    and choices; text is trimmed.  Returns the cleaned details."""
    errors: list[FieldError] = []
    known = {f.name: f for f in fields}
    for key in details:
        if key not in known:
            expected = ", ".join(known) or "none"
            errors.append(FieldError(f"details.{key}", f"is not a field of {form} (its fields: {expected})"))
    cleaned: dict[str, Any] = {}
    for spec in fields:
        where = f"details.{spec.name}"
        value = details.get(spec.name)
        if isinstance(value, str) and spec.type != "integer":
            value = value.strip()
        if value is None or value == "":
            if spec.required:
                errors.append(FieldError(where, f"{spec.label!r} is required"))
            continue
        if spec.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(FieldError(where, "must be a whole number"))
                continue
            if spec.min is not None and value < spec.min:
                errors.append(FieldError(where, f"must be at least {spec.min}"))
            elif spec.max is not None and value > spec.max:
                errors.append(FieldError(where, f"must be at most {spec.max}"))
            cleaned[spec.name] = value
        elif not isinstance(value, str):
            errors.append(FieldError(where, "must be a string"))
        elif spec.type == "choice" and value not in spec.choices:
            errors.append(FieldError(where, f"must be one of {', '.join(map(repr, spec.choices))}"))
        elif spec.type == "text" and len(value) > spec.max_length:
            errors.append(FieldError(where, f"must be at most {spec.max_length} characters"))
        elif spec.type == "text" and any(ord(c) < 32 and c not in "\n\t" for c in value):
            errors.append(FieldError(where, "must not contain control characters"))
        else:
            cleaned[spec.name] = value
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def describe_details(fields: list[DetailField], details: dict[str, Any]) -> list[str]:
    """The filled fields as ``"Label: value"`` lines, in the form's order."""
    return [f"{spec.label}: {details[spec.name]}" for spec in fields if spec.name in details]


def text_details(fields: list[DetailField], details: dict[str, Any]) -> dict[str, str]:
    """The free-text details by field path (``details.<name>``), e.g. for screening."""
    return {f"details.{f.name}": details[f.name] for f in fields if f.type == "text" and f.name in details}
