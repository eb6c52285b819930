"""Any sink, written on its own thread: encoding and disk writes overlap the next frame.

OpenCV releases the GIL while it encodes, so a frame's write runs on the second core
while the capture loop analyses the next frame. Frames are written in the order they
were given; a small queue holds the loop back when the writer cannot keep up, so memory
stays bounded. close() writes every frame already given, then closes the sink, also
after Ctrl-C. An error the sink raises comes back to the caller on its next write or
on close, as the sink would have raised it.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

QUEUE_FRAMES = 4  # frames waiting for the writer before write() blocks
_END = None       # what close() puts on the queue after the last frame


class ThreadedSink:
    """Wraps a sink with write(image) and close(); passes its fps, path, failure and
    frames_written through. Images given to write() must not be changed afterwards
    (the app's are fresh copies from the renderers)."""

    def __init__(self, sink, queue_frames: int = QUEUE_FRAMES):
        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="sink writer", daemon=True)
        self._thread.start()

    @property
    def fps(self):
        return getattr(self.sink, "fps", None)

    @property
    def path(self):
        return getattr(self.sink, "path", None)

    @property
    def failure(self):
        return getattr(self.sink, "failure", None)

    @property
    def frames_written(self) -> int:
        return self.sink.frames_written

    def _drain(self) -> None:
        while True:
            image = self._queue.get()
            if image is _END:
                return
            if self._error is None:  # after an error the rest is dropped, as the sink would refuse it
                try:
                    self.sink.write(image)
                except BaseException as error:  # handed to the caller's thread
                    self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, image: np.ndarray) -> None:
        self._raise_error()
        if self._closed:
            self.sink.write(image)  # the sink says it is closed, in its own words
            return
        self._queue.put(image)

    def close(self) -> None:
        """Write every frame given so far, then close the sink (always, even after an error)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_END)
            self._thread.join()
        try:
            self._raise_error()
        finally:
            self.sink.close()
