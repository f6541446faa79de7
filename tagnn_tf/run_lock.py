"""A run directory's lock: one live process trains it at a time.

`<run_dir>/.running` holds the host, boot id, process start time and pid of
the process training the run. A lock whose process is gone (dead, an earlier
boot of this host, or a pid since reused by a later process) is taken over;
a lock of another host cannot be checked and is respected.
"""

from __future__ import annotations

import os
import socket
from typing import List, Optional

LOCK_FILE = ".running"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _boot_id() -> str:
    """This boot of the machine (Linux); a pid from another boot is not a live process."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def _process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, Linux), "unknown" if
    it can't be read; with the pid it names a process even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # Field 22 (starttime); fields 3 onwards follow the ")" closing the command name.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "unknown"


def _holder_alive(pid: int, started: str) -> bool:
    """Whether the process that wrote a lock still runs (`started`: its start time, or "unknown")."""
    if not _process_alive(pid):
        return False
    return started == "unknown" or _process_start(pid) in (started, "unknown")


def _read_lock(path: str) -> Optional[List[str]]:
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return None


def _live_holder(path: str, fields: List[str], host: str, boot: str) -> Optional[str]:
    """Who holds the lock `fields` (read from `path`), None when its process is gone."""
    holder_host, holder_pid = fields[0], fields[-1]
    # Older lock files: 2 fields (host, pid), 3 fields (host, boot id, pid).
    holder_boot = fields[1] if len(fields) >= 3 else boot
    holder_start = fields[2] if len(fields) == 4 else "unknown"
    if holder_host != host:
        return f"claimed by host {holder_host} (remove {path} if that process is gone)"
    if holder_boot == boot and _holder_alive(int(holder_pid), holder_start):
        return f"being trained by process {holder_pid}"
    return None


def live_claim(run_dir: str) -> Optional[str]:
    """Who trains `run_dir` now (see `claim_run`), None when no live process does."""
    path = os.path.join(run_dir, LOCK_FILE)
    fields = _read_lock(path)
    return None if fields is None else _live_holder(path, fields, socket.gethostname(), _boot_id())


def claim_run(run_dir: str) -> Optional[str]:
    """Marks `run_dir` as trained by this process (`.running`: host, boot id,
    process start time, pid).

    Returns None when claimed, else why not: another live process on this host,
    or any process on another host, holds it. A lock left by a dead process, by
    a process of an earlier boot of this host, or with a pid now reused by a
    process started later, is taken over. The lock file appears complete or not
    at all (a hard link of a written temporary file).
    """
    path = os.path.join(run_dir, LOCK_FILE)
    host, boot = socket.gethostname(), _boot_id()
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        # The pid stays the last field, where runners before the start time read it.
        f.write(f"{host} {boot} {_process_start(os.getpid())} {os.getpid()}\n")
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return None
            except FileExistsError:
                pass
            fields = _read_lock(path)
            if fields is None:  # released meanwhile
                continue
            holder = _live_holder(path, fields, host, boot)
            if holder:
                return holder
            try:
                os.remove(path)  # stale: its process is gone
            except FileNotFoundError:
                pass
        return f"could not claim {path}"
    finally:
        os.remove(tmp)


def release_run(run_dir: str) -> None:
    try:
        os.remove(os.path.join(run_dir, LOCK_FILE))
    except FileNotFoundError:
        pass
