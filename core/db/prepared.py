"""Hot-path queries whose SQL is built once per engine: :class:`Prepared`.

Building a Piccolo query (the ``QueryString`` tree of every selected column and clause)
and compiling it to SQL costs about 0.4 ms of CPU for a ``SELECT *`` of one of our
tables: more than PostgreSQL takes to run it.  The statements a request runs most often
(an order by id, its items, a member by id, a ledger account by name) have the same shape
every time; only the values change.  A :class:`Prepared` query is built once, with
placeholders in place of the values, compiled once per engine type, and afterwards each
run only binds the new values and goes through the engine (current transaction, pool,
SQLite's reader connections) and Piccolo's result processing (``output(load_json=True)``,
``first()``) exactly as the built query would.  Measured with ``bench/``; see
docs/performance.md.

Parameters are plain values (ids, names, timestamps), or lists through :func:`any_of`:
``column.is_in(ids)`` would change the SQL's shape with the list's length, while
``any_of(column, ids)`` is one parameter whatever the length (``= ANY($1)`` with an array
on PostgreSQL, ``IN (SELECT value FROM json_each(?))`` with JSON text on SQLite).  Values
of JSON columns cannot be parameters (Piccolo serialises those while building).  A build
that puts anything else where a parameter goes is refused on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from piccolo.columns import JSON, JSONB, Column
from piccolo.columns.combination import WhereRaw
from piccolo.columns.m2m import M2MSelect
from piccolo.query.base import Query
from piccolo.query.methods.select import First, Select
from piccolo.querystring import QueryString
from piccolo.table import Table
from piccolo.utils.sql_values import convert_to_sql_value


class _Param:
    """Stands for the ``index``-th value while a :class:`Prepared` query is built."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<parameter {self.index}>"


def any_of(column: Column, values: Any) -> WhereRaw:
    """``column`` is one of ``values``, given as one parameter (see the module's docs).

    Use it in a :class:`Prepared` build with a parameter for ``values``; at run time pass
    a list (or tuple) of plain values.
    """
    name = column._meta.get_full_name(with_alias=False)
    if column._meta.table._meta.db.engine_type == "sqlite":
        return WhereRaw(f"{name} IN (SELECT value FROM json_each({{}}))", values)
    return WhereRaw(f"{name} = ANY({{}})", values)


def none_of(column: Column, values: Any) -> WhereRaw:
    """``column`` (NOT NULL) is none of ``values``: the negation of :func:`any_of`."""
    name = column._meta.get_full_name(with_alias=False)
    if column._meta.table._meta.db.engine_type == "sqlite":
        return WhereRaw(f"{name} NOT IN (SELECT value FROM json_each({{}}))", values)
    return WhereRaw(f"NOT ({name} = ANY({{}}))", values)


class _Compiled:
    __slots__ = ("args", "first", "json_names", "plain", "query", "query_type", "sql", "table")

    def __init__(self, sql: str, args: list[Any], query: Query, first: bool, qs: QueryString) -> None:
        self.sql, self.args, self.query, self.first = sql, args, query, first
        self.query_type, self.table = qs.query_type, qs.table
        self.plain, self.json_names = _plain_select(query)


def _plain_select(query: Query) -> tuple[bool, tuple[str, ...]]:
    """(whether Piccolo's result processing of ``query`` is only decoding its JSON columns,
    the names of those columns in its rows when ``output(load_json=True)``).

    True for a ``select()`` without many-to-many columns, ``output(as_objects=True)`` or
    ``output(nested=True)``: :meth:`Prepared.run` then makes the rows itself, as
    ``Query._process_results`` would (measured: a third of a page of listings' CPU went
    to that generic path).  Anything else goes through Piccolo.
    """
    if not isinstance(query, Select) or hasattr(query, "_raw_response_callback"):
        return False, ()
    output = query.output_delegate._output
    selected = query.columns_delegate.selected_columns
    if output.as_objects or output.nested or any(isinstance(c, M2MSelect) for c in selected):
        return False, ()
    if not output.load_json:
        return True, ()
    if any(not isinstance(c, Column) for c in selected):  # JSON paths and other expressions
        return False, ()
    columns = (
        [c for c in selected if isinstance(c, JSON | JSONB)] if selected else query.table._meta.json_columns
    )
    names = tuple(
        c._alias
        if c._alias is not None
        else c._meta.get_default_alias()
        if c._meta.call_chain
        else c._meta.name
        for c in columns
    )
    return True, names


_decode_json = msgspec.json.Decoder().decode


