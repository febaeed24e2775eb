"""13 and 14. Several app processes, and what the Prometheus metrics cost.

13. ``scaling`` (PostgreSQL): browse (``GET /listings?limit=20``, newest first, by
``browse_clients`` clients) and the gig order flow (``flow_clients`` clients) served by
1, 2 and 4 app processes, two ways:

- *hosts*: N separate ``agorakit run`` processes on their own ports, each in its own
  working folder with its own copy of the site config, as N hosts behind a load
  balancer; the load client spreads its clients round-robin over them (client ``i``
  keeps its keep-alive connection to process ``i % N``, as a balancer of connections
  does);
- *workers*: one ``agorakit run --workers N``: uvicorn's supervisor and N worker
  processes sharing one listening socket, each new connection taken by whichever worker
  accepts it first.

Each run reports throughput, p50/p99 per request, the CPU per operation of the app
processes and of the site's PostgreSQL backends, the load client's own, and how the
machine's cores were spent over the measured window: the app processes, PostgreSQL, the
load client, and everything else (other processes, the kernel's own work); the busiest
app process's share of the app's CPU says how evenly the load was spread.

14. ``metrics``: the same two workloads against two app processes on one database, one
with ``[metrics] enabled = true`` and one without, in alternating rounds (which side goes
first alternates too, so that a drift of the machine's load falls on both).  While the
"on" side is measured, a scraper reads ``/metrics`` every ``metrics_scrape_interval``
seconds, as Prometheus would.  Reported: the server CPU per operation of each side and
their ratio, round by round; and, measured alone, the two pieces the ratio is made of:
the CPU of one scrape (the app's and the database's: the gauges are read with their
queries at scrape time) and the request middleware's own CPU per request, the difference
of ``GET /health/live`` (a route that does nothing else) with metrics on and off, called
in-process many times over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.load import LoadResult, Stats, run_load
from bench.report import Table
from bench.seed import Raw, seed_categories, seed_flow_parties, seed_listings, seed_members
from bench.sites import (
    CLK_TCK,
    BenchSite,
    Server,
    agorakit_command,
    bench_site,
    free_port,
    postgres_cpu_seconds,
    process_cpu_seconds,
    subprocess_env,
)

if TYPE_CHECKING:  # pragma: no cover
    from bench.cases import Config

#: the page both cases browse: the newest 20 listings
BROWSE = "/listings?limit=20"
#: the counter every scrape must carry once a request was served
REQUESTS_TOTAL = b"agorakit_http_requests_total"
#: requests of the order flow (create, pay, deliver, accept)
FLOW_REQUESTS = 4
#: a common Prometheus scrape interval, seconds: the metrics case also reads its scrapes' share at it
PROMETHEUS_INTERVAL = 15
#: how several app processes run in the scaling case
SCALING_MODES = ("hosts", "workers")


def process_counts(text: str) -> list[int]:
    """``--scaling-processes 1,2,4``: app process counts, each at least 1."""
    try:
        counts = [int(part) for part in text.split(",") if part]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give process counts of 1 or more, e.g. 1,2,4")
    return counts


def scaling_modes(text: str) -> list[str]:
    """``--scaling-modes hosts,workers``: the modes, each known."""
    modes = [mode for mode in text.split(",") if mode]
    unknown = [mode for mode in modes if mode not in SCALING_MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SCALING_MODES)}")
    return modes


# --------------------------------------------------------------------------------------
# Processes and their CPU
# --------------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (every core; idle and I/O wait excluded)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    values = [int(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def is_spawned_worker(pid: int) -> bool:
    """A process multiprocessing spawned to run a uvicorn worker (not its resource tracker)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def app_process(config: Path, folder: Path, *, workers: int = 1, name: str = "agorakit") -> Server:
    """``agorakit --config <config> run`` in ``folder`` (its working directory and log's)."""
    argv = [*agorakit_command(), "--config", str(config), "run", "--port", str(port := free_port())]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return Server(name, argv, port, subprocess_env(), folder / f"{name}.log", cwd=folder)


