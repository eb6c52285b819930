"""Optional extras of the package: which modules each needs, and the one line that says
how to install what is missing (`pip install 'acting-mirror[train]'`).

The default install runs the mirror (TFLite via LiteRT). Training, evaluation, export and
the keras backend need the `train` extra; the batch command's Ray engine needs `cluster`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from acting_mirror.errors import MirrorError

TRAIN = "train"
CLUSTER = "cluster"

# import name -> the package pip installs it from (for the message)
EXTRA_MODULES: dict[str, dict[str, str]] = {
    TRAIN: {"tensorflow": "tensorflow", "keras": "keras", "sklearn": "scikit-learn", "scipy": "scipy"},
    CLUSTER: {"ray": "ray"},
}


class MissingExtra(MirrorError, ImportError):
    """An optional extra that is not installed; the message is one line saying what to install."""


def missing_modules(modules: Iterable[str]) -> list[str]:
    """The modules of `modules` that cannot be imported here (found, not imported)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require(extra: str, what: str, modules: Iterable[str] | None = None) -> None:
    """Raise MissingExtra when any module `what` needs (default: all of the extra's) is missing."""
    packages = EXTRA_MODULES[extra]
    missing = missing_modules(packages if modules is None else modules)
    if missing:
        names = ", ".join(packages.get(name, name) for name in missing)
        raise MissingExtra(f"{what} needs the {extra!r} extra ({names} not installed): "
                           f"pip install 'acting-mirror[{extra}]'")
