"""What every engine does: run takes and yield their results as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acting_mirror.batch.takes import Take, TakeResult
    from acting_mirror.batch.worker import TakeSettings


class Engine(ABC):
    """Runs takes; `name` goes into each take's take.json. The results come back as they finish,
    one per take; a take that fails comes back with its one-line error, never as an exception.
    Closing the iterator (Ctrl-C in the driver) stops the takes still in flight."""

    name = ""

    def check(self) -> None:  # noqa: B027 (not abstract: most engines can always run)
        """Raise BatchError now, before anything is read, when the engine cannot run here."""

    def start(self, log: Callable[[str], None]) -> None:  # noqa: B027 (a pool starts with its takes)
        """Get ready (join a cluster) before DIR is touched: BatchError says why it cannot."""

    def stop(self) -> None:  # noqa: B027
        """Undo `start`; called once after the takes, even when they failed."""

    @abstractmethod
    def run(self, takes: Sequence[Take], out: Path, settings: TakeSettings,
            log: Callable[[str], None]) -> Iterator[TakeResult]:
        """Each take analysed with `settings`. An engine whose workers share the driver's disk
        may write DIR/.partial-<take>/ (acting_mirror.batch.store.partial_folder) itself;
        else the result carries the files and the driver writes them."""
