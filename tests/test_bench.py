"""Smoke runs of every benchmark case with tiny sizes, so that bench/ never rots.

Each case runs as ``make bench`` runs it (real ``agorakit run`` and floor servers in
subprocesses on free ports, the same load client), on one engine where the other adds
nothing to the harness (:data:`ENGINES`): PostgreSQL for browsing (its own search SQL in
the floor), the PostgreSQL-only cases and the headline race, SQLite for the rest (the
SQLite reads case browses SQLite, and reads layer by layer on both).  The app's own
behaviour on both engines is what the rest of the suite proves.  Timings are never
asserted; the cases' own expectations are (every request answered, exactly one winner of
each race, every timer fired exactly once, a sound ledger).

The cases leave nothing behind for the tests that follow: their databases are dropped,
their servers stopped, and no logger level is changed (``bench.sites.quiet_logs`` is for
the command line only).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.cases import CASES, Config  # noqa: E402
from bench.report import Table, as_markdown, as_text  # noqa: E402
from bench.sites import postgres_unreachable  # noqa: E402

TINY = {
    "sizes": [60],
    "browse_clients": 2,
    "duration": 0.2,
    "warmup": 0.05,
    "flow_clients": 2,
    "sqlite_clients": [1, 2],
    "contention_clients": 6,
    "withdrawal_clients": 4,
    "contention_rounds": 1,
    "worker_timers": 12,
    "worker_processes": [2],
    "worker_interval": 0.01,
    "startup_repeats": 1,
    "profile_requests": 3,
    "microjobs_clients": 8,
    "microjobs_positions": 3,
    "microjobs_rounds": 1,
    "prepaid_sellers": 6,
    "prepaid_locks": 2,
    "prepaid_sizes": [100, 250],
    "leads_sizes": [300, 600],
    "leads_businesses": 8,
    "leads_races": 2,
    "scaling_processes": [2],
    "metrics_rounds": 2,
    "metrics_scrape_interval": 0.1,
    "metrics_requests": 50,
    "verbose": False,
}


#: The engines each case runs on (when PostgreSQL is reachable; SQLite otherwise).
ENGINES: dict[str, tuple[str, ...]] = {
    "browse": ("postgres",),
    "sqlite-reads": ("sqlite", "postgres"),
    "flow": ("postgres",),
    "sqlite-writes": ("sqlite",),
    "contention": ("postgres",),
    "worker": ("postgres",),
    "startup": ("sqlite",),
    "microjobs": ("sqlite",),
    "prepaid-locks": ("sqlite",),
    "prepaid-feed": ("sqlite",),
    "leads-feed": ("sqlite",),
    "leads-unlocks": ("sqlite",),
    "scaling": ("postgres",),
    "metrics": ("sqlite",),
}


def test_every_case_has_its_engines():
    assert set(ENGINES) == set(CASES)


@pytest.fixture(scope="module")
async def engines() -> list[str]:
    reason = await postgres_unreachable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
    return ["sqlite"] if reason else ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def logger_levels() -> dict[str, int]:
    """The levels before the first case ran."""
    return {name: logging.getLogger(name).level for name in ("agorakit", "httpx", "piccolo")}


@pytest.mark.parametrize("case", list(CASES))
async def test_bench_case_runs_with_tiny_sizes(case, engines, logger_levels):
    engines = [engine for engine in engines if engine in ENGINES[case]] or ["sqlite"]
    tables = await CASES[case](Config(engines=engines, **TINY))
    assert tables, f"case {case} returned no table"
    for table in tables:
        assert not table.failures, f"{table.title}: {table.failures}"
        postgres_only = case in ("flow", "worker", "scaling")
        assert table.rows or (postgres_only and "postgres" not in engines), table.title
        for row in table.rows:
            assert len(row) == len(table.columns)
        assert as_text(table).startswith("== ")
        assert as_markdown(table).startswith("#### ")


def test_bench_leaves_logger_levels_alone(logger_levels):
    # later tests read INFO records of the agorakit loggers with caplog
    assert {name: logging.getLogger(name).level for name in logger_levels} == logger_levels


def test_bench_help_runs_as_a_script():
    found = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--help"], capture_output=True, text=True, check=True
    )
    assert "--full" in found.stdout
    assert all(name in found.stdout for name in CASES)


def test_bench_report_formats_a_table():
    table = Table("x", "A title", ["engine", "req/s"], notes=["a note"])
    table.add("sqlite", 1234.5)
    assert "1,234" in as_text(table)
    assert "| sqlite | 1,234 |" in as_markdown(table)


def test_bench_results_file_is_dated_and_names_the_commit(tmp_path):
    from datetime import UTC, datetime

    from bench.run import RESULTS, parser, results_file, results_intro

    assert parser().parse_args(["--markdown"]).markdown == RESULTS
    assert parser().parse_args(["--markdown", "x.md"]).markdown.name == "x.md"
    when, commit = datetime(2026, 12, 6, 8, 1, tzinfo=UTC), "ce3d41c051824d451dc712bb9e6a8e9c2e23a8ca"
    first = results_file(tmp_path / "results", when, commit)
    assert first.name == "2026-12-06-ce3d41c.md"
    first.write_text("x", encoding="utf-8")
    assert results_file(tmp_path / "results", when, commit).name == "2026-12-06-ce3d41c-2.md"
    intro = results_intro(when=when, commit=commit, argv=["--cases", "flow"], machine=["CPU: x"], seconds=90)
    assert intro.startswith("# Benchmark results, 2026-12-06 08:01 UTC\n")
    assert f"- commit: {commit}\n" in intro
    assert "- command: `python -m bench --cases flow` (1.5 min)\n" in intro
    assert "- CPU: x\n" in intro


async def test_several_servers_share_the_clients_round_robin(monkeypatch):
    import asyncio

    import httpx

    from bench import load

    async def answer(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # a server's turn: the load's loops must yield to the clock
        return httpx.Response(200)

    def mocked(base_url: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(load, "make_client", mocked)
    servers: dict[int, set[str]] = {}

    async def operation(session: load.Session) -> bool:
        response = await session.request("get", "GET", "/listings")
        servers.setdefault(session.worker, set()).add(str(response.request.url.host))
        return response.status_code == 200

    urls = ["http://host-a:8001", "http://host-b:8002", "http://host-c:8003"]
    result = await load.run_load(urls, operation, clients=7, duration=0.05, warmup=0.01)
    assert servers == {i: {f"host-{'abc'[i % 3]}"} for i in range(7)}
    assert result.requests.count and not result.requests.errors


def test_bench_scaling_and_metrics_options():
    from bench.run import config_from, parser

    cfg = config_from(parser().parse_args(["--scaling-processes", "1,3", "--scaling-modes", "hosts"]))
    assert (cfg.scaling_processes, cfg.scaling_modes, cfg.metrics_rounds) == ([1, 3], ["hosts"], 2)
    assert config_from(parser().parse_args(["--full"])).metrics_rounds == 4
    assert config_from(parser().parse_args(["--full", "--metrics-rounds", "1"])).metrics_rounds == 1
    for bad in (
        ["--scaling-processes", "0,2"],
        ["--scaling-modes", "hosts,threads"],
        ["--scaling-modes", ""],
    ):
        with pytest.raises(SystemExit):
            parser().parse_args(bad)
