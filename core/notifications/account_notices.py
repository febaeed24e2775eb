"""Who is told about the accounts area's events (the notifications area's ``agorakit_notify``).

They live here, not in ``agorakit.accounts``: notifications sits above accounts (it
names members and reads their addresses), so accounts does not import it.

Account notices are receipts: the member hears of a change to their own account even
when they made it themselves (the welcome, a changed or reset password), and of an
operator lifting their suspension, and of a warning an operator gave them (with the reason).
"""

from __future__ import annotations

from agorakit.accounts.events import (
    MemberPasswordChanged,
    MemberPasswordReset,
    MemberReactivated,
    MemberRegistered,
    MemberWarned,
)
from agorakit.events import DomainEvent
from agorakit.notifications import Notice

AccountEvent = MemberRegistered | MemberPasswordChanged | MemberPasswordReset | MemberReactivated

#: event classes → the template of the notice to the member they are about
TEMPLATES: tuple[tuple[tuple[type[AccountEvent], ...], str], ...] = (
    ((MemberRegistered,), "member_welcome"),
    ((MemberPasswordChanged, MemberPasswordReset), "member_password_changed"),
    ((MemberReactivated,), "member_reactivated"),
)


def account_notices(event: DomainEvent) -> list[Notice] | None:
    """The notice to the member an account event is about (None for other events)."""
    payload = event.payload
    if isinstance(payload, MemberWarned):
        context = {"reason": payload.reason}
        return [
            Notice(member_id=payload.member_id, category="account", template="member_warned", context=context)
        ]
    for classes, template in TEMPLATES:
        if isinstance(payload, classes):
            return [Notice(member_id=payload.member_id, category="account", template=template, link="/me")]
    return None
