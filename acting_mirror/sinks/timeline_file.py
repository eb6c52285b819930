"""timeline.csv written as the run goes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from acting_mirror.sinks.base import SinkError, os_error_reason
from acting_mirror.sinks.claims import OutputClaim


class TimelineFile:
    """timeline.csv written as the run goes, so a crash keeps every frame up to it: each
    frame's rows reach the OS at once (a killed process loses nothing) and are synced to
    the disk at least every `sync_interval_s` (a power cut loses at most that).
    The file is claimed like a video (folder, permission, one run at a time)."""

    def __init__(self, path: str | Path, labels, sync_interval_s: float = 1.0, clock=None):
        import csv
        import time

        from acting_mirror.timeline import csv_columns

        self.path = Path(path)
        self.frames_written = 0
        self.failure: str | None = None
        self._labels = tuple(labels)
        self._clock = clock or time.monotonic
        self._sync_interval_s = sync_interval_s
        self._claim = OutputClaim(self.path, "report file")
        self._handle = None
        try:
            self._handle = self._claim.open_truncated()
            self._writer = csv.writer(self._handle)
            self._writer.writerow(csv_columns(self._labels))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            self.close()
            raise SinkError(f"cannot write report file {self.path}: {os_error_reason(error)}") from None
        self._synced = self._clock()

    def write(self, result) -> None:
        from acting_mirror.timeline import csv_frame_rows

        if self.failure is not None or self._handle is None:
            return
        try:
            self._writer.writerows(csv_frame_rows(result, len(self._labels)))
            self._handle.flush()
            if self._clock() - self._synced >= self._sync_interval_s:
                os.fsync(self._handle.fileno())
                self._synced = self._clock()
        except OSError as error:
            self.failure = os_error_reason(error)
            raise SinkError(f"cannot write report file {self.path}: {self.failure}") from None
        self.frames_written += 1

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                self.failure = self.failure or os_error_reason(error)
            finally:
                with contextlib.suppress(OSError):
                    handle.close()
        self._claim.release(remove_if_unused=False)
