"""The HTTP edge shared by every area: problem details, request logging, system routes.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.http.openapi import problem as problem
    from agorakit.http.openapi import problems as problems
    from agorakit.http.params import Id as Id
    from agorakit.http.params import IdempotencyKey as IdempotencyKey
    from agorakit.http.params import Limit as Limit
    from agorakit.http.params import MemberRequest as MemberRequest
    from agorakit.http.params import RowId as RowId
    from agorakit.http.queues import OperatorQueue as OperatorQueue
    from agorakit.http.queues import QueueCount as QueueCount
    from agorakit.http.queues import count_queue as count_queue

EXPORTS: dict[str, str] = {
    "Id": "agorakit.http.params",
    "IdempotencyKey": "agorakit.http.params",
    "Limit": "agorakit.http.params",
    "MemberRequest": "agorakit.http.params",
    "OperatorQueue": "agorakit.http.queues",
    "QueueCount": "agorakit.http.queues",
    "count_queue": "agorakit.http.queues",
    "problem": "agorakit.http.openapi",
    "problems": "agorakit.http.openapi",
    "RowId": "agorakit.http.params",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
