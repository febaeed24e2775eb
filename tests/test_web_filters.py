"""The Jinja filters server-rendered pages use for the API's values (no database)."""

from __future__ import annotations

from agorakit.web import FILTERS, safe_next


def test_amounts_instants_codes_and_ages():
    assert FILTERS["money"]({"amount": "25.00", "currency": "USD"}) == "25.00 USD"
    assert FILTERS["when"]("2026-01-05T09:00:00Z") == "5 Jan 2026, 09:00 UTC"
    assert FILTERS["when"]("not a time") == "not a time"
    assert FILTERS["human"]("pending_review") == "pending review"
    assert [
        FILTERS["age"](s) for s in (45, 720, 5 * 3600 + 60 * 7, 11 * 3600, 3 * 86400 + 4 * 3600, 2 * 86400)
    ] == [
        "45 s",
        "12 min",
        "5 h 7 min",
        "11 h",
        "3 d 4 h",
        "2 d",
    ]


def test_json_values_for_a_person():
    shown = FILTERS["shown"]
    assert shown([]) == "none"
    assert shown(["DE", "FR"]) == "DE, FR"
    assert shown(True) == "yes" and shown(None) == "-"
    extras = [
        {"title": "Express", "price": {"amount": "10.00", "currency": "USD"}, "days": 1},
        {"title": "Source file", "price": {"amount": "5.00", "currency": "USD"}, "days": 0},
    ]
    assert (
        shown(extras)
        == "title: Express, price: 10.00 USD, days: 1; title: Source file, price: 5.00 USD, days: 0"
    )


def test_a_next_path_stays_inside_the_pages():
    assert safe_next("/console/listings?kind=gig", "/console") == "/console/listings?kind=gig"
    for outside in (None, "", "https://evil.example/console", "//evil.example", "/shop", "/console\\evil"):
        assert safe_next(outside, "/console") == "/console"
