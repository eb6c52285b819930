"""The capture loop: source -> detect -> classify -> track -> timeline -> render -> sinks.

This module wires the steps; it holds no drawing, model or capture code, so tests
can run the loop with an injected source and sinks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acting_mirror.clocks import FpsMeter, PlaybackClock
from acting_mirror.config import Config
from acting_mirror.sinks import SinkError
from acting_mirror.types import Frame, FrameResult, StopReason


class Pipeline:
    """Per-frame analysis: detection, batched classification, tracking.

    With `every_n_frames` > 1 the detector runs on every Nth frame only; the frames
    between reuse its last faces (the tracker keeps their ids, the classifier still
    reads each frame's crops), which a crowd in a big frame may need to stay fast."""

    def __init__(self, detector, classifier, tracker, align: bool = False, every_n_frames: int = 1,
                 schedule=None):
        from acting_mirror.schedule import ClassifyPolicy, ClassifySchedule

        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker
        self.align = align
        self.every_n_frames = every_n_frames
        self.schedule = schedule or ClassifySchedule(ClassifyPolicy(every_frames=1))  # which faces are read
        self._detections: list = []
        self._frames_since_detection = every_n_frames  # detect on the first frame
        self.last_crops: dict = {}  # the last frame's crop of each detected box

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def describe(self) -> str:
        """The detector that runs, for the end-of-run summary."""
        text = self.detector.describe()
        if self.align:
            text += ", eye-level crops"
        if self.every_n_frames > 1:
            text += f", every {self.every_n_frames} frames"
        return text

    def restart(self) -> None:
        """Forget the carried faces: the next frame is detected (a new source starts)."""
        self._detections = []
        self._frames_since_detection = self.every_n_frames
        self.schedule.restart()
        if hasattr(self.detector, "restart"):  # a detector that follows its faces forgets them
            self.detector.restart()

    def process(self, frame: Frame) -> FrameResult:
        import cv2

        from acting_mirror.detect import crop_faces

        if self._frames_since_detection >= self.every_n_frames:
            self._detections = self.detector.detect(frame.image)
            self._frames_since_detection = 0
        self._frames_since_detection += 1
        detections = self._detections
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        crops = crop_faces(gray, detections, self.classifier.input_size, self.align)
        probabilities = self.schedule.classify(self.classifier, detections, crops)  # the faces due, in one call
        faces = self.tracker.update([d.box for d in detections], probabilities, frame.time_s)
        self.last_crops = dict(zip((d.box for d in detections), crops, strict=True))  # for the resting-face key
        self.schedule.remember(faces)
        return FrameResult(frame.index, frame.time_s, faces)


def build_pipeline(config: Config) -> Pipeline:
    from acting_mirror.calibration import CalibratedClassifier, load_profile
    from acting_mirror.detect import build_detector
    from acting_mirror.follow import follow_faces
    from acting_mirror.model import load_configured_classifier
    from acting_mirror.schedule import ClassifyPolicy, ClassifySchedule
    from acting_mirror.track import FaceTracker

    model = load_configured_classifier(config.model)
    profile = (load_profile(config.model.profile, model.metadata, model.model_path.parent)
               if config.model.profile else None)
    classifier = CalibratedClassifier(model, profile)
    detector = follow_faces(build_detector(config.detector), config.detector.full_frame_every)
    tracker = FaceTracker(classifier.labels, config.tracking)
    schedule = ClassifySchedule(ClassifyPolicy(every_frames=config.model.classify_every),
                                config.tracking.iou_threshold)
    return Pipeline(detector, classifier, tracker, config.detector.align, config.detector.every_n_frames, schedule)


@dataclass
class ViewState:
    """What the user toggled with keys."""

    details: bool
    graph: bool
    rectangles: bool
    paused: bool = False
    notice: str = ""  # a line at the top of the picture (e.g. the resting-face calibration)


@dataclass
class RunSummary:
    frames: int = 0
    seconds: float = 0.0
    face_tracks: int = 0     # faces followed; a face lost for longer than tracking.max_missed_frames counts again
    person0_share: dict = field(default_factory=dict)
    person0_frames: int = 0
    output: str | None = None
    output_frames: int = 0
    output_failed: bool = False
    error: str | None = None  # an output that could not be written (the run stopped there)
    report: str | None = None
    snapshots: list = field(default_factory=list)
    stopped_by: StopReason = StopReason.END_OF_INPUT
    stop_detail: str | None = None  # why the input ended early (a truncated file, a broken stream)
    skipped_frames: int = 0         # damaged frames the source skipped
    detector: str = ""              # the detector that ran, as the summary names it
    profile: str | None = None      # a resting-face profile recorded during the run (the key)
    output_sound: str = ""          # whose sound the output video carries ("" when silent)

    @property
    def mean_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        stop = self.stopped_by.value
        if self.stopped_by is StopReason.MAX_FRAMES:
            stop = f"{stop} {self.frames}"
        if self.stop_detail:
            stop = f"{stop}: {self.stop_detail}"
        if self.skipped_frames:
            stop = f"{stop} ({_count(self.skipped_frames, 'damaged frame')} skipped)"
        lines = [f"{_count(self.frames, 'frame')} in {self.seconds:.1f} s ({self.mean_fps:.1f} FPS mean), "
                 f"stopped by {stop}",
                 f"face tracks: {self.face_tracks} (a face lost for a while starts a new one); "
                 f"person 0 in {_count(self.person0_frames, 'frame')}"]
        shares = sorted(((label, share) for label, share in self.person0_share.items() if share > 0),
                        key=lambda kv: kv[1], reverse=True)
        if shares:  # a run that never saw a face has no line here rather than an empty one
            lines.append("person 0: " + ", ".join(f"{label} {share:.0%}" for label, share in shares))
        if self.detector:
            lines.append(f"detector: {self.detector}")
        if self.output and self.output_failed:
            lines.append(f"video: {self.output} is incomplete (see the error)")
        elif self.output:
            sound = f", with {self.output_sound}" if self.output_sound else ""
            lines.append(f"video: {self.output} ({_count(self.output_frames, 'frame')}{sound})")
        if self.report:
            lines.append(f"report: {self.report}")
        for path in self.snapshots:
            lines.append(f"snapshot: {path}")
        if self.profile:
            lines.append(f"resting-face profile: {self.profile}")
        return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def render_main(image: np.ndarray, result: FrameResult, view: ViewState, fps: float, cue_status=None,
                labels=None) -> np.ndarray:
    """The main window's picture; `labels` (a render.labels.LabelCache) copies captions drawn before."""
    from acting_mirror.render.overlay import draw_cue, draw_faces, draw_fps, draw_status, put_label

    out = draw_faces(image, result.faces, show_boxes=view.rectangles, put=labels.put_label if labels else put_label)
    out = draw_fps(out, fps)
    if cue_status is not None:
        out = draw_cue(out, cue_status.cue.line, cue_status.cue.targets, cue_status.on_target,
                       cue_status.held_s, cue_status.remaining_s)
    if view.paused:
        out = draw_status(out, "PAUSED - space to resume")
    elif view.notice:
        out = draw_status(out, view.notice)
    return out


class MirrorApp:
    """One run of the mirror over one source, with optional windows, video and report.

    `video` is a sink with write(image), fps and close() (a VideoSink, or recording.MicrophoneVideoSink
    for a camera with a microphone); the app writes it through a recording.Recording, so a camera's
    recording keeps to the wall clock. `microphone` (an audio.microphone.MicrophoneRecorder) lets a
    camera's script lines without times be followed by ear.
    """

    def __init__(self, config: Config, pipeline: Pipeline, source, *, windows=None, video=None,
                 timeline_file=None, script=None, progress=None, log: Callable[[str], None] = print,
                 pace: bool | None = None, clock: Callable[[], float] = time.monotonic, microphone=None):
        from acting_mirror.render.labels import LabelCache
        from acting_mirror.timeline import Timeline

        self.config = config
        self.pipeline = pipeline
        self.source = source
        self.live = source.live
        self.recording = None
        if video is not None:
            from acting_mirror.recording import Recording

            media = getattr(source, "media_path", None)
            file_sound = media if config.output.audio and media and not self.live else None
            self.recording = Recording(video, clock=clock if self.live else None, file_sound=file_sound, log=log)
        self.timeline_file = timeline_file  # timeline.csv streamed as the run goes (sinks.TimelineFile)
        self.script = script
        self.progress = progress
        self.log = log
        self.clock = clock
        self.source_is_image = source.is_image
        # with windows open a file plays at its own frame rate, never faster; headless it runs flat out
        self.pace = (windows is not None and not self.live and not self.source_is_image) if pace is None else pace
        self.playback = PlaybackClock(1.0 / source.fps, clock)
        self.timeline = Timeline(pipeline.labels)
        self.view = ViewState(config.display.details, config.display.graph, config.display.rectangles)
        self.fps_meter = FpsMeter(clock=clock)
        self.labels = LabelCache()  # face captions drawn once, then copied
        self.player = self.cue_listener = None
        if script is not None:
            self.player, self.cue_listener = self._cue_player(script, microphone)
        self.summary = RunSummary(detector=pipeline.describe())
        self.summary_json: dict | None = None  # summary.json's contents, once the run has ended
        self.last_result: FrameResult | None = None
        self.controls = None
        if windows is not None:
            from acting_mirror.controls import WindowControls

            self.controls = WindowControls(self, windows)

    def _cue_player(self, script, microphone):
        """A camera with a microphone follows lines without times by ear; otherwise cues go by their times."""
        from acting_mirror.script import CuePlayer

        if self.live and microphone is not None and not script.timed:
            from acting_mirror.audio.live_cues import CueListener, SpeechCuePlayer

            return SpeechCuePlayer(script), CueListener([cue.line for cue in script.cues], microphone)
        return CuePlayer(script, manual=self.live), None

    # -- the loop -------------------------------------------------------
    def run(self) -> RunSummary:
        started = self.clock()
        self.playback.start()
        max_frames = self.config.source.max_frames
        try:
            for frame in self.source:
                result, status, shown = self.step(frame)
                stop = None if self.controls is None else self.controls.interact(frame, result, status, shown)
                if stop is not None:
                    self.summary.stopped_by = stop
                    break
                if max_frames and self.summary.frames >= max_frames:
                    self.summary.stopped_by = StopReason.MAX_FRAMES
                    break
            ended_early = getattr(self.source, "ended_early", None)
            if ended_early and self.summary.stopped_by is StopReason.END_OF_INPUT:
                self.summary.stopped_by = StopReason.ENDED_EARLY
                self.summary.stop_detail = ended_early
            self.summary.skipped_frames = getattr(self.source, "skipped_frames", 0)
        except KeyboardInterrupt:
            self.summary.stopped_by = StopReason.INTERRUPT
        except SinkError as error:  # an output cannot be written: stop here, keep everything else
            self.summary.error = str(error)
            self.summary.stopped_by = StopReason.OUTPUT_ERROR
        finally:
            self.summary.seconds = self.clock() - started
            self._finish()
        return self.summary

    def step(self, frame: Frame):
        """Analyse and render one frame, write it out; returns its result, the active
        cue's status (None without one) and the image shown."""
        if self.player is not None and self.player.manual and self.controls is None and not self.player.started:
            self.player.start(frame.time_s)  # no window, no space key: a live scene starts with the first frame
        if self.cue_listener is not None:
            for heard in self.cue_listener.heard():  # lines heard since the last frame
                self.player.hear(heard.index, heard.start_s)
        result = self.pipeline.process(frame)
        if self.controls is not None:
            self.controls.record_resting(result)
        self.timeline.add(result)
        if self.timeline_file is not None:
            self.timeline_file.write(result)
        self.last_result = result
        fps = self.fps_meter.tick()
        status = self.cue_status(result)
        shown = self.render(frame.image, result, self.view, fps, status)
        self.summary.frames += 1  # analysed and in the timeline, even if the video cannot take it
        if self.progress is not None:
            self.progress.update(1)
        if self.recording is not None:
            self.recording.write(shown, frame.time_s)
        return result, status, shown

    def cue_status(self, result: FrameResult):
        if self.player is None:
            return None
        return self.player.status(result.time_s, result.person(0))

    def render(self, image: np.ndarray, result: FrameResult, view: ViewState, fps: float, status) -> np.ndarray:
        return render_main(image, result, view, fps, status, self.labels)

    # -- the end ---------------------------------------------------------
    def _finish(self) -> None:
        if self.recording is not None:
            # always: an interrupted run still leaves a playable file; a feed that stopped is not padded
            video = self.recording.finish(self.summary.stopped_by is not StopReason.ENDED_EARLY,
                                          self.config.output.video)
            self.summary.error = self.summary.error or video.error
            self.summary.output, self.summary.output_failed = video.path, video.failed
            self.summary.output_frames, self.summary.output_sound = video.frames, video.sound
        if self.cue_listener is not None:
            self.cue_listener.close()
            if self.timeline.frames:  # the report shows each cue as the speech timed it
                self.script = self.player.timed_script(self.timeline.times[-1] + 1 / self.report_inputs()[0])
        if self.timeline_file is not None:
            self.timeline_file.close()
        if self.progress is not None:
            self.progress.close()
        if self.controls is not None:
            self.controls.show_final_graph()
        self.summary.person0_share = self.timeline.emotion_share(0)
        self.summary.person0_frames = self.timeline.face_frames(0)
        self.summary.face_tracks = self.pipeline.tracker.tracks_started
        from acting_mirror.scoring import build_summary

        fps, spans = self.report_inputs()
        # summary.json's contents, built once: the report writes them, analyze() returns them
        self.summary_json = build_summary(self.timeline, fps, self.script, spans, self.profile_summary())
        if self.config.output.report_dir:
            from acting_mirror.report import write_report

            # timeline.csv is already on disk when it was streamed; written whole here otherwise
            streamed = self.timeline_file is not None and self.timeline_file.failure is None
            from acting_mirror.audio.level import take_sound_level

            level = take_sound_level(self.source)
            paths = write_report(self.config.output.report_dir, self.timeline, self.summary_json,
                                 write_timeline=not streamed,
                                 sound_level=None if level is None else (level.times, level.db))
            self.summary.report = str(paths.get("html", Path(self.config.output.report_dir)))

    def profile_summary(self) -> dict | None:
        """The resting-face profile in use at the end (given, or recorded with the key), as the
        report and summary.json name it."""
        profile = self.pipeline.classifier.profile
        if profile is None:
            return None
        return {"path": self.summary.profile or self.config.model.profile, **profile.describe()}

    def report_inputs(self) -> tuple[float, list | None]:
        """The frame rate and the played cue spans the run's summary and report are built with."""
        fps = (self.summary.mean_fps or self.source.fps) if self.live else self.source.fps
        # a camera actor moves through cues with space / n / p: score the cue times they really played;
        # a file's cues are its script times, so a rebuild with an edited script re-times them
        spans = None
        if self.player is not None and self.live and self.timeline.frames:
            spans = self.player.played_spans(self.timeline.times[-1] + 1 / fps)
        return fps, spans
