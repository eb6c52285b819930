"""Acting Mirror: see, live, which emotion your face shows while you rehearse."""

__version__ = "0.1.0"
