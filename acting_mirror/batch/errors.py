"""The batch's own error."""

from __future__ import annotations

from acting_mirror.errors import MirrorError


class BatchError(MirrorError):
    """A batch that cannot start (no takes, Ray missing, a cluster it cannot join)."""

    exit_code = 2
