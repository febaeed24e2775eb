"""The two order processes of a campaign's positions, built from the plugin's settings.

``microjob_task``: a worker takes a position, submits proof, the employer rates it (one
correction chance, then paid anyway), unrated proofs are satisfied by the worker sweep.
``microjob_click``: a paid-to-click visit, confirmed after ``ptc_min_seconds`` and paid
at once.  Every transition ends with the plugin's ``microjobs_task_moved`` effect, which
keeps the task row and the campaign's counters and escrow in step in the same
transaction.
"""

from __future__ import annotations

from datetime import timedelta

from agorakit.orders import DisputePolicy, Process, Timer, Transition
from agorakit.plugins.microjobs.settings import MicrojobsSettings

TASK = "microjob_task"
CLICK = "microjob_click"
MOVED = "microjobs_task_moved"

#: final states in which the worker was paid, and in which the position is freed unpaid
PAID = ("satisfied", "unsatisfied", "paid")
FREED = ("expired", "given_up", "abandoned", "lapsed")

DISPUTE_REASONS = {
    "unfair_rating": "The employer's rating or correction request is unfair",
    "proof_not_genuine": "The proof is not genuine (copied, faked or not the task asked for)",
    "employer_unresponsive": "The employer does not answer about the task",
}


def task_process(settings: MicrojobsSettings) -> Process:
    return Process(
        name=TASK,
        version=1,
        states=(
            "taken",
            "submitted",
            "correcting",
            "disputed",
            "satisfied",
            "unsatisfied",
            "expired",
            "given_up",
            "abandoned",
            "refunded",
        ),
        initial="taken",
        final=("satisfied", "unsatisfied", "expired", "given_up", "abandoned", "refunded"),
        transitions=(
            Transition(
                name="submit",
                sources=("taken", "correcting"),
                target="submitted",
                actors=("seller",),
                guards=("microjobs_proof_waiting",),
                effects=(MOVED,),
                summary="the worker submits proof (POST /microjobs/tasks/{id}/proof)",
            ),
            Transition(
                name="satisfy",
                sources=("submitted",),
                target="satisfied",
                actors=("buyer",),
                effects=("release_escrow", MOVED),
                summary="the employer is satisfied: the worker is paid at once",
            ),
            Transition(
                name="request_correction",
                sources=("submitted",),
                target="correcting",
                actors=("buyer",),
                guards=("microjobs_first_rating",),
                effects=(MOVED,),
                summary=(
                    "not satisfied the first time: the worker may correct and resubmit within "
                    f"{settings.correction_hours} hours"
                ),
            ),
            Transition(
                name="reject",
                sources=("submitted",),
                target="unsatisfied",
                actors=("buyer",),
                guards=("microjobs_was_corrected",),
                effects=("release_escrow", MOVED),
                summary="still not satisfied after the correction: paid anyway, cannot take the campaign again",
            ),
            Transition(
                name="auto_satisfy",
                sources=("submitted",),
                target="satisfied",
                actors=("system",),
                effects=("microjobs_accept_proofs", "release_escrow", MOVED),
                summary=f"a proof not rated within {settings.auto_satisfy_days} days is satisfied and paid",
            ),
            Transition(
                name="give_up",
                sources=("taken",),
                target="given_up",
                actors=("seller",),
                effects=(MOVED,),
                summary="the worker gives the position back before submitting",
            ),
            Transition(
                name="expire",
                sources=("taken",),
                target="expired",
                actors=("system",),
                effects=(MOVED,),
                summary="no proof in the time the campaign gives: the position is free again",
            ),
            Transition(
                name="abandon",
                sources=("correcting",),
                target="abandoned",
                actors=("system",),
                effects=(MOVED,),
                summary=f"no corrected proof within {settings.correction_hours} hours: unpaid, the position is free",
            ),
        ),
        timers=(
            Timer(
                state="taken",
                after=timedelta(minutes=settings.submit_minutes),
                after_from="submit_seconds",
                transition="expire",
            ),
            Timer(state="correcting", after=timedelta(hours=settings.correction_hours), transition="abandon"),
            Timer(
                state="submitted", after=timedelta(days=settings.auto_satisfy_days), transition="auto_satisfy"
            ),
        ),
        on_proof={
            "submitted": "submit",
            "accepted": "satisfy",
            "correction_requested": "request_correction",
            "rejected": "reject",
        },
        disputes=DisputePolicy(
            reasons=DISPUTE_REASONS,
            states=("submitted", "correcting"),
            openers=("buyer", "seller"),
            window=timedelta(days=settings.dispute_window_days),
            review_within=timedelta(hours=settings.dispute_review_hours),
            hold="disputed",
            refunded="refunded",
            released="satisfied",
        ),
    )


def click_process(settings: MicrojobsSettings) -> Process:
    return Process(
        name=CLICK,
        version=1,
        states=("visited", "paid", "lapsed"),
        initial="visited",
        final=("paid", "lapsed"),
        transitions=(
            Transition(
                name="confirm",
                sources=("visited",),
                target="paid",
                actors=("seller",),
                guards=("microjobs_visit_long_enough",),
                effects=("release_escrow", MOVED),
                summary=f"the worker confirms a visit of at least {settings.ptc_min_seconds} seconds: paid at once",
            ),
            Transition(
                name="lapse",
                sources=("visited",),
                target="lapsed",
                actors=("system",),
                effects=(MOVED,),
                summary=f"a visit not confirmed within {settings.ptc_visit_minutes} minutes frees its position",
            ),
        ),
        timers=(
            Timer(state="visited", after=timedelta(minutes=settings.ptc_visit_minutes), transition="lapse"),
        ),
    )
