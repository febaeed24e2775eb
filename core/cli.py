"""The ``agorakit`` command line.

Core commands: ``new``, ``run``, ``migrate``, ``makemigrations``, ``plugins``, ``demo``,
``demo-data``, ``users create-operator``, ``users create-owner``, ``docs hooks``,
``clock`` (the test clock).  Enabled plugins add their own through the ``agorakit_cli`` hook; the site config
is read from ``--config`` / ``$AGORAKIT_CONFIG`` (default ``site.toml``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

import agorakit
from agorakit.runtime import (  # the helpers plugins' commands use, declared in agorakit.runtime
    DEFAULT_CONFIG,
    CliState,
    Runtime,
    cli_state,
    fail_on_domain_error,
    run_with_runtime,
)
from agorakit.settings import ConfigError, Settings, load_settings

__all__ = ["CliState", "build_cli", "cli", "fail_on_domain_error", "main", "run_with_runtime"]


class AgorakitGroup(click.Group):
    """The command group: a config error met by any command (a plugin's included) is
    printed as ``Error: ...`` with exit status 1, not as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=AgorakitGroup)
@click.version_option(agorakit.__version__, prog_name="agorakit")
@click.option(
    "--config",
    "-c",
    envvar="AGORAKIT_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The site config file (env AGORAKIT_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config: str) -> None:
    """agorakit: run and manage a marketplace site."""
    ctx.obj = CliState(config)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the site's API (uvicorn)."""
    state = cli_state(ctx)
    settings = state.settings()  # fail here, with a clear message, on a bad config
    serve(settings, config_path=state.config_path, host=host, port=port, workers=workers)


def serve(settings: Settings, *, config_path: str, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from agorakit.http.logging import configure_logging

    configure_logging(settings.logging)
    os.environ["AGORAKIT_CONFIG"] = str(Path(config_path).resolve())
    uvicorn.run(
        "agorakit.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="httptools",  # the C parser: ~0.1 ms less per request than the pure-Python h11
        # X-Forwarded-For only from the proxies the site names (uvicorn trusts 127.0.0.1 by
        # default); agorakit.http.client reads the header with the same list
        proxy_headers=bool(settings.http.trusted_proxies),
        forwarded_allow_ips=list(settings.http.trusted_proxies),
        log_level=settings.logging.level.lower(),
        access_log=False,  # agorakit.http.access logs every request with more fields
        server_header=False,  # "server: uvicorn" tells a scanner what to try; clients need nothing from it
    )


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations (core and enabled plugins)."""
    from agorakit.db.migrate import migrate as run_migrations

    async def work(runtime: Runtime) -> list[str]:
        return await run_migrations(runtime.db, runtime.apps)

    applied = run_with_runtime(ctx, work, site_time=False)
    click.echo("\n".join(f"applied {m}" for m in applied) if applied else "no migrations to apply")


@cli.command()
@click.option("--at", "at", default=None, help="Run as of this ISO 8601 instant (default: now).")
@click.pass_context
def tick(ctx: click.Context, at: str | None) -> None:
    """Run one worker sweep (expire unpaid payments, ...), optionally as of an instant."""
    from datetime import datetime

    from agorakit.clock import FrozenClock
    from agorakit.worker import sweep

    clock = None
    settings = cli_state(ctx).settings()
    if at is not None and settings.dev.test_clock:
        message = "this site runs on a test clock: move it with `agorakit clock advance` instead of --at"
        raise click.UsageError(message)
    if at is not None:
        try:
            instant = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(f"{at!r} is not an ISO 8601 instant", param_hint="--at") from None
        if instant.tzinfo is None:
            raise click.BadParameter("give a timezone, e.g. 2026-05-01T12:00:00Z", param_hint="--at")
        clock = FrozenClock(instant)
    runtime = Runtime(settings, clock=clock)

    async def work() -> Any:
        await runtime.db.start()
        try:
            await runtime.start_process("tick")  # if it dies, its events are republished at once
            try:
                return await sweep(runtime)
            finally:
                await runtime.stop_process()
        finally:
            await runtime.db.close()

    report = asyncio.run(work())
    click.echo(json.dumps(msgspec_to_builtins(report)))


def msgspec_to_builtins(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


@cli.command()
@click.option("--interval", default=5.0, show_default=True, type=float, help="Seconds between sweeps.")
@click.pass_context
def worker(ctx: click.Context, interval: float) -> None:
    """Run the worker: sweep (timers, payment expiry, ...) every --interval seconds until stopped."""
    import signal

    from agorakit.app import freeze_startup_heap
    from agorakit.http.logging import configure_logging
    from agorakit.worker import run_worker

    settings = cli_state(ctx).settings()
    configure_logging(settings.logging)
    runtime = Runtime(settings)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.db.start()
        freeze_startup_heap()
        try:
            await runtime.start_process("worker")
            try:
                await run_worker(runtime, interval=interval, stop=stop)
            finally:
                await runtime.stop_process()
        finally:
            await runtime.db.close()

    click.echo(f"worker started (sweep every {interval:g} s); stop with Ctrl-C")
    asyncio.run(work())


@cli.command()
@click.argument("app_name")
@click.option("--desc", default="", help="What the migration does.")
@click.pass_context
def makemigrations(ctx: click.Context, app_name: str, desc: str) -> None:
    """Write a new migration for a Piccolo app whose tables changed."""
    from agorakit.db.migrate import make_migration

    async def work(runtime: Runtime) -> str | None:
        apps = {app.app_name: app for app in runtime.apps}
        if app_name not in apps:
            raise click.ClickException(f"no app {app_name!r}; apps: {', '.join(sorted(apps))}")
        return await make_migration(apps[app_name], desc)

    path = run_with_runtime(ctx, work, site_time=False)
    click.echo(f"wrote {path}" if path else f"{app_name}: no changes")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Show the enabled plugins, their hooks and settings (secrets masked)."""
    from agorakit.hooks import get_plugin_manager, hooks_of, installed_plugins, plugin_info
    from agorakit.settings import masked

    settings = cli_state(ctx).settings()
    pm = get_plugin_manager(settings.site.plugins, source=settings.source)
    rows = []
    for name, info in plugin_info(pm).items():
        plugin_settings = settings.plugins.get(name)
        rows.append(
            {
                "name": name,
                "builtin": info.builtin,
                "version": info.version or (agorakit.__version__ if info.builtin else None),
                "hooks": hooks_of(pm, name),
                "settings": masked(plugin_settings) if plugin_settings is not None else None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        kind = "core" if row["builtin"] else f"plugin {row['version'] or ''}".strip()
        click.echo(f"{row['name']}  ({kind})")
        click.echo(f"  hooks: {', '.join(row['hooks']) or '-'}")
        if row["settings"] is not None:
            for key, value in row["settings"].items():
                click.echo(f"  {key} = {json.dumps(value, default=str)}")
    not_enabled = sorted(set(installed_plugins()) - set(settings.site.plugins))
    if not_enabled:
        click.echo(f"installed but not enabled: {', '.join(not_enabled)}")


@cli.command()
@click.option("--dir", "directory", default=".demo", show_default=True, help="Where the demo site lives.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up and load data, then exit.")
@click.option("--reset", is_flag=True, help="Delete the demo database first.")
@click.option(
    "--plugins",
    "plugin_names",
    default=None,
    metavar="A,B,C",
    help="The plugins to enable, comma-separated (default: those shipped with agorakit).",
)
def demo(directory: str, host: str, port: int, no_serve: bool, reset: bool, plugin_names: str | None) -> None:
    """Set up a demo site on SQLite (config, migrations, demo data) and serve it."""
    from agorakit.demo import console_line, demo_plugins, prepare_demo

    plugins = None
    if plugin_names is not None:
        try:
            plugins = demo_plugins([name.strip() for name in plugin_names.split(",") if name.strip()])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--plugins") from None
    config_path, settings, logins = prepare_demo(Path(directory), reset=reset, plugins=plugins)
    click.echo(f"plugins:          {', '.join(settings.site.plugins) or 'none'}")
    base = f"http://{host}:{port}"
    click.echo(f"demo site config: {config_path}")
    click.echo(f"API docs:         {base}{settings.http.docs_path}")
    click.echo(f"OpenAPI schema:   {base}{settings.http.docs_path}/openapi.json")
    if console := console_line(settings, base):
        click.echo(f"operator console: {console}")
    click.echo("demo logins (POST /auth/login):")
    for email, password, role in logins:
        click.echo(f"  {role:<9} {email}  /  {password}")
    if not no_serve:
        serve(settings, config_path=str(config_path), host=host, port=port)


@cli.group()
def docs() -> None:
    """Generate reference documentation."""


@docs.command("hooks")
@click.option("--output", "-o", default="docs/hooks.md", show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 if the file is out of date instead of writing it.")
def docs_hooks(output: str, check: bool) -> None:
    """Write the hook reference from the hookspec docstrings."""
    from agorakit.docgen import hook_reference

    _write_doc(output, hook_reference(), check=check, command="agorakit docs hooks")


@docs.command("events")
@click.option("--output", "-o", default="docs/events.md", show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 if the file is out of date instead of writing it.")
def docs_events(output: str, check: bool) -> None:
    """Write the domain event reference from the event classes of the core and the
    shipped plugins (keeping the file's part written by hand)."""
    from agorakit.docgen import event_reference

    path = Path(output)
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    _write_doc(output, event_reference(current), check=check, command="agorakit docs events")


def _write_doc(output: str, text: str, *, check: bool, command: str) -> None:
    path = Path(output)
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{output} is out of date; run `{command}`")
        click.echo(f"{output} is up to date")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-input", is_flag=True, help="Ask nothing: take the template's defaults and --set answers.")
@click.option(
    "--set",
    "answers",
    multiple=True,
    metavar="NAME=VALUE",
    help="Answer a question of the template, e.g. --set leads=yes --set database=postgresql (repeatable).",
)
def new(directory: Path | None, no_input: bool, answers: tuple[str, ...]) -> None:
    """Start a new marketplace project in DIRECTORY (default: a folder named after it)."""
    from agorakit.sitegen import SiteGenError, new_site, parse_answers

    try:
        project = new_site(directory, answers=parse_answers(answers), no_input=no_input)
    except SiteGenError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        shown = project.relative_to(Path.cwd())
    except ValueError:
        shown = project
    click.echo(f"wrote {project}")
    click.echo("next steps:")
    click.echo(f"  cd {shown}")
    click.echo("  make demo    # a virtualenv, your site on a demo database with demo data, served")
    click.echo("  make test    # your site's tests, on SQLite and PostgreSQL")
    click.echo("  see README.md there to point it at a local agorakit checkout (make demo AGORAKIT=...)")


@cli.command("demo-data")
@click.pass_context
def demo_data(ctx: click.Context) -> None:
    """Load the demo members and each enabled plugin's demo data into the site's database
    (a development or staging site only; once: nothing happens when they are there)."""
    from agorakit.demo import DEMO_MEMBERS, console_line, load_demo_data

    settings = cli_state(ctx).settings()
    if settings.site.environment == "production":
        message = (
            "demo data has members with published passwords: load it into a development or staging "
            'site only ([site] environment = "development", or AGORAKIT_SITE__ENVIRONMENT=development)'
        )
        raise click.ClickException(message)

    async def work(runtime: Runtime) -> bool:
        return bool(await load_demo_data(runtime))

    loaded = run_with_runtime(ctx, work)
    click.echo("demo data loaded" if loaded else "demo data was already there")
    click.echo("demo logins (POST /auth/login):")
    for _, email, password, _, _, _, role in DEMO_MEMBERS:
        click.echo(f"  {role:<9} {email}  /  {password}")
    if console := console_line(settings, settings.site.base_url):
        click.echo(f"operator console: {console}")


def _plugin_manager_for_cli(argv: list[str]):
    """The plugin manager of the config named on the command line, for plugin commands.

    A missing or broken config still gives the core commands; the command that needs the
    config reports the problem.
    """
    from agorakit.hooks import get_plugin_manager

    config = os.environ.get("AGORAKIT_CONFIG", DEFAULT_CONFIG)
    for index, arg in enumerate(argv):
        if arg in {"--config", "-c"} and index + 1 < len(argv):
            config = argv[index + 1]
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
    try:
        settings = load_settings(config)
    except ConfigError:
        return get_plugin_manager([])
    try:
        return get_plugin_manager(settings.site.plugins, source=settings.source)
    except ConfigError:
        return get_plugin_manager([])


def build_cli(argv: list[str] | None = None) -> click.Group:
    from agorakit.hooks import Hooks

    Hooks(_plugin_manager_for_cli(sys.argv[1:] if argv is None else argv)).collect_sync(
        "agorakit_cli", cli=cli
    )
    return cli


def main() -> None:
    build_cli()(prog_name="agorakit")
