"""The base class of agorakit's tables, for type checkers.

At run time :class:`Table` is Piccolo's ``Table``.  Piccolo adds the ``id`` primary key
to a table that declares none when the class is created, which a type checker cannot
see; the ``TYPE_CHECKING`` branch declares that column once for every table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from piccolo.columns import Serial
from piccolo.table import Table as PiccoloTable

__all__ = ["Table"]

if TYPE_CHECKING:

    class Table(PiccoloTable):
        #: the primary key Piccolo adds to every table without one of its own
        id = Serial(primary_key=True)

else:
    Table = PiccoloTable
