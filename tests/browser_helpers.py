"""What the browser tests share: a site served on a free port, the API as its people, and
Debian's chromium driven by Playwright.

A site is served by uvicorn in a thread on a free localhost port, on SQLite or on a
throwaway PostgreSQL database, migrated, with an operator (``ops@example.com``).
Playwright drives ``/usr/bin/chromium`` (``make browser`` installs it; never
``playwright install``): without it, or without Playwright, the test is skipped with the
reason, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agorakit.testing import (
    TEST_DEFAULTS,
    create_postgres_database,
    deep_merge,
    drop_postgres_database,
    postgres_admin_dsn,
    postgres_unreachable_reason,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: the operator every served site has
OPERATOR = ("ops@example.com", "operator-pass-2026", "Ops")


def unavailable(what: str, reason: str) -> None:
    """Skip the test with the reason; in CI, fail it (CI runs the browser tests)."""
    if os.environ.get("CI"):
        pytest.fail(f"CI runs {what}: {reason}", pytrace=False)
    pytest.skip(reason)


def sync_playwright_or_skip(what: str) -> Any:
    """Playwright's ``sync_playwright``, when it and Debian's chromium are installed."""
    if not Path(CHROMIUM).exists():
        unavailable(what, f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(what, "playwright is not installed (pip install -e '.[dev]')")
    return sync_playwright


@contextlib.contextmanager
def database_url(kind: str, tmp_path: Path, what: str) -> Iterator[str]:
    """A SQLite file in ``tmp_path``, or a throwaway PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'site.sqlite3'}"
        return
    admin = postgres_admin_dsn()
    reason = asyncio.run(postgres_unreachable_reason(admin))
    if reason:
        unavailable(what, reason)
    name = f"agorakit_browser_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(create_postgres_database(admin, name))
    try:
        yield url
    finally:
        asyncio.run(drop_postgres_database(admin, name))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    """The served site: its URL, and the API as an operator and as any member."""

    def __init__(self, url: str, operator_token: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.operator = {"Authorization": f"Bearer {operator_token}"}

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def member(self, email: str, password: str, name: str) -> dict[str, str]:
        body = {"email": email, "password": password, "display_name": name, "country": "GB"}
        self.call("POST", "/auth/register", json=body)
        return self.login(email, password)

    def login(self, email: str, password: str) -> dict[str, str]:
        token = self.call("POST", "/auth/login", json={"email": email, "password": password})["access_token"]
        return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def served_site(
    config: dict[str, Any], plugins: list[str], extra: Iterable[tuple[str, object]] = ()
) -> Iterator[Site]:
    """A site (``TEST_DEFAULTS`` + ``config``, with ``plugins`` and the ``extra`` plugin
    objects) served by uvicorn in a thread on a free port, migrated, with an operator."""
    import uvicorn

    from agorakit.accounts import RegisterMember, issue_token, register
    from agorakit.app import create_app
    from agorakit.db.migrate import migrate
    from agorakit.hooks import get_plugin_manager
    from agorakit.runtime import Runtime
    from agorakit.settings import settings_from_dict

    port = free_port()
    merged = deep_merge(
        TEST_DEFAULTS,
        deep_merge(config, {"site": {"base_url": f"http://127.0.0.1:{port}", "plugins": plugins}}),
    )
    extra = list(extra)

    def settings() -> Any:
        pm = get_plugin_manager(plugins, extra=extra, source="browser test")
        return settings_from_dict(merged, source="browser test", environ={}, pm=pm), pm

    async def prepare() -> str:
        loaded, pm = settings()
        runtime = Runtime(loaded, pm=pm)
        await runtime.db.start()
        try:
            await migrate(runtime.db, runtime.apps)
            email, password, name = OPERATOR
            operator = await register(
                runtime,
                RegisterMember(email=email, password=password, display_name=name, country="GB"),
                role="operator",
                email_verified=True,
            )
            app = create_app(loaded, pm=pm)
            return (await issue_token(runtime, app.state.jwt_auth, operator)).access_token
        finally:
            await runtime.db.close()

    operator_token = asyncio.run(prepare())
    loaded, pm = settings()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(loaded, pm=pm), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the site did not start"
        time.sleep(0.05)
    served = Site(f"http://127.0.0.1:{port}", operator_token)
    try:
        yield served
    finally:
        served.http.close()
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def chromium(playwright_api: Any) -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright."""
    with playwright_api() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Any, folder: Path, name: str) -> Path:
    """A full-page screenshot ``folder/name.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path
