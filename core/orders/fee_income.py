"""The site's fee income: what the platform fee account (``platform:fees``) took in, per
UTC day and per kind, for ``GET /operator/ledger/fee-income``.

Every posting that credits or debits the fee account names what it belongs to in its
refs: the fee of an order (its release, a dispute's release, a lead's charge) and the
refunds of that fee (a clawback after completion, a refunded charge) carry
``{"order": <id>}``, a withdrawal's fee ``{"withdrawal": <id>}``.  The kind of an entry
is therefore read from its posting: the order's process (``gig_order``,
``microjob_task``, ``prepaid_request``, ``lead_unlock``, ...), ``withdrawal``, else the
posting's own kind (a plugin's posting that names neither).  Refunds are negative
entries and count against their day.  Grouped in SQL, by UTC day, on both databases.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from agorakit.errors import FieldError, ValidationFailed
from agorakit.money import ledger
from agorakit.money.amounts import money
from agorakit.money.tables import LedgerEntry
from agorakit.orders.schemas import FeeIncome, FeeIncomeDay

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: days a range covers when ``from`` is not given (today included)
DEFAULT_DAYS = 30
#: the longest range, in days
MAX_DAYS = 366
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_SQL = """
SELECT {day} AS day,
       CASE WHEN o.process IS NOT NULL THEN o.process
            WHEN {withdrawal} IS NOT NULL THEN 'withdrawal'
            ELSE t.kind END AS kind,
       SUM(e.amount) AS total
FROM core_ledger_entry e
JOIN core_ledger_transaction t ON t.id = e."transaction"
LEFT JOIN core_order o ON o.id = {order}
WHERE e.account = (SELECT id FROM core_ledger_account WHERE name = {{}} AND currency = {{}})
  AND e.created_at >= {{}} AND e.created_at < {{}}
GROUP BY 1, 2
ORDER BY 1, 2
"""

_SQLITE = _SQL.format(
    day="substr(e.created_at, 1, 10)",
    withdrawal="json_extract(t.refs, '$.withdrawal')",
    order="CASE WHEN json_type(t.refs, '$.order') = 'integer' THEN json_extract(t.refs, '$.order') END",
)
_POSTGRES = _SQL.format(
    day="to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    withdrawal="t.refs::jsonb -> 'withdrawal'",
    # (an order id is a whole number; anything else in the ref joins no order)
    order=(
        "CASE WHEN jsonb_typeof(t.refs::jsonb -> 'order') = 'number' "
        "AND (t.refs::jsonb ->> 'order') ~ '^[0-9]+$' AND length(t.refs::jsonb ->> 'order') < 19 "
        "THEN (t.refs::jsonb ->> 'order')::bigint END"
    ),
)


def parse_day(text: str | None, field: str) -> date | None:
    """A ``YYYY-MM-DD`` query parameter as a date (None when not given); else a 422."""
    if text is None:
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed([FieldError(field, "give a day as YYYY-MM-DD", "query")]) from None


def fee_range(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for: ``end`` defaults to today, ``start`` to 29 days before
    ``end`` (30 days); 422 when ``start`` is after ``end`` or the range covers more than
    366 days."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed([FieldError("from", f"must be on or before to ({end.isoformat()})", "query")])
    if (end - start).days + 1 > MAX_DAYS:
        message = f"a range covers at most {MAX_DAYS} days; this one covers {(end - start).days + 1}"
        raise ValidationFailed([FieldError("to", message, "query")])
    return start, end


async def fee_income(
    runtime: Runtime, *, start: date | None = None, end: date | None = None, currency: str | None = None
) -> FeeIncome:
    """The fee account's entries in ``currency`` (default: the site's) summed per UTC day
    and kind, from ``start`` to ``end`` (both included; see :func:`fee_range`)."""
    currency = currency or runtime.settings.site.currency
    if currency not in runtime.currencies:
        accepted = ", ".join(runtime.currencies)
        raise ValidationFailed([FieldError("currency", f"this site accepts {accepted}", "query")])
    start, end = fee_range(runtime.clock.now().astimezone(UTC).date(), start, end)
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    sql = _POSTGRES if runtime.db.is_postgres else _SQLITE
    rows = await LedgerEntry.raw(sql, ledger.PLATFORM_FEES, currency, since, until)
    per_day: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        per_day[row["day"]][row["kind"]] = int(row["total"])
    totals: dict[str, int] = defaultdict(int)
    days = []
    for offset in range((end - start).days + 1):
        day = (start + timedelta(days=offset)).isoformat()
        kinds = per_day.get(day, {})
        for kind, amount in kinds.items():
            totals[kind] += amount
        days.append(
            FeeIncomeDay(
                day=day,
                by_kind={kind: money(amount, currency) for kind, amount in sorted(kinds.items())},
                total=money(sum(kinds.values()), currency),
            )
        )
    return FeeIncome(
        currency=currency,
        from_=start.isoformat(),
        to=end.isoformat(),
        days=days,
        by_kind={kind: money(amount, currency) for kind, amount in sorted(totals.items())},
        total=money(sum(totals.values()), currency),
    )
