"""Demo and test clips made from a real face photo shipped in the package.

The astronaut photo (Eileen Collins, NASA, public domain; assets/README.md says where it
comes from) holds one smiling frontal face.
We paste a square patch around it onto a plain background, moved and scaled per
frame, so the demo, the tests and the benchmark all use real faces and need no
camera, network or user file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ASTRONAUT_FILE = "assets/astronaut.png"  # relative to the package folder

# Where the face is in the astronaut photo (Haar detection, 512x512 photo),
# and the square patch around it that we paste: the face is half the patch wide.
ASTRONAUT_FACE = (177, 66, 95, 95)
PATCH_MARGIN = 0.5

SCENARIOS = ("one", "two", "leave", "crowd", "none", "demo", "mixed crowd", "roll")
ROLL_DEGREES = 30.0  # the "roll" scenario turns the head between -30 and +30 degrees


def astronaut_bgr() -> np.ndarray:
    """The 512x512 astronaut photo, BGR."""
    import cv2

    from acting_mirror.paths import package_root

    path = package_root() / ASTRONAUT_FILE
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"the demo photo {path} is missing or unreadable (a broken install?)")
    return image


def face_patch(side: int | None = None) -> np.ndarray:
    """A square BGR patch centred on the astronaut's face; the face spans half of it."""
    import cv2

    photo = astronaut_bgr()
    x, y, w, h = ASTRONAUT_FACE
    margin = int(w * PATCH_MARGIN)
    top, left = max(0, y - margin), max(0, x - margin)
    patch = photo[top:y + h + margin, left:x + w + margin]
    size = min(patch.shape[:2])
    patch = patch[:size, :size]
    if side is not None and side != size:
        patch = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(patch)


def background(width: int, height: int) -> np.ndarray:
    """A soft grey gradient (faceless, so the detector finds only pasted faces)."""
    ramp = np.linspace(70, 150, width, dtype=np.float32)[None, :]
    shade = np.linspace(0.85, 1.1, height, dtype=np.float32)[:, None]
    gray = np.clip(ramp * shade, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste `patch` with its top-left at (x, y), clipped to the frame."""
    h, w = patch.shape[:2]
    fh, fw = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    if x0 < x1 and y0 < y1:
        frame[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]


def face_layout(scenario: str, index: int, count: int, width: int, height: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of each patch in frame `index` of `count` for a scenario."""
    t = index / max(1, count - 1)
    if scenario == "none":
        return []
    if scenario == "mixed crowd":
        # 20 faces of different sizes in a 5 x 4 grid, each swaying a little (a crowd that is not a test card):
        # faces span 0.375-0.56 of the grid cell's short side (60-90 px in an 800x1000 frame)
        cols, rows = 5, 4
        cell_w, cell_h = width / cols, height / rows
        layout = []
        for k in range(cols * rows):
            r, c = divmod(k, cols)
            side = int(min(cell_w, cell_h) * (0.75 + 0.37 * ((k * 7) % 20) / 19))
            sway_x = 0.06 * cell_w * math.sin(2 * math.pi * (t + k / 20))
            sway_y = 0.04 * cell_h * math.cos(2 * math.pi * (t + k / 13))
            layout.append((int((c + 0.5) * cell_w - side / 2 + sway_x), int((r + 0.5) * cell_h - side / 2 + sway_y),
                           side))
        return layout
    if scenario == "roll":
        side = int(min(width, height) * 0.6)
        return [((width - side) // 2, (height - side) // 2, side)]
    if scenario == "crowd":
        cols, rows = 5, 4
        side = min(width // cols, height // rows) - 8
        return [(c * (width // cols) + 4, r * (height // rows) + 4, side)
                for r in range(rows) for c in range(cols)]
    base = int(min(width, height) * 0.55)
    if scenario == "one":
        side = int(base * (0.8 + 0.2 * math.sin(2 * math.pi * t)))  # breathes in and out
        x = int((width - side) * (0.2 + 0.6 * t))                    # drifts left to right
        return [(x, (height - side) // 2, side)]
    if scenario == "leave":
        # present for the first and last third, gone in between
        if 1 / 3 <= t < 2 / 3:
            return []
        side = base
        x = int((width - side) * (0.3 + 0.4 * t))
        return [(x, (height - side) // 2, side)]
    if scenario == "two":
        big, small = int(base * 0.9), int(base * 0.6)
        x_big = int((width / 2 - big) * (0.1 + 0.5 * t))
        x_small = int(width / 2 + (width / 2 - small) * (0.8 - 0.5 * t))
        return [(x_big, (height - big) // 2, big), (x_small, (height - small) // 2, small)]
    if scenario == "demo":
        # one face drifting and breathing; halfway through a second, smaller face slides in from the right
        side = int(base * (0.85 + 0.1 * math.sin(4 * math.pi * t)))
        x = int((width - side) * (0.1 + 0.25 * math.sin(math.pi * min(t, 0.5))))
        layout = [(x, (height - side) // 2, side)]
        if t >= 0.5:
            small = int(base * 0.55)
            arrive = min(1.0, (t - 0.5) / 0.15)
            layout.append((int(width - arrive * (width * 0.28)), (height - small) // 2 - height // 10, small))
        return layout
    raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")


def roll_angle(index: int, count: int) -> float:
    """The "roll" scenario's head angle in frame `index` of `count`, degrees (counter-clockwise as seen)."""
    return ROLL_DEGREES * math.sin(2 * math.pi * index / max(1, count - 1))


def rotated(image: np.ndarray, degrees: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """`image` turned counter-clockwise (as seen) about `centre` (default: its middle); edges repeat."""
    import cv2

    height, width = image.shape[:2]
    centre = centre if centre is not None else ((width - 1) / 2, (height - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def synth_frames(scenario: str = "one", count: int = 60, size: tuple[int, int] = (640, 480)) -> Iterator[np.ndarray]:
    """Yield `count` BGR frames of a scenario at `size` (width, height)."""
    import cv2

    width, height = size
    backdrop = background(width, height)
    full_patch = face_patch()  # decode the photo once, resize per size
    patches: dict[int, np.ndarray] = {}
    for index in range(count):
        frame = backdrop.copy()
        for x, y, side in face_layout(scenario, index, count, width, height):
            if side not in patches:
                patches[side] = cv2.resize(full_patch, (side, side), interpolation=cv2.INTER_AREA)
            paste(frame, patches[side], x, y)
        if scenario == "roll":  # the whole frame turns about the face, as a head rolling in front of a camera
            (x, y, side), = face_layout(scenario, index, count, width, height)
            frame = rotated(frame, roll_angle(index, count), (x + side / 2, y + side / 2))
        yield frame


def write_clip(path: str | Path, scenario: str = "one", count: int = 60, fps: float = 15.0,
               size: tuple[int, int] = (640, 480), codec: str = "MJPG") -> Path:
    """Write a scenario to a video file OpenCV can read back; returns the path."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path} with codec {codec}")
    try:
        for frame in synth_frames(scenario, count, size):
            writer.write(frame)
    finally:
        writer.release()
    return path
