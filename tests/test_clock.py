"""The injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from agorakit.clock import FrozenClock, SystemClock


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock.advance(days=3) == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert clock.advance(timedelta(hours=1)) == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)
    clock.set(datetime(2026, 3, 4, 15, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_frozen_clock_refuses_naive_times():
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 3, 1, 12, 0))


def test_system_clock_is_utc_aware():
    now = SystemClock().now()
    assert now.tzinfo == UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


async def test_domain_code_reads_the_runtime_clock(client, clock):
    clock.advance(days=400)
    response = await client.post(
        "/auth/register",
        json={
            "email": "t@example.com",
            "password": "a-long-good-passphrase",
            "display_name": "T",
            "country": "US",
        },
    )
    assert response.status_code == 202, response.text
    from agorakit.accounts.tables import Member

    row = await Member.select(Member.created_at).where(Member.email_key == "t@example.com").first()
    assert row["created_at"].isoformat() == "2027-02-09T09:00:00+00:00"
