"""Error types that mean "the input is wrong", as opposed to a bug.

The binaries (`tagnn_tf.cli.run_or_exit`) print these as one line, `error: ...`,
and exit 1; any other exception surfaces with its traceback, so a defect in the
library never looks like a user's mistake.
"""


class InputError(ValueError):
    """Bad input from the user: an argument, a flag, a data file, a run directory.

    A `ValueError`, so code that catches `ValueError` around a constructor keeps
    working.
    """


class DataFileError(InputError):
    """A data file is missing, unreadable or holds invalid records."""


class CommandError(Exception):
    """A failure whose message says all the user needs (e.g. which runs failed
    and where their logs are)."""
