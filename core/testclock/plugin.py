"""The core's own plugin for the test clock: its table, operator routes and commands."""

from __future__ import annotations

from agorakit import hookimpl


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """The site's time becomes the test clock's (``[dev] test_clock``), before the other
    areas start."""
    from agorakit.testclock.service import clock_for

    runtime.clock = clock_for(runtime.settings, runtime.wall_clock)


@hookimpl
def agorakit_tables():
    from agorakit.testclock.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.testclock.controllers import ClockController

    return [ClockController]


@hookimpl
def agorakit_cli(cli):
    from agorakit.testclock.cli import clock

    cli.add_command(clock)
