"""Acting Mirror: see, live, which emotion your face shows while you rehearse.

`analyze(source, script=...)` runs the mirror's analysis from Python (see acting_mirror.api).
"""

from acting_mirror.api import Analysis, analyze

__version__ = "0.1.0"
__all__ = ["Analysis", "__version__", "analyze"]
