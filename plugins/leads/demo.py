"""Demo data of the leads plugin (``agorakit demo``), made through the services as real
use would: a home-services and lessons tree, customers in the US, GB and FR with jobs in
several states, businesses with service profiles and lead credit, an unlocked lead with a
chat, a reported lead waiting for an operator, and a customer who wrote first.

- Carla Home (US): a house cleaning job in 94110, unlocked by Sparkle Cleaning (12.00 from
  its credit), who chats with her; a plumbing job in 94103, unlocked by Bay Plumbing
  (20.00), who reported it (``job_changed``: the job turned out to be another one in
  another city) — the report waits in the dispute queue; an end-of-tenancy clean she
  closed (she hired someone).
- Greta Home (GB): a move from SW1A 1AA, open, nobody unlocked it yet; an office
  cleaning in London waiting for review.
- Hugo Home (FR): piano lessons in Paris — he wrote first to Atelier Musique, who is
  charged 8.00 when it replies; maths tutoring in 75011, open.
- Hana Handy (US) serves the whole home-services tree in the whole US.

Every business bought its lead credit by bank transfer (confirmed by the operator), so
the books show where the money came from.  The forms and prices come from the demo's
``site.toml`` (:data:`DEMO_SETTINGS`, the plugin's ``agorakit_demo_settings``); on a site
with other forms, each job fills the site's form with the demo's answers where they fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import catalog
from agorakit.accounts import RegisterMember, register
from agorakit.catalog import CreateCategory
from agorakit.messaging import PostMessage, post_message
from agorakit.money import external, fund_escrow, return_escrow, settle
from agorakit.plugins.leads import contact, jobs, profiles, reports, unlocks
from agorakit.plugins.leads.schemas import (
    CloseLead,
    ContactBusiness,
    CreateLead,
    LeadLocation,
    ReportLead,
    SaveProfile,
    ServiceArea,
    UnlockLead,
)

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

CATEGORIES = [
    ("home-services", "Home services", None),
    ("house-cleaning", "House cleaning", "home-services"),
    ("plumbing", "Plumbing", "home-services"),
    ("moving", "Moving", "home-services"),
    ("lessons", "Lessons", None),
    ("music-lessons", "Music lessons", "lessons"),
    ("tutoring", "Tutoring", "lessons"),
]

WHEN = {
    "name": "when",
    "label": "When do you need it",
    "type": "choice",
    "choices": ["As soon as possible", "Within a week", "Within a month", "I'm flexible"],
}

#: ``[plugins.leads]`` of the demo site: a form and a lead price per category (the
#: categories below one inherit them)
DEMO_SETTINGS: dict[str, Any] = {
    "details_by_category": {
        "house-cleaning": [
            {"name": "rooms", "label": "Number of rooms", "type": "integer", "min": 1, "max": 20},
            {
                "name": "frequency",
                "label": "How often",
                "type": "choice",
                "choices": ["Once", "Every week", "Every two weeks"],
            },
            WHEN,
        ],
        "plumbing": [
            {
                "name": "problem",
                "label": "What is the problem",
                "type": "choice",
                "choices": ["Leak", "Blocked drain", "Install a fixture", "Something else"],
            },
            WHEN,
        ],
        "moving": [
            {
                "name": "home_size",
                "label": "Size of the home",
                "type": "choice",
                "choices": ["Studio", "1 bedroom", "2 bedrooms", "3 bedrooms or more"],
            },
            {"name": "distance_km", "label": "Distance (km)", "type": "integer", "min": 1, "max": 3000},
            WHEN,
        ],
        "lessons": [
            {"name": "subject", "label": "What to learn", "type": "text", "max_length": 100},
            {
                "name": "level",
                "label": "Level",
                "type": "choice",
                "choices": ["Beginner", "Intermediate", "Advanced"],
            },
            {
                "name": "place",
                "label": "Where",
                "type": "choice",
                "choices": ["At my place", "At the teacher's", "Online"],
            },
        ],
    },
    "price_by_category": {
        "house-cleaning": "12.00",
        "plumbing": "20.00",
        "moving": "25.00",
        "lessons": "8.00",
    },
}

#: everyone's password
PASSWORD = "demo-leads-pass-2026"

#: (key, email, display name, country)
CUSTOMERS = [
    ("carla", "carla.home@example.com", "Carla Home", "US"),
    ("greta", "greta.home@example.com", "Greta Home", "GB"),
    ("hugo", "hugo.home@example.com", "Hugo Home", "FR"),
]

#: (key, email, display name, country, categories, areas, headline, lead credit bought)
BUSINESSES: list[tuple[str, str, str, str, list[str], list[dict[str, str]], str, int]] = [
    (
        "sparkle",
        "sparkle.cleaning@example.com",
        "Sparkle Cleaning",
        "US",
        ["house-cleaning"],
        [{"country": "US", "postal_prefix": "941"}],
        "Eco-friendly cleaning in San Francisco",
        5000,
    ),
    (
        "bay_plumbing",
        "bay.plumbing@example.com",
        "Bay Plumbing",
        "US",
        ["plumbing"],
        [{"country": "US", "postal_prefix": "941"}, {"country": "US", "city": "Oakland"}],
        "Licensed plumbers, same-day call-outs",
        4000,
    ),
    (
        "hana",
        "hana.handy@example.com",
        "Hana Handy",
        "US",
        ["home-services"],
        [{"country": "US"}],
        "Cleaning, small plumbing and moves anywhere in the US",
        3000,
    ),
    (
        "thames",
        "thames.movers@example.com",
        "Thames Movers",
        "GB",
        ["moving", "house-cleaning"],
        [{"country": "GB", "postal_prefix": "SW"}, {"country": "GB", "city": "London"}],
        "Removals and end-of-tenancy cleans across London",
        6000,
    ),
    (
        "atelier",
        "atelier.musique@example.com",
        "Atelier Musique",
        "FR",
        ["music-lessons"],
        [{"country": "FR", "city": "Paris"}],
        "Piano and guitar lessons in Paris",
        2000,
    ),
]

#: (key, customer, category, location, details, text, title); posted in this order
JOBS: list[tuple[str, str, str, dict[str, str], dict[str, Any], str, str | None]] = [
    (
        "cleaning",
        "carla",
        "house-cleaning",
        {"country": "US", "postal_code": "94110"},
        {"rooms": 3, "frequency": "Once", "when": "Within a week"},
        "Deep clean of a three-room flat before we move out at the end of the month, oven and windows included.",
        "Deep clean of a three-room flat",
    ),
    (
        "plumbing",
        "carla",
        "plumbing",
        {"country": "US", "postal_code": "94103"},
        {"problem": "Leak", "when": "As soon as possible"},
        "The kitchen sink leaks under the cabinet; the pipe joint looks loose and the floor gets wet.",
        "Leaking kitchen sink",
    ),
    (
        "tenancy",
        "carla",
        "house-cleaning",
        {"country": "US", "postal_code": "94117"},
        {"rooms": 2, "frequency": "Once", "when": "Within a month"},
        "End of tenancy clean of a two-room apartment, including the carpets and the balcony.",
        None,
    ),
    (
        "moving",
        "greta",
        "moving",
        {"country": "GB", "postal_code": "SW1A 1AA"},
        {"home_size": "2 bedrooms", "distance_km": 190, "when": "Within a month"},
        "Moving a two-bedroom flat from Westminster to Bristol: boxes, a sofa, a piano and two beds.",
        "Two-bedroom move, London to Bristol",
    ),
    (
        "piano",
        "hugo",
        "music-lessons",
        {"country": "FR", "city": "Paris"},
        {"subject": "Piano", "level": "Beginner", "place": "At my place"},
        "Weekly piano lessons for my ten-year-old daughter, who has just started to play.",
        "Piano lessons for a beginner",
    ),
    (
        "tutoring",
        "hugo",
        "tutoring",
        {"country": "FR", "postal_code": "75011"},
        {"subject": "Maths", "level": "Intermediate", "place": "Online"},
        "Maths tutoring twice a week for a high-school student preparing the baccalaureate.",
        "Maths tutoring, two evenings a week",
    ),
    (
        "office",
        "greta",
        "house-cleaning",
        {"country": "GB", "city": "London"},
        {"rooms": 4, "frequency": "Every week", "when": "I'm flexible"},
        "Weekly cleaning of a small four-room office near Borough Market, Friday evenings.",
        "Weekly office cleaning",
    ),
]

#: jobs left waiting for review; the others are approved by the operator
PENDING = {"office"}

CHAT = [
    ("sparkle", "Hi Carla, we can do the deep clean next Tuesday morning. Is the oven gas or electric?"),
    ("carla", "Electric. Tuesday works; the concierge has a key from 8 am."),
    ("sparkle", "Perfect, two of us will come at 9 and should be done by 2 pm."),
    ("carla", "Great, see you then!"),
]

REPORTED_CHAT = [
    ("bay_plumbing", "Hello Carla, I can look at the leak this afternoon. Is the shut-off valve reachable?"),
    (
        "carla",
        "Actually the sink is fine now; what I need is a whole new bathroom at my mother's house in Sacramento.",
    ),
]

REPORT_TEXT = (
    "The job is a bathroom renovation in Sacramento, not a sink leak in San Francisco: "
    "another service in another city."
)

FIRST_MESSAGE = "Bonjour! My daughter would love lessons on Wednesday afternoons. Do you have a slot?"


async def _categories(runtime: Runtime, operator: Any) -> None:
    existing = set((await catalog.category_slugs()).values())
    for slug, name, parent in CATEGORIES:
        if slug not in existing:
            await catalog.create_category(
                runtime, CreateCategory(slug=slug, name=name, parent=parent), actor_id=operator.id
            )


async def _buy_credit(runtime: Runtime, business: Any, cents: int, operator: Any) -> None:
    """The business pays ``cents`` by bank transfer; the operator confirms it and the
    money becomes the business's lead credit (spendable on leads, never withdrawable)."""
    currency = runtime.settings.site.currency
    ref = f"lead_credit:{business.id}"
    payment, _ = await fund_escrow(
        runtime, payer_id=business.id, ref=ref, amount=cents, currency=currency, method="bank_transfer"
    )
    async with runtime.unit_of_work() as uow:
        await settle(uow, payment, sources=[(external("bank_transfer"), cents)], actor_id=operator.id)
        await return_escrow(
            uow,
            key=f"{ref}:payment:{payment.id}",
            ref=ref,
            member_id=business.id,
            amount=cents,
            currency=currency,
            description="Lead credit bought by bank transfer",
            refs={"payment": payment.id},
            actor_id=operator.id,
        )