@dataclass
class AppGroup:
    """The app processes of one setup: ``servers`` started alike, each with ``workers``."""

    label: str
    servers: list[Server]
    workers: int = 1
    #: every process of the group (supervisors and workers), known once it is ready
    pids: list[int] = field(default_factory=list)
    #: the processes that serve requests (one per host, or the supervisor's workers)
    serving: list[int] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [server.base_url for server in self.servers]

    async def start(self, within: float = 90.0) -> None:
        """Start every process at once; ready when each answers and has gone quiet (every
        ``--workers`` child too: the first to answer ``/health`` does not mean the others did)."""
        try:
            await asyncio.gather(*(asyncio.to_thread(server.start, within) for server in self.servers))
            deadline, before = time.perf_counter() + within, -1.0
            while True:
                pids = [p for server in self.servers for p in process_tree(server.process.pid)]  # type: ignore[union-attr]
                if self.workers > 1:
                    serving = [p for p in pids if is_spawned_worker(p)]
                else:
                    serving = [server.process.pid for server in self.servers]  # type: ignore[union-attr]
                spent = sum(process_cpu_seconds(p) for p in pids)
                if len(serving) == len(self.servers) * self.workers and spent - before < 0.05:
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{self.label}: {len(serving)} processes serving after {within:.0f} s")
                before = spent
                await asyncio.sleep(0.5)
            self.pids, self.serving = pids, serving
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def cpu(self) -> tuple[float, list[float]]:
        """CPU seconds of the whole group, and of each serving process."""
        return sum(process_cpu_seconds(p) for p in self.pids), [process_cpu_seconds(p) for p in self.serving]


@contextlib.asynccontextmanager
async def started(group: AppGroup) -> AsyncIterator[AppGroup]:
    await group.start()
    try:
        yield group
    finally:
        group.stop()


def hosts(site: BenchSite, count: int) -> AppGroup:
    """``count`` separate ``agorakit run`` processes, each in its own working folder with
    its own copy of the site config (relative paths of the site resolve there)."""
    servers = []
    for index in range(count):
        folder = site.directory / f"host-{count}-{index}"
        folder.mkdir(exist_ok=True)
        config = shutil.copy(site.config_path, folder / "site.toml")
        servers.append(app_process(Path(config), folder))
    label = "1 process" if count == 1 else f"{count} hosts"
    return AppGroup(label, servers)


def workers(site: BenchSite, count: int) -> AppGroup:
    """One ``agorakit run --workers count``."""
    folder = site.directory / f"workers-{count}"
    folder.mkdir(exist_ok=True)
    return AppGroup(f"--workers {count}", [app_process(site.config_path, folder, workers=count)], count)


@dataclass
class Measured:
    """One load run against a group: the load result and the probe's split of the CPU."""

    result: LoadResult
    app: float = 0.0
    db: float = 0.0
    machine: float = 0.0
    per_process: list[float] = field(default_factory=list)

    @property
    def ops(self) -> int:
        return self.result.operations.count

    def per_op(self, seconds: float) -> float:
        """Milliseconds per operation."""
        return 1000.0 * seconds / self.ops if self.ops else 0.0

    @property
    def server_per_op(self) -> float:
        return self.per_op(self.app + self.db)

    def cores(self) -> str:
        """How the machine's cores were spent: app + PostgreSQL + load client + the rest."""
        elapsed = self.result.elapsed or 1.0
        ours = [self.app, self.db, self.result.client_cpu]
        other = max(0.0, self.machine - sum(ours))
        parts = [f"{seconds / elapsed:.2f}" for seconds in [*ours, other]]
        return " + ".join(parts) + f" = {self.machine / elapsed:.2f}"

    def busiest(self) -> str:
        total = sum(self.per_process)
        if len(self.per_process) < 2 or not total:
            return "-"
        return f"{100 * max(self.per_process) / total:.0f}% of {len(self.per_process)}"


