"""Many takes of a scene: analysed in parallel, compared in one index.

    acting-mirror batch takes/ extra_take.mp4 --script scene.yaml --out results/

Each take runs through `acting_mirror.api.analyze` exactly as `acting-mirror --video TAKE
--script S --report R` would, and gets DIR/<take>/ with the same timeline.csv, summary.json,
report.html and charts (plus annotated.avi with --video-output). DIR/index.csv and
DIR/index.html compare the takes: scores, each cue's on-target share, or without a script
the emotion shares.

Engines: `local` (a spawn process pool, one take per process at a time, one inference and
one OpenCV thread per process) and `ray` (one Ray task per take, on a local Ray runtime or
a cluster). Either way the driver alone writes DIR: a take's files land in
DIR/.partial-<take>/ and are renamed to DIR/<take>/ when complete, so a crash loses at most
the takes in progress, and a re-run skips the takes already done with the same settings.
One bad take (missing, corrupt, unreachable) is reported with its one-line error in the
index; the others go on.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from acting_mirror.errors import MirrorError
from acting_mirror.files import write_atomically

if TYPE_CHECKING:
    import numpy as np

    from acting_mirror.config import Config
    from acting_mirror.script import Script

ENGINES = ("local", "ray")
VIDEO_SUFFIXES = frozenset({".avi", ".flv", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".ts", ".webm",
                            ".wmv"})
TAKE_FILE = "take.json"           # written last: what was analysed, with which settings
VIDEO_FILE = "annotated.avi"      # --video-output
INDEX_CSV = "index.csv"
INDEX_HTML = "index.html"
PARTIAL_PREFIX = ".partial-"      # a take being written; renamed into place when complete
OLD_PREFIX = ".old-"              # a take's previous outputs while --force replaces them
REQUIRED_FILES = ("timeline.csv", "summary.json", "report.html", TAKE_FILE)
MADE_BY_BATCH = ".acting-mirror-batch"  # inside every .partial- folder a run makes: only those are removed
LOCK_FILE = ".acting-mirror-batch.lock"  # one batch at a time writes DIR
MAX_NAME_LENGTH = 64
MAX_CHART_TAKES = 30              # a cue's chart shows at most this many takes (the best ones)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BatchError(MirrorError):
    """A batch that cannot start (no takes, Ray missing, videos the workers cannot reach)."""

    exit_code = 2


# -- takes ----------------------------------------------------------------------
@dataclass(frozen=True)
class Take:
    """One recording. name: its folder in DIR (unique, safe); video: as the user gave it;
    source: what a worker opens (an absolute path or the URL)."""

    name: str
    video: str
    source: str

    @property
    def is_url(self) -> bool:
        return bool(_URL.match(self.source))

    @property
    def shown_source(self) -> str:
        """The source as files and messages show it: a URL's password as ***."""
        from acting_mirror.sources import without_password

        return without_password(self.source) if self.is_url else self.source


def find_takes(inputs: Sequence[str | Path], exclude: str | Path | None = None,
               log: Callable[[str], None] = print) -> list[Take]:
    """The takes named by files, folders (searched recursively for video files, hidden
    ones and `exclude` left out) and URLs, in the order given, each once. A path that does
    not exist stays a take: it fails as a missing file and is listed in the index."""
    excluded = Path(exclude).resolve() if exclude is not None else None
    videos: dict[str, str] = {}  # source -> as given
    for item in inputs:
        text = str(item)
        if _URL.match(text):
            from acting_mirror.sources import without_password

            videos.setdefault(text, without_password(text))  # shown in the index: never the password
            continue
        path = Path(text)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)
                     and not (excluded is not None and p.resolve().is_relative_to(excluded))]
            if not found:
                log(f"no video files in {path}")
            for video in found:
                videos.setdefault(str(video.resolve()), str(video))
        else:
            videos.setdefault(str(path.resolve()), text)
    sources = list(videos)
    return [Take(name, videos[source], source) for name, source in zip(take_names(sources), sources, strict=True)]


