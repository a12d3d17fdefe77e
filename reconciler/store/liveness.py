"""Is the process that holds a lock, or runs an apply, still there?

A lock row and a running apply's row record the holder's host, pid and the process's start time. On the same
host the answer is certain: the pid must exist and have started at that time (a pid is reused; its start time
is not), read from ``/proc/<pid>/stat`` with the boot id. On another host nobody can tell from here: the
lock's lease (``expires_at``) decides instead (``store.locks``).

Where ``/proc`` is missing the start time is empty and only the pid is checked."""

from __future__ import annotations

import enum
import functools
import os
import socket
from pathlib import Path


class Holder(enum.StrEnum):
    ALIVE = "alive"  # on this host, running, the same process
    GONE = "gone"  # on this host, and no such process (or the pid now belongs to another one)
    UNKNOWN = "unknown"  # on another host


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def process_started(pid: int) -> str:
    """When process ``pid`` started, as ``BOOT_ID:TICKS`` (empty when it cannot be told, or it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: count fields after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return f"{_boot_id()}:{fields[19]}" if len(fields) > 19 else ""


def this_process() -> tuple[str, int, str]:
    """This process's host, pid and start time, as lock and run rows record them."""
    pid = os.getpid()
    return socket.gethostname(), pid, process_started(pid)


def _exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def holder(host: str, pid: int, started: str | None) -> Holder:
    """Whether the process ``pid`` on ``host`` that started at ``started`` (empty: unknown) is still there."""
    if host != socket.gethostname():
        return Holder.UNKNOWN
    if not _exists(pid):
        return Holder.GONE
    if started and process_started(pid) not in ("", started):
        return Holder.GONE  # the pid was reused by another process
    return Holder.ALIVE
