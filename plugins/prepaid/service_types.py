"""Service types per category and the validation of a request's details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.catalog import clean_details as clean_details_of
from agorakit.catalog import describe_details, field_out, fields_for_category, text_details
from agorakit.errors import FieldError, ValidationFailed
from agorakit.plugins.prepaid.schemas import ServiceTypeOut

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.plugins.prepaid.settings import PrepaidSettings, ServiceType


async def service_types_for(
    settings: PrepaidSettings, category: str, *, field: str = "category"
) -> list[ServiceType]:
    """The service types of ``category``: its own list, else its nearest configured
    ancestor's, else the site's ``default_service_types`` (a 422 for an unknown category)."""
    return await fields_for_category(
        settings.service_types, category, settings.default_service_types, field=field
    )


def to_out(service: ServiceType) -> ServiceTypeOut:
    return ServiceTypeOut(
        name=service.name,
        label=service.label,
        fields=[field_out(f) for f in service.fields],
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
    """The details checked against the service type's fields (``clean_details`` of the catalog)."""
    return clean_details_of(service.fields, details, form=repr(service.name))


def describe(service: ServiceType, details: dict[str, Any]) -> str:
    """The request's details as lines of text (the listing's description)."""
    return "\n".join([f"Service: {service.label}", *describe_details(service.fields, details)])


def text_fields(service: ServiceType, details: dict[str, Any]) -> dict[str, str]:
    """The free-text details, by field path, for screening."""
    return text_details(service.fields, details)
