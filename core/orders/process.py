"""Declarative order processes.

A process is data: states, transitions (which states they leave, the state they enter,
which actors may fire them, guards that must pass and effects that run), and timers that
fire a transition as ``system`` after a duration in a state.  Plugins contribute processes
through ``agorakit_processes(runtime)``; guards and effects are named and implemented by
plugins through ``agorakit_order_guards()`` / ``agorakit_order_effects()``, so a process
stays plain data and a plugin can add its own effects.

An order keeps the (name, version) of the process it started with: a plugin that changes
a process adds a new version and keeps returning the old one until no order uses it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import msgspec

from agorakit.errors import Conflict, Forbidden, NotFound

#: ``candidate``: a member who is not yet a party of an order without a seller (an open
#: prepaid request, a microjob position); firing a transition as candidate makes them the
#: order's seller — of concurrent candidates exactly one wins.  A transition with
#: ``clears_seller`` hands such an order back to the candidates.
Actor = Literal["buyer", "seller", "operator", "system", "candidate"]
ProofEvent = Literal["submitted", "accepted", "rejected", "correction_requested"]


class ProcessError(Exception):
    """A process definition is inconsistent (a bug in the plugin that defines it)."""


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"
    title = "The transition is not allowed in the order's state"


class ActorNotAllowed(Forbidden):
    code = "actor_not_allowed"
    title = "You may not fire this transition"


class GuardFailed(Conflict):
    code = "guard_failed"
    title = "A condition of the transition is not met"


class UnknownTransition(NotFound):
    code = "unknown_transition"
    title = "The process has no such transition"


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    #: the name clients fire: ``POST /orders/{id}/transitions/{name}``
    name: str
    #: states it may be fired from
    sources: tuple[str, ...]
    #: the state it enters
    target: str
    #: who may fire it
    actors: tuple[Actor, ...]
    #: names of guards (``agorakit_order_guards``) that must all pass
    guards: tuple[str, ...] = ()
    #: names of effects (``agorakit_order_effects``) run, in order, in the same transaction
    effects: tuple[str, ...] = ()
    #: one line for people (docs, errors)
    summary: str = ""
    #: entering ``target`` through it unsets the order's seller (the order goes back to the
    #: pool for candidates); the history row's data and the ``order.transitioned`` event
    #: name the seller who left (``former_seller_id``)
    clears_seller: bool = False


class Timer(msgspec.Struct, frozen=True, kw_only=True):
    """After ``after`` in ``state``, fire ``transition`` as ``system`` (cancelled if the state is left)."""

    state: str
    after: timedelta
    transition: str
    #: a key of the order's ``data`` holding this order's own delay in seconds (e.g. the
    #: time a campaign gives a worker); ``after`` applies when the order has no such key
    after_from: str | None = None

    def delay(self, data: dict[str, Any] | None) -> timedelta:
        """The delay for an order with ``data``."""
        if self.after_from and data:
            seconds = data.get(self.after_from)
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
                return timedelta(seconds=seconds)
        return self.after


class DisputePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How a process's orders are disputed (reported) and how operators settle them.

    A party opens a dispute with a reason code while the order is in one of ``states``,
    within ``window`` of entering that state.  With a ``hold`` state the order moves there
    (its timers stop) until an operator resolves: ``refund`` (full or partial, to the
    buyer's credit) moves it to ``refunded``, ``release`` (pay the seller) to ``released``,
    ``reject`` back to the state the dispute was opened from.  Without ``hold`` (a charge
    on a finished order, such as a lead) the order stays where it is and only money moves.
    """

    #: reason codes a party picks from, with the label shown to people
    reasons: dict[str, str]
    #: states in which a dispute may be opened
    states: tuple[str, ...]
    #: who may open one
    openers: tuple[Literal["buyer", "seller"], ...] = ("buyer",)
    #: how long after entering the state a dispute may still be opened
    window: timedelta = timedelta(days=30)
    #: operators' target for resolving; older open disputes are overdue in the queue
    review_within: timedelta = timedelta(hours=48)
    #: the state an order waits in while disputed (None: the order does not move)
    hold: str | None = None
    #: state entered when resolved with a refund, and with a release (final states)
    refunded: str | None = None
    released: str | None = None
    #: where a refund comes from: the order's escrow, or the platform's fees (a charge)
    refund_from: Literal["escrow", "fees"] = "escrow"
    #: final states in which the order may still be reported after it was paid out, e.g.
    #: ``("completed",)``: within ``after_window`` of entering them.  Such a report holds
    #: nothing (the order stays where it is); a refund comes back from the seller's
    #: available balance and the platform's fees (the dispute's ``refund_from`` is
    #: ``"seller"``), and a release is refused (the seller was paid already)
    after_states: tuple[str, ...] = ()
    #: how long after entering one of ``after_states`` a report may still be opened
    after_window: timedelta = timedelta(days=14)


