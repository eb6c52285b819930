"""The Python entry point: run the mirror's analysis on a video file, a URL, a photo or any
`Source`, and get the timeline, the summary and the per-cue scores back.

    from acting_mirror import analyze

    take = analyze("take3.mp4", script="scene.yaml")
    take.summary["score"]          # 0-100, as in summary.json
    take.cues                      # one dict per cue, as in summary.json
    take.to_pandas()               # one row per frame and face (pandas, when installed)

The command line runs through `analyze` too (`cli.run`: flags -> config -> `analyze`), so
a notebook and `acting-mirror --video take3.mp4 --script scene.yaml --report DIR` give the
same numbers. Importing this module loads no model, no TensorFlow and no GUI; `analyze` is
headless unless asked for windows (`show=True`), and writes files only where it is told to
(`video_output`, `report_dir`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from acting_mirror.app import RunSummary
    from acting_mirror.config import Config
    from acting_mirror.script import Script
    from acting_mirror.sources import Source
    from acting_mirror.timeline import Timeline

SourceLike = Union[str, Path, int, "Source", Callable[[], "Source"]]


@dataclass(frozen=True)
class Analysis:
    """What one run found.

    source:   the source's name (file name, URL title, "camera 0", "demo")
    labels:   the model's emotions, in its order (the probability columns)
    timeline: every frame's tracked faces (`acting_mirror.timeline.Timeline`)
    summary:  exactly what summary.json holds: frames, duration_s, fps, emotion_share of
              person 0, and with a script title, cues and score
    run:      how the run went: frames, seconds, stopped_by, the video and report written
    image:    True when the source was a single photo
    """

    source: str
    labels: tuple[str, ...]
    timeline: Timeline
    summary: dict[str, Any]
    run: RunSummary
    image: bool = False

    @property
    def cues(self) -> list[dict[str, Any]]:
        """Per-cue scores of person 0 (empty without a script), as in summary.json."""
        return list(self.summary.get("cues", []))

    @property
    def score(self) -> float | None:
        """The frame-weighted on-target share over the cues, 0-100 (None without a script)."""
        return self.summary.get("score")

    @property
    def emotion_share(self) -> dict[str, float]:
        """Share of person 0's face frames per shown emotion."""
        return dict(self.summary["emotion_share"])

    def to_pandas(self):
        """The timeline as a pandas DataFrame, the columns of timeline.csv: frame, time_s,
        person, track, x, y, w, h, one probability column per label, label. A frame without
        person 0 has a person-0 row with the rest empty (NaN / None), so person 0's rows
        cover every frame."""
        pandas = _pandas()
        columns = self.timeline.columns()
        empty = [None] * (len(columns) - 3)
        rows = []
        for result in self.timeline.results():
            if result.person(0) is None:
                rows.append([result.index, result.time_s, 0, *empty])
            for face in result.faces:
                box = face.box
                rows.append([result.index, result.time_s, face.track_id, face.track, box.x, box.y, box.w, box.h,
                             *face.probabilities, face.label])
        frame = pandas.DataFrame(rows, columns=columns)
        # whole numbers stay integers where a face was seen (nullable Int64 where it was not)
        return frame.astype({"frame": "int64", "person": "int64", "track": "Int64", "x": "Int64", "y": "Int64",
                             "w": "Int64", "h": "Int64"})

    def cues_to_pandas(self):
        """The per-cue scores as a pandas DataFrame, one row per cue (no rows without a script)."""
        pandas = _pandas()
        columns = ["number", "start", "end", "line", "target", "frames", "face_frames", "on_target_fraction",
                   "no_face_fraction", "mean_target_probability", "shown_most", "played"]
        return pandas.DataFrame(self.cues, columns=columns)


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install pandas") from None
    return pandas


def default_config() -> Config:
    """The package's own config.yaml (every key, with the shipped defaults)."""
    from acting_mirror.config import load_config
    from acting_mirror.paths import package_root

    return load_config(package_root() / "config.yaml")


