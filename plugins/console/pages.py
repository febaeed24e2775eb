"""The console's own pages: their controllers, navigation and the queues they list."""

from __future__ import annotations

from typing import Any

from .account import AccountPages
from .home import HomePages
from .listings import ListingPages
from .members import MemberPages
from .money import MoneyPages
from .orders import OrderPages
from .web import PREFIX

#: every controller of the console's own pages
CONTROLLERS: list[Any] = [AccountPages, HomePages, ListingPages, MemberPages, MoneyPages, OrderPages]

#: navigation groups of the console's own pages: (title, [(title, path)])
NAV: list[tuple[str, list[tuple[str, str]]]] = [
    ("Queues", [("Home", PREFIX), ("Listings to review", f"{PREFIX}/listings")]),
    ("People", [("Members", f"{PREFIX}/members")]),
    ("Money", [("Fees, payments, ledger", f"{PREFIX}/money"), ("Orders", f"{PREFIX}/orders")]),
    ("Site", [("Plugins and settings", f"{PREFIX}/site")]),
]

#: a core queue's key (``GET /operator/queues``) -> the console page that lists it
QUEUE_PAGES: dict[str, str] = {
    "listings.review": f"{PREFIX}/listings",
}