class Prepared:
    """A query built by ``build(*params)`` once; ``await prepared.run(*values)`` runs it.

    ``build`` gets one placeholder per value and returns a Piccolo ``select()`` query
    (optionally ``.first()``, ``.output(load_json=True)``, ``.lock_rows()``), or an
    ``update()`` or ``delete()`` (optionally ``.returning(...)``)::

        ORDER_BY_ID = Prepared(lambda id: Order.select().where(Order.id == id).first())
        row = await ORDER_BY_ID.run(order_id)

    The result is what the built query would return for these values.
    """

    def __init__(self, build: Callable[..., Query | First], *, arity: int | None = None) -> None:
        self.build = build
        self.arity = arity if arity is not None else build.__code__.co_argcount
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, engine_type: str) -> _Compiled:
        built = self._built()
        first = isinstance(built, First)
        query = built.query if first else built
        querystrings = query.querystrings
        if len(querystrings) != 1:
            raise TypeError("a prepared query must compile to one statement")
        sql, args = querystrings[0].compile_string(engine_type=engine_type)
        used = {arg.index for arg in args if isinstance(arg, _Param)}
        if used != set(range(self.arity)):
            missing = sorted(set(range(self.arity)) - used)
            raise TypeError(
                f"parameters {missing} of a prepared query do not reach its SQL as values "
                "(lists, JSON values and column expressions cannot be parameters)"
            )
        compiled = _Compiled(sql, list(args), query, first, querystrings[0])
        self._compiled[engine_type] = compiled
        return compiled

    def _built(self) -> Query | First:
        try:
            return self.build(*[_Param(i) for i in range(self.arity)])
        except (TypeError, ValueError) as exc:  # a parameter used as a list, a JSON value, ...
            raise TypeError(f"prepared query parameters must be plain values: {exc}") from exc

    def _engine(self, compiled: _Compiled | None) -> Any:
        if compiled is not None:
            return compiled.query.table._meta.db
        built = self._built()
        return (built.query if isinstance(built, First) else built).table._meta.db

    async def run(self, *values: Any) -> Any:
        if len(values) != self.arity:
            raise TypeError(f"this prepared query takes {self.arity} values, got {len(values)}")
        engine = self._engine(next(iter(self._compiled.values()), None))
        compiled = self._compiled.get(engine.engine_type) or self._compile(engine.engine_type)
        if engine.engine_type == "sqlite" and any(isinstance(v, list | tuple) for v in values):
            values = tuple(json.dumps(list(v)) if isinstance(v, list | tuple) else v for v in values)
        elif any(type(v) is tuple for v in values):
            values = tuple(list(v) if type(v) is tuple else v for v in values)
        bound = [values[a.index] if type(a) is _Param else a for a in compiled.args]
        querystring = QueryString("", query_type=compiled.query_type, table=compiled.table)
        querystring._frozen_compiled_strings = (compiled.sql, bound)
        results = await engine.run_querystring(querystring, in_pool=True)
        if compiled.plain:
            rows = engine.transform_response_to_dicts(results) if results else []
            if compiled.json_names:
                for row in rows:
                    for name in compiled.json_names:
                        value = row.get(name)
                        if value is not None:
                            row[name] = _decode_json(value)
        else:
            rows = await compiled.query._process_results(results)
        if compiled.first:
            return rows[0] if rows else None
        return rows


#: value types ``convert_to_sql_value`` returns unchanged (exact types: not an Enum or a
#: Table instance, not a list); for a JSON column only text and NULL
_PASSING = frozenset({int, str, float, bool, type(None), datetime, date, Decimal, UUID})
_JSON_PASSING = frozenset({str, type(None)})


