"""Demo data of the microjobs plugin (``agorakit demo``), made through the services as real
use would: workers from several countries, a campaign in every mode funded from the
employer's balance and published, a hired group, tasks in different states, a voucher
and an offer.

The employer is the demo's seller (Sam Seller, GB), who pays the campaigns from the
earned balance the demo opens with ("use your earned balance to start a campaign").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import catalog
from agorakit.accounts import RegisterMember, register
from agorakit.catalog import CreateCategory, CreateListing
from agorakit.money import Money, issue_voucher, redeem_voucher
from agorakit.orders import pay_order
from agorakit.plugins.microjobs import campaigns, funding, groups, offers, tasks
from agorakit.plugins.microjobs.schemas import (
    Answer,
    CreateCampaign,
    GroupIn,
    GroupMemberIn,
    ProofField,
    RateTask,
    SubmitTaskProof,
)

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

CATEGORIES = [
    ("social-media", "Social media", None),
    ("follow-and-like", "Follow and like", "social-media"),
    ("app-testing", "App and web testing", None),
    ("surveys", "Surveys", None),
]

#: (key, email, display name, country); every worker's password is WORKER_PASSWORD
WORKERS = [
    ("worker_us", "uma.worker@example.com", "Uma Worker", "US"),
    ("worker_gb", "george.worker@example.com", "George Worker", "GB"),
    ("worker_in", "indira.worker@example.com", "Indira Worker", "IN"),
    ("worker_fr", "fabien.worker@example.com", "Fabien Worker", "FR"),
]
WORKER_PASSWORD = "demo-worker-pass-2026"


def _campaign(mode: str, title: str, category: str, reward: str, positions: int, **extra: Any) -> dict:
    return {
        "title": title,
        "mode": mode,
        "category": category,
        "reward": reward,
        "positions": positions,
        "extra": extra,
    }


CAMPAIGNS = [
    _campaign(
        "basic",
        "Follow our bakery's page and like the pinned post",
        "follow-and-like",
        "0.50",
        10,
        description="We are a small bakery growing our community.",
        instructions=["Open our page", "Follow it", "Like the pinned post"],
        proof=[
            ProofField(name="username", label="Your username on the site", type="text"),
            ProofField(name="profile", label="Link to your profile", type="url"),
        ],
    ),
    _campaign(
        "international",
        "Answer a five-minute survey about breakfast",
        "surveys",
        "0.20",
        20,
        description="Eight questions about what you eat in the morning, from anywhere in the world.",
        instructions=["Open the survey", "Answer the eight questions", "Copy the code shown at the end"],
        proof=[ProofField(name="code", label="The code shown at the end", type="text")],
    ),
    _campaign(
        "limited",
        "Test our checkout in Hindi or French",
        "app-testing",
        "0.30",
        10,
        description="Buy a test product with the demo card and tell us what reads badly.",
        instructions=["Switch the shop to your language", "Buy the test product", "Note what reads badly"],
        proof=[ProofField(name="notes", label="What reads badly", type="text")],
        countries=["IN", "FR"],
    ),
    _campaign(
        "hired_group",
        "Write a 100-word review of our new app",
        "app-testing",
        "1.00",
        5,
        description="For the testers we worked with before: use the app for a day and review it.",
        instructions=["Install the app", "Use it for a day", "Write 100 words about it"],
        proof=[ProofField(name="review", label="Your review", type="text")],
    ),
    _campaign(
        "ptc",
        "Visit our spring menu for 10 seconds",
        "social-media",
        "0.10",
        20,
        description="Open the page and look at the menu.",
        instructions=["Open the page", "Stay for 10 seconds", "Confirm"],
        url="https://bakery.example/spring",
    ),
]


async def _categories(runtime: Runtime, operator: Any) -> None:
    existing = set((await catalog.category_slugs()).values())
    for slug, name, parent in CATEGORIES:
        if slug not in existing:
            await catalog.create_category(
                runtime, CreateCategory(slug=slug, name=name, parent=parent), actor_id=operator.id
            )


async def _workers(runtime: Runtime) -> dict[str, Any]:
    workers = {}
    for key, email, name, country in WORKERS:
        cmd = RegisterMember(email=email, password=WORKER_PASSWORD, display_name=name, country=country)
        workers[key] = await register(runtime, cmd, email_verified=True)
    return workers


async def _group(runtime: Runtime, employer: Any, members: list[Any]) -> int:
    """The employer's group of trusted testers (for the hired_group campaign), made as an
    employer makes it: each worker added is told."""
    group = await groups.create_group(runtime, GroupIn(name="Trusted testers"), employer=employer)
    for member in members:
        await groups.add_member(runtime, group.id, GroupMemberIn(member_id=member.id), employer=employer)
    return group.id


async def _live(runtime: Runtime, spec: dict, employer: Any, operator: Any, currency: str, **more) -> int:
    """A campaign created, paid from the employer's balance and approved; its id."""
    cmd = CreateCampaign(
        title=spec["title"],
        category=spec["category"],
        reward=Money(amount=spec["reward"], currency=currency),
        positions=spec["positions"],
        mode=spec["mode"],
        method="balance",
        **spec["extra"],
        **more,
    )
    campaign, _ = await funding.create_campaign(runtime, cmd, employer=employer)
    if campaign.state == "pending_review":
        await catalog.moderate(runtime, campaign.listing_id, approve=True, actor_id=operator.id)
    return campaign.id