def analyze(source: SourceLike, *, script: str | Path | Script | None = None, model: str | Path | None = None,
            backend: str | None = None, detector: str | None = None, config: Config | str | Path | None = None,
            report_dir: str | Path | None = None, video_output: str | Path | None = None,
            max_frames: int | None = None, progress: bool = False, show: bool = False,
            log: Callable[[str], None] | None = None, profile: str | Path | None = None) -> Analysis:
    """Run the mirror's pipeline (detect -> classify -> track -> timeline -> score) over a source.

    source:       a video file, an http(s)/rtsp/YouTube URL (anything yt-dlp resolves), a photo
                  (by its suffix: .jpg, .png, ...), a camera index, an opened `Source`
                  (e.g. `acting_mirror.sources.open_demo()`), or a callable returning one (called
                  after the model has loaded, so a bad model fails before a download)
    script:       an acting script (YAML path, or a parsed `Script`): the cues get scored
    model:        another model's metadata JSON (default: the config's, the shipped ensemble)
    backend:      "tflite" (default; LiteRT) or "keras" (needs the `train` extra)
    detector:     the face detector's kind, sets `detector.kind` of the config
    config:       a Config or a config YAML path (default: the package's config.yaml); the
                  arguments above override it. Its output.video and output.report_dir are not
                  used: files are written only where the two arguments below say.
    report_dir:   also write timeline.csv, summary.json, report.html and charts there
    video_output: also write the annotated video there (for a photo: the annotated PNG, at this
                  path when it ends in an image suffix, else beside it as <photo>_annotated.png),
                  with the source's sound; a camera's with its microphone's (config output.audio,
                  output.audio_device), which also follows a script's untimed lines by ear
    max_frames:   stop after this many frames (0 or None: the whole source)
    progress:     a tqdm progress bar on stderr (headless runs)
    show:         open the mirror's windows (needs a display); the command line's default
    log:          called with one-line notes (no camera, downloads); default: the logging module
    profile:      an actor's resting-face profile (`acting-mirror calibrate`), made with the same model:
                  each face's probabilities are corrected for it before smoothing

    Bad input raises the step's own error (SourceError, ModelError, ScriptError, ConfigError,
    SinkError ...), each a one-line message. Ctrl-C stops the run early and still returns what
    was analysed (run.stopped_by says so), with the video and report complete up to there.
    """
    from acting_mirror.app import MirrorApp, build_pipeline

    check_arguments(script=script, model=model, config=config, report_dir=report_dir, video_output=video_output,
                    max_frames=max_frames, profile=profile)
    log = log or logging.getLogger("acting_mirror").info
    config_path = config if isinstance(config, (str, Path)) else None
    config = resolve_config(config, model=model, backend=backend, detector=detector, report_dir=report_dir,
                             video_output=video_output, max_frames=max_frames, profile=profile)
    refuse_overwriting_inputs(config, source=source, script=script, config_path=config_path)
    opened: Source | None = source if _is_source(source) else None
    microphone = None
    try:
        pipeline = build_pipeline(config)
        script = _load_script(script, pipeline.labels)
        if opened is None:
            opened = open_source(source, config, log)
        if script is not None and not script.timed:  # lines without start/end: timed by the take's speech
            from acting_mirror.audio.cue_timing import time_script_for_source

            script = time_script_for_source(script, opened, log)
        microphone = _open_microphone(opened, config, script, log)
        video = _make_video(opened, config, microphone)
        windows = progress_bar = app = timeline_file = None
        try:
            # every output is checked (and claimed) before the first frame, so a bad one costs no work
            timeline_file = _make_timeline_file(config, pipeline.labels)
            if show:
                from acting_mirror.sinks import check_folder_writable

                check_folder_writable(config.output.snapshot_dir, "snapshots")
            if show:
                from acting_mirror.display import Windows

                windows = Windows()
            elif progress:
                progress_bar = _progress_bar(opened, config)
            app = MirrorApp(config, pipeline, opened, windows=windows, video=video, timeline_file=timeline_file,
                            script=script, progress=progress_bar, log=log, microphone=microphone)
            run = app.run()
        finally:
            if video is not None and app is None:  # the run never started: let the claimed file go
                from acting_mirror.recording import close_unused

                close_unused(video)
            if timeline_file is not None:
                timeline_file.close()
            if windows is not None:
                windows.close_all()
    finally:
        if microphone is not None:
            microphone.close()
        if opened is not None:
            opened.close()
    return Analysis(opened.name, pipeline.labels, app.timeline, app.summary_json, run, image=opened.is_image)


