"""The injectable clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

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


# --------------------------------------------------------------------------------------
# The lint rule: the core and the plugins read the time only through a clock
# --------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"

STRAY = """\
import datetime as dt
import time
from datetime import UTC, date, datetime
from time import time as seconds

a = datetime.now(UTC)
b = dt.datetime.utcnow()
c = time.time()
d = date.today()
e = time.perf_counter()  # a duration, not the time: allowed
"""


def lint(path: Path, *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUFF), "check", "--select", "TID251", "--output-format", "concise", "--no-cache", *targets],
        cwd=path,
        capture_output=True,
        text=True,
    )


def test_a_stray_read_of_the_time_fails_the_lint(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name in ("core/clock.py", "core/orders/stray.py", "plugins/gigs/stray.py", "tests/test_x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(STRAY, encoding="utf-8")
    result = lint(tmp_path, ".")
    assert result.returncode == 1, result.stdout + result.stderr
    flagged = sorted(
        line.split(" TID251 ")[0].rstrip(":") for line in result.stdout.splitlines() if " TID251 " in line
    )
    expected = [
        f"{module}:{position}"
        for module in ("core/orders/stray.py", "plugins/gigs/stray.py")
        for position in ("4:18", "6:5", "7:5", "8:5", "9:5")
    ]
    assert flagged == sorted(expected)  # the clock module and the tests may read the time


def test_the_core_and_the_plugins_read_the_time_only_through_a_clock():
    result = lint(ROOT, "core", "plugins")
    assert result.returncode == 0, result.stdout + result.stderr
