"""Prepared queries (``agorakit.db.prepared``) give what the Piccolo query would, on both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agorakit.accounts.tables import Member
from agorakit.db.prepared import Prepared, PreparedRaw, any_of, none_of
from agorakit.orders.tables import Order, OrderItem

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ORDER_BY_ID = Prepared(lambda id: Order.select().where(Order.id == id).first().output(load_json=True))
MEMBER_BY_ID = Prepared(lambda id: Member.select().where(Member.id == id).first().output(load_json=True))
ITEMS = Prepared(
    lambda order, kind: (
        OrderItem.select()
        .where((OrderItem.order == order) & (OrderItem.kind == kind))
        .order_by(OrderItem.position)
        .output(load_json=True)
    )
)


async def _order(runtime, member_id: int, *, items: int) -> int:
    async with runtime.unit_of_work():
        (row,) = await Order.insert(
            Order(
                process="p",
                process_version=1,
                state="new",
                version=1,
                buyer_id=member_id,
                currency="USD",
                amount=500 * items,
                data={"note": "x", "nested": [1, 2]},
                state_entered_at=AT,
                created_at=AT,
                updated_at=AT,
            )
        ).returning(Order.id)
        for position in range(items, 0, -1):  # stored out of order: ORDER BY must hold
            await OrderItem.insert(
                OrderItem(
                    order=row["id"],
                    position=position,
                    kind="base" if position % 2 else "extra",
                    description=f"item {position}",
                    unit_price=500,
                    quantity=1,
                    amount=500,
                )
            )
    return row["id"]


async def test_a_prepared_first_matches_piccolo_and_binds_new_values(runtime, make_member):
    ada, bob = await make_member(), await make_member()
    for member in (ada, bob):
        expected = await Member.select().where(Member.id == member.id).first().output(load_json=True)
        assert await MEMBER_BY_ID.run(member.id) == expected
        assert expected["id"] == member.id
    assert await MEMBER_BY_ID.run(10**9) is None


async def test_a_prepared_select_keeps_order_json_and_constants(runtime, make_member):
    buyer = await make_member()
    order_id = await _order(runtime, buyer.id, items=4)
    other = await _order(runtime, buyer.id, items=1)
    rows = await ITEMS.run(order_id, "extra")
    assert [r["position"] for r in rows] == [2, 4]
    assert rows == (
        await OrderItem.select()
        .where((OrderItem.order == order_id) & (OrderItem.kind == "extra"))
        .order_by(OrderItem.position)
        .output(load_json=True)
    )
    assert [r["position"] for r in await ITEMS.run(other, "base")] == [1]
    order = await ORDER_BY_ID.run(order_id)
    assert order["data"] == {"note": "x", "nested": [1, 2]}  # decoded, as output(load_json=True) does
    assert order["created_at"] == AT
    assert order == await Order.select().where(Order.id == order_id).first().output(load_json=True)
    assert await ITEMS.run(other, "extra") == []


async def test_a_prepared_query_sees_the_current_transaction(runtime, make_member):
    buyer = await make_member()
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work():
            await Member.update({Member.display_name: "Inside"}).where(Member.id == buyer.id)
            assert (await MEMBER_BY_ID.run(buyer.id))["display_name"] == "Inside"
            raise RuntimeError("roll back")
    assert (await MEMBER_BY_ID.run(buyer.id))["display_name"] != "Inside"


async def test_a_prepared_query_refuses_parameters_that_are_not_values(runtime):
    in_list = Prepared(lambda ids: Member.select().where(Member.id.is_in(ids)))
    with pytest.raises(TypeError, match="parameters"):
        await in_list.run([1, 2])
    unused = Prepared(lambda id, name: Member.select().where(Member.id == id))
    with pytest.raises(TypeError, match=r"parameters \[1\]"):
        await unused.run(1, "x")
    with pytest.raises(TypeError, match="takes 1 values, got 2"):
        await MEMBER_BY_ID.run(1, 2)


MEMBERS_IN = Prepared(lambda ids: Member.select(Member.id).where(any_of(Member.id, ids)).order_by(Member.id))


async def test_a_list_is_one_parameter_whatever_its_length(runtime, make_member):
    members = [await make_member() for _ in range(3)]
    ids = [m.id for m in members]
    assert [r["id"] for r in await MEMBERS_IN.run(ids)] == ids
    assert [r["id"] for r in await MEMBERS_IN.run((ids[2], 10**9))] == [ids[2]]  # tuples too; unknown ids
    assert await MEMBERS_IN.run([]) == []
    compiled = MEMBERS_IN._compiled[Member._meta.db.engine_type]
    assert compiled.sql.count("?") + compiled.sql.count("$") == 1  # the same SQL for every length


async def test_a_query_without_parameters_can_be_prepared(runtime, make_member):
    every = Prepared(lambda: Member.select(Member.id).order_by(Member.id))
    ada = await make_member()
    assert [r["id"] for r in await every.run()] == [
        r["id"] for r in await Member.select(Member.id).order_by(Member.id)
    ]
    assert ada.id in [r["id"] for r in await every.run()]
    with pytest.raises(TypeError, match="takes 0 values, got 1"):
        await every.run(1)


async def test_rows_are_made_as_piccolo_makes_them_for_every_output(runtime, make_member):
    """Plain selects get their rows made by ``Prepared`` itself (JSON decoded, selected
    columns and aliases kept); other outputs still go through Piccolo: same values."""
    buyer = await make_member()
    order_id = await _order(runtime, buyer.id, items=1)
    queries = {
        "selected, aliased JSON": lambda id: (
            Order.select(Order.id, Order.data.as_alias("payload"))
            .where(Order.id == id)
            .output(load_json=True)
        ),
        "JSON left as text": lambda id: Order.select(Order.id, Order.data).where(Order.id == id),
        "a joined column": lambda id: (
            OrderItem.select(OrderItem.position, OrderItem.order.data)
            .where(OrderItem.order == id)
            .output(load_json=True)
        ),
        "nested": lambda id: (
            OrderItem.select(OrderItem.position, OrderItem.order.state)
            .where(OrderItem.order == id)
            .output(nested=True)
        ),
        "objects": lambda id: Order.objects().where(Order.id == id).output(load_json=True),
    }
    for label, build in queries.items():
        prepared = Prepared(build)
        got, expected = await prepared.run(order_id), await build(order_id)
        if label == "objects":
            got, expected = [o.to_dict() for o in got], [o.to_dict() for o in expected]
        assert got == expected, label
    plain = Prepared(queries["selected, aliased JSON"])
    assert await plain.run(order_id) == [{"id": order_id, "payload": {"note": "x", "nested": [1, 2]}}]
    assert plain._compiled[Order._meta.db.engine_type].plain
    text = await Prepared(queries["JSON left as text"]).run(order_id)
    assert isinstance(text[0]["data"], str)


async def test_a_prepared_insert_writes_what_piccolo_writes(runtime, make_member):
    """Defaults for columns left out, JSON serialised the same way, the primary key from
    the database; several rows in one statement, ids in order."""
    from agorakit.db.prepared import PreparedInsert
    from agorakit.orders.tables import OrderEvent

    buyer = await make_member()
    order_id = await _order(runtime, buyer.id, items=1)
    insert = PreparedInsert(OrderEvent)
    # each row a move from "new" to "new" (on SQLite a history row moves its order, and a
    # row that does not leave the order's state is refused)
    values = {
        "order": order_id,
        "transition": "t",
        "from_state": "new",
        "to_state": "new",
        "actor_role": "buyer",
        "at": AT,
    }
    async with runtime.unit_of_work():
        mine = await insert.run({**values, "seq": 2, "data": {"a": [1, "x"]}}, {**values, "seq": 3})
        (piccolo,) = await OrderEvent.insert(OrderEvent(**values, seq=4, data={"a": [1, "x"]})).returning(
            OrderEvent.id
        )
    assert [r["id"] for r in mine] == sorted(r["id"] for r in mine)
    rows = await OrderEvent.select().where(OrderEvent.order == order_id).order_by(OrderEvent.seq)
    by_seq = {r["seq"]: r for r in rows}
    assert by_seq[2]["id"] == mine[0]["id"] and by_seq[3]["id"] == mine[1]["id"]
    assert by_seq[4]["id"] == piccolo["id"]
    # the JSON column is stored as the same text; a column left out gets its default
    assert by_seq[2]["data"] == by_seq[4]["data"]
    assert by_seq[3]["data"] == "{}" and by_seq[3]["actor_id"] is None
    assert {k: v for k, v in by_seq[2].items() if k not in ("id", "seq")} == {
        k: v for k, v in by_seq[4].items() if k not in ("id", "seq")
    }
    with pytest.raises(TypeError, match="no column"):
        await insert.run({**values, "seq": 5, "colour": "red"})


async def test_a_prepared_insert_converts_what_piccolo_converts_and_passes_the_rest(runtime, make_member):
    """Plain values go to the driver as they are; an Enum by its value, a list or dict for
    a JSON column serialised, JSON given as text kept as text: as Piccolo converts them."""
    import enum

    from agorakit.db.prepared import PreparedInsert
    from agorakit.orders.tables import OrderEvent

    class Role(enum.Enum):
        BUYER = "buyer"

    buyer = await make_member()
    order_id = await _order(runtime, buyer.id, items=1)
    insert = PreparedInsert(OrderEvent)
    values = {"order": order_id, "transition": "t", "from_state": "new", "to_state": "new", "at": AT}
    async with runtime.unit_of_work():
        await insert.run(
            {**values, "seq": 2, "actor_role": Role.BUYER, "data": [1, {"b": True}]},
            {**values, "seq": 3, "actor_role": "buyer", "data": '{"text": 1}'},
            {**values, "seq": 4, "actor_role": "buyer", "actor_id": buyer.id, "data": {}},
        )
        await OrderEvent.insert(
            OrderEvent(**values, seq=5, actor_role=Role.BUYER, data=[1, {"b": True}]),
            OrderEvent(**values, seq=6, actor_role="buyer", data='{"text": 1}'),
        )
    rows = await OrderEvent.select().where(OrderEvent.order == order_id).order_by(OrderEvent.seq)
    by_seq = {r["seq"]: r for r in rows}
    assert by_seq[2]["actor_role"] == "buyer"
    for mine, piccolo in ((2, 5), (3, 6)):
        assert {k: v for k, v in by_seq[mine].items() if k not in ("id", "seq")} == {
            k: v for k, v in by_seq[piccolo].items() if k not in ("id", "seq")
        }
    assert json.loads(by_seq[2]["data"]) == [1, {"b": True}]
    assert json.loads(by_seq[3]["data"]) == {"text": 1}
    assert by_seq[4]["actor_id"] == buyer.id and by_seq[4]["data"] == "{}"


async def test_a_prepared_insert_can_skip_conflicting_rows(runtime, make_member):
    from agorakit.db.prepared import PreparedInsert
    from agorakit.notifications.tables import Notification

    member = await make_member()
    insert = PreparedInsert(Notification, on_conflict_do_nothing=True)
    row = {"member_id": member.id, "event_id": 987_654, "category": "orders", "template": "t", "title": "T"}
    async with runtime.unit_of_work():
        first = await insert.run({**row, "body": "b", "created_at": AT})
        again = await insert.run({**row, "body": "b", "created_at": AT})
    assert len(first) == 1 and again == []
    assert await Notification.count().where(Notification.event_id == 987_654) == 1


async def test_a_prepared_update_binds_new_values_and_returns_what_it_moved(runtime, make_member):
    buyer = await make_member()
    first, second = await _order(runtime, buyer.id, items=1), await _order(runtime, buyer.id, items=1)
    move = Prepared(
        lambda state, new_version, id, version: (
            Order.update({Order.state: state, Order.version: new_version})
            .where((Order.id == id) & (Order.version == version))
            .returning(Order.id)
        )
    )
    async with runtime.unit_of_work():
        assert await move.run("paid", 2, first, 1) == [{"id": first}]
        assert await move.run("paid", 8, second, 7) == []  # another version: nothing moved
    rows = await Order.select(Order.id, Order.state, Order.version).where(Order.id.is_in([first, second]))
    assert sorted((r["id"], r["state"], r["version"]) for r in rows) == [
        (first, "paid", 2),
        (second, "new", 1),
    ]


async def test_a_prepared_raw_statement_binds_values_in_order_on_both_engines(runtime, make_member):
    buyer = await make_member()
    first, second = await _order(runtime, buyer.id, items=2), await _order(runtime, buyer.id, items=1)
    add = PreparedRaw(
        Order,
        "UPDATE core_order SET amount = amount + {} WHERE id = {} AND amount + {} >= 0 RETURNING amount",
    )
    async with runtime.unit_of_work():
        assert await add.run(250, first, 250) == [{"amount": 1250}]
        assert await add.run(-600, second, -600) == []  # would go below zero: nothing changed
        assert await add.run(-100, second, -100) == [{"amount": 400}]
    rows = await Order.select(Order.id, Order.amount).where(Order.id.is_in([first, second]))
    assert sorted((r["id"], r["amount"]) for r in rows) == [(first, 1250), (second, 400)]
    with pytest.raises(TypeError, match="takes 3 values, got 2"):
        await add.run(1, first)


async def test_a_prepared_raw_statement_may_differ_by_engine_and_take_a_list(runtime, make_member):
    from agorakit.db.prepared import any_of_sql

    members = [await make_member() for _ in range(3)]
    ids = [m.id for m in members]
    engines = []

    def sql(engine):
        engines.append(engine)
        return "SELECT id FROM core_member WHERE " + any_of_sql(engine, "id") + " AND id <> {} ORDER BY id"

    chosen = PreparedRaw(Member, sql)
    assert [r["id"] for r in await chosen.run(ids, ids[1])] == [ids[0], ids[2]]
    assert [r["id"] for r in await chosen.run((ids[2],), 0)] == [ids[2]]  # a tuple is a list too
    assert await chosen.run([], 0) == []
    assert engines == [Member._meta.db.engine_type]  # built once per engine
    with pytest.raises(TypeError, match="takes 2 values, got 1"):
        await chosen.run(ids)


async def test_none_of_is_the_negation_of_any_of(runtime, make_member):
    members = [await make_member() for _ in range(3)]
    others = Prepared(lambda ids: Member.select(Member.id).where(none_of(Member.id, ids)).order_by(Member.id))
    ids = [m.id for m in members]
    assert [r["id"] for r in await others.run(ids[:1])] == ids[1:]
    assert [r["id"] for r in await others.run(ids)] == []
    assert [r["id"] for r in await others.run([])] == ids
