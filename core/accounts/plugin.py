"""The core's own plugin for accounts: tables, routes and the ``users`` CLI group."""

from __future__ import annotations

import sys

import click

from agorakit import hookimpl
from agorakit.accounts import service
from agorakit.accounts.controllers import (
    AuthController,
    MeController,
    OperatorMembersController,
    TermsController,
)
from agorakit.accounts.events import EVENTS
from agorakit.accounts.piccolo_app import APP_CONFIG
from agorakit.runtime import fail_on_domain_error, run_with_runtime


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [AuthController, TermsController, MeController, OperatorMembersController]


@hookimpl
def agorakit_cli(cli: click.Group) -> None:
    cli.add_command(users)


@click.group()
def users() -> None:
    """Manage accounts."""


def _staff_options(function):
    options = [
        click.option("--email", required=True, help="The login email."),
        click.option("--display-name", default=None, help="Name shown to members [default: the role]."),
        click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. US."),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the password from standard input instead of a prompt.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return click.pass_context(function)


def _create_staff(
    ctx: click.Context,
    *,
    email: str,
    display_name: str | None,
    country: str,
    password_stdin: bool,
    owner: bool,
) -> None:

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    role = "owner" if owner else "operator"

    async def create(runtime):
        return await service.create_operator(
            runtime,
            email=email,
            password=password,
            display_name=display_name or role.capitalize(),
            country=country,
            owner=owner,
        )

    with fail_on_domain_error():
        member = run_with_runtime(ctx, create)
    click.echo(f"{role} {member.email} created (id {member.id})")


@users.command("create-operator")
@_staff_options
def create_operator(
    ctx: click.Context, email: str, display_name: str | None, country: str, password_stdin: bool
) -> None:
    """Create an operator account (run `agorakit migrate` first)."""
    _create_staff(
        ctx,
        email=email,
        display_name=display_name,
        country=country,
        password_stdin=password_stdin,
        owner=False,
    )


@users.command("create-owner")
@_staff_options
def create_owner(
    ctx: click.Context, email: str, display_name: str | None, country: str, password_stdin: bool
) -> None:
    """Create a site owner: an operator who may also manage operators and roles."""
    _create_staff(
        ctx,
        email=email,
        display_name=display_name,
        country=country,
        password_stdin=password_stdin,
        owner=True,
    )


@hookimpl
def agorakit_event_types():

    return EVENTS
