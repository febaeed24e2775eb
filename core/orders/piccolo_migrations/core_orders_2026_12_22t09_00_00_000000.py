"""SQLite: an order's move follows its history row (triggers on ``core_order_event``).

SQLite has no data-modifying ``WITH``, so a move written by the application would be a
statement per table: the order's update, its history row and its old state's timers
cancelled.  The history row carries everything the move needs (the order, its new version
``seq``, the state left and the state entered, when), so on SQLite the row's insert moves
the order: a trigger after it sets the order's state, version and times, and cancels its
pending timers, in the statement that inserts the row.  A trigger before it refuses a row
whose order is no longer where the row says it leaves from (its version is neither
``seq - 1`` nor ``seq``, or its state is not ``from_state``); an order moved already (by
an update of its own, the bench's floors) is left as it is.  The first row of an order's
history (``seq`` 1, its creation) moves nothing.  PostgreSQL writes the three in one
statement and gets no trigger.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-22T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SQLite: an order's move follows its history row (triggers)"

#: the order's version and state as the history row finds them
_VERSION = '(SELECT version FROM core_order WHERE id = NEW."order")'
_STATE = '(SELECT state FROM core_order WHERE id = NEW."order")'

SQLITE = [
    "CREATE TRIGGER core_order_event_checks_move BEFORE INSERT ON core_order_event WHEN NEW.seq > 1 BEGIN "
    "SELECT RAISE(ABORT, 'agorakit: the order moved since it was read') "
    f"WHERE {_VERSION} NOT IN (NEW.seq - 1, NEW.seq) "
    f"OR ({_VERSION} = NEW.seq - 1 AND {_STATE} IS NOT NEW.from_state); END",
    "CREATE TRIGGER core_order_event_moves_order AFTER INSERT ON core_order_event "
    f"WHEN NEW.seq > 1 AND {_VERSION} = NEW.seq - 1 BEGIN "
    "UPDATE core_order SET state = NEW.to_state, version = NEW.seq, state_entered_at = NEW.at, "
    'updated_at = NEW.at WHERE id = NEW."order"; '
    "UPDATE core_order_timer SET status = 'cancelled' WHERE \"order\" = NEW.\"order\" AND status = 'pending'; "
    "END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_orders", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "sqlite":
            for statement in SQLITE:
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
