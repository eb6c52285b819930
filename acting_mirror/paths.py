"""Where the project's own files live (models/, haarcascade_files/, config.yaml)."""

from __future__ import annotations

from pathlib import Path


def package_root() -> Path:
    """The project root: the folder that holds acting_mirror/, models/ and haarcascade_files/."""
    return Path(__file__).resolve().parent.parent
