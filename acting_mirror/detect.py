"""Face detection: YuNet (OpenCV's FaceDetectorYN, with five landmarks) or the Haar cascade.

Both return `Detection`s in full-resolution frame pixels, largest first, whose box is
framed the way FER-2013 frames a face (the framing every shipped model was trained on):
a Haar box matches it as it is; a YuNet box is tighter and is mapped to it by a
calibrated framing (see docs/experiments/models.md, "Crop framing"). Crops for the classifier are
cut from the full-resolution grayscale frame, so shrinking or letterboxing for
detection costs no classification detail.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from acting_mirror.config import DetectorConfig, HaarConfig, YuNetConfig
from acting_mirror.errors import MirrorError
from acting_mirror.types import Box, Detection

# YuNet box -> FER-2013 framing, fitted on the 2,565 FER-2013 PublicTest faces (upscaled 4x,
# padded) where both detectors fire, against each face's own 48x48 frame (docs/experiments/models.md,
# "Crop framing"): a square centred on the box centre moved up by 0.018 of the box height,
# whose side is 1.158 times the mean of the box's width and height. (Haar's box, as it is,
# covers 0.98 of that frame; YuNet's box is narrower, 0.78 as wide as tall.)
FRAMING_SCALE = 1.158
FRAMING_SHIFT = -0.018


class DetectorError(MirrorError, RuntimeError):
    """A detector file that cannot be found or loaded; the message names it."""


# -- files ----------------------------------------------------------------


def detectors_root() -> Path:
    from acting_mirror.paths import package_root

    return package_root() / "detectors"


def cascade_search_path(name: str) -> list[Path]:
    """Where a cascade is looked for: the path itself, the project's
    detectors/haar/, then OpenCV's bundled data."""
    import cv2

    path = Path(name)
    candidates = [path] if path.is_absolute() or path.parent != Path(".") else []
    candidates.append(detectors_root() / "haar" / path.name)
    bundled = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if bundled:
        candidates.append(Path(bundled) / path.name)
    return candidates