class Process(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    states: tuple[str, ...]
    initial: str
    #: states in which the order is finished (its escrow must be empty)
    final: tuple[str, ...]
    transitions: tuple[Transition, ...]
    timers: tuple[Timer, ...] = ()
    #: transitions fired when a proof is submitted/accepted/rejected/needs correction
    on_proof: dict[str, str] = {}
    #: transition fired (as system) when the order's payment settles, e.g. "paid"
    on_payment: str | None = None
    #: states of a successfully completed order, in which its parties may review each other
    reviewable: tuple[str, ...] = ()
    #: whether and how its orders can be disputed; None = no disputes
    disputes: DisputePolicy | None = None
    #: whether its orders have a conversation between their parties, where every
    #: transition is told as a system message (False for an order with no counterpart,
    #: such as a lead charge: a plugin keeps its own conversation)
    order_conversation: bool = True

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            message = f"process {self.name} v{self.version} is inconsistent: " + "; ".join(problems)
            raise ProcessError(message)

    def _problems(self):
        states = set(self.states)
        if self.initial not in states:
            yield f"initial state {self.initial!r} is not a state"
        for state in self.final:
            if state not in states:
                yield f"final state {state!r} is not a state"
        names = [t.name for t in self.transitions]
        for name in {n for n in names if names.count(n) > 1}:
            yield f"transition {name!r} is defined twice"
        for t in self.transitions:
            for state in (*t.sources, t.target):
                if state not in states:
                    yield f"transition {t.name!r} uses unknown state {state!r}"
            if not t.actors:
                yield f"transition {t.name!r} has no actors"
            if t.clears_seller and t.target in states and not self.available(t.target, {"candidate"}):
                yield (
                    f"transition {t.name!r} clears the seller but no candidate transition leaves "
                    f"{t.target!r}: its orders would have nobody to take them"
                )
        for timer in self.timers:
            if timer.state not in states:
                yield f"timer on unknown state {timer.state!r}"
            t = self.transition(timer.transition)
            if t is None:
                yield f"timer fires unknown transition {timer.transition!r}"
            elif "system" not in t.actors or timer.state not in t.sources:
                yield f"timer transition {timer.transition!r} must be fireable by system from {timer.state!r}"
            if timer.after <= timedelta(0):
                yield f"timer on {timer.state!r} must wait a positive duration"
        if self.on_payment is not None:
            t = self.transition(self.on_payment)
            if t is None or "system" not in t.actors:
                yield f"on_payment transition {self.on_payment!r} must exist and be fireable by system"
        for event, name in self.on_proof.items():
            if self.transition(name) is None:
                yield f"on_proof[{event!r}] names unknown transition {name!r}"
        for state in self.reviewable:
            if state not in self.final:
                yield f"reviewable state {state!r} is not a final state"
        if self.disputes is not None:
            yield from self._dispute_problems(self.disputes, states)

    def _dispute_problems(self, policy: DisputePolicy, states: set[str]):
        if not policy.reasons:
            yield "disputes need at least one reason code"
        if not policy.states:
            yield "disputes need at least one state they can be opened from"
        for state in policy.states:
            if state not in states:
                yield f"disputes open from unknown state {state!r}"
        if policy.window <= timedelta(0) or policy.review_within <= timedelta(0):
            yield "dispute window and review time must be positive"
        for state in policy.after_states:
            if state not in self.final:
                yield f"disputes after completion open from final states only, not {state!r}"
            if state in policy.states:
                yield f"state {state!r} is both a dispute state and an after-completion one"
        if policy.after_states and policy.after_window <= timedelta(0):
            yield "the after-completion dispute window must be positive"
        if policy.hold is None:
            if policy.refund_from == "escrow":
                yield "disputes without a hold state must refund from fees (a charge)"
            return
        for label, state in (
            ("hold", policy.hold),
            ("refunded", policy.refunded),
            ("released", policy.released),
        ):
            if state is None:
                yield f"disputes with a hold state need a {label} state"
            elif state not in states:
                yield f"dispute {label} state {state!r} is not a state"
            elif label != "hold" and state not in self.final:
                yield f"dispute {label} state {state!r} must be final"
        for state in policy.states:
            if state in self.final:
                yield f"disputes with a hold state cannot open from final state {state!r} (its escrow is settled)"
        if policy.hold in policy.states or policy.hold in self.final:
            yield f"dispute hold state {policy.hold!r} must not be final nor open a dispute"

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    def available(self, state: str, roles: set[str] | frozenset[str]) -> list[str]:
        """Transitions ``roles`` may fire from ``state``."""
        return [t.name for t in self.transitions if state in t.sources and roles & set(t.actors)]

    def check(
        self,
        name: str,
        state: str,
        roles: set[str] | frozenset[str],
        *,
        order_id: int,
        settling: bool = False,
    ) -> tuple[Transition, str]:
        """Whether ``roles`` may fire ``name`` on order ``order_id`` in ``state``: the
        transition and the role that fires it, or the error saying why not.

        The process's ``on_payment`` transition fires only when the order's payment is
        ``settling`` (fired bare it would move the order on with nothing in its escrow).
        Raises :class:`TransitionNotAllowed`, :class:`UnknownTransition` or
        :class:`ActorNotAllowed`; guards are checked by the engine afterwards.
        """
        if name == self.on_payment and not settling:
            message = f"{name} happens when the order's payment settles; pay it with POST /orders/{order_id}/payments"
            raise TransitionNotAllowed(message, extra={"state": state})
        transition = self.transition(name)
        allowed = self.available(state, roles)
        if transition is None:
            names = ", ".join(t.name for t in self.transitions)
            raise UnknownTransition(
                f"process {self.name} has no transition {name!r}; it has: {names}",
                extra={"allowed_transitions": allowed},
            )
        if state not in transition.sources:
            message = (
                f"order {order_id} is {state}; {name} is possible only from {', '.join(transition.sources)}"
            )
            raise TransitionNotAllowed(message, extra={"state": state, "allowed_transitions": allowed})
        acting = [role for role in transition.actors if role in roles]
        if not acting:
            message = f"{name} is for the {' or '.join(transition.actors)} of the order"
            raise ActorNotAllowed(message, extra={"state": state, "allowed_transitions": allowed})
        return transition, acting[0]

    def timers_for(self, state: str) -> list[Timer]:
        return [timer for timer in self.timers if timer.state == state]

    def mermaid(self) -> str:
        """The state diagram in Mermaid syntax (for docs)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            for source in t.sources:
                lines.append(f"    {source} --> {t.target}: {t.name} ({', '.join(t.actors)})")
        for timer in self.timers:
            lines.append(
                f"    note right of {timer.state}: after {_duration(timer.after)} → {timer.transition}"
            )
        policy = self.disputes
        if policy is not None and policy.hold is not None:
            for source in policy.states:
                lines.append(f"    {source} --> {policy.hold}: dispute ({', '.join(policy.openers)})")
            lines.append(f"    {policy.hold} --> {policy.refunded}: refund (operator)")
            lines.append(f"    {policy.hold} --> {policy.released}: release (operator)")
            lines.append(f"    note right of {policy.hold}: reject (operator) → back to where it was")
        lines += [f"    {state} --> [*]" for state in self.final]
        return "\n".join(lines)


def _duration(span: timedelta) -> str:
    """``3 days``, ``72 hours``, ``90 minutes``: a timer's wait in words, for diagrams."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