def take_names(sources: Sequence[str]) -> list[str]:
    """A unique folder name per source: the file's stem, or a URL's host, path and query,
    made safe ([A-Za-z0-9._-], no leading dot, at most 64 characters). Names that collide
    (case-insensitively) take their parent folders' names, then the file's suffix, then
    -2, -3 ... in order."""
    candidates = [_name_candidates(source) for source in sources]
    level = [0] * len(sources)

    def current(i: int) -> str:
        return candidates[i][min(level[i], len(candidates[i]) - 1)]

    while True:
        groups: dict[str, list[int]] = {}
        for i in range(len(sources)):
            groups.setdefault(current(i).lower(), []).append(i)
        progressed = False
        for group in groups.values():
            if len(group) > 1:
                for i in group:
                    if level[i] < len(candidates[i]) - 1:
                        level[i] += 1
                        progressed = True
        if not progressed:
            break
    names: list[str] = []
    taken = {current(i).lower() for i in range(len(sources))}
    used: set[str] = set()
    for i in range(len(sources)):
        name = current(i)
        if name.lower() in used:
            number = 2
            while f"{name}-{number}".lower() in taken | used:
                number += 1
            name = f"{name}-{number}"
        used.add(name.lower())
        names.append(name)
    return names


def _name_candidates(source: str) -> list[str]:
    if _URL.match(source):
        parsed = urlparse(source)
        try:
            port = f":{parsed.port}" if parsed.port else ""
        except ValueError:  # a port that is no number: the take fails when opened, and says why
            port = ""
        host = (parsed.hostname or "").removeprefix("www.") + port  # never the user name or password
        return [_safe_name(f"{host}{parsed.path}{'_' + parsed.query if parsed.query else ''}")]
    # the stem; then its folder's name before it (take.mp4 in two folders); then the suffix after it
    # (take.mp4 and take.avi in one folder); then more folders
    path = Path(source)
    parents = [p.name for p in path.parents if p.name][:3]
    stem = path.stem or path.name
    suffix = f"-{path.suffix.lstrip('.')}" if path.suffix else ""
    names = [stem]
    for depth in range(1, len(parents) + 1):
        named = "-".join([*reversed(parents[:depth]), stem])
        names += [named, named + suffix] if depth == 1 else [named + suffix]
    if not parents:
        names.append(stem + suffix)
    return [_safe_name(name) for name in names]


def _safe_name(text: str) -> str:
    name = _UNSAFE.sub("_", text).strip("._-") or "take"
    if len(name) > MAX_NAME_LENGTH:  # keep it unique: the cut-off part is in the hash
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        name = f"{name[:MAX_NAME_LENGTH - 9].rstrip('._-')}-{digest}"
    return name


