"""The hooks the accounts area defines: a plugin's say on a member's profile change (the
areas and plugins that rely on a member's country or skills, eligibility for work, sit
above accounts and answer through it), and who a bearer token that is not a member's
belongs to (the integrations area answers for its integration tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts.auth import IntegrationCaller
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


@hookspec(firstresult=True)
def agorakit_api_token_caller(token: str, runtime: Runtime) -> IntegrationCaller | None:
    """Say who a bearer token that is not a member's token (not a JWT) belongs to.

    Called on each request that sends such a token to a route that takes integration
    tokens (a GET or HEAD whose handler has ``opt={"integration_scope": ...}``; anywhere
    else the token is a 401 without asking).  The core's integrations area answers for
    its ``agk_`` tokens; a plugin could answer for keys of its own.  Look the token up
    on every call (no caching longer than a few seconds): a revoked token must stop
    working on the next request.  The caller then needs the route's scope (else 403
    ``scope_missing``).  Stops at the first non-None result.  May be ``async``.

    :param token: the token as sent after ``Bearer``.
    :return: an :class:`agorakit.accounts.IntegrationCaller` for a valid token, or None
        (unknown, revoked or expired: a 401).
    """
