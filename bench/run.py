"""``make bench`` / ``python -m bench``: run the benchmark cases and print the tables.

Examples::

    python -m bench                          # every case, default sizes (20-24 min on 2 cores)
    python -m bench --full                   # the full sizes: 10k/100k/1M listings, 10k timers
    python -m bench --cases browse,sqlite-reads --engines sqlite --duration 3
    python -m bench --cases scaling,metrics  # 1, 2 and 4 app processes; what the metrics cost
    python -m bench --markdown               # also write bench/results/<date>-<commit>.md
    python -m bench --markdown results.md --json results.json
    python -m bench capture --engine postgres   # the SQL the app runs per benchmarked request
    python -m bench capture --floor             # the SQL the floor runs for the same requests
    python -m bench capture --lean              # the SQL the lean floor runs for the same requests
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cases import CASES, Config
from bench.report import Table, as_text, write
from bench.scale_cases import process_counts, scaling_modes
from bench.sites import admin_dsn, postgres_unreachable, quiet_logs

REPO = Path(__file__).resolve().parent.parent
#: where ``--markdown`` without a file name writes the run's results
RESULTS = REPO / "bench" / "results"
FULL = {"sizes": [10_000, 100_000, 1_000_000], "worker_timers": 10_000, "duration": 10.0}
#: the metrics case's off/on rounds with --full
FULL_METRICS_ROUNDS = 4


def ints(text: str) -> list[int]:
    return [
        int(part.replace("_", "").replace("k", "000").replace("M", "000000"))
        for part in text.split(",")
        if part
    ]


def parser() -> argparse.ArgumentParser:
    defaults = Config()
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="agorakit benchmarks: the real app (agorakit run) against a minimal Litestar + raw-driver "
        "floor doing the same SQL, on SQLite and PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    p.add_argument("--engines", default=",".join(defaults.engines), help="sqlite,postgres")
    p.add_argument(
        "--full", action="store_true", help="the full sizes (10k/100k/1M listings, 10k timers, 10 s runs)"
    )
    p.add_argument("--sizes", type=ints, default=None, help="listings for browse, e.g. 10k,100k,1M")
    p.add_argument(
        "--duration", type=float, default=None, help=f"seconds measured per run ({defaults.duration})"
    )
    p.add_argument(
        "--warmup", type=float, default=defaults.warmup, help="seconds of unrecorded warm-up per run"
    )
    p.add_argument("--browse-clients", type=int, default=defaults.browse_clients)
    p.add_argument("--flow-clients", type=int, default=defaults.flow_clients)
    p.add_argument("--sqlite-clients", type=ints, default=defaults.sqlite_clients)
    p.add_argument("--contention-clients", type=int, default=defaults.contention_clients)
    p.add_argument("--withdrawal-clients", type=int, default=defaults.withdrawal_clients)
    p.add_argument(
        "--rounds", type=int, default=defaults.contention_rounds, help="contention bursts per race"
    )
    p.add_argument(
        "--timers", type=int, default=None, help=f"due timers for the worker case ({defaults.worker_timers})"
    )
    p.add_argument("--workers", type=ints, default=defaults.worker_processes, help="worker process counts")
    p.add_argument(
        "--worker-concurrency",
        type=ints,
        default=defaults.worker_concurrency,
        help="[worker] timer_concurrency values also measured with one worker process (the others run the default)",
    )
    p.add_argument("--worker-interval", type=float, default=defaults.worker_interval)
    p.add_argument("--microjobs-clients", type=int, default=defaults.microjobs_clients)
    p.add_argument("--microjobs-positions", type=int, default=defaults.microjobs_positions)
    p.add_argument("--microjobs-rounds", type=int, default=defaults.microjobs_rounds)
    p.add_argument("--prepaid-sellers", type=int, default=defaults.prepaid_sellers)
    p.add_argument(
        "--prepaid-locks", type=int, default=defaults.prepaid_locks, help="paid requests raced for, per side"
    )
    p.add_argument(
        "--prepaid-sizes",
        type=ints,
        default=defaults.prepaid_sizes,
        help="open requests for the prepaid feed",
    )
    p.add_argument(
        "--leads-sizes", type=ints, default=defaults.leads_sizes, help="open jobs for the leads feed"
    )
    p.add_argument("--leads-businesses", type=int, default=defaults.leads_businesses)
    p.add_argument(
        "--leads-races", type=int, default=defaults.leads_races, help="leads raced for by the businesses"
    )
    p.add_argument(
        "--scaling-processes",
        type=process_counts,
        default=defaults.scaling_processes,
        help="app process counts",
    )
    p.add_argument(
        "--scaling-modes",
        type=scaling_modes,
        default=defaults.scaling_modes,
        help="how several app processes run: hosts (separate agorakit run), workers (agorakit run --workers N)",
    )
    p.add_argument(
        "--metrics-rounds",
        type=int,
        default=None,
        help=f"alternating off/on rounds of the metrics case ({defaults.metrics_rounds})",
    )
    p.add_argument(
        "--scrape-interval",
        type=float,
        default=defaults.metrics_scrape_interval,
        help="seconds between two scrapes of /metrics in the metrics case",
    )
    p.add_argument("--repeats", type=int, default=defaults.startup_repeats, help="start-up measurements")
    p.add_argument("--profile-requests", type=int, default=defaults.profile_requests)
    p.add_argument(
        "--markdown",
        type=Path,
        nargs="?",
        const=RESULTS,
        default=None,
        help="also write the machine, the commit and the tables as Markdown: to the given file, "
        "or without one to a new dated file in bench/results/",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the tables as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def config_from(args: argparse.Namespace) -> Config:
    full = FULL if args.full else {}
    defaults = Config()
    return Config(
        engines=[e for e in args.engines.split(",") if e],
        sizes=args.sizes or full.get("sizes", defaults.sizes),
        browse_clients=args.browse_clients,
        duration=args.duration or full.get("duration", defaults.duration),
        warmup=args.warmup,
        flow_clients=args.flow_clients,
        sqlite_clients=args.sqlite_clients,
        contention_clients=args.contention_clients,
        withdrawal_clients=args.withdrawal_clients,
        contention_rounds=args.rounds,
        worker_timers=args.timers or full.get("worker_timers", defaults.worker_timers),
        worker_processes=args.workers,
        worker_concurrency=args.worker_concurrency,
        worker_interval=args.worker_interval,
        startup_repeats=args.repeats,
        profile_requests=args.profile_requests,
        microjobs_clients=args.microjobs_clients,
        microjobs_positions=args.microjobs_positions,
        microjobs_rounds=args.microjobs_rounds,
        prepaid_sellers=args.prepaid_sellers,
        prepaid_locks=args.prepaid_locks,
        prepaid_sizes=args.prepaid_sizes,
        leads_sizes=args.leads_sizes,
        leads_businesses=args.leads_businesses,
        leads_races=args.leads_races,
        scaling_processes=args.scaling_processes,
        scaling_modes=args.scaling_modes,
        metrics_rounds=args.metrics_rounds or (FULL_METRICS_ROUNDS if args.full else defaults.metrics_rounds),
        metrics_scrape_interval=args.scrape_interval,
        verbose=not args.quiet,
    )


def machine() -> list[str]:
    """What the figures were measured on."""
    model, cores = "unknown CPU", os.cpu_count()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return [
        f"CPU: {model}, {cores} cores; memory {memory}; {os_name}",
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; load average {load[0]:.2f}"
        if load
        else f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}",
    ]


def source_commit() -> str:
    """The commit the run measured, ``+ local changes`` when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def results_file(directory: Path, when: datetime, commit: str) -> Path:
    """A new file ``<date>-<short commit>.md`` in ``directory`` (``-2``, ``-3``... for a same-day re-run)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{when:%Y-%m-%d}-{commit[:7] if commit != 'unknown' else 'unknown'}"
    path, n = directory / f"{stem}.md", 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.md"
    return path


def results_intro(*, when: datetime, commit: str, argv: list[str], machine: list[str], seconds: float) -> str:
    """The head of a results file: when, what code, which command, on what machine."""
    command = " ".join(["python -m bench", *argv])
    lines = [
        f"# Benchmark results, {when:%Y-%m-%d %H:%M} UTC",
        "",
        f"- commit: {commit}",
        f"- command: `{command}` ({seconds / 60:.1f} min)",
        *(f"- {line}" for line in machine),
        "",
        "Generated by `python -m bench --markdown`; docs/performance.md describes the cases "
        "and how to read the columns.",
        "",
        "",
    ]
    return "\n".join(lines)


async def postgres_version() -> str:
    try:
        import asyncpg

        connection = await asyncpg.connect(admin_dsn(), timeout=5)
        try:
            return await connection.fetchval("SHOW server_version")
        finally:
            await connection.close()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


async def run(cfg: Config, names: list[str]) -> list[Table]:
    if "postgres" in cfg.engines:
        reason = await postgres_unreachable()
        if reason:
            cfg.log(f"PostgreSQL skipped: {reason}")
            cfg.engines = [e for e in cfg.engines if e != "postgres"]
    tables: list[Table] = []
    for name in names:
        started = time.perf_counter()
        cfg.log(f"case {name} ...")
        found = await CASES[name](cfg)
        for table in found:
            print(as_text(table), flush=True)
            print(flush=True)
        tables += found
        cfg.log(f"case {name} took {time.perf_counter() - started:.0f} s")
    return tables


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "capture":
        from bench.capture import main as capture_main

        engine = argv[argv.index("--engine") + 1] if "--engine" in argv else "sqlite"
        side = "floor" if "--floor" in argv else "lean" if "--lean" in argv else "app"
        asyncio.run(capture_main(engine, side))
        return 0
    args = parser().parse_args(argv)
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser().error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    cfg = config_from(args)
    quiet_logs()
    started, now, found = time.perf_counter(), datetime.now(UTC), source_commit()
    header = [*machine(), f"PostgreSQL {asyncio.run(postgres_version())}"]
    for line in [f"commit {found}", *header]:
        print(f"# {line}")
    print()
    tables = asyncio.run(run(cfg, names))
    after = machine()[1]
    total = time.perf_counter() - started
    print(f"# after the run: {after}")
    print(f"# total {total:.0f} s")
    markdown = args.markdown
    if markdown is not None:
        if markdown == RESULTS:
            markdown = results_file(RESULTS, now, found)
        intro = results_intro(
            when=now,
            commit=found,
            argv=argv,
            machine=[*header, f"after the run: {after}"],
            seconds=total,
        )
        write(tables, markdown=markdown, json_path=None, header=intro)
        print(f"# results written to {markdown}")
    write(tables, markdown=None, json_path=args.json)
    failures = [f for t in tables for f in t.failures]
    if failures:
        print(f"{len(failures)} expectation(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
