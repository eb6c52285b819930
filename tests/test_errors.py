"""Every exception class the package defines derives from MirrorError, so the command
line shows its one-line message instead of a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import acting_mirror
from acting_mirror.errors import MirrorError

# Internal signals that never reach a user: caught and re-raised as a MirrorError where raised.
INTERNAL = {"acting_mirror.yamlfile._Refused"}


def _package_exceptions() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(acting_mirror.__path__, prefix="acting_mirror."):
        if info.name.endswith("__main__"):  # importing it runs the command line
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module of an extra that is not installed (training, Ray)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("acting_mirror"):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_package_exception_derives_from_mirror_error():
    found = _package_exceptions()
    assert "acting_mirror.track.TrackingError" in found  # the walk reaches the modules
    assert "acting_mirror.training.data.DatasetError" in found
    escaping = sorted(name for name, cls in found.items() if not issubclass(cls, MirrorError) and name not in INTERNAL)
    assert escaping == []


def test_the_old_bases_still_catch_them():
    from acting_mirror.extras import MissingExtra
    from acting_mirror.render import RenderError
    from acting_mirror.track import TrackingError
    from acting_mirror.training.data import DatasetError

    assert issubclass(TrackingError, ValueError) and issubclass(RenderError, ValueError)
    assert issubclass(DatasetError, ValueError) and issubclass(MissingExtra, ImportError)