async def measure(
    group: AppGroup,
    site: BenchSite,
    operation: Callable[..., Any],
    *,
    clients: int,
    cfg: Config,
    per_worker: bool = False,
) -> Measured:
    def probe() -> tuple[float, ...]:
        total, each = group.cpu()
        return (total, postgres_cpu_seconds(site.db_name), machine_busy_seconds(), *each)

    result = await run_load(
        group.urls,
        operation,
        clients=clients,
        duration=cfg.duration,
        warmup=cfg.warmup,
        per_worker=per_worker,
        probe=probe,
    )
    app, db, machine, *each = result.probed
    return Measured(result, app, db, machine, list(each))


def browse_operation() -> Callable[..., Awaitable[bool]]:
    from bench.cases import get_operation

    return get_operation("browse", BROWSE)


async def seed(site: BenchSite, cfg: Config) -> Any:
    """The browse case's first size of listings, and one flow party per flow client."""
    async with Raw(site) as raw:
        categories = await seed_categories(raw)
        owners = await seed_members(raw, 1_000, prefix="owner")
        await seed_listings(raw, cfg.sizes[0], owner_ids=owners, categories=categories)
    return await seed_flow_parties(site, cfg.flow_clients)


def percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def check_answers(table: Table, label: str, measured: Measured) -> None:
    """Every request of the window answered 2xx and every operation succeeded."""
    result = measured.result
    failed = result.operations.statuses.get(599, 0)
    if result.requests.errors or failed:
        table.failures.append(
            f"{label}: {result.operations.count} operations, {failed} failed; request errors "
            f"{dict(result.requests.statuses)} {dict(result.requests.failures)}"
        )


# --------------------------------------------------------------------------------------
# 13: several app processes
# --------------------------------------------------------------------------------------


def setups(cfg: Config, site: BenchSite) -> list[Callable[[], AppGroup]]:
    """The groups to measure, in order: 1 process, then N hosts and --workers N for each N."""
    found: list[Callable[[], AppGroup]] = []
    for count in cfg.scaling_processes:
        if count == 1:
            found.append(lambda: hosts(site, 1))
            continue
        if "hosts" in cfg.scaling_modes:
            found.append(lambda count=count: hosts(site, count))
        if "workers" in cfg.scaling_modes:
            found.append(lambda count=count: workers(site, count))
    return found


async def case_scaling(cfg: Config) -> list[Table]:
    """13. Browse and the order flow with 1, 2 and 4 app processes (hosts and --workers), PostgreSQL."""
    from bench.cases import check_ledger, flow_factory

    columns = [
        "workload", "setup", "ops/s", "x 1 process", "p50 ms", "p99 ms", "err",
        "server CPU ms/op", "app ms/op", "db ms/op", "client ms/op",
        "cores: app + db + client + other = busy", "busiest process",
    ]  # fmt: skip
    table = Table(
        "scaling",
        f"13. Several app processes on PostgreSQL: browse ({cfg.browse_clients} clients) and the order flow "
        f"({cfg.flow_clients} clients)",
        columns,
    )
    if "postgres" not in cfg.engines:
        table.notes.append(
            "PostgreSQL only (SQLite serves one writer at a time, whatever the processes); skipped"
        )
        return [table]
    workloads = {
        f"browse {BROWSE} (req/s)": (cfg.browse_clients, False),
        "order flow (flows/s)": (cfg.flow_clients, True),
    }
    rows: dict[str, list[tuple[str, Measured]]] = {name: [] for name in workloads}
    async with bench_site("postgres") as site:
        parties = await seed(site, cfg)
        for make in setups(cfg, site):
            group = make()
            async with started(group):
                for name, (clients, is_flow) in workloads.items():
                    operation = flow_factory(parties) if is_flow else browse_operation()
                    measured = await measure(
                        group, site, operation, clients=clients, cfg=cfg, per_worker=is_flow
                    )
                    check_answers(table, f"{name}, {group.label}", measured)
                    rows[name].append((group.label, measured))
                    cfg.log(f"scaling/{group.label}/{name}: {measured.result.ops_per_second:.1f} ops/s")
        ledger = await check_ledger(site)
        if ledger:
            table.failures.append(ledger)
    for name, found in rows.items():
        base = next((m.result.ops_per_second for label, m in found if label == "1 process"), None)
        for label, m in found:
            requests = m.result.requests
            table.add(
                name,
                label,
                m.result.ops_per_second,
                m.result.ops_per_second / base if base else None,
                1000 * requests.p(0.5),
                1000 * requests.p(0.99),
                requests.errors,
                m.server_per_op,
                m.per_op(m.app),
                m.per_op(m.db),
                m.per_op(m.result.client_cpu),
                m.cores(),
                m.busiest(),
            )
    table.notes += [
        "hosts = separate `agorakit run` processes, each in its own folder, the clients spread round-robin over "
        "them (one keep-alive connection each); --workers N = one `agorakit run --workers N` (uvicorn's "
        "supervisor and N workers on one listening socket)",
        "p50/p99 per request (a flow is 4); server CPU = the app processes (supervisor included) + the site's "
        "PostgreSQL backends; client = the load client's own",
        f"cores: CPU seconds per second of the window, of the app processes, PostgreSQL, the load client and the "
        f"rest of the machine (other processes, the kernel), out of {os.cpu_count()}; busiest process = the "
        "serving process with the most CPU, as a share of all of them",
    ]
    return [table]


