"""The hook the support area defines: whether a member's support request may name an
object of a plugin's (a lead) as what it is about."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime


@hookspec(firstresult=True)
def agorakit_support_link(kind: str, id: int, member: MemberOut, runtime: Runtime) -> bool | None:
    """Say whether ``member`` may name the object ``kind``/``id`` in a support request.

    Called when a member opens a support request (``POST /support``) with a ``link`` of
    a kind the core does not check itself (``lead``); the core checks orders (a party),
    listings (one the member owns or may see) and withdrawals (their own).  The first
    answer that is not None counts: True links the request, False refuses it with a 422
    on ``link`` that does not tell whether the object exists; a kind no plugin answers
    for is a 400 (unknown kind).  May be ``async``.

    :param kind: the link's kind, e.g. ``"lead"``.
    :param id: the object's id.
    :param member: the member opening the request (``MemberOut``).
    :return: True, False, or None (not this plugin's kind).
    """