def find_cascade(name: str) -> Path:
    candidates = cascade_search_path(name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DetectorError(f"face cascade {name} not found (looked in {', '.join(str(c.parent) for c in candidates)})")


def yunet_model_path(config: YuNetConfig) -> Path:
    if config.model:
        return Path(config.model)
    return detectors_root() / "yunet" / f"yunet_n_{config.input_size}_{config.input_size}.onnx"


# -- geometry ---------------------------------------------------------------


SMALLEST_FACE_PIXELS = 10  # YuNet finds faces down to about 10 pixels at its input scale


def shrunk_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(width, height) scaled, each at least 1 pixel: a 20000x2 frame shrinks to 400x1, not 400x0."""
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, float]:
    """Fit `image` into a side x side square (top-left aligned, black padding), keeping its aspect.

    Returns the square and the x and y factors from frame to square pixels (they differ
    by the rounding of the scaled size only); `to_frame` maps back."""

    height, width = image.shape[:2]
    scale = min(side / width, side / height)
    new_width, new_height = (min(side, n) for n in shrunk_size(width, height, scale))
    square = np.zeros((side, side) + image.shape[2:], image.dtype)
    square[:new_height, :new_width] = resized_to(image, (new_width, new_height))
    return square, new_width / width, new_height / height


def resized_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` at (width, height): shrunk by area averaging, enlarged bilinearly.

    OpenCV's area averaging is fast only for a whole-number factor (4x: 2 ms for a 720p
    frame), and several times slower for any other (800x1000 to 256x320: 8 ms on a busy
    core), so a shrink by another factor first averages by the whole part of it, then
    finishes bilinearly from less than twice the size (no aliasing left to avoid)."""
    import cv2

    height, width = image.shape[:2]
    factor = min(width / size[0], height / size[1])
    if factor <= 1:
        return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    whole = int(factor)
    if whole < 2 or (width == size[0] * whole and height == size[1] * whole):
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    averaged = cv2.resize(image, None, fx=1 / whole, fy=1 / whole, interpolation=cv2.INTER_AREA)
    return cv2.resize(averaged, size, interpolation=cv2.INTER_LINEAR)


def to_frame(values: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """Map x, y pairs (last axis: x0, y0, x1, y1, ...) from detection pixels back to frame pixels."""
    values = np.asarray(values, dtype=np.float64).copy()
    values[..., 0::2] /= scale_x
    values[..., 1::2] /= scale_y
    return values


def clipped_box(x0: float, y0: float, x1: float, y1: float, shape: tuple[int, ...]) -> Box | None:
    """The integer box of a float one, clipped to the frame; None when nothing of it is left."""
    height, width = shape[:2]
    left, top = max(0, int(round(x0))), max(0, int(round(y0)))
    right, bottom = min(width, int(round(x1))), min(height, int(round(y1)))
    if right - left < 2 or bottom - top < 2:
        return None
    return Box(left, top, right - left, bottom - top)


def to_full_resolution(rect: tuple[int, int, int, int], scale: float, shape: tuple[int, ...]) -> Box | None:
    """Map an (x, y, w, h) box found on a frame shrunk by `scale` back to full-resolution pixels, clipped."""
    x, y, w, h = rect
    (x0, y0, x1, y1), = to_frame(np.array([[x, y, x + w, y + h]]), scale, scale)
    return clipped_box(x0, y0, x1, y1, shape)


def eye_angle(landmarks: tuple[tuple[float, float], ...]) -> float:
    """Roll of a face in degrees, from its eyes (YuNet order: the right eye, on the image's left,
    first): positive when the line from the right eye to the left eye runs downwards in the image."""
    (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def fer_framing(raw: np.ndarray) -> tuple[float, float, float]:
    """A YuNet row mapped to frame pixels (x, y, w, h, 5 landmarks) -> the FER-2013 framing
    square (centre x, centre y, side): the calibrated mapping of FRAMING_SCALE and FRAMING_SHIFT."""
    x, y, w, h = raw[:4]
    return x + w / 2, y + h / 2 + FRAMING_SHIFT * h, FRAMING_SCALE * (w + h) / 2


# -- detectors --------------------------------------------------------------


class HaarDetector:
    """OpenCV's Haar cascade (the original app's detector), on a frame shrunk to
    `detection_width` for speed. Frontal, upright faces; no landmarks."""

    kind = "haar"

    def __init__(self, config: HaarConfig):
        import cv2

        self.config = config
        path = find_cascade(config.cascade)
        try:
            self._cascade = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError):  # OpenCV raises on some malformed XML instead of staying empty
            self._cascade = None
        if self._cascade is None or self._cascade.empty():
            raise DetectorError(f"face cascade {path} could not be loaded (not a cascade XML file?)")
        self.cascade_path = path

    def describe(self) -> str:
        width = self.config.detection_width
        return f"haar ({self.cascade_path.name}, {f'{width} px wide' if width else 'full resolution'})"

    def detection_scale(self, frame_width: int) -> float:
        """Factor from full resolution to detection resolution (<= 1)."""
        target = self.config.detection_width
        return min(1.0, target / frame_width) if target else 1.0

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a full-resolution BGR or grayscale frame, largest first."""
        import cv2

        scale = self.detection_scale(image.shape[1])
        small = image
        if scale < 1.0:
            small = cv2.resize(image, shrunk_size(image.shape[1], image.shape[0], scale),
                               interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        min_side = max(8, int(round(self.config.min_size * scale)))
        if min(small.shape[:2]) < min_side:
            return []  # no face of the smallest size fits (a 4000x2 frame)
        found = self._cascade.detectMultiScale(
            small,
            scaleFactor=self.config.scale_factor,
            minNeighbors=self.config.min_neighbors,
            minSize=(min_side, min_side),
        )
        # the scale actually used per axis (the shrunk size is rounded)
        scale_x, scale_y = small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]
        boxes = []
        for x, y, w, h in found:
            (x0, y0, x1, y1), = to_frame(np.array([[x, y, x + w, y + h]]), scale_x, scale_y)
            box = clipped_box(x0, y0, x1, y1, image.shape)
            if box is not None:
                boxes.append(Detection(box))
        return sorted(boxes, key=lambda d: d.box.area, reverse=True)


YUNET_STRIDE = 32  # YuNet's largest stride: its input sides are multiples of it


class YuNetDetector:
    """YuNet through `cv2.FaceDetectorYN`: the frame is letterboxed into the model's fixed
    square input; boxes and landmarks are mapped back, and each box is framed like FER-2013."""

    kind = "yunet"

    def __init__(self, config: YuNetConfig):
        import cv2

        self.config = config
        path = yunet_model_path(config)
        if not path.is_file():
            what = "is a directory, not" if path.is_dir() else "not found: expected"
            raise DetectorError(f"YuNet model {path} {what} an ONNX file")
        side = config.input_size
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (side, side), config.score_threshold,
                                                  config.nms_threshold, config.top_k)
            self._net.detect(np.zeros((side, side, 3), np.uint8))  # a broken graph fails here, not mid-run
        except cv2.error as error:
            reason = str(error).strip().splitlines()[-1][:160] if str(error).strip() else "OpenCV error"
            raise DetectorError(f"YuNet model {path} could not be loaded (not a YuNet ONNX file? {reason})") \
                from None
        self.model_path = path
        self._input_size = (side, side)  # the net's input now (width, height)

    def describe(self) -> str:
        side = self.config.input_size
        return f"yunet ({self.model_path.name}, {side}x{side} letterbox)"

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        """YuNet's rows in frame pixels: (N, 15) of x, y, w, h, 5 landmarks (x, y), score."""
        import cv2

        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        square, scale_x, scale_y = letterbox(image, self.config.input_size)
        if min(image.shape[1] * scale_x, image.shape[0] * scale_y) < SMALLEST_FACE_PIXELS:
            # a sliver (a 20000x2 frame) holds no face YuNet could find, and what it reads there is
            # noise: NaN rows, or rows scoring 1.0 depending on what its buffers held before
            return np.zeros((0, 15))
        # only the picture's part of the square, to YuNet's stride of 32: the padding rows it
        # would also read find nothing, and a 16:9 frame costs about 60% of the full square
        used = stride_size(round(image.shape[1] * scale_x), round(image.shape[0] * scale_y))
        used = (min(used[0], square.shape[1]), min(used[1], square.shape[0]))
        return to_frame_rows(self.rows_in(square[:used[1], :used[0]]), scale_x, scale_y)

    def rows_in(self, picture: np.ndarray) -> np.ndarray:
        """YuNet's rows for a BGR picture already at detection scale (sides multiples of
        YUNET_STRIDE), in its pixels: (N, 15), rows that are not numbers dropped."""
        height, width = picture.shape[:2]
        if (width, height) != self._input_size:
            self._net.setInputSize((width, height))
            self._input_size = (width, height)
        _, rows = self._net.detect(np.ascontiguousarray(picture))
        if rows is None:
            return np.zeros((0, 15))
        rows = rows.astype(np.float64)
        return rows[np.isfinite(rows).all(axis=1)]  # a sliver of a frame can give NaN rows: no face there

    def detection(self, row: np.ndarray, shape: tuple[int, ...]) -> Detection | None:
        """A row in frame pixels as a Detection framed like FER-2013, clipped to a frame of
        `shape`; None when nothing of it is left in the frame."""
        centre_x, centre_y, side = fer_framing(row)
        box = clipped_box(centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2, shape)
        if box is None:
            return None
        landmarks = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
        return Detection(box, landmarks, float(row[14]))

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a full-resolution BGR (or grayscale) frame, largest first."""
        detections = [self.detection(row, image.shape) for row in self.detect_raw(image)]
        return sorted((d for d in detections if d is not None), key=lambda d: d.box.area, reverse=True)

    def input_pixels(self, width: int, height: int) -> int:
        """How many pixels YuNet reads for a width x height frame."""
        scale = self.frame_scale(width, height)
        used = stride_size(*shrunk_size(width, height, scale))
        return min(self.config.input_size, used[0]) * min(self.config.input_size, used[1])

    def frame_scale(self, width: int, height: int) -> float:
        """Detection pixels per frame pixel when a width x height frame is read whole."""
        return min(self.config.input_size / width, self.config.input_size / height)


def to_frame_rows(rows: np.ndarray, scale_x: float, scale_y: float,
                  offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """YuNet rows from detection pixels (scaled by scale_x, scale_y, with the frame's point
    `offset` at their origin) to frame pixels: boxes and landmarks; the score stays."""
    rows = np.array(rows, dtype=np.float64)
    corners = rows[:, :4].copy()
    corners[:, 2:4] += corners[:, 0:2]                 # x, y, w, h -> x0, y0, x1, y1
    corners = to_frame(corners, scale_x, scale_y) + np.tile(offset, 2)
    rows[:, 0:2], rows[:, 2:4] = corners[:, 0:2], corners[:, 2:4] - corners[:, 0:2]
    rows[:, 4:14] = to_frame(rows[:, 4:14], scale_x, scale_y) + np.tile(offset, 5)
    return rows


def stride_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) rounded up to YuNet's stride."""
    return -(-width // YUNET_STRIDE) * YUNET_STRIDE, -(-height // YUNET_STRIDE) * YUNET_STRIDE


def build_detector(config: DetectorConfig) -> HaarDetector | YuNetDetector:
    """The detector `config.kind` names, loaded (DetectorError names a missing or broken file)."""
    if config.kind == "haar":
        return HaarDetector(config.haar)
    return YuNetDetector(config.yunet)


# -- crops ------------------------------------------------------------------


def crop_faces(gray: np.ndarray, detections: list[Detection], size: tuple[int, int],
               align: bool = False) -> np.ndarray:
    """Resize each face's box to the model's (height, width); returns uint8 (N, H, W).

    With `align`, a face with landmarks is turned about its box centre so its eyes are level."""
    import cv2

    height, width = size
    crops = np.empty((len(detections), height, width), np.uint8)
    for i, detection in enumerate(detections):
        box = detection.box
        if align and detection.landmarks:
            crops[i] = aligned_crop(gray, box, eye_angle(detection.landmarks), size)
        else:
            face = gray[box.y:box.y + box.h, box.x:box.x + box.w]
            crops[i] = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    return crops


def aligned_crop(gray: np.ndarray, box: Box, angle: float, size: tuple[int, int]) -> np.ndarray:
    """The box, turned by `angle` degrees about its centre (so a face rolled by `angle` comes
    out upright), resized to (height, width). Pixels past the frame edge repeat the edge."""
    import cv2

    height, width = size
    centre_x, centre_y = box.x + box.w / 2, box.y + box.h / 2
    # the square around the box that holds it at any angle, shrunk first (INTER_AREA, as
    # the unaligned crop) so the turn itself only interpolates at about the model's size
    reach = 0.5 * math.hypot(box.w, box.h) + 2
    left, top = int(math.floor(centre_x - reach)), int(math.floor(centre_y - reach))
    right, bottom = int(math.ceil(centre_x + reach)), int(math.ceil(centre_y + reach))
    frame_h, frame_w = gray.shape[:2]
    region = gray[max(0, top):min(frame_h, bottom), max(0, left):min(frame_w, right)]
    region = cv2.copyMakeBorder(region, max(0, -top), max(0, bottom - frame_h), max(0, -left),
                                max(0, right - frame_w), cv2.BORDER_REPLICATE)
    shrink = min(1.0, width / box.w, height / box.h)
    if shrink < 1.0:
        region = cv2.resize(region, shrunk_size(region.shape[1], region.shape[0], shrink),
                            interpolation=cv2.INTER_AREA)
    factor_x, factor_y = region.shape[1] / (right - left), region.shape[0] / (bottom - top)
    # output pixel -> region pixel: scale the output to the box, turn it by `angle`, centre it on the box
    centre = np.array([(centre_x - left) * factor_x - 0.5, (centre_y - top) * factor_y - 0.5])
    turn = math.radians(angle)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    linear = rotation @ np.diag([box.w * factor_x / width, box.h * factor_y / height])
    offset = centre - linear @ np.array([(width - 1) / 2, (height - 1) / 2])
    matrix = np.hstack([linear, offset[:, None]])
    return cv2.warpAffine(region, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
