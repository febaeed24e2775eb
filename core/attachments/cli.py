"""The ``agorakit attachments`` commands: moving the files to another storage."""

from __future__ import annotations

import click

from agorakit.attachments.migrate import DEFAULT_BATCH, Migration, migrate_files
from agorakit.runtime import Runtime, run_with_runtime


@click.group()
def attachments() -> None:
    """Manage uploaded files."""


@attachments.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    help="The storage to move the files to, by name (e.g. s3; any storage an enabled plugin provides).",
)
@click.option(
    "--delete-source",
    is_flag=True,
    help="Delete each old copy once its row names the new storage.",
)
@click.option("--dry-run", is_flag=True, help="Read and check the files, copy nothing, change nothing.")
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Rows moved at a time.",
)
@click.pass_context
def migrate(ctx: click.Context, target: str, delete_source: bool, dry_run: bool, batch_size: int) -> None:
    """Copy every attachment kept in another storage into TARGET, check each copy (size,
    SHA-256), then point its row there.  Resumable: a second run copies only what is left.
    Exits with status 1 when a file was missing or could not be copied."""

    async def work(runtime: Runtime) -> Migration:
        return await migrate_files(
            runtime, to=target, delete_source=delete_source, dry_run=dry_run, batch_size=batch_size
        )

    report = run_with_runtime(ctx, work)
    for line in report.lines():
        click.echo(line)
    if report.left:
        ctx.exit(1)
