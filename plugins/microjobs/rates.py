"""A worker's success rate, and the withdrawal gate built on it.

The success rate is ``satisfied / rated`` over the worker's tasks with proof
(paid-to-click visits are never rated and do not count):

- *satisfied*: the employer was satisfied, the worker sweep satisfied an unrated proof
  after ``auto_satisfy_days``, or an operator released the task's money in a dispute;
- *rated*: satisfied + not satisfied (paid anyway after the correction) + refunded to the
  employer by a dispute.

It is shown as a percentage with one decimal, rounded down (37 of 50 is ``"74.0"``; 2 of
3 is ``"66.6"``), and ``null`` while the worker has no rated task.  Every comparison
with a setting is made on exact integers: a worker reaches ``min_success_rate`` when
``satisfied * 100 >= min_success_rate * rated``; the shown figure is never what is
compared.

A withdrawal (``agorakit_can_withdraw``) needs, on top of the payout method's own
minimum, an available balance of at least ``min_withdrawal`` (in the request's currency)
and, for a worker (a member who has taken a task, or every member when
``success_rate_applies_to`` is ``"everyone"``), a success rate of at least
``min_success_rate``.  A worker with no rated task has no rate: they may withdraw only
when ``min_success_rate`` is 0.  A request above the available balance is left to the
core (``409 insufficient_funds``).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.aggregate import Count

from agorakit.accounts import MemberOut, get_member, is_operator
from agorakit.errors import NotFound
from agorakit.money import exponent, format_amount, member_balance
from agorakit.plugins.microjobs.schemas import WorkerStats
from agorakit.plugins.microjobs.tables import Campaign, Task

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

NAME = "microjobs"
#: task statuses that count as rated, and those of them that count as satisfied
SATISFIED = ("satisfied",)
RATED = ("satisfied", "unsatisfied", "refunded")
#: statuses of a task with proof still going on
IN_PROGRESS = ("taken", "submitted", "correcting", "disputed")


def success_rate(satisfied: int, rated: int) -> str | None:
    """``satisfied / rated`` in percent, one decimal, rounded down; None without rated tasks."""
    if rated <= 0:
        return None
    tenths = satisfied * 1000 // rated
    return f"{tenths // 10}.{tenths % 10}"


def reaches(satisfied: int, rated: int, minimum: int) -> bool:
    """Whether the rate reaches ``minimum`` percent, compared on exact integers; no rated
    task reaches only a minimum of 0."""
    if rated <= 0:
        return minimum <= 0
    return satisfied * 100 >= minimum * rated


async def worker_stats(member_id: int) -> WorkerStats:
    """The counts of a worker's tasks and their success rate."""
    rows = await (
        Task.select(Task.ptc, Task.status, Count(Task.id, alias="n"))
        .where(Task.worker_id == member_id)
        .group_by(Task.ptc, Task.status)
    )
    by_status: dict[str, int] = {}
    clicks = 0
    for row in rows:
        if row["ptc"]:
            clicks += row["n"] if row["status"] == "paid" else 0
        else:
            by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
    satisfied = sum(by_status.get(s, 0) for s in SATISFIED)
    rated = sum(by_status.get(s, 0) for s in RATED)
    return WorkerStats(
        member_id=member_id,
        rated=rated,
        satisfied=satisfied,
        success_rate=success_rate(satisfied, rated),
        in_progress=sum(by_status.get(s, 0) for s in IN_PROGRESS),
        clicks=clicks,
    )


async def worked_for(worker_id: int, employer_id: int) -> bool:
    """Whether ``worker_id`` took a task of one of ``employer_id``'s campaigns."""
    theirs = Campaign.select(Campaign.id).where(Campaign.employer_id == employer_id)
    return await Task.exists().where((Task.worker_id == worker_id) & Task.campaign_id.is_in(theirs))


async def stats_for(runtime: Runtime, member_id: int, *, caller: MemberOut) -> WorkerStats:
    """A worker's stats for the worker, an employer they worked for, or an operator; a
    404 for anyone else (and for an unknown member)."""
    if is_operator(caller):
        await get_member(runtime, member_id)  # 404 for an unknown member
    elif caller.id != member_id and not await worked_for(member_id, caller.id):
        raise NotFound(f"there is no worker {member_id} you worked with")
    return await worker_stats(member_id)


def minor(amount_text: str, currency: str) -> int:
    """A settings amount (``"10.00"``) in minor units of ``currency``, rounded up."""
    scaled = Decimal(amount_text) * (10 ** exponent(currency))
    return int(scaled.to_integral_value(rounding=ROUND_CEILING))


async def withdrawal_refusal(runtime: Runtime, member: MemberOut, request: Any) -> str | None:
    """``agorakit_can_withdraw``: None to allow, else which rule failed with the figures."""
    settings = runtime.plugin_settings(NAME)
    currency = request.currency
    worker = settings.success_rate_applies_to == "everyone" or await Task.exists().where(
        Task.worker_id == member.id
    )
    least = minor(settings.min_withdrawal, currency)
    available, _credit = await member_balance(member.id, currency)
    if request.amount > available:
        return None  # more than the balance: the core refuses it (409 insufficient_funds)
    if available < least:
        return (
            f"your available balance is {format_amount(available, currency)} {currency}; "
            f"withdrawals need at least {format_amount(least, currency)} {currency} "
            "(wallet credit does not count)"
        )
    if not worker:
        return None  # never took a task: the rate is for workers only
    stats = await worker_stats(member.id)
    minimum = settings.min_success_rate
    if not reaches(stats.satisfied, stats.rated, minimum):
        if stats.rated == 0:
            return (
                f"you have no rated task yet, so no success rate; withdrawals need a success rate "
                f"of {minimum}%"
            )
        return (
            f"your success rate is {stats.success_rate}% ({stats.satisfied} of {stats.rated} "
            f"rated tasks); withdrawals need {minimum}%"
        )
    return None
