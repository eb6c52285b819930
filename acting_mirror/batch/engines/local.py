"""The local engine: a spawn process pool on this machine, one take per process at a time.
The workers share the driver's disk and write DIR/.partial-<take>/ themselves."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from acting_mirror.batch.engines.base import Engine
from acting_mirror.batch.store import partial_folder
from acting_mirror.batch.takes import TakeResult
from acting_mirror.batch.worker import analyze_take, init_local_worker, one_line_error

if TYPE_CHECKING:
    from acting_mirror.batch.takes import Take
    from acting_mirror.batch.worker import TakeSettings


class LocalEngine(Engine):
    """`workers` processes (default: the cores here; never more than the cores or the takes)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def run(self, takes: Sequence[Take], out: Path, settings: TakeSettings,
            log: Callable[[str], None]) -> Iterator[TakeResult]:
        from acting_mirror.batch.worker import available_cores

        workers = self.workers or available_cores()
        if workers > available_cores():
            # each worker holds a model and a video decoder: more processes than cores only cost memory
            log(f"--workers {workers} is more than the {available_cores()} cores here: using {available_cores()}")
            workers = available_cores()
        jobs = [(take, partial_folder(out, take)) for take in takes]
        return run_pool(jobs, settings, min(workers, len(jobs)))


def run_pool(jobs: Sequence[tuple[Take, Path]], settings: TakeSettings, workers: int) -> Iterator[TakeResult]:
    """Each (take, folder) through a spawn process pool of `workers` processes; results
    as they finish."""
    pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                               initializer=init_local_worker)
    finished = False
    try:
        futures = {pool.submit(analyze_take, take, settings, str(folder)): take for take, folder in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # the process died (BrokenProcessPool), or the result did not pickle
                yield TakeResult(futures[future], f"the worker process failed: {one_line_error(error)}")
        finished = True
    finally:
        # Ctrl-C or an error in the driver: stop the takes in progress now, not when they end. The pool
        # has no public way to (terminate_workers() is Python 3.14); shutdown() forgets its processes.
        processes = [] if finished else list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        pool.shutdown(wait=finished, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)  # dead before the driver removes their half-written folders
