"""A take's folder in DIR: made as DIR/.partial-<take>/, completed with take.json, renamed
into place; what counts as done; DIR's lock and the leftovers of a crashed run. Only the
driver calls these."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from acting_mirror.batch.errors import BatchError

if TYPE_CHECKING:
    from acting_mirror.batch.takes import Take, TakeResult

TAKE_FILE = "take.json"           # written last: what was analysed, with which settings
VIDEO_FILE = "annotated.avi"      # --video-output
PARTIAL_PREFIX = ".partial-"      # a take being written; renamed into place when complete
OLD_PREFIX = ".old-"              # a take's previous outputs while --force replaces them
REQUIRED_FILES = ("timeline.csv", "summary.json", "report.html", TAKE_FILE)
MADE_BY_BATCH = ".acting-mirror-batch"  # inside every .partial- folder a run makes: only those are removed
LOCK_FILE = ".acting-mirror-batch.lock"  # one batch at a time writes DIR


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
        partial_folder(out, take)
        for name, data in result.files.items():
            if not name.startswith("."):
                (partial / Path(name).name).write_bytes(data)
    record = {"take": take.name, "video": take.video, "source": take.shown_source, "settings": fingerprint,
              "seconds": round(result.seconds, 3), "cpu_s": round(result.cpu_s, 3), "engine": engine}
    if result.node:
        record["node"] = result.node  # the Ray node that analysed it
    (partial / TAKE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    (partial / MADE_BY_BATCH).unlink(missing_ok=True)
    final = out / take.name
    if final.exists() or final.is_symlink():
        if not is_take_folder(final):  # appeared since the run started: never replace what the batch did not make
            raise BatchError(f"{final} exists and was not written by acting-mirror batch; its take's outputs are "
                             f"left in {partial}")
        old = out / f"{OLD_PREFIX}{take.name}"
        remove_if_made_by_batch(old)
        final.rename(old)
        partial.rename(final)
        remove_if_made_by_batch(old)
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


def remove_if_made_by_batch(folder: Path) -> None:
    if _made_by_batch(folder):
        shutil.rmtree(folder, ignore_errors=True)


def partial_folder(out: Path, take: Take) -> Path:
    """DIR/.partial-<take>/, made (with the batch's mark) for a take about to run."""
    partial = out / f"{PARTIAL_PREFIX}{take.name}"
    if (partial.exists() or partial.is_symlink()) and not _made_by_batch(partial):
        raise BatchError(f"{partial} exists and was not made by acting-mirror batch: move it or choose another --out")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / MADE_BY_BATCH).touch()
    return partial


def refuse_foreign_folders(out: Path, takes: Sequence[Take]) -> None:
    """Before any take runs: a take's folder in DIR that a batch did not write (a user's
    folder that happens to have the take's name) is never replaced; the batch stops."""
    folders = [out / take.name for take in takes]
    foreign = [folder for folder in folders if (folder.exists() or folder.is_symlink()) and not is_take_folder(folder)]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise BatchError(f"{foreign[0]}{more} exists and was not written by acting-mirror batch (no take.json of "
                         "its take): move it or choose another --out; nothing was analysed")


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
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


def remove_leftovers(out: Path) -> None:
    """Folders of takes a crash or Ctrl-C left unfinished (only those the batch made)."""
    for path in out.iterdir():
        if path.name.startswith((PARTIAL_PREFIX, OLD_PREFIX)):
            remove_if_made_by_batch(path)
