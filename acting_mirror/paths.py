"""Where the package's own data files live (models/, detectors/, config.yaml).

They travel inside the package (package data), so an installed wheel finds them
wherever it is run from.
"""

from __future__ import annotations

from pathlib import Path


def package_root() -> Path:
    """The folder of the acting_mirror package, which holds models/, detectors/ and config.yaml."""
    return Path(__file__).resolve().parent
