"""The hook the accounts area defines: a plugin's say on a member's profile change.  The
areas and plugins that rely on a member's country or skills (eligibility for work) sit
above accounts and answer through it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime


@hookspec
def agorakit_profile_changing(member: MemberOut, changes: dict[str, Any], runtime: Runtime) -> str | None:
    """Veto a member changing their own profile (``PATCH /me``).

    Called inside the unit of work of the change, before anything is written, with only
    the fields whose value changes.  Every plugin is asked; any veto denies the whole
    change with a 409 ``profile_change_refused`` whose detail is the reason (the reasons
    of several plugins are joined with ``"; "``), and nothing is written.  Operators
    changing a member's profile (``PATCH /operator/members/{id}``) are not asked about.
    Example: "your country decides which jobs you may do; once you have taken a task only
    an operator can change it".  May be ``async``.

    :param member: the member as they are now (:class:`agorakit.accounts.MemberOut`).
    :param changes: field name to new value (normalised), for ``display_name`` (str),
        ``country`` (ISO 3166-1 alpha-2) and ``skills`` (list of str); only the fields that
        change.
    :return: None to allow, or a sentence saying why not (and who can change it).
    """
