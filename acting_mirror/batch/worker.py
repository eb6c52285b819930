"""One take through the mirror's pipeline, in a worker process: its settings, its result,
and the worker's set-up (one OpenCV and one inference thread)."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acting_mirror.batch.store import VIDEO_FILE
from acting_mirror.batch.takes import Take, TakeResult

if TYPE_CHECKING:
    from acting_mirror.config import Config
    from acting_mirror.script import Script


@dataclass(frozen=True)
class TakeSettings:
    """What every take is analysed with; its fingerprint decides whether a take already
    done can be skipped."""

    config: Config
    script: Script | None = None
    video_output: bool = False

    def fingerprint(self) -> str:
        return hashlib.sha256(repr((self.config, self.script, self.video_output)).encode()).hexdigest()[:16]


def analyze_take(take: Take, settings: TakeSettings, directory: str | Path) -> TakeResult:
    """Analyse one take into `directory` (report files, and the video when asked). Never
    raises for a bad take: the error comes back as the result's one-line status."""
    from acting_mirror.api import analyze
    from acting_mirror.app import StopReason

    _single_threaded()
    notes: list[str] = []
    started, cpu_started = time.monotonic(), time.process_time()

    def finished(status: str, summary: dict | None = None) -> TakeResult:
        return TakeResult(take, status, summary, time.monotonic() - started, time.process_time() - cpu_started,
                          tuple(notes))

    try:
        analysis = analyze(take.source, script=settings.script, config=settings.config, report_dir=directory,
                           video_output=Path(directory) / VIDEO_FILE if settings.video_output else None,
                           log=notes.append)
    except Exception as error:  # one take's failure, whatever it is, must not stop the batch
        return finished(one_line_error(error))
    if analysis.run.error:  # an output (the annotated video) could not be written: the take is not complete
        return finished(analysis.run.error)
    if analysis.run.stopped_by is StopReason.INTERRUPT:
        return finished("interrupted")
    return finished("ok", analysis.summary)


def one_line_error(error: BaseException) -> str:
    """The error as one line: our own errors' messages as they are, others with their type."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if type(error).__module__.startswith("acting_mirror") or isinstance(error, OSError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _single_threaded() -> None:
    """One OpenCV thread per worker (inference threads come from the config): N workers
    on N cores then do not fight over them."""
    import cv2

    from acting_mirror.quiet import quiet_libraries

    quiet_libraries()
    cv2.setNumThreads(1)


def init_local_worker() -> None:
    _die_with_parent()
    _single_threaded()


def _die_with_parent() -> None:
    """Linux: the kernel ends this worker when the driver dies, even by kill -9 (which gives the
    driver no chance to stop its pool); elsewhere the pool's own shutdown has to do."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the driver died before the call: nothing would ever signal us
        os._exit(1)


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1