async def _submitted(runtime: Runtime, campaign_id: int, worker: Any, **answers: str) -> int:
    order_id = await tasks.take_task(runtime, campaign_id, worker=worker)
    cmd = SubmitTaskProof(answers=[Answer(field=name, value=value) for name, value in answers.items()])
    await tasks.submit_task_proof(runtime, order_id, cmd, caller=worker)
    return order_id


async def load_demo_microjobs(runtime: Runtime, members: dict[str, Any]) -> None:
    employer, operator, buyer = members["seller"], members["operator"], members["buyer"]
    currency = runtime.settings.site.currency
    settings = campaigns.settings_of(runtime)
    await _categories(runtime, operator)
    workers = await _workers(runtime)
    us, gb, india, fr = (workers[k] for k in ("worker_us", "worker_gb", "worker_in", "worker_fr"))
    group_id = await _group(runtime, employer, [india, fr])

    ids = {}
    for spec in CAMPAIGNS:
        if spec["mode"] in settings.modes:
            more = {"group_id": group_id} if spec["mode"] == "hired_group" else {}
            ids[spec["mode"]] = await _live(runtime, spec, employer, operator, currency, **more)

    # Tasks in different states: paid, waiting for a rating, asked to correct, taken.
    if "basic" in ids:
        done = await _submitted(
            runtime, ids["basic"], us, username="uma_eats", profile="https://social.example/uma"
        )
        await tasks.rate_task(
            runtime, done, RateTask(satisfied=True, feedback="Thank you, Uma!"), caller=employer
        )
        await _submitted(
            runtime, ids["basic"], gb, username="george_g", profile="https://social.example/george"
        )
        await tasks.take_task(runtime, ids["basic"], worker=buyer)
    if "international" in ids:
        fixing = await _submitted(runtime, ids["international"], india, code="BRKF-2291")
        reason = "The code is not one our survey gives; copy the code on the last page."
        await tasks.rate_task(runtime, fixing, RateTask(satisfied=False, reason=reason), caller=employer)
        paid = await _submitted(runtime, ids["international"], fr, code="BRKF-7714")
        await tasks.rate_task(runtime, paid, RateTask(satisfied=True), caller=employer)
    if "limited" in ids:
        await _submitted(
            runtime, ids["limited"], india, notes="The delivery step says 'shipment' in English."
        )
    if "hired_group" in ids:
        await tasks.take_task(runtime, ids["hired_group"], worker=fr)

    if runtime.settings.vouchers.enabled:
        # A voucher Fabien redeemed into his wallet, and one the employer still holds.
        redeemed, _ = await issue_voucher(runtime, issuer_id=employer.id, amount=500, currency=currency)
        await redeem_voucher(runtime, code=redeemed.code or "", member_id=fr.id)
        await issue_voucher(runtime, issuer_id=employer.id, amount=1000, currency=currency)

    if settings.offers:
        await _offer(runtime, india, buyer, currency)


async def _offer(runtime: Runtime, seller: Any, buyer: Any, currency: str) -> None:
    """Indira's offer, published at once, and the buyer's paid order of it."""
    cmd = CreateListing(
        kind=offers.KIND,
        title="I will translate your shop's product pages into Hindi",
        description="Natural Hindi for up to 500 words of product descriptions, checked twice.",
        price=Money(amount="8.00", currency=currency),
        category="app-testing",
        attributes={"delivery_days": 2, "requirements": "The pages' text, and who your buyers are."},
    )
    listing = await catalog.create_listing(runtime, cmd, owner=seller)
    await catalog.submit_listing(runtime, listing.id, owner=seller)
    order = await offers.order_offer(
        runtime, listing.id, offers.OrderOffer(requirements="Our three cake pages."), buyer=buyer
    )
    await pay_order(runtime, order.id, caller=buyer, method="balance")
