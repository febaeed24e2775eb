"""The console's home (the work queues) and the site page (plugins and settings, read-only)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from agorakit.settings import field_docs, masked

from .charts import bar_chart
from .web import PREFIX, ConsolePage

#: the core's settings sections the site page shows, in order, with what they govern
CORE_SECTIONS = (
    ("site", "The site"),
    ("money", "Money: payment and payout methods"),
    ("fees", "Fees"),
    ("listings", "Listings and their review"),
    ("reviews", "Reviews"),
    ("messaging", "Messaging"),
    ("reports", "Reports"),
    ("vouchers", "Vouchers"),
    ("auth", "Sign-in"),
    ("email", "Email"),
    ("worker", "The worker"),
)
#: settings fields that switch a model's behaviour on or off, shown first on the site page
MODE_FIELDS = ("modes", "mode", "offer_screening", "payment_methods", "payout_methods")


def queue_rows(queues: list[dict[str, Any]], pages: dict[str, str]) -> list[dict[str, Any]]:
    """The API's queues with the console page that lists each (or its API list)."""
    return [{**queue, "page": pages.get(queue["key"], "")} for queue in queues]


def settings_rows(section: Any) -> list[dict[str, Any]]:
    """A settings section's fields: name, value (secrets masked), meaning, mode or not."""
    docs = field_docs(type(section))
    values = masked(section)
    rows = []
    for name in msgspec.structs.fields(type(section)):
        value = values.get(name.name)
        rows.append(
            {
                "name": name.name,
                "value": value,
                "doc": docs.get(name.name, ""),
                "mode": name.name in MODE_FIELDS,
            }
        )
    rows.sort(key=lambda row: not row["mode"])
    return rows


class HomePages(Controller):
    path = ""

    @get("")
    async def home(self, page: NamedDependency[ConsolePage]) -> Response[str]:
        answer = await page.api.get("/operator/queues")
        queues = queue_rows(answer["queues"], page.site.queue_pages)
        waiting = [queue for queue in queues if queue["count"]]
        chart = bar_chart(
            [(queue["title"], float(queue.get("oldest_age_seconds") or 0) / 3600) for queue in waiting],
            unit="h",
            title="Age of the oldest item in each queue, in hours",
        )
        return page.render(
            "home.html",
            queues=queues,
            waiting=waiting,
            chart=chart,
            generated_at=answer.get("generated_at"),
        )

    @get("/site")
    async def site(self, page: NamedDependency[ConsolePage]) -> Response[str]:
        answer = await page.api.get("/-/plugins")
        settings = page.runtime.settings
        sections = [
            {"name": name, "title": title, "rows": settings_rows(getattr(settings, name))}
            for name, title in CORE_SECTIONS
            if getattr(settings, name, None) is not None
        ]
        plugins = []
        for plugin in answer["plugins"]:
            struct = settings.plugins.get(plugin["name"])
            rows = settings_rows(struct) if isinstance(struct, msgspec.Struct) else []
            plugins.append({**plugin, "rows": rows, "modes": [row for row in rows if row["mode"]]})
        return page.render(
            "site.html",
            agorakit_version=answer["agorakit_version"],
            plugins=plugins,
            sections=sections,
            console=PREFIX,
        )

    @get("/{rest:path}")
    async def not_found(self, page: NamedDependency[ConsolePage], rest: FromPath[str]) -> Response[str]:
        """Any other path under the console: the console's own "not found" page."""
        return page.error_page(404, "Not found", "There is no console page here.")
