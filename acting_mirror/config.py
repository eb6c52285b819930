"""Configuration: dataclasses with defaults, loaded from config.yaml and overridden by flags.

Unknown keys and bad values raise ConfigError naming the key (`detector.scale_factor`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from acting_mirror.errors import MirrorError


class ConfigError(MirrorError, ValueError):
    """A malformed configuration; the message names the key."""


@dataclass(frozen=True)
class DetectorConfig:
    cascade: str = "haarcascade_frontalface_default.xml"  # file name or path
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 40            # smallest face side, in full-resolution pixels
    detection_width: int = 400    # frames wider than this are shrunk for detection (0: never)

    def validate(self) -> None:
        _check(self.scale_factor > 1.0, "detector.scale_factor", "must be > 1.0")
        _check(self.min_neighbors >= 0, "detector.min_neighbors", "must be >= 0")
        _check(self.min_size >= 8, "detector.min_size", "must be >= 8 pixels")
        _check(self.detection_width == 0 or self.detection_width >= 160, "detector.detection_width",
               "must be 0 (full resolution) or >= 160")


@dataclass(frozen=True)
class ModelConfig:
    path: str = "models/mirror_ensemble.json"  # a model's metadata JSON (or its .keras/.tflite file)
    backend: str = "tflite"               # tflite (LiteRT, no TensorFlow import) or keras
    threads: int = 2
    quantized: bool = True                # tflite: use the dynamic-range quantised file when the model has one
    test_time_views: bool = True          # average each face over its model's test-time views (more accurate)
    views_max_faces: int = 4              # only the largest this many faces of a frame get the views (0: all)

    def validate(self) -> None:
        _check(self.backend in ("tflite", "keras"), "model.backend", "must be tflite or keras")
        _check(self.threads >= 1, "model.threads", "must be >= 1")
        _check(self.views_max_faces >= 0, "model.views_max_faces", "must be >= 0 (0: every face)")


@dataclass(frozen=True)
class TrackingConfig:
    iou_threshold: float = 0.3     # a face continues a track when boxes overlap at least this much
    max_missed_frames: int = 30    # a track survives this many frames without its face
    smoothing_frames: int = 5      # probabilities are averaged over this many recent frames
    main_size_ratio: float = 1.5   # another face this many times person 0's area is "clearly larger"...
    main_switch_s: float = 2.0     # ... and becomes person 0 after being so for this long

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
    graph_interval_s: float = 0.5  # the polar chart is redrawn at most this often
    graph_history_s: float = 0.0   # seconds of history in the chart (0: the whole run)

    def validate(self) -> None:
        _check(self.graph_interval_s >= 0, "display.graph_interval_s", "must be >= 0")
        _check(self.graph_history_s >= 0, "display.graph_history_s", "must be >= 0")


@dataclass(frozen=True)
class OutputConfig:
    video: str = "output.avi"     # empty: no output video
    codec: str = "MJPG"
    snapshot_dir: str = "snapshots"
    report_dir: str = ""          # empty: no report

    def validate(self) -> None:
        _check(len(self.codec) == 4, "output.codec", "must be a four-character code such as MJPG")


@dataclass(frozen=True)
class SourceConfig:
    camera_fps: float = 30.0          # asked of the camera; its real rate is measured
    youtube_max_height: int = 720     # highest stream yt-dlp picks
    max_frames: int = 0               # stop after this many frames (0: no limit)

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
            getattr(self, section.name).validate()
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


def _coerce(value, wanted: type, key: str):
    # YAML gives ints for floats ("1" for 1.0) and never gives bools for numbers
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if wanted is bool and not isinstance(value, bool):
        raise ConfigError(f"config: {key} must be true or false, not {value!r}")
    if wanted in (int, float) and isinstance(value, bool):
        raise ConfigError(f"config: {key} must be a number, not {value!r}")
    if not isinstance(value, wanted):
        raise ConfigError(f"config: {key} must be {wanted.__name__}, not {value!r}")
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
            raise ConfigError(f"config: unknown key {section}.{key} (known: {', '.join(known)})")
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
            raise ConfigError(f"config: unknown section {name!r} (known: {', '.join(sections)})")
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

