"""The Ray engine: one Ray task per take, on a Ray runtime of its own or on a cluster started
with `ray start` (acting_mirror.batch.engines.cluster joins it).

The workers need not share the driver's disk: the driver reads each take's file in chunks
into Ray's object store (never a whole take in its memory), the task writes them to a
temporary file on its node and sends the take's output files back in its result, and the
driver writes them to DIR. Only a bounded number of takes (and of bytes) is in flight, so big
takes are never all in the object store at once. URL takes are opened by the worker itself.

A node lost mid-batch costs nothing: Ray runs the tasks it held again on the nodes left
(MAX_RETRIES times; the shipped chunks live in the driver's node's store).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acting_mirror.batch.engines.base import Engine
from acting_mirror.batch.errors import BatchError
from acting_mirror.batch.takes import TakeResult
from acting_mirror.batch.worker import analyze_take, available_cores, one_line_error

if TYPE_CHECKING:
    from acting_mirror.batch.takes import Take
    from acting_mirror.batch.worker import TakeSettings

CHUNK_BYTES = 32 * 1024 * 1024          # a take travels in object-store chunks of this size
MAX_SHIPPED_BYTES = 2 * 1024 ** 3       # takes in flight hold at most this much of the object store
MAX_RETRIES = 4                         # a take's task is run again this often when its node or worker dies
TAKE_PREFIX = "acting-mirror-take-"     # the temporary folder of a take on a worker node


class RayEngine(Engine):
    """`address`: a cluster to join ("host:port" of its head, "auto", "ray://host:port"; default:
    a Ray runtime of its own with `workers` CPUs); `workers`: takes in flight at once (default:
    twice the cluster's CPUs); `chunk_bytes`, `max_shipped_bytes`: how takes travel (CHUNK_BYTES,
    MAX_SHIPPED_BYTES). A Ray runtime already started in this process is used as it is."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, *, chunk_bytes: int = CHUNK_BYTES,
                 max_shipped_bytes: int = MAX_SHIPPED_BYTES):
        self.address = address
        self.workers = workers
        self.chunk_bytes = chunk_bytes
        self.max_shipped_bytes = max_shipped_bytes
        self.started = False

    def check(self) -> None:
        import_ray()

    def start(self, log: Callable[[str], None]) -> None:
        ray = import_ray()
        if ray.is_initialized():
            return
        start_or_join(ray, self.address, self.workers or (None if self.address else available_cores()))
        self.started = True
        if self.address:
            nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
            cpus = int(ray.cluster_resources().get("CPU", 0))
            log(f"Ray cluster at {self.address}: {plural(nodes, 'node')}, {plural(cpus, 'CPU')}")

    def stop(self) -> None:
        if self.started:
            import_ray().shutdown()
            self.started = False

    def run(self, takes: Sequence[Take], out: Path, settings: TakeSettings,
            log: Callable[[str], None]) -> Iterator[TakeResult]:
        return run_tasks(import_ray(), takes, settings, self.workers, self.chunk_bytes, self.max_shipped_bytes)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def import_ray():
    """Ray, imported after token authentication is set up (see the cluster module); BatchError
    when the `cluster` extra is missing or broken."""
    from acting_mirror.batch.engines.cluster import enable_token_auth
    from acting_mirror.extras import CLUSTER, MissingExtra, require

    try:
        require(CLUSTER, "--engine ray")
        enable_token_auth()
        import ray
    except (MissingExtra, ImportError) as error:  # ImportError: found but broken
        raise BatchError(str(error) if isinstance(error, MissingExtra) else
                         f"--engine ray: Ray cannot be imported ({one_line_error(error)})") from None
    return ray


