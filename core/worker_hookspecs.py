"""The hooks of the worker: plugins' work that falls due with time.

The worker's sweep (``agorakit tick``, ``agorakit worker``) fires the order timers and
sends the email outbox; a plugin with time rules of its own (requests that expire)
does its part on the sweep and says when it next falls due, so that a test clock
advancing through time stops there.  Added next to :mod:`agorakit.hookspecs`; the
reference is ``docs/hooks.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import asyncio
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from agorakit.runtime import Runtime


@hookspec
def agorakit_sweep(runtime: Runtime) -> dict[str, int] | None:
    """Do the plugin's work that falls due with time, once per worker sweep (e.g. expire
    requests nobody answered).  Runs after the order timers, before the email outbox, so
    the notifications it causes go out in the same sweep; each step should commit its own
    units of work and be safe to run again (several workers may sweep at once).  May be
    ``async``.

    :param runtime: the site's :class:`agorakit.runtime.Runtime`; ``runtime.clock.now()``
        is the site's time (a test clock when the site has one).
    :return: counts of what it did by name (reported in the sweep's ``plugins``), or None.
    """


@hookspec
def agorakit_next_due(runtime: Runtime, after: datetime | None, until: datetime | None) -> datetime | None:
    """When the plugin's sweep work next falls due, so that a test clock advancing through
    time (``agorakit clock advance``) stops there.  May be ``async``.

    :param after: the earliest instant strictly after this one, or
    :param until: (when ``after`` is None) the earliest instant at or before this one.
    :return: that instant, or None when the plugin has nothing due in the range.
    """


@hookspec
def agorakit_worker_loops(
    runtime: Runtime,
) -> dict[str, Callable[[Runtime, asyncio.Event], Awaitable[None]]] | None:
    """Work that a long-running worker (``agorakit worker``) runs beside its sweep, all the
    time, instead of in it: work that waits on outside systems (sending webhooks) and must
    never hold up the sweep's timers and emails, or that should react within a second
    rather than at the next sweep.

    Each loop is an ``async`` callable ``loop(runtime, stop)`` that runs until the
    ``asyncio.Event`` ``stop`` is set, catching and logging its own errors (the worker
    starts it once; a loop that returns early is not restarted).  While the worker runs
    them, ``runtime.worker_loops`` holds their names, and the plugin's ``agorakit_sweep``
    leaves that work to its loop; a lone sweep (``agorakit tick``, a test clock's advance,
    the testing kit's ``run_worker``) still does it itself.

    :param runtime: the site's :class:`agorakit.runtime.Runtime`.
    :return: the loops by name (names unique across plugins), or None.
    """
