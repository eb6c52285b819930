"""Acting Mirror: see, live, which emotion your face shows while you rehearse.

`analyze(source, script=...)` runs the mirror's analysis from Python (see acting_mirror.api).
"""

from acting_mirror.api import Analysis, analyze

__version__ = "0.1.0"  # pyproject.toml reads it from here
__all__ = ["Analysis", "__version__", "analyze", "installed_version"]


def installed_version() -> str:
    """The version in the installed package's metadata (what pip sees), else __version__
    (running from a source tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("acting-mirror")
    except PackageNotFoundError:
        return __version__
