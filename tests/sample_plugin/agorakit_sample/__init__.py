"""A sample third-party plugin used by agorakit's own tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from piccolo.columns import Integer, Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from agorakit import hookimpl
from agorakit.settings import Secret, SettingsSpec, SettingsStruct

#: Events this plugin saw, for tests to inspect.
SEEN_EVENTS: list = []


class SampleSettings(SettingsStruct):
    #: greeting returned by GET /sample/hello
    greeting: str = "hello"
    #: how many times to repeat it
    repeat: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    #: a credential that must never be shown
    api_key: Secret = "sample-default-key"


class SampleNote(Table, tablename="sample_note"):
    body = Varchar(length=200)
    stars = Integer(default=0)


APP_CONFIG = AppConfig(
    app_name="sample",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SampleNote],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)


class Hello(msgspec.Struct):
    message: str
    notes: int


class SampleController(Controller):
    path = "/sample"
    opt = {"exclude_from_auth": True}

    @get("/hello", operation_id="sampleHello", summary="Say hello")
    async def hello(self, runtime: NamedDependency[object]) -> Hello:
        settings = runtime.plugin_settings("sample")
        return Hello(message=" ".join([settings.greeting] * settings.repeat), notes=await SampleNote.count())

    @get("/boom", operation_id="sampleBoom", summary="Fail unexpectedly")
    async def boom(self) -> None:
        message = "secret internal detail"
        raise RuntimeError(message)


@hookimpl
def agorakit_settings():
    return SettingsSpec(name="sample", type=SampleSettings)


@hookimpl
def agorakit_tables():
    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    return [SampleController]


@hookimpl
def agorakit_cli(cli):
    @cli.command("sample-hello")
    def sample_hello() -> None:
        """Say hello from the sample plugin."""
        click.echo("hello from the sample plugin")


@hookimpl
async def agorakit_on_event(event):
    SEEN_EVENTS.append(event)


@hookimpl
async def agorakit_demo_data(runtime, members):
    await SampleNote.insert(SampleNote(body=f"welcome, {members['buyer'].display_name}", stars=5))


@hookimpl
def agorakit_demo_settings():
    return {"greeting": 'hello from the "demo"', "repeat": 3}
