"""A real RTSP server on 127.0.0.1 for the tests: one Motion-JPEG stream sent as RTP (RFC 2435)
over the RTSP connection itself (TCP-interleaved, RFC 2326 section 10.12), at the stream's own
pace, as an IP camera sends it. It answers OPTIONS, DESCRIBE, SETUP, PLAY and TEARDOWN; a client
asking for RTP over UDP is told 461 and, as FFmpeg does, asks again for TCP. When its frames
run out it closes the connection, as a camera that is switched off does."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import cv2
import numpy as np

RTP_JPEG = 26         # RTP's static payload type for JPEG
RTP_CLOCK = 90_000    # its timestamp clock (Hz)
PAYLOAD_BYTES = 1400  # scan data per RTP packet, as over a network with a 1500-byte MTU


def jpeg_scan(image: np.ndarray, quality: int = 90) -> tuple[int, int, int, bytes, bytes]:
    """(RFC 2435 type, width, height, luma + chroma quantisation tables, entropy-coded scan)
    of the baseline JPEG OpenCV writes for `image` (standard Huffman tables, no restart markers)."""
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    position, tables, kind, width, height = 2, [], 0, 0, 0
    while True:
        marker = jpeg[position + 1]
        length = struct.unpack(">H", jpeg[position + 2:position + 4])[0]
        segment = jpeg[position + 4:position + 2 + length]
        if marker == 0xDB:  # DQT: one or more 8-bit tables of 64 entries, each after its id byte
            tables += [segment[i + 1:i + 65] for i in range(0, len(segment), 65)]
        elif marker == 0xC0:  # SOF0: size and the luma component's sampling (0x22: 4:2:0, type 1)
            height, width = struct.unpack(">HH", segment[1:5])
            kind = 1 if segment[7] == 0x22 else 0
        elif marker == 0xDA:  # SOS: the scan runs from here to the closing EOI marker
            scan = jpeg[position + 2 + length:]
            return kind, width, height, b"".join(tables[:2]), scan[:-2]
        position += 2 + length


class RtspServer:
    """Serves `frames` (BGR images, sides multiples of 16) at `fps` to each client that PLAYs.
    `sent` counts the frames sent on the last PLAY so far; `url` is the stream's address."""

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0, stall_after: int | None = None):
        self.frames, self.fps, self.sent = frames, fps, 0
        self.stall_after = stall_after  # frames sent before it stops sending but keeps the connection open
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"rtsp://127.0.0.1:{self._socket.getsockname()[1]}/live"
        self._closing = False
        threading.Thread(target=self._accept, name="rtsp server", daemon=True).start()

    def close(self) -> None:
        self._closing = True
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection: socket.socket) -> None:
        pending = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in pending:
                    data = connection.recv(4096)
                    if not data:
                        return
                    pending += data
                head, pending = pending.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, url = lines[0].split()[:2]
                headers = {key.strip().lower(): value.strip()
                           for key, _, value in (line.partition(":") for line in lines[1:])}
                status, extra, body = "200 OK", "", ""
                if method == "OPTIONS":
                    extra = "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"
                elif method == "DESCRIBE":
                    body = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=acting mirror test\r\nc=IN IP4 0.0.0.0\r\n"
                            f"t=0 0\r\nm=video 0 RTP/AVP {RTP_JPEG}\r\na=control:track0\r\n")
                    extra = f"Content-Base: {url}/\r\nContent-Type: application/sdp\r\n"
                elif method == "SETUP" and "TCP" not in headers.get("transport", "").upper():
                    status = "461 Unsupported Transport"
                elif method == "SETUP":
                    extra = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 7\r\n"
                elif method == "PLAY":
                    extra = "Session: 7\r\n"
                elif method != "TEARDOWN":
                    status = "405 Method Not Allowed"
                connection.sendall((f"RTSP/1.0 {status}\r\nCSeq: {headers.get('cseq', '0')}\r\n{extra}"
                                    f"Content-Length: {len(body)}\r\n\r\n{body}").encode("latin-1"))
                if method == "PLAY":
                    self._send_frames(connection)
                    return
                if method == "TEARDOWN":
                    return

    def _send_frames(self, connection: socket.socket) -> None:
        sequence, start = 0, time.monotonic()
        self.sent = 0
        try:
            for number, image in enumerate(self.frames):
                if number == self.stall_after:  # a hung camera: the connection stays, no picture comes
                    while not self._closing:
                        time.sleep(0.05)
                    return
                kind, width, height, tables, scan = jpeg_scan(image)
                timestamp = int(number * RTP_CLOCK / self.fps) & 0xFFFFFFFF
                offset = 0
                while offset < len(scan):
                    header = struct.pack(">BBBBBBBB", 0, offset >> 16 & 255, offset >> 8 & 255, offset & 255,
                                         kind, 255, width // 8, height // 8)  # Q 255: tables in band
                    if offset == 0:
                        header += struct.pack(">BBH", 0, 0, len(tables)) + tables
                    chunk = scan[offset:offset + PAYLOAD_BYTES]
                    offset += len(chunk)
                    last = 0x80 if offset >= len(scan) else 0  # RTP's marker bit ends a frame
                    packet = struct.pack(">BBHII", 0x80, last | RTP_JPEG, sequence & 0xFFFF, timestamp, 0x4D495252)
                    packet += header + chunk
                    connection.sendall(b"$\x00" + struct.pack(">H", len(packet)) + packet)
                    sequence += 1
                self.sent = number + 1
                delay = start + (number + 1) / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except OSError:  # the client went away
            return
        finally:
            with contextlib.suppress(OSError):  # the camera is off: the client sees the end at once
                connection.shutdown(socket.SHUT_RDWR)
