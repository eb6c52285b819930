"""Configuration: dataclasses with defaults, loaded from config.yaml and overridden by flags.

Unknown keys and bad values raise ConfigError naming the key (`detector.scale_factor`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from acting_mirror.errors import MirrorError

MAX_SHOWN_VALUE = 60  # characters of a bad value echoed back in an error


class ConfigError(MirrorError, ValueError):
    """A malformed configuration; the message names the key."""


def bounded(default, low, high):
    """A field whose value must lie in [low, high]: checked for every section by
    Config.validate, so a value that passes a naive check (threads: 99999999999)
    never reaches OpenCV or LiteRT."""
    return field(default=default, metadata={"range": (low, high)})


DETECTOR_KINDS = ("yunet", "haar")
YUNET_INPUT_SIZES = (320, 640)


@dataclass(frozen=True)
class YuNetConfig:
    input_size: int = 320          # 320 or 640: the shipped ONNX file the frame is letterboxed into
    model: str = ""                # another YuNet ONNX file ("": the shipped one for input_size)
    score_threshold: float = bounded(0.6, 0.05, 0.99)  # faces scoring below this are dropped
    nms_threshold: float = bounded(0.3, 0.05, 0.95)    # overlapping boxes above this IoU are merged
    top_k: int = bounded(5000, 1, 5000)  # candidate boxes kept before overlapping ones are merged (OpenCV's default)

    def validate(self, section: str = "detector.yunet") -> None:
        _check(self.input_size in YUNET_INPUT_SIZES, f"{section}.input_size", "must be 320 or 640")


@dataclass(frozen=True)
class HaarConfig:
    cascade: str = "haarcascade_frontalface_default.xml"  # file name or path
    scale_factor: float = bounded(1.1, 1.01, 2.0)  # an infinite one hung detectMultiScale
    min_neighbors: int = bounded(5, 0, 1000)
    min_size: int = bounded(40, 8, 10_000)  # smallest face side, in full-resolution pixels
    detection_width: int = bounded(400, 0, 20_000)  # frames wider than this are shrunk for detection (0: never)

    def validate(self, section: str = "detector.haar") -> None:
        _check(self.detection_width == 0 or self.detection_width >= 160, f"{section}.detection_width",
               "must be 0 (full resolution) or >= 160")


@dataclass(frozen=True)
class DetectorConfig:
    kind: str = "yunet"           # yunet (landmarks, finds turned and small faces) or haar (the original app's)
    align: bool = True            # turn each crop so the eyes are level (needs landmarks: yunet)
    every_n_frames: int = bounded(1, 1, 30)  # detect on every Nth frame; the frames between keep the last boxes
    full_frame_every: int = bounded(8, 1, 300)  # yunet reads the whole frame every Nth frame, the faces' region between
    yunet: YuNetConfig = field(default_factory=YuNetConfig)
    haar: HaarConfig = field(default_factory=HaarConfig)

    def validate(self) -> None:
        _check(self.kind in DETECTOR_KINDS, "detector.kind", f"must be {' or '.join(DETECTOR_KINDS)}")
        self.yunet.validate()
        self.haar.validate()


@dataclass(frozen=True)
class ModelConfig:
    path: str = "models/mirror_ensemble.json"  # a model's metadata JSON (or its .keras/.tflite file)
    backend: str = "tflite"               # tflite (LiteRT, no TensorFlow import) or keras
    threads: int = bounded(2, 1, 256)
    quantized: bool = True                # tflite: use the dynamic-range quantised file when the model has one
    test_time_views: bool = True          # average each face over its model's test-time views (more accurate)
    views_max_faces: int = bounded(4, 0, 10_000)  # only the largest this many faces of a frame get the views (0: all)
    profile: str = ""                     # an actor's resting-face profile (acting-mirror calibrate); empty: none
    calibration_s: float = bounded(3.0, 0.5, 60.0)  # seconds of resting face a profile is recorded from
    classify_every: int = bounded(3, 1, 30)  # faces other than person 0 are read every this many frames (or on change)

    def validate(self) -> None:
        _check(self.backend in ("tflite", "keras"), "model.backend", "must be tflite or keras")
        _check(self.threads >= 1, "model.threads", "must be >= 1")
        _check(self.views_max_faces >= 0, "model.views_max_faces", "must be >= 0 (0: every face)")


@dataclass(frozen=True)
class TrackingConfig:
    iou_threshold: float = 0.3     # a face continues a track when boxes overlap at least this much
    max_missed_frames: int = bounded(30, 0, 10_000_000)  # a track survives this many frames without its face
    smoothing_frames: int = bounded(5, 1, 10_000)  # probabilities are averaged over this many recent frames
    main_size_ratio: float = bounded(1.5, 1.0, 100.0)  # another face this many times person 0's area is
    main_switch_s: float = bounded(2.0, 0.0, 3600.0)   # "clearly larger", and becomes person 0 after this long

    def validate(self) -> TrackingConfig:
        _check(0.0 < self.iou_threshold < 1.0, "tracking.iou_threshold", "must be between 0 and 1")
        _check(self.max_missed_frames >= 0, "tracking.max_missed_frames", "must be >= 0")
        _check(self.smoothing_frames >= 1, "tracking.smoothing_frames", "must be >= 1")
        _check(self.main_size_ratio >= 1.0, "tracking.main_size_ratio", "must be >= 1")
        _check(self.main_switch_s >= 0, "tracking.main_switch_s", "must be >= 0 seconds")
        return self


@dataclass(frozen=True)
class DisplayConfig:
    show: bool = True             # False: no windows (also chosen when there is no display)
    details: bool = False
    graph: bool = False
    rectangles: bool = True
    graph_interval_s: float = bounded(0.5, 0.0, 3600.0)  # the polar chart is redrawn at most this often
    graph_history_s: float = bounded(0.0, 0.0, 1e7)  # seconds of history in the chart (0: the whole run)

    def validate(self) -> None:
        _check(self.graph_interval_s >= 0, "display.graph_interval_s", "must be >= 0")
        _check(self.graph_history_s >= 0, "display.graph_history_s", "must be >= 0")


@dataclass(frozen=True)
class OutputConfig:
    video: str = "output.avi"     # empty: no output video
    codec: str = "MJPG"
    snapshot_dir: str = "snapshots"
    report_dir: str = ""          # empty: no report
    audio: bool = True            # carry a file's sound (a camera's: the microphone's) into the output video
    audio_device: str = ""        # the microphone a camera records: a PortAudio index or (part of) a name

    def validate(self) -> None:
        _check(len(self.codec) == 4, "output.codec", "must be a four-character code such as MJPG")


@dataclass(frozen=True)
class SourceConfig:
    camera_fps: float = bounded(30.0, 0.0, 240.0)   # asked of the camera; its real rate is measured
    youtube_max_height: int = bounded(720, 144, 10_000)  # highest stream yt-dlp picks
    max_frames: int = bounded(0, 0, 10**12)         # stop after this many frames (0: no limit)

    def validate(self) -> None:
        _check(self.camera_fps > 0, "source.camera_fps", "must be > 0")
        _check(self.youtube_max_height >= 144, "source.youtube_max_height", "must be >= 144")
        _check(self.max_frames >= 0, "source.max_frames", "must be >= 0")


@dataclass(frozen=True)
class Config:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    source: SourceConfig = field(default_factory=SourceConfig)

    def validate(self) -> Config:
        for section in fields(self):
            values = getattr(self, section.name)
            _check_numbers(values, section.name)
            values.validate()
        return self

    def override(self, **sections: dict) -> Config:
        """Return a copy with `{"display": {"graph": True}, ...}` applied and validated."""
        updated = {}
        for name, values in sections.items():
            current = getattr(self, name)
            updated[name] = _section_from_dict(type(current), values, name, base=current)
        return replace(self, **updated).validate()


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"config: {key} {message}")


def _check_numbers(values, section: str) -> None:
    """Every number finite and within its field's range (see `bounded`)."""
    for item in fields(values):
        value = getattr(values, item.name)
        if dataclasses.is_dataclass(value):  # a sub-section such as detector.haar
            _check_numbers(value, f"{section}.{item.name}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        key = f"{section}.{item.name}"
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config: {key} must be a finite number, not {value}")
        if "range" in item.metadata:
            low, high = item.metadata["range"]
            if not low <= value <= high:
                raise ConfigError(f"config: {key} must be between {low:g} and {high:g}, not {_shown(value)}")


def _shown(value) -> str:
    """A value as echoed in an error: its repr, cut short while it is made."""
    from acting_mirror.yamlfile import shown

    return shown(value)


def _cut(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_SHOWN_VALUE else f"{text[:MAX_SHOWN_VALUE]}... ({len(text)} characters)"


NUMBERS_AS_TEXT = frozenset({"output.audio_device"})  # text settings that may be a whole number


def _coerce(value, wanted: type, key: str):
    # YAML gives ints for floats ("1" for 1.0) and never gives bools for numbers
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # a microphone's index written as a number (`audio_device: 3`) is that text
    if key in NUMBERS_AS_TEXT and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if wanted is bool and not isinstance(value, bool):
        raise ConfigError(f"config: {key} must be true or false, not {_shown(value)}")
    if wanted in (int, float) and isinstance(value, bool):
        raise ConfigError(f"config: {key} must be a number, not {_shown(value)}")
    if not isinstance(value, wanted):
        raise ConfigError(f"config: {key} must be {wanted.__name__}, not {_shown(value)}")
    return value


def _section_from_dict(cls, values, section: str, base=None):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"config: {section} must be a mapping of keys to values")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"config: unknown key {section}.{_cut(key)} (known: {', '.join(known)})")
        nested = known[key].default_factory if known[key].default_factory is not dataclasses.MISSING else None
        if nested is not None and dataclasses.is_dataclass(nested):  # a sub-section such as detector.haar
            kwargs[key] = _section_from_dict(nested, value, f"{section}.{key}",
                                             base=getattr(base, key) if base is not None else None)
            continue
        wanted = {"str": str, "int": int, "float": float, "bool": bool}[str(known[key].type)]
        kwargs[key] = _coerce(value, wanted, f"{section}.{key}")
    return replace(base, **kwargs) if base is not None else cls(**kwargs)


def config_from_dict(data: dict | None) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config: the file must hold a mapping of sections")
    sections = {f.name: f for f in fields(Config)}
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"config: unknown section {_shown(name)} (known: {', '.join(sections)})")
        kwargs[name] = _section_from_dict(sections[name].default_factory, values, name)
    return Config(**kwargs).validate()


def load_config(path: str | Path | None) -> Config:
    """Load a YAML config (None: built-in defaults)."""
    if path is None:
        return Config().validate()
    from acting_mirror.yamlfile import load_yaml_file

    data = load_yaml_file(path, "config file", ConfigError)
    try:
        return config_from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None

