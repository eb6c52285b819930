"""A batch: the takes not done yet through an engine, each stored in DIR as it finishes, then
the index. See the package's docstring."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acting_mirror.batch.engines.base import Engine
from acting_mirror.batch.errors import BatchError
from acting_mirror.batch.index import INDEX_HTML, IndexRow, write_index
from acting_mirror.batch.store import (
    PARTIAL_PREFIX,
    is_complete,
    locked,
    refuse_foreign_folders,
    remove_if_made_by_batch,
    remove_leftovers,
    store_take,
)
from acting_mirror.batch.takes import VIDEO_SUFFIXES, Take, find_takes
from acting_mirror.batch.worker import TakeSettings

if TYPE_CHECKING:
    from acting_mirror.config import Config

ENGINES = ("local", "ray")


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
              max_frames: int | None = None, engine: str | Engine = "local", workers: int | None = None,
              ray_address: str | None = None, video_output: bool = False, force: bool = False,
              progress: bool = True, log: Callable[[str], None] = print,
              profile: str | Path | None = None) -> BatchResult:
    """Analyse every take of `inputs` (files, folders, URLs) into `out` and write the index;
    see the package's docstring. `engine`: a name of ENGINES (with `workers` and `ray_address`)
    or an Engine made by the caller (which has its own). Raises BatchError (or the script's / config's error) before
    any take runs when the batch cannot start."""
    from acting_mirror.api import resolve_config
    from acting_mirror.model import load_metadata
    from acting_mirror.script import load_script

    engine_runner = make_engine(engine, workers, ray_address)
    engine_runner.check()
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
    engine_runner.start(log)  # a cluster that cannot be joined stops the batch before DIR is touched
    try:
        out.mkdir(parents=True, exist_ok=True)
        with locked(out):
            refuse_foreign_folders(out, takes)
            remove_leftovers(out)
            return _run_takes(takes, out, settings, parsed_script, labels, engine_runner, force=force,
                              progress=progress, log=log)
    finally:
        engine_runner.stop()


def make_engine(name: str | Engine, workers: int | None = None, ray_address: str | None = None) -> Engine:
    """The engine called `name` (one of ENGINES); an Engine as it is."""
    if isinstance(name, Engine):
        return name
    if name not in ENGINES:
        raise BatchError(f"unknown engine {name!r}; choose {' or '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise BatchError("--workers must be >= 1")
    if name == "local":
        from acting_mirror.batch.engines.local import LocalEngine

        return LocalEngine(workers)
    from acting_mirror.batch.engines.ray import RayEngine

    return RayEngine(ray_address, workers)


def _run_takes(takes: Sequence[Take], out: Path, settings: TakeSettings, parsed_script, labels, engine: Engine, *,
               force: bool, progress: bool, log: Callable[[str], None]) -> BatchResult:
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
            results = engine.run(todo, out, settings, lambda message: _write(bar, log, message))
            with contextlib.closing(results):  # Ctrl-C here stops the engine's takes in flight at once
                for result in results:
                    for note in result.notes:
                        _write(bar, log, f"{result.take.name}: {note}")
                    if result.ok:
                        try:
                            store_take(out, result, fingerprint, engine.name)
                            analysed.append(result.take.name)
                        except BatchError as error:
                            errors[result.take.name] = str(error)
                            _write(bar, log, f"failed: {result.take.name}: {error}")
                    else:
                        errors[result.take.name] = result.status
                        remove_if_made_by_batch(out / f"{PARTIAL_PREFIX}{result.take.name}")
                        _write(bar, log, f"failed: {result.take.name}: {result.status}")
                    bar.set_postfix_str(result.take.name, refresh=False)
                    bar.update(1)
    finally:
        bar.close()
        remove_leftovers(out)
        rows = tuple(_index_row(out, take, errors, fingerprint) for take in takes)
        write_index(out, rows, parsed_script, labels)
    return BatchResult(out, rows, tuple(analysed), skipped, tuple(name for name in errors),
                       time.monotonic() - started, parsed_script is not None)


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

