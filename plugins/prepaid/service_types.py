"""Service types per category and the validation of a request's details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.catalog import category_ancestors
from agorakit.errors import FieldError, ValidationFailed
from agorakit.plugins.prepaid.schemas import ServiceFieldOut, ServiceTypeOut

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.plugins.prepaid.settings import PrepaidSettings, ServiceType


async def service_types_for(
    settings: PrepaidSettings, category: str, *, field: str = "category"
) -> list[ServiceType]:
    """The service types of ``category``: its own list, else its nearest configured
    ancestor's, else the site's ``default_service_types`` (a 422 for an unknown category)."""
    for slug in await category_ancestors(category, field=field):
        if slug in settings.service_types:
            return settings.service_types[slug]
    return settings.default_service_types


def to_out(service: ServiceType) -> ServiceTypeOut:
    return ServiceTypeOut(
        name=service.name,
        label=service.label,
        fields=[
            ServiceFieldOut(
                name=f.name,
                label=f.label,
                type=f.type,
                required=f.required,
                max_length=f.max_length if f.type == "text" else None,
                min=f.min,
                max=f.max,
                choices=list(f.choices),
            )
            for f in service.fields
        ],
    )


def find_type(types: list[ServiceType], name: str, category: str) -> ServiceType:
    for service in types:
        if service.name == name:
            return service
    known = ", ".join(repr(t.name) for t in types)
    raise ValidationFailed(
        [
            FieldError(
                "service_type", f"category {category!r} has no service type {name!r}; its types are {known}"
            )
        ]
    )


def clean_details(service: ServiceType, details: dict[str, Any]) -> dict[str, Any]:
    """The details checked against the service type's fields (every problem at once):
    unknown keys, missing required fields, wrong types, bounds and choices; text is
    trimmed.  Returns the cleaned details."""
    errors: list[FieldError] = []
    known = {f.name: f for f in service.fields}
    for key in details:
        if key not in known:
            expected = ", ".join(known) or "none"
            errors.append(
                FieldError(f"details.{key}", f"is not a field of {service.name!r} (its fields: {expected})")
            )
    cleaned: dict[str, Any] = {}
    for spec in service.fields:
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


def describe(service: ServiceType, details: dict[str, Any]) -> str:
    """The request's details as lines of text (the listing's description)."""
    lines = [f"Service: {service.label}"]
    for spec in service.fields:
        if spec.name in details:
            lines.append(f"{spec.label}: {details[spec.name]}")
    return "\n".join(lines)


def text_fields(service: ServiceType, details: dict[str, Any]) -> dict[str, str]:
    """The free-text details, by field path, for screening."""
    return {
        f"details.{f.name}": details[f.name] for f in service.fields if f.type == "text" and f.name in details
    }
