"""The run-directory lock: one live process trains a run at a time."""

import os
import socket
import subprocess
import sys

from tagnn_tf.run_lock import LOCK_FILE, claim_run, release_run


def test_a_live_process_holds_the_lock_and_a_dead_ones_is_taken_over(tmp_path):
    run_dir = str(tmp_path)
    lock = tmp_path / LOCK_FILE
    assert claim_run(run_dir) is None
    host, boot, started, pid = lock.read_text().split()
    assert (host, pid) == (socket.gethostname(), str(os.getpid())) and started.isdigit()
    # This process is alive: a second claim (another runner) is refused.
    assert "being trained by process" in claim_run(run_dir)
    release_run(run_dir)
    assert not lock.exists()
    # A lock of a finished process is stale and taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(f"{socket.gethostname()} {boot} {started} {int(dead.stdout)}\n")
    assert claim_run(run_dir) is None
    assert lock.read_text().split()[-1] == str(os.getpid())
    # So is a live pid of an earlier boot of this host (the pid was reused since)...
    lock.write_text(f"{socket.gethostname()} earlier-boot {started} {os.getpid()}\n")
    assert claim_run(run_dir) is None
    # ...or of this boot, when the live process with that pid started at another time (reused pid).
    lock.write_text(f"{socket.gethostname()} {boot} {int(started) - 1} {os.getpid()}\n")
    assert claim_run(run_dir) is None
    # Locks written before the start time (3 fields) still hold while their pid is alive.
    lock.write_text(f"{socket.gethostname()} {boot} {os.getpid()}\n")
    assert "being trained by process" in claim_run(run_dir)
    release_run(run_dir)
    # Another host's lock cannot be checked, so it is respected.
    lock.write_text("elsewhere 1\n")
    assert "claimed by host elsewhere" in claim_run(run_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]  # no temporary file left
