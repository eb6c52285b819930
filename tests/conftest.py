"""Shared fixtures: a real X server (Xvfb) and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import cv2  # noqa: F401  (before any test module imports PyAV: loaded after it, OpenCV's windows hang)
import pytest

# -- CI: nothing silently left out ----------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) a skipped test counts as a failure: whatever a test needs (Xvfb,
    xdotool, Ray) must be there, so nothing is silently left out."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() in ("true", "1") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where a skip counts as a failure: {reason}"


def pytest_configure(config):
    """Tests interrupt runs with SIGINT, as Ctrl-C does. A shell without job control starts a
    background job with SIGINT ignored, and an ignored signal stays ignored across exec: every run
    a test started would then ignore it too. A handler (unlike SIG_IGN) is reset at exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


DISPLAY_FIXTURES = {"xvfb_server", "xvfb_display"}


def pytest_collection_modifyitems(items):
    """A test that uses the Xvfb fixtures is a window test: marked `display`, so the fast subset
    (`-m "not slow and not display"`) leaves it out without each test saying so."""
    for item in items:
        if DISPLAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.display)


# -- X display ------------------------------------------------------------


@pytest.fixture(scope="session")
def xvfb_server() -> Iterator[str]:
    """A private Xvfb for the whole session; yields its display name (":N").

    Xvfb picks a free display number itself (-displayfd). It is only stopped at the end
    of the session: HighGUI's Qt keeps its X connection for the life of the process.
    """
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb xdotool x11-utils)")
    read_end, write_end = os.pipe()
    # -noreset: without it the server resets whenever its last client (often an xdotool call) leaves,
    # and a client connecting during the reset makes Qt abort the whole test process
    process = subprocess.Popen([binary, "-displayfd", str(write_end), "-noreset", "-screen", "0", "1280x1024x24",
                                "-nolisten", "tcp"], pass_fds=(write_end,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    number = b""
    with os.fdopen(read_end, "rb") as announced:
        number = announced.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError(f"Xvfb did not start: {process.communicate(timeout=10)[1].decode(errors='replace')}")
    try:
        yield f":{number.decode()}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def xvfb_display(xvfb_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DISPLAY points at the session's Xvfb for this test (and WAYLAND_DISPLAY is unset)."""
    monkeypatch.setenv("DISPLAY", xvfb_server)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb_server


# -- HTTP -----------------------------------------------------------------

FFMPEG_AGENT = "Lavf"  # FFmpeg's (and so OpenCV's) default User-Agent starts with this


@dataclass
class ClipServer:
    """Serves the files in `root` at `url(name)`, with byte ranges.

    Paths under /no-ffmpeg/ answer 403 to FFmpeg's User-Agent, like a CDN URL that is
    bound to the headers yt-dlp was given. `requests` logs (method, path, agent, status).
    """

    root: Path
    base_url: str
    requests: list[tuple[str, str, str, int]] = field(default_factory=list)

    def url(self, name: str, prefix: str = "") -> str:
        return f"{self.base_url}{prefix}/{name}"


class RangeRequestHandler(BaseHTTPRequestHandler):
    """GET/HEAD of static files with single byte ranges (206 + Content-Range, 416)."""

    clip_server: ClipServer  # set on the subclass made per server

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        path = urlparse(self.path).path
        agent = self.headers.get("User-Agent", "")
        file = self.clip_server.root / Path(path).name
        if path.startswith("/no-ffmpeg/") and FFMPEG_AGENT in agent:
            return self._reply_status(403, path, agent)
        if not file.is_file():
            return self._reply_status(404, path, agent)
        data = file.read_bytes()
        size = len(data)
        start, end, status = 0, size - 1, 200
        requested = self.headers.get("Range")
        if requested:
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", requested.strip())
            if match and match[1]:
                start = int(match[1])
                end = min(int(match[2]), size - 1) if match[2] else size - 1
            elif match and match[2]:  # suffix range: the last N bytes
                start = max(0, size - int(match[2]))
            if not match or not (match[1] or match[2]) or start >= size or start > end:
                return self._reply_status(416, path, agent, {"Content-Range": f"bytes */{size}"})
            status = 206
        self.clip_server.requests.append((self.command, path, agent, status))
        self.send_response(status)
        self.send_header("Content-Type", mimetypes.guess_type(file.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if send_body:
            # players hang up mid-body when they seek; that is normal
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data[start:end + 1])

    def _reply_status(self, status: int, path: str, agent: str, headers: dict | None = None) -> None:
        self.clip_server.requests.append((self.command, path, agent, status))
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:
        pass  # `requests` is the log


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[ClipServer]:
    """A real HTTP server on 127.0.0.1 (its own thread) serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    clip_server = ClipServer(root, "")
    handler = type("Handler", (RangeRequestHandler,), {"clip_server": clip_server})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    clip_server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test http server",
                              daemon=True)
    thread.start()
    try:
        yield clip_server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