def check_arguments(*, script, model, config, report_dir, video_output, max_frames, profile) -> None:
    """The arguments' types, before anything is loaded: a wrong one is a UsageError naming it."""
    from acting_mirror.config import Config
    from acting_mirror.errors import ArgumentError
    from acting_mirror.script import Script
    from acting_mirror.sources import check_frame_limit

    expected = {"script": (script, (str, Path, Script)), "model": (model, (str, Path)),
                "config": (config, (str, Path, Config)), "report_dir": (report_dir, (str, Path)),
                "video_output": (video_output, (str, Path)), "profile": (profile, (str, Path))}
    for name, (value, kinds) in expected.items():
        if value is not None and not isinstance(value, kinds):
            names = " or ".join(kind.__name__ for kind in kinds)
            raise ArgumentError(f"{name} must be a {names}, not {type(value).__name__}")
    check_frame_limit(max_frames)


def refuse_overwriting_inputs(config: Config, *, source=None, script=None, config_path=None) -> None:
    """Before anything is opened: no output of `config` (the video or annotated photo, the
    report's files) may be one of the inputs (the source file, the script, the config file;
    links and hard links count). Raises SinkError naming both. Every entry point passes here."""
    from acting_mirror.report import OUTPUT_FILES
    from acting_mirror.sinks import refuse_overwriting_inputs as refuse
    from acting_mirror.sources import is_url, source_kind

    source_path = str(source) if isinstance(source, (str, Path)) and not is_url(str(source)) else None
    photo = source_path is not None and source_kind(Path(source_path)) == "image"
    inputs = [(what, path) for what, path in (
        ("input image" if photo else "input video", source_path),
        ("script", script if isinstance(script, (str, Path)) else None),
        ("config file", config_path)) if path]
    outputs = []
    if config.output.video:
        if photo:
            outputs.append(("annotated image", annotated_image_path(config.output.video, source_path)))
        else:
            outputs.append(("video", config.output.video))
    if config.output.report_dir:
        outputs += [("report file", Path(config.output.report_dir) / name) for name in OUTPUT_FILES]
    refuse(outputs, inputs)


def resolve_config(config, *, model, backend, detector, report_dir, video_output, max_frames,
                    profile=None) -> Config:
    from acting_mirror.config import Config, load_config

    if config is None:
        config = default_config()
    elif not isinstance(config, Config):
        config = load_config(config)
    sections: dict[str, dict] = {"output": {"video": "" if video_output is None else str(video_output),
                                            "report_dir": "" if report_dir is None else str(report_dir)}}
    if model is not None:
        sections["model"] = {"path": str(model)}
    if backend is not None:
        sections.setdefault("model", {})["backend"] = backend
    if profile is not None:
        sections.setdefault("model", {})["profile"] = str(profile)
    if detector is not None:
        sections["detector"] = {"kind": detector}
    if max_frames is not None:
        from acting_mirror.sources import check_frame_limit

        check_frame_limit(max_frames)
        sections["source"] = {"max_frames": max_frames}
    return config.override(**sections)


def _is_source(value) -> bool:
    from acting_mirror.sources import Source

    return isinstance(value, Source)


