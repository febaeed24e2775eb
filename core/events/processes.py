"""Which process delivers a stored event, and whether that process is still there.

Every served app process, ``agorakit worker`` and ``agorakit tick`` registers itself in
``core_process`` when it starts (:class:`ProcessRegistration`), refreshes the row's
``heartbeat_at`` every ``[events] heartbeat_seconds`` while it runs, and deletes the row
when it stops cleanly.  The events a unit of work stores carry the id of the row of the
process that will publish them (``core_domain_event.process_id``, written by the same
INSERT, so a request runs no extra statement).

The worker's sweep first deletes the rows of the gone processes
(:func:`forget_gone_processes`): a process is gone when its heartbeat is older than
``[events] process_timeout_seconds``, or, on the sweeper's own host, at once when the
operating system no longer runs it (killed, crashed; a pid reused by another program does
not count as it, its start time differs).  Then it publishes the pending events of every
process that has no row, without the 30 s wait that protects the in-flight events of a
live process.

Heartbeats are written with the runtime's wall clock (real time, also on a site that runs
on a test clock), so the hosts' clocks must agree to well within the timeout (NTP).  Hosts are told apart by host name, boot id and PID namespace,
so containers on one machine do not mistake each other's pids.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agorakit.events.tables import ServerProcess

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.events")


@functools.cache
def host_key() -> str:
    """Where a pid names this process: host name, boot id and PID namespace."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    return f"{socket.gethostname()}/{boot}/{namespace}"[:200]


def pid_started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; None when no process has
    that pid; 0 when the system does not say (no ``/proc``) but the pid is in use."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return _pid_in_use(pid)
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 of proc(5): starttime; fields[0] is field 3


def _pid_in_use(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0
    return 0


def is_running(row: dict[str, Any]) -> bool:
    """Whether the process of a ``core_process`` row on this host still runs."""
    started = pid_started(row["pid"])
    if started is None:
        return False
    return not (started and row["pid_started"] and started != row["pid_started"])


class ProcessRegistration:
    """This process's row in ``core_process`` and the task that keeps it fresh."""

    def __init__(self, runtime: Runtime, kind: str) -> None:
        self.runtime = runtime
        self.kind = kind
        self.id: int | None = None
        self.task: asyncio.Task | None = None

    def _row(self) -> dict[str, Any]:
        now = self.runtime.wall_clock.now()
        pid = os.getpid()
        return {
            "kind": self.kind,
            "host": host_key(),
            "pid": pid,
            "pid_started": pid_started(pid) or 0,
            "started_at": now,
            "heartbeat_at": now,
        }

    async def register(self) -> int:
        process_id = secrets.randbelow(2**63 - 1) + 1
        await ServerProcess.insert(ServerProcess(id=process_id, **self._row()))
        self.id = process_id
        return process_id

    async def beat(self) -> None:
        """Refresh the heartbeat; put the row back if a sweep took this process for gone
        (a stalled loop, a clock jump): its events keep pointing at the same id."""
        if self.id is None:
            await self.register()
            return
        updated = (
            await ServerProcess.update({ServerProcess.heartbeat_at: self.runtime.wall_clock.now()})
            .where(ServerProcess.id == self.id)
            .returning(ServerProcess.id)
        )
        if not updated:
            log.warning("process %s was taken for gone; registering it again", self.id)
            await ServerProcess.insert(ServerProcess(id=self.id, **self._row()))

    async def start(self) -> int | None:
        """Register and keep the heartbeat going until :meth:`stop`.

        A process that cannot register (a database not migrated yet) still starts; it
        logs why and registers at a later heartbeat, its events meanwhile carry no owner.
        """
        try:
            await self.register()
        except Exception:
            log.exception("could not register this %s process (is the database migrated?)", self.kind)
        self.task = asyncio.get_running_loop().create_task(self._beat_forever(), name="agorakit-heartbeat")
        return self.id

    async def stop(self) -> None:
        """Stop the heartbeat and delete the row: what this process left pending is
        published by the next sweep."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.id is not None:
            process_id, self.id = self.id, None
            try:
                await ServerProcess.delete().where(ServerProcess.id == process_id)
            except Exception:  # the heartbeat stopped: a sweep finds the row gone in time
                log.exception("could not deregister process %s", process_id)

    async def _beat_forever(self) -> None:
        interval = self.runtime.settings.events.heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
            except Exception:  # the database is away for a moment: the next beat retries
                log.exception("could not refresh the heartbeat of process %s", self.id)


async def forget_gone_processes(runtime: Runtime) -> list[int]:
    """Delete the rows of the registered processes that are gone; returns their ids."""
    now = runtime.wall_clock.now()
    timeout = timedelta(seconds=runtime.settings.events.process_timeout_seconds)
    own = runtime.process_id
    here = host_key()
    gone = []
    for row in await ServerProcess.select(
        ServerProcess.id,
        ServerProcess.host,
        ServerProcess.pid,
        ServerProcess.pid_started,
        ServerProcess.heartbeat_at,
    ):
        if row["id"] == own:
            continue
        if row["heartbeat_at"] < now - timeout or (row["host"] == here and not is_running(row)):
            gone.append(row["id"])
    if gone:
        log.warning("processes %s are gone; publishing what they left pending", gone)
        await ServerProcess.delete().where(ServerProcess.id.is_in(gone))
    return gone
