"""The load client: N concurrent asyncio workers on keep-alive httpx connections.

Why a Python client rather than ``wrk``: the order flow is a scripted multi-step
conversation (create → pay → deliver → accept, each step using the id the previous one
returned, as two different members); contention needs N requests released at the same
instant; no system package is needed; and both sides, the app and the floor, are driven
by exactly the same client.  The client shares the 2-core machine with the servers, so
its own CPU time is measured and reported (``client_cpu``) next to the servers'.

A run has a warm-up (connections opened, caches filled, nothing recorded), then records
every request that *starts* inside the measured window; throughput is the number of
operations that completed divided by the time from the start of the window to the last
completion.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

LOCKED_MARKERS = ("database is locked", "database table is locked", "sqlite_busy")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


@dataclass
class Stats:
    """Latencies (seconds) and outcomes of one kind of request or operation."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    #: transport errors (connection reset, timeout) by exception name
    failures: Counter = field(default_factory=Counter)
    #: responses that say "database is locked" (SQLite's lock timeout surfaced as a 500/503)
    locked: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        """Responses outside 2xx, plus transport failures."""
        bad = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return bad + sum(self.failures.values())

    def p(self, fraction: float) -> float:
        return percentile(sorted(self.latencies), fraction)

    def merge(self, other: Stats) -> None:
        self.latencies += other.latencies
        self.statuses += other.statuses
        self.failures += other.failures
        self.locked += other.locked


@dataclass
class LoadResult:
    clients: int
    elapsed: float
    #: completed operations (one request, or one whole flow) in the measured window
    operations: Stats
    #: every request, and requests by step name
    requests: Stats
    steps: dict[str, Stats]
    client_cpu: float = 0.0
    #: differences of the probe (server and database CPU seconds) over the window
    probed: tuple[float, ...] = ()

    @property
    def ops_per_second(self) -> float:
        return self.operations.count / self.elapsed if self.elapsed else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests.count / self.elapsed if self.elapsed else 0.0


class Session:
    """What an operation uses: the shared client and a recorder of its requests."""

    def __init__(self, client: httpx.AsyncClient, result: LoadResult, worker: int) -> None:
        self.client = client
        self.result = result
        self.worker = worker
        self.recording = False

    async def request(self, step: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            if self.recording:
                stats = self.result.steps.setdefault(step, Stats())
                for target in (stats, self.result.requests):
                    target.latencies.append(time.perf_counter() - started)
                    target.failures[type(exc).__name__] += 1
            return None
        elapsed = time.perf_counter() - started
        if self.recording:
            locked = response.status_code >= 500 and any(m in response.text.lower() for m in LOCKED_MARKERS)
            stats = self.result.steps.setdefault(step, Stats())
            for target in (stats, self.result.requests):
                target.latencies.append(elapsed)
                target.statuses[response.status_code] += 1
                target.locked += int(locked)
        return response


#: An operation: one request or a whole flow; returns True when it succeeded.
Operation = Callable[[Session], Awaitable[bool]]


def make_client(base_url: str) -> httpx.AsyncClient:
    """One keep-alive connection.  Each worker has its own client: httpx's connection pool
    shared by N concurrent requests costs the client O(N) work per request (100 requests
    released at once took 2.6 s of client CPU through one pool, 0.1 s through 100 clients)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=httpx.Timeout(60.0))


async def run_load(
    base_url: str | Sequence[str],
    operation: Callable[[Session], Awaitable[bool]] | Callable[[int], Operation],
    *,
    clients: int,
    duration: float,
    warmup: float = 1.0,
    per_worker: bool = False,
    probe: Callable[[], tuple[float, ...]] | None = None,
) -> LoadResult:
    """Run ``operation`` in ``clients`` concurrent loops: ``warmup`` s unrecorded, then ``duration`` s.

    With ``per_worker`` the callable is a factory: ``operation(worker_index)`` returns the
    worker's own operation (its own buyer and seller, say).  ``probe()`` is read at the
    start and the end of the measured window; the differences land in ``result.probed``
    (the servers' CPU seconds).  Several ``base_url`` spread the clients round-robin over
    several servers: client ``i`` keeps its connection to ``base_url[i % len(base_url)]``,
    as a load balancer that balances connections would.
    """
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    result = LoadResult(clients=clients, elapsed=0.0, operations=Stats(), requests=Stats(), steps={})
    window: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            Session(await stack.enter_async_context(make_client(urls[i % len(urls)])), result, i)
            for i in range(clients)
        ]
        ops = [operation(i) if per_worker else operation for i in range(clients)]  # type: ignore[call-arg]
        phase = {"recording": False, "stop": False}
        last_end = [0.0]

        async def worker(index: int) -> None:
            session, op = sessions[index], ops[index]
            while not phase["stop"]:
                session.recording = phase["recording"]
                started = time.perf_counter()
                ok = await op(session)  # type: ignore[arg-type]
                if session.recording:
                    ended = time.perf_counter()
                    result.operations.latencies.append(ended - started)
                    result.operations.statuses[200 if ok else 599] += 1
                    last_end[0] = max(last_end[0], ended)

        tasks = [asyncio.create_task(worker(i)) for i in range(clients)]
        await asyncio.sleep(warmup)
        cpu_start = time.process_time()
        probed = probe() if probe else ()
        window["start"] = time.perf_counter()
        phase["recording"] = True
        await asyncio.sleep(duration)
        phase["recording"] = False
        phase["stop"] = True
        await asyncio.gather(*tasks)
        result.client_cpu = time.process_time() - cpu_start
        if probe:
            result.probed = tuple(b - a for a, b in zip(probed, probe(), strict=True))
        result.elapsed = max(last_end[0], window["start"] + duration) - window["start"]
    return result


async def burst(
    base_url: str, send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], *, clients: int
) -> list[tuple[int, float]]:
    """``clients`` requests released at the same instant on warm connections: [(status, seconds)]."""
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(make_client(base_url)) for _ in range(clients)]
        # open every connection first, so that the burst measures the requests, not TCP set-up
        await asyncio.gather(*(client.get("/health") for client in connections))
        gate = asyncio.Event()

        async def one(index: int) -> tuple[int, float]:
            await gate.wait()
            started = time.perf_counter()
            try:
                response = await send(connections[index], index)
            except httpx.HTTPError:
                return 0, time.perf_counter() - started
            return response.status_code, time.perf_counter() - started

        tasks = [asyncio.create_task(one(i)) for i in range(clients)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks)