def start_or_join(ray, address: str | None, workers: int | None) -> None:
    """A Ray runtime of our own (no address) or the cluster at `address`; BatchError naming why
    a join failed."""
    from acting_mirror.batch.engines.cluster import AUTH_MODE, find_token, join_error, probe

    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if not address:
        try:
            # address "local": a runtime of our own, never a cluster some other program left running here
            ray.init(address="local", num_cpus=workers, **options)
        except Exception as error:
            raise BatchError(f"cannot start Ray: {one_line_error(error)}") from None
        return
    token = find_token(os.environ) if os.environ.get(AUTH_MODE, "").lower() == "token" else None
    problem = probe(address, token)
    if problem:
        raise BatchError(f"cannot join Ray at {address}: {problem}")
    try:
        ray.init(address=address, **options)
    except Exception as error:  # ConnectionError, RuntimeError (versions) and friends
        raise join_error(address, error, token) from None


def run_tasks(ray, takes: Sequence[Take], settings: TakeSettings, workers: int | None,
              chunk_bytes: int = CHUNK_BYTES, max_shipped_bytes: int = MAX_SHIPPED_BYTES) -> Iterator[TakeResult]:
    """One Ray task per take (num_cpus=1) on the runtime this process has joined, results as
    they finish. At most `workers` (default: twice the cluster's CPUs) takes and
    `max_shipped_bytes` of their files (or one take, whatever its size) are in flight."""
    pending: dict[Any, tuple[Take, int]] = {}  # task -> its take and the bytes shipped for it
    try:
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(analyze_shipped_take)
        settings_ref = ray.put(settings)
        limit = workers or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
        queue = list(takes)
        while queue or pending:
            while queue and len(pending) < limit:
                size = shipped_size(queue[0])
                if pending and sum(shipped for _, shipped in pending.values()) + size > max_shipped_bytes:
                    break  # wait for a take in flight to finish before shipping more
                take = queue.pop(0)
                pending[task.remote(take, settings_ref, ship(ray, take, chunk_bytes))] = (take, size)
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                take, _ = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # the task failed MAX_RETRIES + 1 times (nodes or workers died)
                    result = TakeResult(take, f"the Ray task failed: {one_line_error(error)}")
                yield result
    finally:
        for ref in pending:  # Ctrl-C or an error: the takes in flight are abandoned
            ray.cancel(ref, force=True)


def shipped_size(take: Take) -> int:
    """The bytes the driver ships for `take`: its file's size (0 for a URL or a file not here)."""
    if take.is_url or not os.path.isfile(take.source):
        return 0
    return os.path.getsize(take.source)


def ship(ray, take: Take, chunk_bytes: int = CHUNK_BYTES) -> list | None:
    """The take's file as object-store chunks (read one at a time); None when the worker opens
    the source itself (a URL; a file the driver does not have fails there as missing)."""
    if take.is_url or not os.path.isfile(take.source):
        return None
    chunks = []
    try:
        with open(take.source, "rb") as handle:
            while chunk := handle.read(chunk_bytes):
                chunks.append(ray.put(chunk))
    except OSError:  # unreadable here: the worker's attempt says why, as the local engine's would
        return None
    return chunks


def analyze_shipped_take(take: Take, settings: TakeSettings, chunks: list | None) -> TakeResult:
    """In a Ray worker: the take's chunks into a temporary file, analysed into a temporary
    folder whose files go back to the driver in the result, with the node that ran it."""
    import ray

    with tempfile.TemporaryDirectory(prefix=f"{TAKE_PREFIX}{take.name}-") as temporary:
        here = take
        if chunks is not None:
            video = Path(temporary) / f"video{Path(take.source).suffix}"
            with open(video, "wb") as handle:
                for chunk in chunks:
                    handle.write(ray.get(chunk))
            here = replace(take, source=str(video))
        directory = Path(temporary) / "take"
        result = analyze_take(here, settings, directory)
        files = ({path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}
                 if result.ok else None)
    # errors and notes name the take as the user gave it, not the temporary copy
    status = result.status.replace(here.source, take.source)
    notes = tuple(note.replace(here.source, take.source) for note in result.notes)
    return replace(result, take=take, status=status, notes=notes, files=files,
                   node=ray.get_runtime_context().get_node_id())
