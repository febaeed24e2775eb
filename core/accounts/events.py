"""The account events: members registering, changing their profile and password, suspended and restored.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class MemberRegistered(Event, frozen=True, kw_only=True):
    """A member registered (or an operator created an account)."""

    name = "member.registered"
    member_id: int
    role: str


class MemberProfileUpdated(Event, frozen=True, kw_only=True):
    """A member's profile changed: by the member, or by an operator (``actor_id`` says
    who); ``fields`` are those whose value changed."""

    name = "member.profile_updated"
    member_id: int
    fields: list[str]


class MemberPasswordChanged(Event, frozen=True, kw_only=True):
    """A member changed their password."""

    name = "member.password_changed"
    member_id: int


class MemberPasswordReset(Event, frozen=True, kw_only=True):
    """A member set a new password with a reset token."""

    name = "member.password_reset"
    member_id: int


class MemberEmailVerified(Event, frozen=True, kw_only=True):
    """A member proved they read their email address."""

    name = "member.email_verified"
    member_id: int


class MemberSuspended(Event, frozen=True, kw_only=True):
    """An operator suspended a member."""

    name = "member.suspended"
    member_id: int
    reason: str


class MemberReactivated(Event, frozen=True, kw_only=True):
    """An operator lifted a member's suspension."""

    name = "member.reactivated"
    member_id: int


class MemberRoleChanged(Event, frozen=True, kw_only=True):
    """The owner changed a member's role."""

    name = "member.role_changed"
    member_id: int
    role: str
    previous: str


class MemberWarned(Event, frozen=True, kw_only=True):
    """An operator warned a member; the member is told the reason."""

    name = "member.warned"
    member_id: int
    warning_id: int
    reason: str
    #: what it came from (``dispute:<id>``, ``report:<id>``), or None
    source: str | None = None


class MemberFlagged(Event, frozen=True, kw_only=True):
    """An operator marked a member for operators' attention (the member is not told)."""

    name = "member.flagged"
    member_id: int
    reason: str
    source: str | None = None


class MemberUnflagged(Event, frozen=True, kw_only=True):
    """An operator removed a member's flag."""

    name = "member.unflagged"
    member_id: int


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [
    MemberRegistered,
    MemberProfileUpdated,
    MemberPasswordChanged,
    MemberPasswordReset,
    MemberEmailVerified,
    MemberSuspended,
    MemberReactivated,
    MemberRoleChanged,
    MemberWarned,
    MemberFlagged,
    MemberUnflagged,
]