# --------------------------------------------------------------------------------------
# 14: the metrics' cost
# --------------------------------------------------------------------------------------


def metrics_config(site: BenchSite) -> Path:
    """A copy of the site config with ``[metrics] enabled = true`` (no token)."""
    path = site.directory / "metrics-on.toml"
    path.write_text(
        site.config_path.read_text(encoding="utf-8") + "\n[metrics]\nenabled = true\n", encoding="utf-8"
    )
    return path


@dataclass
class Scrapes:
    """What the scraper saw: status, seconds and whether the request counter was there."""

    seen: list[tuple[int, float, bool]] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(1 for status, _, counted in self.seen if status == 200 and counted)


@contextlib.asynccontextmanager
async def scraping(base_url: str, interval: float, scrapes: Scrapes) -> AsyncIterator[None]:
    """Read ``/metrics`` every ``interval`` seconds while the block runs."""
    stop = asyncio.Event()

    async def loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                started_at = time.perf_counter()
                try:
                    response = await client.get("/metrics")
                    scrapes.seen.append(
                        (
                            response.status_code,
                            time.perf_counter() - started_at,
                            REQUESTS_TOTAL in response.content,
                        )
                    )
                except httpx.HTTPError:
                    scrapes.seen.append((0, time.perf_counter() - started_at, False))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        await task


@dataclass
class Side:
    """The runs of one side (metrics off or on) of one workload, over every round."""

    runs: list[Measured] = field(default_factory=list)

    @property
    def ops(self) -> int:
        return sum(m.ops for m in self.runs)

    @property
    def per_op(self) -> float:
        """Server CPU milliseconds per operation over every round."""
        return 1000.0 * sum(m.app + m.db for m in self.runs) / self.ops if self.ops else 0.0

    @property
    def rate(self) -> float:
        elapsed = sum(m.result.elapsed for m in self.runs)
        return self.ops / elapsed if elapsed else 0.0

    def requests(self) -> Stats:
        merged = Stats()
        for m in self.runs:
            merged.merge(m.result.requests)
        return merged


