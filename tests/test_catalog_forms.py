"""Detail forms (``agorakit.catalog``): fields configured per category, inherited by the
categories below; a member's details checked against them with every problem at once."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin

from agorakit.catalog import (
    DetailField,
    check_fields,
    clean_details,
    describe_details,
    field_out,
    fields_for_category,
)
from agorakit.errors import ValidationFailed

ROOMS = DetailField(name="rooms", label="Number of rooms", type="integer", min=1, max=20)
WHEN = DetailField(name="when", label="When", type="choice", choices=["Soon", "Later"])
NOTES = DetailField(name="notes", label="Notes", required=False, max_length=10)
FORM = [ROOMS, WHEN, NOTES]


def errors_of(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors}


def test_clean_details_trims_and_keeps_the_form_fields():
    assert clean_details(FORM, {"rooms": 3, "when": "  Soon ", "notes": " back door "}) == {
        "rooms": 3,
        "when": "Soon",
        "notes": "back door",
    }
    # an optional field left out or blank is simply absent
    assert clean_details(FORM, {"rooms": 20, "when": "Later", "notes": "  "}) == {
        "rooms": 20,
        "when": "Later",
    }


def test_clean_details_reports_every_problem_at_once():
    with pytest.raises(ValidationFailed) as caught:
        clean_details(
            FORM, {"rooms": 0, "when": "Never", "notes": "x" * 11, "pets": "a cat"}, form="the job form"
        )
    assert errors_of(caught.value) == {
        "details.pets": "is not a field of the job form (its fields: rooms, when, notes)",
        "details.rooms": "must be at least 1",
        "details.when": "must be one of 'Soon', 'Later'",
        "details.notes": "must be at most 10 characters",
    }
    with pytest.raises(ValidationFailed) as caught:
        clean_details(FORM, {"rooms": True, "notes": "a\x00b"})
    assert errors_of(caught.value) == {
        "details.rooms": "must be a whole number",
        "details.when": "'When' is required",
        "details.notes": "must not contain control characters",
    }
    with pytest.raises(ValidationFailed) as caught:
        clean_details(FORM, {"rooms": "3", "when": 2, "notes": ["no"]})
    assert errors_of(caught.value) == {
        "details.rooms": "must be a whole number",
        "details.when": "must be a string",
        "details.notes": "must be a string",
    }
    with pytest.raises(ValidationFailed) as caught:
        clean_details(FORM, {"rooms": 21, "when": ""})
    assert errors_of(caught.value) == {
        "details.rooms": "must be at most 20",
        "details.when": "'When' is required",
    }
    with pytest.raises(ValidationFailed) as caught:
        clean_details([], {"anything": 1})
    assert errors_of(caught.value) == {"details.anything": "is not a field of this form (its fields: none)"}


def test_check_fields_refuses_forms_that_cannot_work():
    check_fields(FORM, "form")  # fine
    with pytest.raises(ValueError, match=r"^form: two fields share a name$"):
        check_fields([ROOMS, ROOMS], "form")
    with pytest.raises(ValueError, match=r"^form\.when: a choice needs choices$"):
        check_fields([DetailField(name="when", label="When", type="choice")], "form")
    with pytest.raises(ValueError, match=r"^form\.rooms: min exceeds max$"):
        check_fields([DetailField(name="rooms", label="Rooms", type="integer", min=5, max=1)], "form")


def test_a_form_as_clients_see_it_and_as_people_read_it():
    assert field_out(ROOMS).max_length is None  # only text has a length
    assert (field_out(ROOMS).min, field_out(ROOMS).max) == (1, 20)
    assert field_out(NOTES).max_length == 10
    assert field_out(WHEN).choices == ["Soon", "Later"]
    assert describe_details(FORM, {"when": "Soon", "rooms": 2}) == ["Number of rooms: 2", "When: Soon"]


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


async def test_a_category_inherits_the_nearest_configured_form(client, make_member):
    operator = await make_member(role="operator")
    for slug, parent in [("home", None), ("cleaning", "home"), ("windows", "cleaning"), ("lessons", None)]:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": slug.title(), "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    configured = {"home": [WHEN], "cleaning": [ROOMS, WHEN]}
    default = [NOTES]
    assert await fields_for_category(configured, "cleaning", default) == [ROOMS, WHEN]  # its own
    assert await fields_for_category(configured, "windows", default) == [ROOMS, WHEN]  # its parent's
    assert await fields_for_category(configured, "home", default) == [WHEN]
    assert await fields_for_category(configured, "lessons", default) == [NOTES]  # none above: the default
    assert await fields_for_category({"home": "9.00"}, "windows", "15.00") == "9.00"  # any per-category value
    with pytest.raises(ValidationFailed) as caught:
        await fields_for_category(configured, "gardening", default, field="location.category")
    assert [e.field for e in caught.value.errors] == ["location.category"]
