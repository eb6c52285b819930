"""One base class for the errors a user can cause or fix: bad input, a missing file, a
camera that does not open, an output that cannot be written.

Each module keeps its own subclass (ConfigError, SourceError, ...), whose message is one
line naming the problem; the command line catches `MirrorError` alone and prints it.
`exit_code` is what the command line exits with: 1 for a run that failed, 2 for bad usage.
"""

from __future__ import annotations


class MirrorError(Exception):
    """A user-facing failure with a one-line message (no traceback is shown for it)."""

    exit_code = 1


class UsageError(MirrorError, ValueError):
    """Command-line flags that do not fit together."""

    exit_code = 2


class ArgumentError(UsageError, TypeError):
    """A Python API argument of the wrong type (still a TypeError for callers that catch one)."""