async def scrape_cost(group: AppGroup, site: BenchSite, count: int) -> tuple[float, float, int]:
    """(server + database CPU ms per scrape, p50 ms, bytes) of ``count`` scrapes one after
    the other on an idle server."""
    async with httpx.AsyncClient(base_url=group.urls[0], timeout=30) as client:
        await client.get("/metrics")
        before = group.cpu()[0] + postgres_cpu_seconds(site.db_name)
        seconds, size = [], 0
        for _ in range(count):
            started_at = time.perf_counter()
            response = await client.get("/metrics")
            seconds.append(time.perf_counter() - started_at)
            size = len(response.content)
        after = group.cpu()[0] + postgres_cpu_seconds(site.db_name)
    return 1000.0 * (after - before) / count, 1000.0 * statistics.median(seconds), size


async def middleware_cost(site: BenchSite, on_config: Path, requests: int, repeats: int = 5) -> float:
    """Microseconds of CPU the metrics add to a request: ``GET /health/live`` (no database,
    no other work) through the whole app, in-process, metrics on minus off; the best of
    ``repeats`` interleaved batches of each."""
    from agorakit.app import app_for_runtime
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health/live",
        "raw_path": b"/health/live",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    apps, runtimes = [], []
    for config in (site.config_path, on_config):
        runtime = Runtime(load_settings(config))
        await runtime.db.start()
        runtimes.append(runtime)
        apps.append(app_for_runtime(runtime))
    try:
        best = [float("inf"), float("inf")]
        for _ in range(repeats):
            for index, app in enumerate(apps):
                for _ in range(min(200, requests)):
                    await app(dict(scope), receive, send)
                started_at = time.process_time()
                for _ in range(requests):
                    await app(dict(scope), receive, send)
                best[index] = min(best[index], (time.process_time() - started_at) / requests)
    finally:
        for runtime in runtimes:
            await runtime.db.close()
    if set(statuses) != {200}:
        raise RuntimeError(f"GET /health/live answered {sorted(set(statuses))}")
    return 1e6 * (best[1] - best[0])


