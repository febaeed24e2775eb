"""The core's way of sending the accounts area's security emails (``agorakit_account_email``).

Verification and password reset links and registration-attempt notices are rendered
from their templates like any notice, but go only to the email outbox: never to the
member's inbox, where a secret would stay readable for as long as the site keeps it, and
whatever the member chose for the ``account`` category (they are needed to use the
account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.notifications.rendering import renderer
from agorakit.notifications.service import queue_email

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork


async def queue_account_email(
    runtime: Runtime, uow: UnitOfWork, member: dict[str, Any], template: str, context: dict[str, Any]
) -> bool:
    site = runtime.settings.site
    variables = {
        **context,
        "site": {"name": site.name, "base_url": site.base_url},
        "member": {"id": member["id"], "display_name": member["display_name"], "email": member["email"]},
        "event": None,
        "link": context.get("link"),
        "category": "account",
    }
    result = renderer(runtime).render(template, variables)
    await queue_email(
        runtime,
        uow,
        to_address=member["email"],
        subject=result.subject,
        text_body=f"{result.text}\n\n-- \n{result.footer}" if result.footer else result.text,
        html_body=result.html,
        member_id=member["id"],
    )
    return True
