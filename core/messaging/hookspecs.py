"""The hook the messaging area defines: work done in the transaction that posts a
member's message, before it is written (a plugin charging for messages, or refusing
them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork


@hookspec
def agorakit_message_posting(
    uow: UnitOfWork, conversation: dict[str, Any], sender: MemberOut, runtime: Runtime
) -> None:
    """Check, or pay for, a member's message before it is written.

    Called for every member message (``POST /conversations/{id}/messages`` and
    ``POST /conversations``, whose conversation may be new), inside the unit of work
    that inserts it and before the insert; never for system messages.  Raise a domain
    error (a :class:`~agorakit.errors.Conflict`, an
    :class:`~agorakit.money.InsufficientFunds`, ...) to refuse the message: the caller gets
    the problem and nothing is written, not even a conversation started by it.  Or write
    your own rows through ``uow`` (charge the sender with a ledger posting, count the
    message): they commit with the message, or roll back with it.  The body has already
    been checked and screened.  Act only on the conversations that are yours (by
    ``conversation["kind"]`` or ``conversation["subject"]``).  May be ``async``; nothing
    is called, and nothing costs, when no plugin implements it.

    :param uow: the open :class:`agorakit.runtime.UnitOfWork`.
    :param conversation: the conversation's row: ``id``, ``key``, ``kind``, ``subject``
        (``"lead:12:business:3"``, or None for direct messages), ``last_message_id``,
        ``last_message_at``, ``created_at``.
    :param sender: the member writing, a :class:`agorakit.accounts.schemas.MemberOut`.
    """
