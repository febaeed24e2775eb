"""Bench sites: a throwaway database, its ``site.toml``, and the two servers under test.

- :func:`bench_site` creates a SQLite file in a temporary directory, or a PostgreSQL
  database (``bench_<random>``) on the admin DSN, writes a ``site.toml`` with every
  installed plugin enabled, migrates it in-process, and drops it afterwards.
- :class:`Server` starts one server process (the real app with ``agorakit run``, or the
  floor with ``python -m uvicorn bench.floor:app``), waits for ``GET /health`` and reads
  its CPU time from ``/proc``; :func:`postgres_cpu_seconds` does the same for the
  PostgreSQL backends of one database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: the JWT secret of every bench site (the load client mints tokens with it)
JWT_SECRET = "bench-secret-" + "0123456789abcdef" * 3
#: PostgreSQL connections per server process, the app's pool and the floor's alike
POOL_SIZE = 10
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of the bench's subprocesses: bytecode cached in a folder of its own.

    This machine may set ``PYTHONDONTWRITEBYTECODE`` (then every start compiles every
    module from source, ~0.2 s more); a production install has its ``.pyc`` files, so the
    servers, workers and start-up measurements get a bytecode cache outside the tree.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        # AGORAKIT_* would override the bench site's config (AGORAKIT_DATABASE__URL, ...)
        if key != "PYTHONDONTWRITEBYTECODE" and not key.startswith("AGORAKIT_")
    }
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "agorakit-bench-pycache")
    env.update(extra)
    return env


def quiet_logs() -> None:
    """Keep the terminal for the tables (the command line only: it changes logger levels
    for the rest of the process, which a test suite must not see)."""
    for name in ("agorakit", "httpx", "piccolo"):
        logging.getLogger(name).setLevel(logging.WARNING)


def admin_dsn() -> str:
    return os.environ.get(
        "AGORAKIT_BENCH_POSTGRES_DSN", os.environ.get("AGORAKIT_TEST_POSTGRES_DSN", DEFAULT_ADMIN_DSN)
    )


async def postgres_unreachable(dsn: str | None = None) -> str | None:
    """Why PostgreSQL cannot be used (None when it can): the test suite's check."""
    from agorakit.testing import postgres_unreachable_reason

    return await postgres_unreachable_reason(dsn or admin_dsn())


@dataclass
class BenchSite:
    """One bench database and the site config that points at it."""

    engine: str  # "sqlite" | "postgres"
    directory: Path
    config_path: Path
    database_url: str
    #: PostgreSQL: the database name (its backends are found by it)
    db_name: str = ""
    #: SQLite: the database file
    db_path: Path | None = None
    plugins: list[str] = field(default_factory=list)

    @property
    def floor_url(self) -> str:
        """What the floor connects to: a DSN, or ``sqlite:///<file>``."""
        return self.database_url


def installed_plugins() -> list[str]:
    """The shipped plugins (``agorakit.plugins.*``): a third-party plugin the bench process
    happens to see (a test suite's sample plugin, say) may not be importable by the servers."""
    from agorakit.hooks import installed_plugins as found

    return sorted(name for name, ep in found().items() if ep.value.startswith("agorakit.plugins."))


def _methods(plugins: list[str]) -> tuple[list[str], list[str]]:
    from agorakit.hooks import collect, get_plugin_manager

    pm = get_plugin_manager(plugins)
    pay_in = sorted(
        (m.name for m in collect(pm.hook.agorakit_payment_methods())), key=lambda n: n != "balance"
    )
    pay_out = sorted(m.name for m in collect(pm.hook.agorakit_payout_methods()))
    return pay_in, pay_out


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def write_site_config(directory: Path, database_url: str, plugins: list[str]) -> Path:
    """A site with every given plugin enabled, cheap password hashing and quiet logs.

    Logging is at WARNING: the access log line per request is the terminal's cost, not the
    framework's, and the floor writes none either.
    """
    pay_in, pay_out = _methods(plugins)
    path = directory / "site.toml"
    path.write_text(
        f"""# written by bench/ ({time.strftime("%Y-%m-%d %H:%M:%S")})
[site]
name = "bench market"
currency = "USD"
plugins = {_toml_list(plugins)}

[database]
url = "{database_url}"
pool_min_size = {POOL_SIZE}
pool_max_size = {POOL_SIZE}

[auth]
jwt_secret = "{JWT_SECRET}"
token_ttl_minutes = 1440
argon2_time_cost = 1
argon2_memory_kib = 64
argon2_parallelism = 1

[money]
payment_methods = {_toml_list(pay_in)}
payout_methods = {_toml_list(pay_out)}

[email]
mailer = "log"

[logging]
level = "WARNING"
""",
        encoding="utf-8",
    )
    return path