def _fill(fields: list[Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The site's form filled with the demo's answers where they fit, else a plausible one."""
    details: dict[str, Any] = {}
    for field in fields:
        value = wanted.get(field.name)
        if field.type == "choice":
            details[field.name] = value if value in field.choices else field.choices[0]
        elif field.type == "integer":
            number = value if isinstance(value, int) else (field.min if field.min is not None else 1)
            if field.min is not None:
                number = max(number, field.min)
            if field.max is not None:
                number = min(number, field.max)
            details[field.name] = number
        elif isinstance(value, str) or field.required:
            details[field.name] = (value if isinstance(value, str) else "See the description")[
                : field.max_length
            ]
    return details


async def _chat(runtime: Runtime, conversation_id: int, lines: list[tuple[str, str]], people: dict) -> None:
    for who, body in lines:
        await post_message(runtime, conversation_id, PostMessage(body=body), sender=people[who])


async def load_demo_leads(runtime: Runtime, members: dict[str, Any]) -> None:
    operator = members["operator"]
    settings = profiles.settings_of(runtime)
    await _categories(runtime, operator)
    people: dict[str, Any] = {}
    for key, email, name, country in CUSTOMERS:
        cmd = RegisterMember(email=email, password=PASSWORD, display_name=name, country=country)
        people[key] = await register(runtime, cmd, email_verified=True)
    for key, email, name, country, categories, areas, headline, credit in BUSINESSES:
        cmd = RegisterMember(email=email, password=PASSWORD, display_name=name, country=country)
        people[key] = business = await register(runtime, cmd, email_verified=True)
        profile = SaveProfile(
            categories=categories, areas=[ServiceArea(**area) for area in areas], headline=headline
        )
        await profiles.save_profile(runtime, profile, member=business)
        await _buy_credit(runtime, business, credit, operator)

    made: dict[str, Any] = {}
    for key, customer, category, location, wanted, text, title in JOBS:
        fields = await catalog.fields_for_category(
            settings.details_by_category, category, settings.default_details
        )
        cmd = CreateLead(
            category=category,
            location=LeadLocation(**location),
            details=_fill(fields, wanted),
            text=text,
            title=title,
        )
        made[key] = job = await jobs.post_lead(runtime, cmd, customer=people[customer])
        if job.status == "pending_review" and key not in PENDING:
            await catalog.moderate(runtime, job.listing_id, approve=True, actor_id=operator.id)

    await jobs.close_lead(
        runtime, made["tenancy"].id, CloseLead(reason="hired someone"), caller=people["carla"]
    )

    # Sparkle unlocked Carla's cleaning job and they agreed on a day.
    cleaning, _ = await unlocks.unlock_lead(
        runtime, made["cleaning"].id, UnlockLead(), business=people["sparkle"]
    )
    assert cleaning.conversation_id is not None
    await _chat(runtime, cleaning.conversation_id, CHAT, people)

    # Bay Plumbing unlocked the leak, learnt it was another job and reported the lead.
    plumbing, _ = await unlocks.unlock_lead(
        runtime, made["plumbing"].id, UnlockLead(), business=people["bay_plumbing"]
    )
    assert plumbing.conversation_id is not None
    await _chat(runtime, plumbing.conversation_id, REPORTED_CHAT, people)
    await reports.report_lead(
        runtime,
        made["plumbing"].id,
        ReportLead(reason="job_changed", text=REPORT_TEXT),
        business=people["bay_plumbing"],
    )

    # Hugo wrote first to Atelier Musique: it is charged when it replies.
    await contact.contact_business(
        runtime,
        made["piano"].id,
        ContactBusiness(business_id=people["atelier"].id, body=FIRST_MESSAGE),
        customer=people["hugo"],
    )
