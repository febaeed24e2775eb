"""Tables of the microjobs plugin.

A campaign is a catalog listing of kind ``campaign`` (title, description, category, the
reward as its price, the instructions and proof fields as its attributes) plus a
:class:`Campaign` row with what the plugin keeps: its mode and audience, its positions
and its money.  Each position a worker takes is an order (process ``microjob_task``, or
``microjob_click`` for paid-to-click) and a :class:`Task` row.
"""

from piccolo.columns import JSON, BigInt, Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class Campaign(Table, tablename="microjobs_campaign"):
    """An employer's funded campaign: positions, reward and the escrow that pays them.

    Its escrow (``campaign:{id}:escrow``) always holds ``(positions - taken) x per_position``:
    a position taken moves ``per_position`` into the task's order escrow, a position freed
    moves it back, and a stopped campaign gives the free positions' money back to the
    employer's wallet credit.
    """

    listing_id = Integer(unique=True)
    employer_id = Integer(index=True)
    currency = Varchar(length=3)
    category = Varchar(length=120, help_text="Slug of the listing's category.")
    mode = Varchar(length=16, help_text="basic | international | limited | hired_group | ptc")
    countries = Text(default="", help_text="Who may do it: ',US,GB,' (basic, limited); empty = everyone.")
    group_id = Integer(null=True, default=None, help_text="The hired group (mode hired_group).")
    reward = BigInt(help_text="What a worker earns per task before worker fees, minor units.")
    employer_fee = BigInt(default=0, help_text="The employer's fee per position, minor units.")
    worker_fee = BigInt(default=0, help_text="Fees taken from each reward, minor units.")
    requested = Integer(default=0, help_text="Positions the first funding pays for.")
    positions = Integer(default=0, help_text="Funded positions (settled payments, less stopped).")
    taken = Integer(default=0, help_text="Positions held by a task in progress or done.")
    done = Integer(default=0, help_text="Tasks finished (paid, or ended by a dispute).")
    submit_minutes = Integer(help_text="Minutes a worker has to submit after taking a position.")
    ptc_url = Text(null=True, default=None, help_text="Where a paid-to-click visit sends the worker.")
    state = Varchar(
        length=16,
        index=True,
        help_text="awaiting_funds | pending_review | active | paused | rejected | stopped | finished",
    )
    idempotency_key = Varchar(length=200, null=True, default=None, help_text="The creating request's key.")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    stopped_at = Timestamptz(null=True, default=None)


class Funding(Table, tablename="microjobs_funding"):
    """One payment into a campaign's escrow: the first funding or added positions."""

    campaign_id = Integer(index=True)
    payment_id = Integer(unique=True)
    positions = Integer()
    amount = BigInt(help_text="positions x (reward + employer fee), minor units.")
    status = Varchar(length=12, help_text="pending | settled | refunded")
    created_at = Timestamptz()
    settled_at = Timestamptz(null=True, default=None)


class Task(Table, tablename="microjobs_task"):
    """A worker's position in a campaign; one per worker and campaign, ever."""

    campaign_id = Integer(index=True)
    worker_id = Integer(index=True)
    order_id = Integer(unique=True)
    ptc = Boolean(default=False)
    status = Varchar(
        length=12,
        index=True,
        help_text="taken | submitted | correcting | satisfied | unsatisfied | expired | abandoned "
        "| disputed | refunded | visited | paid | lapsed",
    )
    answers = JSON(default={}, help_text="The latest proof's answers, by proof field name.")
    corrections = Integer(default=0, help_text="Corrections the employer asked for (at most 1).")
    reason = Text(null=True, default=None, help_text="The employer's reason when not satisfied.")
    feedback = Text(null=True, default=None, help_text="The employer's feedback on the work.")
    auto = Boolean(default=False, help_text="Satisfied by the worker sweep, not the employer.")
    visit_token = Varchar(
        length=64, null=True, default=None, unique=True, help_text="SHA-256 of a PTC visit's token."
    )
    visited_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    rated_at = Timestamptz(null=True, default=None)


class WorkerGroup(Table, tablename="microjobs_group"):
    """An employer's named group of workers (for ``hired_group`` campaigns)."""

    employer_id = Integer(index=True)
    name = Varchar(length=80)
    created_at = Timestamptz()


class GroupMember(Table, tablename="microjobs_group_member"):
    group_id = Integer(index=True)
    member_id = Integer(index=True)
    added_at = Timestamptz()


class Skill(Table, tablename="microjobs_skill"):
    """A category a member says they can work in ("MyAccount → Add more skills")."""

    member_id = Integer(index=True)
    category = Varchar(length=120)
    created_at = Timestamptz()
