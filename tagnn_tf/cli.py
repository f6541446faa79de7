"""What the absl binaries share: turning a user error into one clear line."""

from __future__ import annotations

import sys

from tagnn_tf.data.safe_pickle import DataFileError


class CommandError(Exception):
    """A failure whose message says all the user needs (e.g. which runs failed
    and where their logs are)."""


# Bad data, bad flags, a wrong model dir, a diverging run: one line, exit code 1.
USER_ERRORS = (DataFileError, ValueError, KeyError, FloatingPointError, CommandError)


def run_or_exit(fn, *args, **kwargs):
    """Calls `fn`; on a user error prints `error: ...` to stderr and exits 1."""
    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as e:
        sys.exit(f"error: {e}")
