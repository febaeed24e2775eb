"""The hook the attachments area defines: who may use an attachment scope.  The areas
that own the scopes (orders for ``order:<id>``, messaging for ``conversation:<id>``) sit
above attachments and answer through it; the area answers for ``member:<id>`` itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime


@hookspec(firstresult=True)
def agorakit_scope_access(scope: str, member: MemberOut, write: bool, runtime: Runtime) -> bool | None:
    """Decide whether ``member`` may upload files to (``write``) or read files of ``scope``.

    Called for every upload and every download.  The area or plugin that owns the
    scope's kind (the part before the colon) answers: return True to let the member
    through, or raise a domain error (a 404 :class:`~agorakit.errors.NotFound` hides the
    scope from members who may not see it).  Return None for a scope that is not yours.
    A scope nobody answers for is a 404.  May be ``async``.  The orders area answers
    for ``order:<id>``, messaging for ``conversation:<id>``, the attachments area for
    ``member:<id>`` (only that member).

    :param scope: ``"<kind>:<id>"``, e.g. ``"order:12"``.
    :param member: the caller, a :class:`agorakit.accounts.schemas.MemberOut`.
    :param write: True for an upload, False for a download.
    """
