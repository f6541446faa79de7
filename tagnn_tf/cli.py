"""What the absl binaries share: a user's mistake is one clear line, a bug a traceback."""

from __future__ import annotations

import sys

from tagnn_tf.errors import CommandError, InputError

# Bad input (flags, data, run directories), a diverging run, a failed suite:
# one line, exit code 1. Anything else is a defect and keeps its traceback.
USER_ERRORS = (InputError, FloatingPointError, CommandError)


def run_or_exit(fn, *args, **kwargs):
    """Calls `fn`; on a user error prints `error: ...` to stderr and exits 1."""
    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as e:
        sys.exit(f"error: {e}")
