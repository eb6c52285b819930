"""Sound of a take: carried into the annotated video (soundtrack for a file, microphone + mux for a
camera), read for timing the script from the speech (align, cue_timing offline, live_cues live),
and its loudness (level)."""


def load_pyav():
    """PyAV (`av`), loaded after OpenCV. The other way round, OpenCV's first window hangs in
    cv2.namedWindow: the libraries PyAV's wheel bundles are found before those OpenCV's Qt needs."""
    import importlib

    import cv2  # noqa: F401  (first: the load order is the point)

    return importlib.import_module("av")


def open_media(path, av=None):
    """A media file, or a web stream (the sound of a URL take), opened with PyAV for reading: a
    stream may use plain web protocols only (never file: from a playlist) and gives up after 20 s
    without data."""
    from acting_mirror.sources.base import is_url
    from acting_mirror.sources.file import WEB_PROTOCOLS

    av = av or load_pyav()
    if is_url(str(path)):
        return av.open(str(path), options={"protocol_whitelist": WEB_PROTOCOLS}, timeout=20.0)
    return av.open(str(path))
