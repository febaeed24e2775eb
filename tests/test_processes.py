"""The rule check of a transition (:meth:`Process.check`): which transition exists, from
which state, by which role.  Pure: no database, no runtime."""

from __future__ import annotations

import pytest

from agorakit.orders import (
    ActorNotAllowed,
    Process,
    Transition,
    TransitionNotAllowed,
    UnknownTransition,
)

PROCESS = Process(
    name="job",
    version=1,
    states=("open", "taken", "paid", "done"),
    initial="open",
    final=("done",),
    transitions=(
        Transition(name="take", sources=("open",), target="taken", actors=("candidate",)),
        Transition(name="paid", sources=("taken",), target="paid", actors=("system",)),
        Transition(name="finish", sources=("paid",), target="done", actors=("seller", "operator")),
        Transition(name="close", sources=("open", "taken"), target="done", actors=("buyer",)),
    ),
    on_payment="paid",
)


def test_an_allowed_transition_returns_it_with_the_role_that_fires_it():
    transition, role = PROCESS.check("finish", "paid", frozenset({"operator", "buyer"}), order_id=4)
    assert (transition.name, transition.target, role) == ("finish", "done", "operator")
    transition, role = PROCESS.check("take", "open", frozenset({"candidate"}), order_id=4)
    assert (transition.target, role) == ("taken", "candidate")


def test_the_first_actor_of_the_transition_fires_it_when_the_caller_has_several_roles():
    _, role = PROCESS.check("finish", "paid", frozenset({"operator", "seller"}), order_id=4)
    assert role == "seller"


def test_an_unknown_transition_names_the_ones_there_are():
    with pytest.raises(UnknownTransition) as raised:
        PROCESS.check("explode", "open", frozenset({"buyer"}), order_id=4)
    assert raised.value.status == 404 and raised.value.code == "unknown_transition"
    assert raised.value.detail == "process job has no transition 'explode'; it has: take, paid, finish, close"
    assert raised.value.extra == {"allowed_transitions": ["close"]}


def test_a_transition_from_another_state_is_not_allowed():
    with pytest.raises(TransitionNotAllowed) as raised:
        PROCESS.check("finish", "open", frozenset({"seller"}), order_id=4)
    assert raised.value.status == 409 and raised.value.code == "transition_not_allowed"
    assert raised.value.detail == "order 4 is open; finish is possible only from paid"
    assert raised.value.extra == {"state": "open", "allowed_transitions": []}


def test_a_role_the_transition_is_not_for_is_refused():
    with pytest.raises(ActorNotAllowed) as raised:
        PROCESS.check("finish", "paid", frozenset({"buyer"}), order_id=4)
    assert raised.value.status == 403 and raised.value.code == "actor_not_allowed"
    assert raised.value.detail == "finish is for the seller or operator of the order"
    assert raised.value.extra == {"state": "paid", "allowed_transitions": []}


def test_the_payment_transition_fires_only_when_the_payment_settles():
    with pytest.raises(TransitionNotAllowed) as raised:
        PROCESS.check("paid", "taken", frozenset({"system"}), order_id=9)
    assert raised.value.detail == (
        "paid happens when the order's payment settles; pay it with POST /orders/9/payments"
    )
    assert raised.value.extra == {"state": "taken"}
    transition, role = PROCESS.check("paid", "taken", frozenset({"system"}), order_id=9, settling=True)
    assert (transition.target, role) == ("paid", "system")
