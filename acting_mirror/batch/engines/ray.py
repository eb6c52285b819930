"""The Ray engine: one Ray task per take, on a local Ray runtime or a cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acting_mirror.batch.engines.base import Engine
from acting_mirror.batch.errors import BatchError
from acting_mirror.batch.worker import TakeResult, available_cores, one_line_error, remote_analyze_take

if TYPE_CHECKING:
    from acting_mirror.batch.takes import Take
    from acting_mirror.batch.worker import TakeSettings


class RayEngine(Engine):
    """`address`: a cluster to join (default: a Ray runtime of its own with `workers` CPUs);
    `workers`: takes in flight at once (default: twice the cluster's CPUs)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address
        self.workers = workers

    def check(self) -> None:
        import_ray()

    def run(self, takes: Sequence[Take], out: Path, settings: TakeSettings,
            log: Callable[[str], None]) -> Iterator[TakeResult]:
        workers = self.workers if self.address else min(self.workers or available_cores(), len(takes))
        return run_ray(takes, settings, address=self.address, workers=workers, log=log)


def import_ray():
    from acting_mirror.extras import CLUSTER, MissingExtra, require

    try:
        require(CLUSTER, "--engine ray")
        import ray
    except (MissingExtra, ImportError) as error:  # ImportError: found but broken
        raise BatchError(str(error) if isinstance(error, MissingExtra) else
                         f"--engine ray: Ray cannot be imported ({one_line_error(error)})") from None
    return ray


def run_ray(takes: Sequence[Take], settings: TakeSettings, *, address: str | None = None,
            workers: int | None = None, log: Callable[[str], None] = print) -> Iterator[TakeResult]:
    """One Ray task per take (num_cpus=1), results as they finish. Uses the Ray runtime
    already started in this process if there is one; else starts a local one with
    `workers` CPUs (no address) or joins the cluster at `address` ("auto", "ray://host:port"),
    and shuts down what it started. At most `workers` (default: twice the cluster's CPUs)
    tasks are in flight, so results do not pile up in the object store."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                                   "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, **options)
            else:
                # address "local": a runtime of our own, never a cluster some other program left running here
                ray.init(address="local", num_cpus=workers, **options)
        except Exception as error:  # ConnectionError and friends: the cluster is not there
            raise BatchError(f"cannot start or join Ray{f' at {address}' if address else ''}: "
                             f"{one_line_error(error)}") from None
    pending: dict[Any, Take] = {}
    try:
        check_reachable(ray, [take.source for take in takes if not take.is_url])
        task = ray.remote(num_cpus=1)(remote_analyze_take)
        settings_ref = ray.put(settings)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if address:
            log(f"Ray cluster at {address}: {cpus} CPUs")
        limit = workers or max(1, 2 * cpus)
        queue = iter(takes)
        while True:
            for take in queue:
                pending[task.remote(take, settings_ref)] = take
                if len(pending) >= limit:
                    break
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                take = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # the task's worker died (after Ray's retries), or the node left
                    result = TakeResult(take, f"the Ray task failed: {one_line_error(error)}")
                yield result
    finally:
        for ref in pending:  # Ctrl-C or an error: the takes in flight are abandoned
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _missing_files(paths: Sequence[str]) -> tuple[str, list[str]]:
    import socket

    return socket.gethostname(), [path for path in paths if not os.path.isfile(path)]


def check_reachable(ray, paths: Sequence[str]) -> None:
    """Every file the driver sees must exist at the same path on every Ray node with CPUs
    (a shared mount); files the driver does not see fail as missing takes, as they would
    locally. BatchError names a node and a file that is not there."""
    visible = [path for path in paths if os.path.isfile(path)]
    if not visible:
        return
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0)(_missing_files)
    nodes = [node for node in ray.nodes() if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) >= 1]
    answers = ray.get([probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
                       .remote(visible) for node in nodes])
    for host, missing in answers:
        if missing:
            raise BatchError(f"{len(missing)} of {len(visible)} videos are not reachable from Ray node {host} "
                             f"(e.g. {missing[0]}): put the takes on a path every node mounts at the same place, "
                             "or give URLs")