async def case_metrics(cfg: Config) -> list[Table]:
    """14. The same requests with [metrics] on (and scraped) and off: server CPU per operation."""
    from bench.cases import check_ledger, flow_factory

    table = Table(
        "metrics",
        f"14. Metrics on vs off: server CPU per operation, {cfg.metrics_rounds} round(s) of each, alternating "
        f"(goal: the metrics < 3% of a request's CPU)",
        ["engine", "workload", "off ops/s", "p50 ms", "p99 ms", "CPU ms/op", "on ops/s", "p50 ms", "p99 ms",
         "CPU ms/op", "on / off CPU", "rounds: on / off CPU", "scrapes ok"],
    )  # fmt: skip
    interval = cfg.metrics_scrape_interval
    parts = Table(
        "metrics",
        "14. The metrics' pieces, measured alone: the request middleware, and one scrape",
        ["engine", "workload", "server CPU ms/request (off)", "middleware µs/req", "share", "scrape CPU ms",
         "scrape p50 ms", "scrape KiB", f"scrapes' share, every {interval:g} s", f"every {PROMETHEUS_INTERVAL} s",
         "expected on / off CPU", "goal met"],
    )  # fmt: skip
    workloads = {
        f"browse {BROWSE} (req/s)": (cfg.browse_clients, False),
        "order flow (flows/s)": (cfg.flow_clients, True),
    }
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            parties = await seed(site, cfg)
            on_config = metrics_config(site)
            folder = site.directory / "metrics"
            folder.mkdir()
            off = AppGroup("off", [app_process(site.config_path, folder, name="metrics-off")])
            on = AppGroup("on", [app_process(on_config, folder, name="metrics-on")])
            sides: dict[str, dict[str, Side]] = {name: {"off": Side(), "on": Side()} for name in workloads}
            scrapes = Scrapes()
            async with started(off), started(on):
                for round_index in range(cfg.metrics_rounds):
                    order = (off, on) if round_index % 2 == 0 else (on, off)
                    for group in order:
                        for name, (clients, is_flow) in workloads.items():
                            operation = flow_factory(parties) if is_flow else browse_operation()
                            async with contextlib.AsyncExitStack() as stack:
                                if group is on:
                                    await stack.enter_async_context(
                                        scraping(group.urls[0], cfg.metrics_scrape_interval, scrapes)
                                    )
                                measured = await measure(
                                    group, site, operation, clients=clients, cfg=cfg, per_worker=is_flow
                                )
                            check_answers(table, f"{engine} {name}, metrics {group.label}", measured)
                            sides[name][group.label].runs.append(measured)
                    cfg.log(f"metrics/{engine}: round {round_index + 1} of {cfg.metrics_rounds} done")
                scrape_ms, scrape_p50, scrape_bytes = await scrape_cost(on, site, 20)
            ledger = await check_ledger(site)
            if ledger:
                table.failures.append(f"{engine}: {ledger}")
            middleware_us = await middleware_cost(site, on_config, cfg.metrics_requests)
        if scrapes.ok != len(scrapes.seen) or not scrapes.seen:
            table.failures.append(
                f"{engine}: {scrapes.ok} of {len(scrapes.seen)} scrapes answered 200 with {REQUESTS_TOTAL.decode()}"
            )
        for name, by_side in sides.items():
            a, b = by_side["off"], by_side["on"]
            ra, rb = a.requests(), b.requests()
            rounds = " ".join(
                f"{ron.per_op(ron.app + ron.db) / roff.per_op(roff.app + roff.db):.3f}"
                for roff, ron in zip(a.runs, b.runs, strict=True)
                if roff.ops and ron.ops and roff.app + roff.db
            )
            table.add(
                engine,
                name,
                a.rate,
                1000 * ra.p(0.5),
                1000 * ra.p(0.99),
                a.per_op,
                b.rate,
                1000 * rb.p(0.5),
                1000 * rb.p(0.99),
                b.per_op,
                b.per_op / a.per_op if a.per_op else None,
                rounds,
                f"{scrapes.ok} of {len(scrapes.seen)}" if name.startswith("browse") else "",
            )
            per_request = a.per_op / (FLOW_REQUESTS if name.startswith("order") else 1)
            # the server's CPU per second of the "off" run, which a scrape every T s adds to
            busy_ms = a.per_op * a.rate
            share = middleware_us / 1000.0 / per_request if per_request else None
            scraped = scrape_ms / interval / busy_ms if busy_ms else None
            scraped_15 = scrape_ms / PROMETHEUS_INTERVAL / busy_ms if busy_ms else None
            parts.add(
                engine,
                name,
                per_request,
                middleware_us,
                percent(share),
                scrape_ms,
                scrape_p50,
                scrape_bytes / 1024,
                percent(scraped),
                percent(scraped_15),
                1 + share + scraped if share is not None and scraped is not None else None,
                "-"
                if share is None or scraped_15 is None
                else ("yes" if share + scraped_15 < 0.03 else "no"),
            )
        cfg.log(f"metrics/{engine} done")
    table.notes += [
        "CPU = the app process + the site's PostgreSQL backends over the measured windows of every round; "
        f"the 'on' side is scraped every {cfg.metrics_scrape_interval:g} s while measured (its CPU counts); "
        "rounds: each round's ratio, in order (which side went first alternates)",
        "the two sides run at once on the same database, one idle while the other is measured",
    ]
    parts.notes += [
        f"middleware = GET /health/live through the whole app in-process, metrics on minus off (best of 5 "
        f"batches of {cfg.metrics_requests:,} each); share = of the server CPU of one request with the metrics "
        "off (a flow request = a quarter of a flow)",
        "scrape = 20 scrapes one after the other on the idle 'on' process (app + PostgreSQL CPU): the request "
        "metrics and agorakit's gauges (one aggregate query each, the operator queues' with theirs); scrapes' "
        "share = one scrape's CPU every T seconds over the server's CPU per second in the 'off' run",
        f"expected on / off = 1 + both shares at the case's interval (compare the measured ratio above); goal met = "
        f"the middleware's share + the scrapes' every {PROMETHEUS_INTERVAL} s (a common Prometheus interval) < 3%",
    ]
    return [table, parts]