class PreparedInsert:
    """An ``INSERT`` of rows into ``table`` whose SQL is built once per engine and row count.

    Building ``Table(...)`` instances and Piccolo's insert query costs more than running
    the statement (measured: the inserts of a gig order flow's notifications, emails,
    history and events were about a sixth of its CPU).  Every column but the primary key
    is written; a column left out gets its default, as ``Table(...)`` gives it, and values
    are converted as Piccolo converts them (JSON serialised, enums by value)::

        INSERT_EVENT = PreparedInsert(OrderEvent)
        rows = await INSERT_EVENT.run({"order": 1, "seq": 2, ...})  # [{"id": ...}]

    ``run`` returns the ``returning`` columns of the rows it inserted: with
    ``on_conflict_do_nothing``, a row that hit a unique constraint (the ``conflict_target``
    columns' one, if given) is skipped and not returned.
    """

    def __init__(
        self,
        table: type[Table],
        *,
        returning: tuple[str, ...] = ("id",),
        on_conflict_do_nothing: bool = False,
        conflict_target: tuple[str, ...] = (),
    ) -> None:
        self.table = table
        primary_key = table._meta.primary_key
        self.columns = [c for c in table._meta.columns if c is not primary_key]
        self.names = frozenset(c._meta.name for c in self.columns)
        self.returning = returning
        self.on_conflict_do_nothing = on_conflict_do_nothing or bool(conflict_target)
        self.conflict_target = conflict_target
        self._sql: dict[tuple[str, int], str] = {}
        #: per column: its name and the value types Piccolo's conversion passes unchanged
        self._plan = [
            (c, c._meta.name, _JSON_PASSING if isinstance(c, JSON | JSONB) else _PASSING)
            for c in self.columns
        ]

    def sql(self, engine_type: str, rows: int) -> str:
        key = (engine_type, rows)
        if key not in self._sql:
            names = ",".join(f'"{c._meta.db_column_name}"' for c in self.columns)
            width = len(self.columns)
            if engine_type == "sqlite":
                values = ",".join("(" + ",".join("?" * width) + ")" for _ in range(rows))
            else:
                values = ",".join(
                    "(" + ",".join(f"${row * width + i}" for i in range(1, width + 1)) + ")"
                    for row in range(rows)
                )
            sql = f"INSERT INTO {self.table._meta.get_formatted_tablename()} ({names}) VALUES {values}"
            if self.conflict_target:
                sql += (
                    " ON CONFLICT (" + ",".join(f'"{name}"' for name in self.conflict_target) + ") DO NOTHING"
                )
            elif self.on_conflict_do_nothing:
                sql += " ON CONFLICT DO NOTHING"
            if self.returning:
                sql += " RETURNING " + ",".join(f'"{name}"' for name in self.returning)
            self._sql[key] = sql
        return self._sql[key]

    async def run(self, *rows: dict[str, Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        args: list[Any] = []
        for row in rows:
            unknown = row.keys() - self.names
            if unknown:
                raise TypeError(f"{self.table.__name__} has no column(s) {', '.join(sorted(unknown))}")
            for column, name, passing in self._plan:
                value = row[name] if name in row else column.get_default_value()
                # Piccolo's conversion leaves these values as they are: skip the call.
                args.append(value if type(value) in passing else convert_to_sql_value(value, column))
        engine = self.table._meta.db
        querystring = QueryString("", query_type="insert", table=self.table)
        querystring._frozen_compiled_strings = (self.sql(engine.engine_type, len(rows)), args)
        results = await engine.run_querystring(querystring, in_pool=True)
        return engine.transform_response_to_dicts(results) if results else []


class PreparedRaw:
    """Hand-written SQL on ``table``'s engine, compiled once per engine type.

    ``sql`` uses ``{}`` for each value, as ``Table.raw`` does (``$1``, ``$2`` ... on
    PostgreSQL, ``?`` on SQLite); ``await prepared.run(*values)`` returns the rows as
    dicts.  For statements the query builder cannot parameterise, such as arithmetic
    with a value (``SET balance = balance + {}``).  ``sql`` may be a function of the
    engine type (``"postgres"``, ``"sqlite"``) for SQL that differs between them, such as
    :func:`any_of_sql`; a list value is passed as :func:`any_of` passes it.
    """

    def __init__(self, table: type[Table], sql: str | Callable[[str], str]) -> None:
        self.table = table
        self.sql = sql
        self._compiled: dict[str, tuple[str, list[int], int]] = {}

    def _compile(self, engine_type: str) -> tuple[str, list[int], int]:
        text = self.sql(engine_type) if callable(self.sql) else self.sql
        arity = text.count("{}")
        querystring = QueryString(text, *[_Param(i) for i in range(arity)])
        sql, args = querystring.compile_string(engine_type=engine_type)
        compiled = (sql, [arg.index for arg in args], arity)
        self._compiled[engine_type] = compiled
        return compiled

    async def run(self, *values: Any) -> list[dict[str, Any]]:
        engine = self.table._meta.db
        sql, order, arity = self._compiled.get(engine.engine_type) or self._compile(engine.engine_type)
        if len(values) != arity:
            raise TypeError(f"this prepared statement takes {arity} values, got {len(values)}")
        if engine.engine_type == "sqlite" and any(isinstance(v, list | tuple) for v in values):
            values = tuple(json.dumps(list(v)) if isinstance(v, list | tuple) else v for v in values)
        elif any(type(v) is tuple for v in values):
            values = tuple(list(v) if type(v) is tuple else v for v in values)
        querystring = QueryString("", query_type="raw", table=self.table)
        querystring._frozen_compiled_strings = (sql, [values[i] for i in order])
        results = await engine.run_querystring(querystring, in_pool=True)
        return engine.transform_response_to_dicts(results) if results else []


def any_of_sql(engine_type: str, expression: str) -> str:
    """``expression`` is one of a list given as one ``{}`` value: :func:`any_of` for
    :class:`PreparedRaw`'s SQL."""
    if engine_type == "sqlite":
        return f"{expression} IN (SELECT value FROM json_each({{}}))"
    return f"{expression} = ANY({{}})"