def open_source(source: SourceLike, config: Config | None = None, log: Callable[[str], None] | None = None) -> Source:
    """Open what `analyze` accepts as a source (see there) as a `Source`."""
    from acting_mirror import sources

    config = config or default_config()
    if _is_source(source):
        return source
    if callable(source):
        opened = source()
        if not _is_source(opened):
            from acting_mirror.errors import ArgumentError

            raise ArgumentError(f"the source callable returned {type(opened).__name__}, not a Source")
        return opened
    if isinstance(source, bool) or not isinstance(source, (str, Path, int)):
        from acting_mirror.errors import ArgumentError

        raise ArgumentError(f"source must be a path, URL, camera index or Source, not {type(source).__name__}")
    return sources.open_source(source, camera_fps=config.source.camera_fps,
                               max_height=config.source.youtube_max_height,
                               log=log or logging.getLogger("acting_mirror").info)


def _load_script(script, labels: tuple[str, ...]):
    if script is None:
        return None
    from acting_mirror.script import Script, load_script

    if isinstance(script, Script):
        unknown = sorted({t for cue in script.cues for t in cue.targets} - set(labels))
        if unknown:
            from acting_mirror.script import ScriptError

            raise ScriptError(f"script {script.title!r}: {', '.join(unknown)} not among the model's emotions "
                              f"({', '.join(labels)})")
        return script
    return load_script(script, labels)


def annotated_image_path(video_output: str | Path, photo_name: str) -> Path:
    """Where a photo's annotated copy goes: `video_output` itself when it names an image,
    else <photo stem>_annotated.png in its folder."""
    from acting_mirror.sources import IMAGE_SUFFIXES

    video_output = Path(video_output)
    if video_output.suffix.lower() in IMAGE_SUFFIXES:
        return video_output
    return video_output.parent / f"{Path(photo_name).stem}_annotated.png"


def _open_microphone(source: Source, config: Config, script, log):
    """A camera's microphone, recording on the camera's clock: for the output video's sound and for
    script lines without times. None when not wanted or not there (one line says why)."""
    from acting_mirror.sources.live import CameraSource

    wanted = config.output.video or (script is not None and not script.timed)
    if not (isinstance(source, CameraSource) and config.output.audio and wanted):
        return None
    from acting_mirror.audio.microphone import open_microphone, parse_device

    return open_microphone(source.clock_start, parse_device(config.output.audio_device), log)


def _make_video(source: Source, config: Config, microphone=None):
    from acting_mirror.recording import make_video_sink
    from acting_mirror.sinks import ImageFileSink

    path, codec = config.output.video, config.output.codec
    if not path:
        return None
    if source.is_image:
        return ImageFileSink(annotated_image_path(path, source.name))
    from acting_mirror.sinks import check_free_space
    from acting_mirror.sources import frames_to_read

    frames = frames_to_read(source, config.source.max_frames)
    # a camera's video runs at the rate asked of it: the app places its frames by capture time
    sink = make_video_sink(path, config.source.camera_fps if source.live else source.fps, codec,
                           microphone)  # claims the file
    try:
        check_free_space(path, source.frame_size, frames)
    except BaseException:
        sink.close()
        raise
    return sink


def _make_timeline_file(config: Config, labels: tuple[str, ...]):
    """The report's timeline.csv, claimed before the first frame and streamed as the run goes,
    so a crash keeps it; an older run's summary and page there are removed (they would disagree)."""
    if not config.output.report_dir:
        return None
    from acting_mirror.report import TIMELINE_FILE, check_report_outputs, remove_stale_report
    from acting_mirror.sinks import TimelineFile

    check_report_outputs(config.output.report_dir)  # before the old timeline is emptied
    timeline_file = TimelineFile(Path(config.output.report_dir) / TIMELINE_FILE, labels)
    try:
        remove_stale_report(config.output.report_dir)
    except BaseException:
        timeline_file.close()
        raise
    return timeline_file


def _progress_bar(source: Source, config: Config):
    import sys

    from tqdm import tqdm

    from acting_mirror.sources import frames_to_read

    return tqdm(total=frames_to_read(source, config.source.max_frames), unit="frame", desc=source.name,
                file=sys.stderr, dynamic_ncols=True, disable=None)