# -- one take (runs in a worker) ------------------------------------------------
@dataclass(frozen=True)
class TakeSettings:
    """What every take is analysed with; its fingerprint decides whether a take already
    done can be skipped."""

    config: Config
    script: Script | None = None
    video_output: bool = False

    def fingerprint(self) -> str:
        return hashlib.sha256(repr((self.config, self.script, self.video_output)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TakeResult:
    """What a worker sends back: "ok" or the one-line error, person 0's summary (as
    summary.json), the wall and CPU seconds it took, notes logged on the way and, from a
    remote worker, the files of DIR/<take>/ as bytes."""

    take: Take
    status: str
    summary: dict[str, Any] | None = None
    seconds: float = 0.0
    cpu_s: float = 0.0
    notes: tuple[str, ...] = ()
    files: dict[str, bytes] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


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


def remote_analyze_take(take: Take, settings: TakeSettings) -> TakeResult:
    """`analyze_take` on a machine that does not share DIR: into a temporary folder whose
    files travel back to the driver in the result."""
    with tempfile.TemporaryDirectory(prefix="acting-mirror-take-") as temporary:
        directory = Path(temporary) / "take"
        result = analyze_take(take, settings, directory)
        if not result.ok:
            return result
        return replace(result, files={path.name: path.read_bytes() for path in sorted(directory.iterdir())
                                      if path.is_file()})


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


def _init_local_worker() -> None:
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


# -- engines --------------------------------------------------------------------
def run_local(jobs: Sequence[tuple[Take, Path]], settings: TakeSettings, workers: int) -> Iterator[TakeResult]:
    """Each (take, folder) through a spawn process pool of `workers` processes; results
    as they finish. The workers write the folders themselves (they share the disk)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_local_worker)
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


# -- the batch ------------------------------------------------------------------
@dataclass(frozen=True)
class IndexRow:
    take: Take
    status: str
    summary: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.summary is not None

    @property
    def score(self) -> float | None:
        return self.summary.get("score") if self.summary else None


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: one index row per take (in take order), and the takes analysed
    now, skipped (done before) and failed."""

    out: Path
    rows: tuple[IndexRow, ...]
    analysed: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    seconds: float
    scripted: bool

    @property
    def best(self) -> IndexRow | None:
        """The take with the highest score (None without a script or a scored take)."""
        scored = [row for row in self.rows if row.ok and row.score is not None]
        return max(scored, key=lambda row: row.score) if scored else None

    def lines(self) -> list[str]:
        rate = f" ({60 * len(self.analysed) / self.seconds:.1f} takes/min)" if self.analysed and self.seconds else ""
        lines = [f"{len(self.rows)} takes: {len(self.analysed)} analysed, {len(self.skipped)} skipped (done before), "
                 f"{len(self.failed)} failed, in {self.seconds:.1f} s{rate}"]
        lines += [f"failed: {row.take.name}: {row.status}" for row in self.rows if not row.ok]
        best = self.best
        if best is not None:
            lines.append(f"best take: {best.take.name}, score {best.score:.0f}/100")
        elif not self.scripted:
            lines.append("no script, so no scores: the index compares the emotion shares")
        lines.append(f"index: {self.out / INDEX_HTML}")
        return lines


def run_batch(inputs: Sequence[str | Path], out: str | Path, *, script: str | Path | None = None,
              config: Config | str | Path | None = None, model: str | Path | None = None,
              max_frames: int | None = None, engine: str = "local", workers: int | None = None,
              ray_address: str | None = None, video_output: bool = False, force: bool = False,
              progress: bool = True, log: Callable[[str], None] = print,
              profile: str | Path | None = None) -> BatchResult:
    """Analyse every take of `inputs` (files, folders, URLs) into `out` and write the index;
    see the module's docstring. Raises BatchError (or the script's / config's error) before
    any take runs when the batch cannot start."""
    from acting_mirror.api import resolve_config
    from acting_mirror.model import load_metadata
    from acting_mirror.script import load_script

    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise BatchError("--workers must be >= 1")
    if engine == "ray":
        import_ray()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"output folder {out} is a file")
    if model is not None and Path(model).exists():
        model = Path(model).resolve()  # a worker's working directory may differ
    # one inference thread per worker, like the OpenCV thread (see _single_threaded)
    config = resolve_config(config, model=model, backend=None, detector=None, report_dir=None, video_output=None,
                             max_frames=max_frames, profile=Path(profile).resolve() if profile else None,
                             ).override(model={"threads": 1}, display={"show": False})
    if Path(config.model.path).exists():
        config = config.override(model={"path": str(Path(config.model.path).resolve())})
    metadata, json_path = load_metadata(config.model.path)
    labels = metadata.labels
    if config.model.profile:  # a profile of another model stops the batch here, not in every take
        from acting_mirror.calibration import load_profile

        load_profile(config.model.profile, metadata, json_path.parent)
    parsed_script = load_script(script, labels) if script is not None else None  # a bad script stops here, once
    settings = TakeSettings(config, parsed_script, video_output)
    takes = find_takes(inputs, exclude=out, log=log)
    if not takes:
        inside = [item for item in inputs if Path(item).is_dir() and any(
            video.suffix.lower() in VIDEO_SUFFIXES and video.resolve().is_relative_to(out.resolve())
            for video in Path(item).rglob("*"))]
        if inside:
            raise BatchError(f"no takes: the videos in {inside[0]} lie inside --out {out}, which is left out of the "
                             "search; choose another --out")
        raise BatchError("no takes: name video files, folders holding them, or URLs")
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        _refuse_foreign_folders(out, takes)
        _remove_leftovers(out)
        return _run_takes(takes, out, settings, parsed_script, labels, force=force, engine=engine, workers=workers,
                          ray_address=ray_address, progress=progress, log=log)


def _run_takes(takes, out, settings, parsed_script, labels, *, force, engine, workers, ray_address, progress,
               log) -> BatchResult:
    """The takes not done yet through the engine, each stored as it finishes; then the index."""
    fingerprint = settings.fingerprint()
    todo = [take for take in takes if force or not is_complete(out / take.name, take, fingerprint)]
    skipped = tuple(take.name for take in takes if take not in todo)
    errors: dict[str, str] = {}
    analysed: list[str] = []
    started = time.monotonic()
    bar = _progress_bar(len(takes), len(skipped), progress)
    try:
        if todo:
            if engine == "local" and workers and workers > available_cores():
                # each worker holds a model and a video decoder: more processes than cores only cost memory
                _write(bar, log, f"--workers {workers} is more than the {available_cores()} cores here: "
                                 f"using {available_cores()}")
                workers = available_cores()
            workers = min(workers or available_cores(), len(todo))
            if engine == "local":
                results = run_local([(take, _partial_folder(out, take)) for take in todo], settings, workers)
            else:
                results = run_ray(todo, settings, address=ray_address,
                                  workers=None if ray_address and not workers else workers, log=log)
            with contextlib.closing(results):  # Ctrl-C here stops the engine's takes in flight at once
                for result in results:
                    for note in result.notes:
                        _write(bar, log, f"{result.take.name}: {note}")
                    if result.ok:
                        try:
                            store_take(out, result, fingerprint, engine)
                            analysed.append(result.take.name)
                        except BatchError as error:
                            errors[result.take.name] = str(error)
                            _write(bar, log, f"failed: {result.take.name}: {error}")
                    else:
                        errors[result.take.name] = result.status
                        _remove_if_made_by_batch(out / f"{PARTIAL_PREFIX}{result.take.name}")
                        _write(bar, log, f"failed: {result.take.name}: {result.status}")
                    bar.set_postfix_str(result.take.name, refresh=False)
                    bar.update(1)
    finally:
        bar.close()
        _remove_leftovers(out)
        rows = tuple(_index_row(out, take, errors, fingerprint) for take in takes)
        write_index(out, rows, parsed_script, labels)
    return BatchResult(out, rows, tuple(analysed), skipped, tuple(name for name in errors),
                       time.monotonic() - started, parsed_script is not None)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def is_complete(folder: Path, take: Take, fingerprint: str) -> bool:
    """DIR/<take>/ holds every output, made from this take's video with these settings."""
    if not all((folder / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        record = json.loads((folder / TAKE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(record, dict) and record.get("source") == take.shown_source
            and record.get("settings") == fingerprint)


def store_take(out: Path, result: TakeResult, fingerprint: str, engine: str) -> Path:
    """Complete DIR/.partial-<take>/ (the files a remote worker sent back, then take.json)
    and rename it to DIR/<take>/, replacing earlier outputs only now."""
    take = result.take
    partial = out / f"{PARTIAL_PREFIX}{take.name}"
    if result.files is not None:
        _partial_folder(out, take)
        for name, data in result.files.items():
            if not name.startswith("."):
                (partial / Path(name).name).write_bytes(data)
    record = {"take": take.name, "video": take.video, "source": take.shown_source, "settings": fingerprint,
              "seconds": round(result.seconds, 3), "cpu_s": round(result.cpu_s, 3), "engine": engine}
    (partial / TAKE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    (partial / MADE_BY_BATCH).unlink(missing_ok=True)
    final = out / take.name
    if final.exists() or final.is_symlink():
        if not is_take_folder(final):  # appeared since the run started: never replace what the batch did not make
            raise BatchError(f"{final} exists and was not written by acting-mirror batch; its take's outputs are "
                             f"left in {partial}")
        old = out / f"{OLD_PREFIX}{take.name}"
        _remove_if_made_by_batch(old)
        final.rename(old)
        partial.rename(final)
        _remove_if_made_by_batch(old)
    else:
        partial.rename(final)
    return final


def is_take_folder(folder: Path) -> bool:
    """A take's folder written by a batch: a real folder whose take.json names it (as DIR/<take>/,
    or as DIR/.old-<take>/ while a rerun replaces it)."""
    record_path = folder / TAKE_FILE
    if folder.is_symlink() or not folder.is_dir() or record_path.is_symlink() or not record_path.is_file():
        return False
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("take") == folder.name.removeprefix(OLD_PREFIX)


def _made_by_batch(folder: Path) -> bool:
    """A folder a batch made: a take's folder, or a .partial- folder holding the batch's mark."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    return is_take_folder(folder) or (folder / MADE_BY_BATCH).is_file()


def _remove_if_made_by_batch(folder: Path) -> None:
    if _made_by_batch(folder):
        shutil.rmtree(folder, ignore_errors=True)


def _partial_folder(out: Path, take: Take) -> Path:
    """DIR/.partial-<take>/, made (with the batch's mark) for a take about to run."""
    partial = out / f"{PARTIAL_PREFIX}{take.name}"
    if (partial.exists() or partial.is_symlink()) and not _made_by_batch(partial):
        raise BatchError(f"{partial} exists and was not made by acting-mirror batch: move it or choose another --out")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / MADE_BY_BATCH).touch()
    return partial


def _refuse_foreign_folders(out: Path, takes: Sequence[Take]) -> None:
    """Before any take runs: a take's folder in DIR that a batch did not write (a user's
    folder that happens to have the take's name) is never replaced; the batch stops."""
    folders = [out / take.name for take in takes]
    foreign = [folder for folder in folders if (folder.exists() or folder.is_symlink()) and not is_take_folder(folder)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise BatchError(f"{foreign[0]}{more} exists and was not written by acting-mirror batch (no take.json of "
                         "its take): move it or choose another --out; nothing was analysed")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold DIR's lock for the run: a second batch on the same DIR is refused at once."""
    import fcntl

    path = out / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise BatchError(f"cannot lock {out} for the batch: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"another batch is writing to {out} right now: wait for it to finish or choose "
                             "another --out") from None
        yield
    finally:
        os.close(descriptor)


def _remove_leftovers(out: Path) -> None:
    """Folders of takes a crash or Ctrl-C left unfinished (only those the batch made)."""
    for path in out.iterdir():
        if path.name.startswith((PARTIAL_PREFIX, OLD_PREFIX)):
            _remove_if_made_by_batch(path)


def _index_row(out: Path, take: Take, errors: dict[str, str], fingerprint: str) -> IndexRow:
    if take.name in errors:
        return IndexRow(take, errors[take.name], None)
    if not is_complete(out / take.name, take, fingerprint):
        return IndexRow(take, "not analysed (the run stopped before it)", None)
    return IndexRow(take, "ok", json.loads((out / take.name / "summary.json").read_text()))


def _progress_bar(total: int, done: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="take", desc="takes", file=sys.stderr, dynamic_ncols=True,
                disable=None if enabled else True)


def _write(bar, log: Callable[[str], None], message: str) -> None:
    if bar.disable:
        log(message)
    else:
        bar.write(message, file=sys.stderr)


# -- the index ------------------------------------------------------------------
def index_columns(script: Script | None, labels: Sequence[str]) -> list[str]:
    if script is not None:
        measures = [f"cue{number}_on_target" for number in range(1, len(script.cues) + 1)]
    else:
        measures = [f"share_{label}" for label in labels]
    return ["take", "video", "duration_s", "frames", "face_frames", "score", *measures, "status"]


def index_values(row: IndexRow, script: Script | None, labels: Sequence[str]) -> list:
    """A row of index.csv: the take's own summary.json numbers, unrounded."""
    summary = row.summary or {}
    if script is not None:
        cues = summary.get("cues") or [{}] * len(script.cues)
        measures = [cue.get("on_target_fraction") for cue in cues]
    else:
        share = summary.get("emotion_share") or {}
        measures = [share.get(label) for label in labels]
    return [row.take.name, row.take.video, summary.get("duration_s"), summary.get("frames"),
            summary.get("face_frames"), summary.get("score"), *measures, row.status]


def write_index(out: Path, rows: Sequence[IndexRow], script: Script | None, labels: Sequence[str]) -> dict[str, Path]:
    """DIR/index.csv and DIR/index.html, each replaced in one step."""
    csv_path, html_path = out / INDEX_CSV, out / INDEX_HTML
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(index_columns(script, labels))
    for row in rows:
        writer.writerow(["" if value is None else value for value in index_values(row, script, labels)])
    write_atomically(csv_path, table.getvalue(), "the index", BatchError)
    write_atomically(html_path, render_index(rows, script, labels), "the index", BatchError)
    return {"csv": csv_path, "html": html_path}


def ranked(rows: Sequence[IndexRow]) -> list[IndexRow]:
    """Analysed takes by score (highest first; unscored ones after, in take order), then
    the failed ones."""
    order = {id(row): i for i, row in enumerate(rows)}
    good = [row for row in rows if row.ok]
    good.sort(key=lambda row: (row.score is None, -(row.score or 0.0), order[id(row)]))
    return good + [row for row in rows if not row.ok]


def best_for_cue(rows: Sequence[IndexRow], number: int) -> tuple[IndexRow, dict] | None:
    """The take most on target in cue `number` (ties: the higher mean target probability,
    then the earlier take); None when no take reached the cue."""
    played = [(row, row.summary["cues"][number - 1]) for row in rows if row.ok and row.summary.get("cues")]
    played = [(row, cue) for row, cue in played if cue.get("on_target_fraction") is not None]
    if not played:
        return None
    return max(played, key=lambda pair: (pair[1]["on_target_fraction"], pair[1].get("mean_target_probability") or 0))


def comparison_chart(names: Sequence[str], values: Sequence[float | None], title: str, best: str | None = None,
                     colour: str = "#1f77b4", width: int = 640) -> np.ndarray:
    """Horizontal bars, one per take (highest first, at most MAX_CHART_TAKES), 0-100%,
    the best take's bar in `colour` and the rest lighter; a take with no value reads "-". BGR."""
    import numpy as np

    from acting_mirror.render.graph import canvas_to_bgr, new_figure

    pairs = sorted(zip(names, values, strict=True),
                   key=lambda pair: (-1.0 if pair[1] is None else -pair[1], pair[0] != best))
    shown = pairs[:MAX_CHART_TAKES]
    if len(pairs) > len(shown):
        title = f"{title} (best {len(shown)} of {len(pairs)} takes)"
    top, bottom = 28, 30  # pixels for the title and the axis
    height = top + bottom + 22 * len(shown)
    figure, canvas = new_figure((width, height))
    axes = figure.add_axes((0.25, bottom / height, 0.68, 22 * len(shown) / height))
    positions = np.arange(len(shown))[::-1]
    percents = [0.0 if value is None else 100 * value for _, value in shown]
    colours = [colour if name == best else "#c9c9c9" for name, _ in shown]
    axes.barh(positions, percents, color=colours, height=0.7)
    for position, (_, value), percent in zip(positions, shown, percents, strict=True):
        axes.text(percent + 1, position, "-" if value is None else f"{percent:.0f}%", va="center", fontsize=8)
    axes.set_yticks(positions, [name for name, _ in shown], fontsize=8)
    axes.set_xlim(0, 112)
    axes.set_xticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100%"], fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title, loc="left", fontsize=9)
    canvas.draw()
    return canvas_to_bgr(canvas, (width, height))


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise BatchError("cannot encode a chart as PNG")
    return encoded.tobytes()


def render_index(rows: Sequence[IndexRow], script: Script | None, labels: Sequence[str]) -> str:
    """index.html: the takes ranked with links to their reports, then per cue (or, without
    a script, per emotion) the best take and a chart comparing all of them. Self-contained."""
    from acting_mirror.render.graph import emotion_colours
    from acting_mirror.render.html import STYLE
    from acting_mirror.render.html import clock as _clock
    from acting_mirror.render.html import embedded_image as _image
    from acting_mirror.render.html import percent as _percent
    from acting_mirror.render.html import score_colour as _score_colour

    e = html.escape
    good = [row for row in rows if row.ok]
    failed = [row for row in rows if not row.ok]
    title = script.title if script is not None and script.title else "Takes"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{e(title)} - takes - Acting Mirror</title><style>{STYLE}"
             ".failed td { color: #a33; }</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f'<p class="meta">Acting Mirror takes index: {len(rows)} takes, {len(good)} analysed'
             f'{f", {len(failed)} failed" if failed else ""}. Each take links to its own report.</p>']
    best = max((row for row in good if row.score is not None), key=lambda row: row.score, default=None)
    if best is not None:
        parts.append(f'<p>Best take: <a href="{_link(best)}"><b>{e(best.take.name)}</b></a>, score '
                     f'<b>{best.score:.0f}</b>/100.</p>')
    measure_heads = ([f"<th>cue {number}</th>" for number in range(1, len(script.cues) + 1)] if script is not None
                     else [f"<th>{e(label)}</th>" for label in labels])
    parts.append("<h2>Takes</h2><table><tr><th>#</th><th>take</th>"
                 f"{'<th>score</th>' if script is not None else ''}<th>length</th><th>face seen</th>"
                 f"{''.join(measure_heads)}</tr>")
    for rank, row in enumerate(ranked(good), start=1):
        summary = row.summary
        if script is not None:
            measures = [cue.get("on_target_fraction") for cue in summary.get("cues", [])]
            score = row.score
            score_cell = (f'<td class="num"><b style="color:{_score_colour(score)}">'
                          f'{"-" if score is None else f"{score:.0f}"}</b></td>')
        else:
            measures = [summary["emotion_share"].get(label) for label in labels]
            score_cell = ""
        face = summary["face_frames"] / summary["frames"] if summary["frames"] else None
        parts.append(f'<tr><td class="num">{rank}</td><td><a href="{_link(row)}">{e(row.take.name)}</a></td>'
                     f'{score_cell}<td class="num">{_clock(summary["duration_s"])}</td>'
                     f'<td class="num">{_percent(face)}</td>'
                     + "".join(f'<td class="num">{_percent(value)}</td>' for value in measures) + "</tr>")
    parts.append("</table>")
    if failed:
        parts.append("<h2>Failed</h2><table>")
        for row in failed:
            parts.append(f'<tr class="failed"><td>{e(row.take.name)}</td><td>{e(row.take.video)}</td>'
                         f"<td>{e(row.status)}</td></tr>")
        parts.append("</table>")
    names = [row.take.name for row in good]
    if script is not None:
        parts.append("<h2>Best take per cue</h2>")
        for number, cue in enumerate(script.cues, start=1):
            when = f"{_clock(cue.start)}-{_clock(cue.end)}" if cue.timed else "timed by each take's speech"
            parts.append(f'<h3>Cue {number} ({e(when)}): <span class="line">'
                         f'"{e(cue.line)}"</span> - {e(" or ".join(cue.targets))}</h3>')
            found = best_for_cue(good, number)
            if found is None:
                parts.append("<p>No take reached this cue.</p>")
                continue
            row, scores = found
            take_link = f'<a href="{_link(row)}"><b>{e(row.take.name)}</b></a>'
            if scores["on_target_fraction"] > 0:
                parts.append(f'<p>Your best take of <span class="line">"{e(cue.line)}"</span> was {take_link}: '
                             f'on target {_percent(scores["on_target_fraction"])}.</p>')
            else:
                parts.append(f"<p>No take was on target here; the closest was {take_link} (mean target "
                             f'probability {_percent(scores.get("mean_target_probability"))}).</p>')
            values = [r.summary["cues"][number - 1]["on_target_fraction"] for r in good]
            chart = comparison_chart(names, values, f"Cue {number}: share of frames on target", row.take.name,
                                     _score_colour(100 * scores["on_target_fraction"]))
            parts.append(_image(_png(chart), f"Cue {number}: on-target share of each take"))
    elif good:
        parts.append("<h2>Emotions</h2><p class=\"meta\">No script: the takes compared by the share of face "
                     "frames that showed each emotion.</p>")
        for label, colour in zip(labels, emotion_colours(labels), strict=True):
            values = [row.summary["emotion_share"].get(label) for row in good]
            top = max(range(len(good)), key=lambda i: values[i] or 0.0)
            if not values[top]:
                continue
            parts.append(f"<h3>{e(label)}</h3><p>Most {e(label)}: <a href=\"{_link(good[top])}\">"
                         f"<b>{e(names[top])}</b></a> ({_percent(values[top])} of its face frames).</p>")
            chart = comparison_chart(names, values, f"share of face frames showing {label}", names[top], colour)
            parts.append(_image(_png(chart), f"{label}: share of each take"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _link(row: IndexRow) -> str:
    return f"{quote(row.take.name)}/report.html"


# -- command --------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from acting_mirror.commandline import PROG, Parser

    parser = Parser(
        prog=f"{PROG} batch",
        description="Analyse many takes (video files, folders of them, URLs) in parallel: each gets "
                    "DIR/<take>/ with timeline.csv, summary.json and report.html, and DIR/index.csv and "
                    "DIR/index.html compare them. Takes already done are skipped (--force redoes them).",
        epilog="With --engine ray on a cluster the videos must be on a path every node mounts at the same "
               "place, or URLs; acting-mirror must be installed on every node. Exit codes: 0 every take "
               "analysed, 1 some take failed (index.csv says why), 2 the batch could not start, 130 interrupted.")
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER_OR_URL", help="the takes")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the takes' reports and the index go")
    parser.add_argument("--script", metavar="YAML", help="acting script to score every take against")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="takes analysed at once (default: the number of cores)")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: a process pool (default); ray: one Ray task per take")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="join this Ray cluster (auto, ray://host:port); default: a local Ray runtime")
    parser.add_argument("--video-output", action="store_true", help="also write DIR/<take>/annotated.avi")
    parser.add_argument("--force", action="store_true", help="redo takes that are already done")
    parser.add_argument("--max-frames", type=int, metavar="N", help="analyse at most N frames of each take")
    parser.add_argument("--model", metavar="PATH", help="model metadata JSON (default: from config.yaml)")
    parser.add_argument("--profile", metavar="PATH",
                        help="the actor's resting-face profile (acting-mirror calibrate), applied to every take")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: ./config.yaml if present, else the package's config.yaml)")
    return parser


def batch_main(argv: Sequence[str]) -> int:
    """`acting-mirror batch ...` (called by `cli.main`, which turns SIGTERM into Ctrl-C and
    reports errors): 0 every take analysed, 1 some take failed (the index lists it), 2 the
    batch could not start, 130 interrupted."""
    from acting_mirror.commandline import default_config_path
    from acting_mirror.commandline import log as _log
    from acting_mirror.errors import UsageError

    args = build_parser().parse_args(argv)
    if args.ray_address and args.engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    if args.max_frames is not None and args.max_frames < 0:
        raise UsageError("--max-frames must be >= 0")
    try:
        result = run_batch(args.inputs, args.out, script=args.script,
                           config=args.config or default_config_path(), model=args.model,
                           max_frames=args.max_frames, engine=args.engine, workers=args.workers,
                           ray_address=args.ray_address, video_output=args.video_output, force=args.force, log=_log,
                           profile=args.profile)
    except KeyboardInterrupt:
        _log(f"interrupted: the takes done so far are in {args.out} (run again to go on)")
        return 130
    for line in result.lines():
        print(line)
    return 1 if result.failed else 0
