"""Shared test helpers.  The fixtures themselves come from ``agorakit.testing``."""

from __future__ import annotations

import pytest

from agorakit.errors import AgorakitError


def assert_problem(response, status: int, code: str, *, fields: set[str] | None = None) -> dict:
    """Assert an RFC 9457 problem-details response; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:agorakit:problem:{code}"
    assert body["title"] and body["detail"]
    if fields is not None:
        assert {e["field"] for e in body.get("errors", [])} == fields, body
    return body


@pytest.fixture
def problem():
    return assert_problem


__all__ = ["AgorakitError", "assert_problem"]
