"""Demo data of the prepaid plugin (``agorakit demo``), made through the services as real
use would: a games tree with its service types, sellers with approved access and one
applicant waiting, and Bea Buyer's requests in several states.

- Sam Seller (the demo's seller) has access to ``valorant``; Kai Carry to the whole
  ``games`` tree; Lena Coach applied for ``league`` and waits for an operator.
- Prepaid requests, paid from Bea's credit: two open in the feed, one locked by Kai
  (a 24-hour timeframe), one delivered by Sam and waiting for Bea's confirmation.
- Classic requests: one with Kai's offer, one without offers yet.

The service types come from the demo's ``site.toml``, which ``agorakit demo`` writes with
:data:`DEMO_SETTINGS` (the plugin's ``agorakit_demo_settings``).  On a site with other
settings, a request whose mode or service type the site does not offer is left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import catalog
from agorakit.accounts import RegisterMember, register
from agorakit.catalog import ApplyQualification, CreateCategory
from agorakit.money import Money
from agorakit.orders import deliver_order
from agorakit.plugins.prepaid import locks, offers, requests, service_types
from agorakit.plugins.prepaid.schemas import CreateRequest, MakeOffer, Mode

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

CATEGORIES = [
    ("games", "Games", None),
    ("valorant", "Valorant", "games"),
    ("league", "League of Legends", "games"),
]

RANKS = ["Iron", "Bronze", "Silver", "Gold", "Platinum", "Diamond"]

#: ``[plugins.prepaid]`` of the demo site: the service types of the games tree (valorant
#: and league use those of games, their nearest configured ancestor)
DEMO_SETTINGS: dict[str, Any] = {
    "service_types": {
        "games": [
            {
                "name": "rank_boost",
                "label": "Rank boost",
                "fields": [
                    {"name": "current_rank", "label": "Current rank", "type": "choice", "choices": RANKS},
                    {"name": "target_rank", "label": "Target rank", "type": "choice", "choices": RANKS},
                    {
                        "name": "notes",
                        "label": "Anything else",
                        "type": "text",
                        "required": False,
                        "max_length": 500,
                    },
                ],
            },
            {
                "name": "coaching",
                "label": "Coaching",
                "fields": [
                    {"name": "hours", "label": "Hours", "type": "integer", "min": 1, "max": 20},
                    {"name": "task", "label": "What to work on", "type": "text", "max_length": 1000},
                ],
            },
        ]
    }
}

#: (key, email, display name, country); their password is PASSWORD
SELLERS = [
    ("kai", "kai.carry@example.com", "Kai Carry", "US"),
    ("lena", "lena.coach@example.com", "Lena Coach", "DE"),
]
PASSWORD = "demo-gamer-pass-2026"

#: (key, mode, category, service type, details, price, timeframe hours, title)
REQUESTS: list[tuple[str, Mode, str, str, dict[str, Any], str, int, str]] = [
    (
        "delivered",
        "prepaid",
        "valorant",
        "rank_boost",
        {"current_rank": "Silver", "target_rank": "Gold"},
        "30.00",
        48,
        "Silver to Gold in Valorant",
    ),
    (
        "locked",
        "prepaid",
        "league",
        "coaching",
        {"hours": 2, "task": "Jungle pathing and early ganks"},
        "25.00",
        24,
        "Two hours of jungle coaching",
    ),
    (
        "open_valorant",
        "prepaid",
        "valorant",
        "rank_boost",
        {"current_rank": "Gold", "target_rank": "Platinum", "notes": "I play evenings, Europe time."},
        "40.00",
        72,
        "Gold to Platinum in Valorant",
    ),
    (
        "open_league",
        "prepaid",
        "league",
        "rank_boost",
        {"current_rank": "Bronze", "target_rank": "Silver"},
        "20.00",
        72,
        "Bronze to Silver in League",
    ),
    (
        "classic_offered",
        "classic",
        "valorant",
        "coaching",
        {"hours": 3, "task": "Aim and crosshair placement"},
        "30.00",
        72,
        "Aim coaching, three hours",
    ),
    (
        "classic_waiting",
        "classic",
        "league",
        "coaching",
        {"hours": 1, "task": "Review one of my ranked games"},
        "15.00",
        48,
        "Review one ranked game",
    ),
]


async def _categories(runtime: Runtime, operator: Any) -> None:
    existing = set((await catalog.category_slugs()).values())
    for slug, name, parent in CATEGORIES:
        if slug not in existing:
            await catalog.create_category(
                runtime, CreateCategory(slug=slug, name=name, parent=parent), actor_id=operator.id
            )


async def _access(runtime: Runtime, member: Any, category: str, note: str, *, approver: Any) -> None:
    """The member applies for ``category``; with an ``approver``, an operator approves it."""
    applied = await catalog.apply_for_qualification(
        runtime, ApplyQualification(category=category, note=note), member_id=member.id
    )
    if approver is not None:
        await catalog.decide_qualification(runtime, applied.id, approve=True, actor_id=approver.id)


async def _offered(runtime: Runtime, mode: str, category: str, service_type: str) -> bool:
    settings = requests.settings_of(runtime)
    types = await service_types.service_types_for(settings, category)
    return mode in settings.modes and any(t.name == service_type for t in types)


async def load_demo_prepaid(runtime: Runtime, members: dict[str, Any]) -> None:
    sam, buyer, operator = members["seller"], members["buyer"], members["operator"]
    currency = runtime.settings.site.currency
    await _categories(runtime, operator)
    people = {}
    for key, email, name, country in SELLERS:
        cmd = RegisterMember(email=email, password=PASSWORD, display_name=name, country=country)
        people[key] = await register(runtime, cmd, email_verified=True)
    kai, lena = people["kai"], people["lena"]
    await _access(runtime, sam, "valorant", "Immortal in Valorant; I coach aim.", approver=operator)
    await _access(runtime, kai, "games", "Diamond in League, Immortal in Valorant.", approver=operator)
    await _access(runtime, lena, "league", "I coach League teams at my club.", approver=None)

    made = {}
    for key, mode, category, service_type, details, price, hours, title in REQUESTS:
        if not await _offered(runtime, mode, category, service_type):
            continue
        cmd = CreateRequest(
            mode=mode,
            category=category,
            service_type=service_type,
            details=details,
            price=Money(amount=price, currency=currency),
            timeframe_hours=hours,
            title=title,
            method="balance" if mode == "prepaid" else None,
        )
        made[key], _ = await requests.create_request(runtime, cmd, buyer=buyer)

    if "delivered" in made:  # Sam locked it and delivered: Bea confirms, or it confirms itself
        locked = await locks.lock_request(runtime, made["delivered"].id, caller=sam)
        assert locked.order_id is not None
        message = "Reached Gold in 11 games; the match history is on my profile."
        await deliver_order(runtime, locked.order_id, message=message, attachments=[], caller=sam)
    if "locked" in made:  # Kai has 24 hours to deliver
        await locks.lock_request(runtime, made["locked"].id, caller=kai)
    if "classic_offered" in made:
        offer = MakeOffer(
            price=Money(amount="35.00", currency=currency),
            timeframe_hours=48,
            message="Three one-hour sessions on aim drills and crosshair placement, with replays.",
        )
        await offers.make_offer(runtime, made["classic_offered"].id, offer, seller=kai)
