"""The console's own pages: their controllers, navigation and the queues they list."""

from __future__ import annotations

from typing import Any

from .account import AccountPages
from .disputes import DisputePages
from .home import HomePages
from .integrations import IntegrationTokenPages
from .listings import ListingPages
from .members import MemberPages
from .messages import MessagePages
from .money import MoneyPages
from .orders import OrderPages
from .qualifications import QualificationPages
from .reports import ReportPages
from .reviews import ReviewPages
from .support import SupportPages
from .system import SystemPages
from .web import PREFIX
from .webhooks import WebhookPages
from .withdrawals import WithdrawalPages

#: every controller of the console's own pages
CONTROLLERS: list[Any] = [
    AccountPages,
    DisputePages,
    HomePages,
    IntegrationTokenPages,
    ListingPages,
    MemberPages,
    MessagePages,
    MoneyPages,
    OrderPages,
    QualificationPages,
    ReportPages,
    ReviewPages,
    SupportPages,
    SystemPages,
    WebhookPages,
    WithdrawalPages,
]

#: navigation groups of the console's own pages: (title, [(title, path)])
NAV: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Queues",
        [
            ("Home", PREFIX),
            ("Listings to review", f"{PREFIX}/listings"),
            ("Applications to sell", f"{PREFIX}/qualifications"),
            ("Disputes", f"{PREFIX}/disputes"),
            ("Reports", f"{PREFIX}/reports"),
            ("Withdrawals", f"{PREFIX}/withdrawals"),
            ("Support", f"{PREFIX}/support"),
            ("Flagged messages", f"{PREFIX}/messages"),
            ("Reviews", f"{PREFIX}/reviews"),
        ],
    ),
    ("People", [("Members", f"{PREFIX}/members")]),
    ("Money", [("Fees, payments, ledger", f"{PREFIX}/money"), ("Orders", f"{PREFIX}/orders")]),
    ("System", [("Timers, emails, events", f"{PREFIX}/system")]),
    (
        "Integrations",
        [("Webhooks", f"{PREFIX}/webhooks"), ("Integration tokens", f"{PREFIX}/integration-tokens")],
    ),
    ("Site", [("Plugins and settings", f"{PREFIX}/site")]),
]

#: a core queue's key (``GET /operator/queues``) -> the console page that lists it
QUEUE_PAGES: dict[str, str] = {
    "listings.review": f"{PREFIX}/listings",
    "qualifications.pending": f"{PREFIX}/qualifications",
    "disputes.open": f"{PREFIX}/disputes",
    "reports.open": f"{PREFIX}/reports",
    "withdrawals.requested": f"{PREFIX}/withdrawals?status=requested",
    "withdrawals.stuck": f"{PREFIX}/withdrawals?overdue=true",
    "support.waiting": f"{PREFIX}/support",
    "messages.flagged": f"{PREFIX}/messages",
    "timers.failed": f"{PREFIX}/system?tab=timers",
    "emails.failed": f"{PREFIX}/system?tab=emails",
    "events.failed": f"{PREFIX}/system?tab=events",
    "webhooks.failing": f"{PREFIX}/webhooks?status=failing",
}
