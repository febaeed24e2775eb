"""NUL characters in text input are a 422 naming the field, on both databases.

PostgreSQL cannot store U+0000 in text, so without the check such input was a 500 there
(found by the schema fuzzer); SQLite would have stored it.
"""

from __future__ import annotations

from agorakit.accounts.tables import Member


async def test_nul_in_a_json_field_is_refused_and_nothing_is_created(client, problem):
    body = {
        "email": "nul@example.com",
        "password": "correct-horse-battery-staple",
        "display_name": "Eve\u0000",
        "country": "US",
        "skills": ["logo design", "copy\u0000writing"],
    }
    response = await client.post("/auth/register", json=body)
    problem(response, 422, "validation_error", fields={"display_name", "skills[1]"})
    assert all(e["source"] == "body" for e in response.json()["errors"])
    assert await Member.count() == 0


async def test_escaped_backslash_is_not_a_nul(client):
    body = {
        "email": "backslash@example.com",
        "password": "correct-horse-battery-staple",
        "display_name": "Eve \\u0000",
        "country": "US",
        "skills": [],
    }
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 202, response.text
    rows = await Member.select(Member.display_name).where(Member.email_key == "backslash@example.com")
    assert rows == [{"display_name": "Eve \\u0000"}]


async def test_nul_in_a_query_value_or_a_nested_field_is_refused(client, make_member, problem):
    operator = await make_member(role="operator")
    response = await client.get("/listings?q=logo%00&limit=5")
    problem(response, 422, "validation_error", fields={"q"})
    assert response.json()["errors"][0]["source"] == "query"
    created = await client.post(
        "/operator/categories", json={"slug": "design", "name": "De\u0000sign"}, headers=operator.headers
    )
    problem(created, 422, "validation_error", fields={"name"})
    assert (await client.get("/categories")).json() == []


async def test_nul_deep_inside_a_body_nested_past_the_decoders_limit_is_a_client_error(client):
    """Nested too deep to read, the body is answered as malformed, not with a 500."""
    for depth in (900, 1000, 3000):
        body = "[" * depth + '"\\u0000"' + "]" * depth
        response = await client.post(
            "/auth/login", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code in (400, 422), (depth, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Traceback" not in response.text
    assert await Member.count() == 0
