"""One campaign per employer and Idempotency-Key; one task per worker and campaign; unique group names and memberships; unique skills."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T10:52:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "uniqueness of campaign keys, tasks, groups, memberships and skills"

STATEMENTS = [
    "CREATE UNIQUE INDEX microjobs_campaign_key ON microjobs_campaign (employer_id, idempotency_key)",
    "CREATE UNIQUE INDEX microjobs_task_one_per_worker ON microjobs_task (campaign_id, worker_id)",
    "CREATE UNIQUE INDEX microjobs_group_name ON microjobs_group (employer_id, name)",
    "CREATE UNIQUE INDEX microjobs_group_member_once ON microjobs_group_member (group_id, member_id)",
    "CREATE UNIQUE INDEX microjobs_skill_once ON microjobs_skill (member_id, category)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="microjobs", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
