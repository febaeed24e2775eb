"""The core's own plugin for accounts: tables, routes and the ``users`` CLI group."""

from __future__ import annotations

import sys

import click

from agorakit import hookimpl


@hookimpl
def agorakit_tables():
    from agorakit.accounts.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.accounts.controllers import AuthController, MeController, OperatorMembersController

    return [AuthController, MeController, OperatorMembersController]


@hookimpl
def agorakit_cli(cli: click.Group) -> None:
    cli.add_command(users)


@click.group()
def users() -> None:
    """Manage accounts."""


@users.command("create-operator")
@click.option("--email", required=True, help="The operator's login email.")
@click.option("--display-name", default="Operator", show_default=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. US.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt."
)
@click.pass_context
def create_operator(
    ctx: click.Context, email: str, display_name: str, country: str, password_stdin: bool
) -> None:
    """Create an operator account (run `agorakit migrate` first)."""
    from agorakit.accounts import service
    from agorakit.cli import fail_on_domain_error, run_with_runtime

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def create(runtime):
        return await service.create_operator(
            runtime, email=email, password=password, display_name=display_name, country=country
        )

    with fail_on_domain_error():
        member = run_with_runtime(ctx, create)
    click.echo(f"operator {member.email} created (id {member.id})")