async def migrate_site(config_path: Path) -> None:
    """Apply every migration in this process (what ``agorakit migrate`` does)."""
    from agorakit.db.migrate import migrate
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(config_path))
    await runtime.db.start()
    try:
        await migrate(runtime.db, runtime.apps)
    finally:
        await runtime.db.close()


@contextlib.asynccontextmanager
async def bench_site(
    engine: str, *, plugins: list[str] | None = None, keep: bool = False
) -> AsyncIterator[BenchSite]:
    """A migrated, empty site on ``engine``; its database is dropped afterwards."""
    plugins = installed_plugins() if plugins is None else plugins
    directory = Path(tempfile.mkdtemp(prefix=f"agorakit-bench-{engine}-"))
    site: BenchSite
    if engine == "sqlite":
        db_path = directory / "bench.sqlite3"
        url = f"sqlite:///{db_path}"
        site = BenchSite(engine, directory, write_site_config(directory, url, plugins), url, db_path=db_path)
    elif engine == "postgres":
        import asyncpg

        name = f"bench_{secrets.token_hex(6)}"
        admin = admin_dsn()
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        site = BenchSite(engine, directory, write_site_config(directory, url, plugins), url, db_name=name)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    site.plugins = plugins
    try:
        await migrate_site(site.config_path)
        yield site
    finally:
        if engine == "postgres" and not keep:
            import asyncpg

            connection = await asyncpg.connect(admin_dsn())
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{site.db_name}" WITH (FORCE)')
            finally:
                await connection.close()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def agorakit_command() -> list[str]:
    script = Path(sys.executable).parent / "agorakit"
    if script.exists():
        return [str(script)]
    found = shutil.which("agorakit")
    if found:
        return [found]
    return [sys.executable, "-c", "from agorakit.cli import main; main()"]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (and its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3); utime, stime, cutime, cstime are fields 14-17
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def postgres_cpu_seconds(db_name: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``db_name`` (0 elsewhere)."""
    if not db_name:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and f" {db_name} ".encode() in cmdline:
            total += process_cpu_seconds(int(entry.name))
    return total


@dataclass
class Server:
    """One server process under test."""

    name: str  # "agorakit" | "floor" | "lean floor"
    argv: list[str]
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    started_in: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        started = time.perf_counter()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    self.started_in = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /health within {timeout:.0f} s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) if self.process else 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def app_server(site: BenchSite, port: int | None = None) -> Server:
    """The real app: ``agorakit --config site.toml run`` (uvicorn, one worker)."""
    port = port or free_port()
    argv = [*agorakit_command(), "--config", str(site.config_path), "run", "--port", str(port)]
    return Server("agorakit", argv, port, subprocess_env(), site.directory / "agorakit.log")


#: the lean floor's app (GET /listings in one query; ``bench/floor/lean.py``)
LEAN_APP = "bench.floor.lean:app"


def floor_server(site: BenchSite, port: int | None = None, *, app: str = "bench.floor:app") -> Server:
    """The floor: ``python -m uvicorn bench.floor:app`` (one worker, same defaults); with
    ``app=LEAN_APP``, the lean floor."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = subprocess_env(
        BENCH_FLOOR_DATABASE=site.floor_url,
        BENCH_FLOOR_JWT_SECRET=JWT_SECRET,
        BENCH_FLOOR_POOL_SIZE=str(POOL_SIZE),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
    )
    name = "lean floor" if app == LEAN_APP else "floor"
    return Server(name, argv, port, env, site.directory / f"{name.replace(' ', '-')}.log")


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
