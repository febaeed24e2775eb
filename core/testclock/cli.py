"""``agorakit clock``: read and move a site's test clock (``[dev] test_clock``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
import msgspec

from agorakit.runtime import Runtime, fail_on_domain_error, run_with_runtime


@click.group()
def clock() -> None:
    """Read and move the site's test clock (development and staging sites)."""


def _show(runtime: Runtime, state: Any) -> str:
    running = "frozen" if state.frozen else "running"
    return f"{runtime.clock.now().isoformat()}  ({running})"


def _run(ctx: click.Context, action: Any) -> Any:
    from agorakit.testclock import service

    async def work(runtime: Runtime) -> Any:
        with fail_on_domain_error():
            return runtime, await action(service, runtime)

    return run_with_runtime(ctx, work)


@clock.command("show")
@click.pass_context
def show(ctx: click.Context) -> None:
    """The site's time, and whether the clock is frozen."""
    runtime, state = _run(ctx, lambda service, runtime: service.read(runtime))
    click.echo(_show(runtime, state))


@clock.command("freeze")
@click.pass_context
def freeze(ctx: click.Context) -> None:
    """Stop the site's time where it is."""
    runtime, state = _run(ctx, lambda service, runtime: service.freeze(runtime))
    click.echo(_show(runtime, state))


@clock.command("unfreeze")
@click.pass_context
def unfreeze(ctx: click.Context) -> None:
    """Let the site's time run on with real time from where it is."""
    runtime, state = _run(ctx, lambda service, runtime: service.unfreeze(runtime))
    click.echo(_show(runtime, state))


@clock.command("advance")
@click.argument("duration", required=False)
@click.option("--to", "to", default=None, help="Advance to this ISO 8601 instant instead (with a timezone).")
@click.option("--json", "as_json", is_flag=True, help="Print what every sweep on the way did, as JSON.")
@click.pass_context
def advance(ctx: click.Context, duration: str | None, to: str | None, as_json: bool) -> None:
    """Move the site's time forward by DURATION (3d, 36h, 1w2d, 90m, 45s) or --to an instant,
    running the worker's sweep at every instant on the way at which something became due."""
    from agorakit.testclock.service import parse_duration

    if (duration is None) == (to is None):
        raise click.UsageError("give a DURATION (e.g. 3d) or --to ISO8601, not both")
    by = instant = None
    if duration is not None:
        try:
            by = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="DURATION") from None
    else:
        assert to is not None
        try:
            instant = datetime.fromisoformat(to)
        except ValueError:
            raise click.BadParameter(f"{to!r} is not an ISO 8601 instant", param_hint="--to") from None
        if instant.tzinfo is None:
            raise click.BadParameter("give a timezone, e.g. 2026-05-01T12:00:00Z", param_hint="--to")
    _, done = _run(ctx, lambda service, runtime: service.advance(runtime, by=by, to=instant))
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(done), indent=2))
        return
    click.echo(
        f"advanced from {done.started.isoformat()} to {done.reached.isoformat()} ({done.sweeps} sweeps)"
    )
    for step in done.steps:
        did = {key: value for key, value in msgspec.to_builtins(step.report).items() if value}
        click.echo(f"  {step.at.isoformat()}: {json.dumps(did)}")
