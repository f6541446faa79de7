"""What the absl binaries share: a user's mistake is one clear line, a bug a traceback."""

from __future__ import annotations

import sys

from tagnn_tf.errors import CommandError, InputError

# Bad input (flags, data, run directories), a diverging run, a failed suite:
# one line, exit code 1. Anything else is a defect and keeps its traceback.
USER_ERRORS = (InputError, FloatingPointError, CommandError)


def parse_flags_or_exit(argv):
    """`absl.app.run`'s `flags_parser`: a flag absl refuses (a value outside a `DEFINE_enum`'s choices,
    an unknown flag, a missing required one) ends the binary with one `error: ...` line, exit code 1.

    Use: `app.run(main, flags_parser=parse_flags_or_exit)`.
    """
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        sys.exit(f"error: {e}")


def run_or_exit(fn, *args, **kwargs):
    """Calls `fn`; on a user error prints `error: ...` to stderr and exits 1."""
    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as e:
        sys.exit(f"error: {e}")
