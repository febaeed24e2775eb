"""The test clock's one row (``[dev] test_clock``)."""

from piccolo.columns import Boolean, Integer, Timestamptz
from piccolo.table import Table


class SiteClock(Table, tablename="core_test_clock"):
    """The site's time on a site that runs on a test clock; one row, ``id`` 1."""

    id = Integer(primary_key=True)
    instant = Timestamptz(help_text="The site's time when the clock was last set.")
    frozen = Boolean(default=False, help_text="Frozen: the site's time stays at ``instant``.")
    set_at = Timestamptz(
        help_text="The real time the clock was last set at; a running clock has moved on by as much since."
    )
