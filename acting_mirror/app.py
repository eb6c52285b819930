"""The capture loop: source -> detect -> classify -> track -> timeline -> render -> sinks.

This module wires the steps; it holds no drawing, model or capture code, so tests
can run the loop with an injected source and sinks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np

from acting_mirror.config import Config
from acting_mirror.sinks import SinkError, make_folder
from acting_mirror.threaded_sink import ThreadedSink
from acting_mirror.types import Frame, FrameResult


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


class FpsMeter:
    """Frames per second over the last `window` frames."""

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.monotonic):
        self._times: deque[float] = deque(maxlen=window)
        self._clock = clock

    def tick(self) -> float:
        self._times.append(self._clock())
        return self.fps

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class PlaybackClock:
    """When a file's frames are due on screen, in wall time: at the file's own timing,
    shifted by however long playback stood still (pauses, and frames that came late:
    after a slow frame the clock waits for us instead of rushing the next frames).
    Also measures pauses for a camera, whose scene clock must stand still meanwhile."""

    def __init__(self, frame_period_s: float, clock: Callable[[], float] = time.monotonic):
        self.frame_period_s = frame_period_s
        self._clock = clock
        self._start = clock()
        self._offset = 0.0                  # how long playback stood still so far
        self._paused_at: float | None = None

    def start(self) -> None:
        self._start, self._offset, self._paused_at = self._clock(), 0.0, None

    def due_in(self, time_s: float) -> float:
        """Seconds until the frame at `time_s` (file time) is due; negative when late."""
        return self._start + self._offset + time_s - self._clock()

    def ready(self, time_s: float) -> bool:
        """Whether the frame at `time_s` is due; when it is late by more than a frame,
        playback catches up by waiting for us (later frames keep their spacing)."""
        late_s = -self.due_in(time_s)
        if late_s < 0:
            return False
        if late_s > self.frame_period_s:
            self._offset += late_s
        return True

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> float:
        """End a pause; how long it lasted (0 when there was none)."""
        if self._paused_at is None:
            return 0.0
        paused_for = self._clock() - self._paused_at
        self._offset += paused_for
        self._paused_at = None
        return paused_for


class TimedVideo:
    """The output video at a constant nominal rate (the sink's), frames placed by their time.

    Each frame fills the rate's time slots from its own time until the next frame's, so a
    frame is repeated when the pipeline fell behind and dropped when two frames share a
    slot, as a recorder does: the file's timing follows the frames' clock over the whole
    run (for a camera, the wall clock), whatever the processing rate did meanwhile. For a
    file every frame gets exactly one slot. With a `clock` (in the frames' time), close()
    holds the last frame until the run's end.
    """

    def __init__(self, sink, clock: Callable[[], float] | None = None):
        self._sink = sink
        self._fps = getattr(sink, "fps", None)  # None: a sink without a rate (a photo's image file)
        self._clock = clock
        self._first_s: float | None = None
        self._held: np.ndarray | None = None   # the newest frame, written once the next one's slot is known
        self._held_slot = 0
        self._clock_offset = 0.0  # clock() - frame time, at the first frame

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def frames_written(self) -> int:
        return self._sink.frames_written

    @property
    def path(self):
        return getattr(self._sink, "path", None)

    @property
    def failure(self) -> str | None:
        return getattr(self._sink, "failure", None)

    def _slot(self, time_s: float) -> int:
        return round((time_s - self._first_s) * self.fps)

    def write(self, image: np.ndarray, time_s: float) -> None:
        if self._fps is None:
            self._sink.write(image)
            return
        if self._first_s is None:
            self._first_s = time_s
            if self._clock is not None:
                self._clock_offset = self._clock() - time_s
        slot = max(self._slot(time_s), self._held_slot)
        if self._held is not None and slot > self._held_slot:
            self._write_held(slot - self._held_slot)
        self._held, self._held_slot = image, slot  # two frames in one slot: the newer one wins

    def hold_until(self, time_s: float) -> None:
        """Write the newest frame into the slots before `time_s` now (a paused camera
        run), rather than all at once when the next frame comes."""
        if self._held is not None:
            slot = self._slot(time_s)
            if slot > self._held_slot:
                self._write_held(slot - self._held_slot)
                self._held_slot = slot

    def now_s(self) -> float | None:
        """The clock in the frames' time (None without a clock or before the first frame)."""
        if self._clock is None or self._first_s is None:
            return None
        return self._clock() - self._clock_offset

    def _write_held(self, copies: int) -> None:
        for _ in range(copies):
            self._sink.write(self._held)

    def close(self, hold_to_now: bool = True) -> None:
        """Write the last frame (until the clock's now with `hold_to_now`: a camera run the user
        stopped; one slot without: a feed that stopped sending is not padded) and close."""
        try:
            if self._held is not None:
                end_slot = self._held_slot + 1
                now_s = self.now_s() if hold_to_now else None
                if now_s is not None:
                    end_slot = max(end_slot, self._slot(now_s))
                self._write_held(end_slot - self._held_slot)
                self._held = None
        finally:
            self._sink.close()  # also lets a claimed file go when no frame came


class StopReason(Enum):
    END_OF_INPUT = "end of input"
    MAX_FRAMES = "--max-frames"
    QUIT_KEY = "q"
    WINDOW_CLOSED = "window closed"
    INTERRUPT = "interrupt (Ctrl-C)"
    OUTPUT_ERROR = "an output error"
    ENDED_EARLY = "the input ending early"


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
    output_sound: bool = False      # the output video carries the source's sound

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
            sound = ", with the source's sound" if self.output_sound else ""
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

    `video` is a sink with write(image), fps and close() (a VideoSink); the app writes it
    through a TimedVideo, so a camera's recording keeps to the wall clock.
    """

    def __init__(self, config: Config, pipeline: Pipeline, source, *, windows=None, video=None,
                 timeline_file=None, script=None, progress=None, log: Callable[[str], None] = print,
                 pace: bool | None = None, clock: Callable[[], float] = time.monotonic):
        from acting_mirror.render.labels import LabelCache
        from acting_mirror.timeline import Timeline

        self.config = config
        self.pipeline = pipeline
        self.source = source
        self.windows = windows
        self.live = source.live
        # written on its own thread, so encoding overlaps the next frame's analysis
        self.video = None if video is None else TimedVideo(ThreadedSink(video), clock=clock if self.live else None)
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
        self.player = None
        if script is not None:
            from acting_mirror.script import CuePlayer

            self.player = CuePlayer(script, manual=self.live)
        self.graph = None
        self.summary = RunSummary(detector=pipeline.describe())
        self.summary_json: dict | None = None  # summary.json's contents, once the run has ended
        self._last_result: FrameResult | None = None
        self.resting = None  # a RestingRecorder while the resting-face key records

    # -- the loop -------------------------------------------------------
    def run(self) -> RunSummary:
        started = self.clock()
        self.playback.start()
        max_frames = self.config.source.max_frames
        try:
            for frame in self.source:
                result, status, shown = self.step(frame)
                if self.windows is not None and not self._interact(frame, result, status, shown):
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
        if self.player is not None and self.player.manual and self.windows is None and not self.player.started:
            self.player.start(frame.time_s)  # no window, no space key: a live scene starts with the first frame
        result = self.pipeline.process(frame)
        if self.resting is not None:
            self._record_resting(result)
        self.timeline.add(result)
        if self.timeline_file is not None:
            self.timeline_file.write(result)
        self._last_result = result
        fps = self.fps_meter.tick()
        status = self._cue_status(result)
        shown = render_main(frame.image, result, self.view, fps, status, self.labels)
        self.summary.frames += 1  # analysed and in the timeline, even if the video cannot take it
        if self.progress is not None:
            self.progress.update(1)
        if self.video is not None:
            self.video.write(shown, frame.time_s)
        return result, status, shown

    def _cue_status(self, result: FrameResult):
        if self.player is None:
            return None
        return self.player.status(result.time_s, result.person(0))

    # -- windows and keys ------------------------------------------------
    def _interact(self, frame: Frame, result: FrameResult, status, shown: np.ndarray) -> bool:
        """Show the windows, react to keys, pace file playback; False = stop."""
        from acting_mirror.display import KeyAction

        self._show(shown, result, status)
        while True:
            wait_s = self.playback.due_in(frame.time_s) if self.pace and not self.playback.paused else 0.0
            action = self.windows.poll(max(1, min(int(wait_s * 1000), 30)))
            if self.windows.main_closed():
                self.summary.stopped_by = StopReason.WINDOW_CLOSED
                return False
            if action is KeyAction.QUIT:
                self.summary.stopped_by = StopReason.QUIT_KEY
                return False
            if action is not None:
                self._apply(action, frame, result)
                status = self._cue_status(result)  # a key (n, p, space) may have moved the cue
                self._show(self._render(frame, result, status), result, status)
            if self.view.paused or self.source_is_image:
                self.playback.pause()  # paused, or a photo that stays up until the user quits
                if self.live and self.video is not None and self.video.now_s() is not None:
                    self.video.hold_until(self.video.now_s())  # the recording goes on showing the paused frame
                continue
            paused_for = self.playback.resume()
            if paused_for and self.player is not None and self.live:
                self.player.resume(paused_for, frame.time_s + paused_for)  # the scene stood still meanwhile
            if not self.pace or self.playback.ready(frame.time_s):
                return True

    def _apply(self, action, frame: Frame, result: FrameResult) -> None:
        from acting_mirror.display import KeyAction
        from acting_mirror.sinks import save_snapshot

        if action is KeyAction.PAUSE:
            if self.player is not None and self.live and not self.player.started:
                self.player.start(frame.time_s)  # with a script, space starts the scene
            else:
                self.view.paused = not self.view.paused
        elif action is KeyAction.TOGGLE_DETAILS:
            self.view.details = not self.view.details
        elif action is KeyAction.TOGGLE_GRAPH:
            self.view.graph = not self.view.graph
        elif action is KeyAction.TOGGLE_RECTANGLES:
            self.view.rectangles = not self.view.rectangles
        elif action is KeyAction.SNAPSHOT:
            # the picture as it looks now (keys pressed since the frame count), without the PAUSED line
            image = self._render(frame, result, self._cue_status(result), status_line=False)
            path = save_snapshot(image, self.config.output.snapshot_dir)
            self.summary.snapshots.append(str(path))
            self.log(f"snapshot saved: {path}")
        elif action is KeyAction.CALIBRATE:
            from acting_mirror.calibration import RestingRecorder

            self.resting = RestingRecorder(self.config.model.calibration_s)
            self.view.notice = f"calibrating: keep a resting face ({self.resting.seconds:.0f} s)"
        elif action in (KeyAction.NEXT_CUE, KeyAction.PREVIOUS_CUE) and self.player is not None and self.live:
            (self.player.next if action is KeyAction.NEXT_CUE else self.player.previous)(frame.time_s)

    def _record_resting(self, result: FrameResult) -> None:
        """The resting-face key: person 0's raw probabilities for a few seconds, then a profile
        that is saved and applied from the next frame on."""
        from acting_mirror.calibration import CalibrationError, make_profile

        person = result.person(0)
        crop = self.pipeline.last_crops.get(person.box) if person is not None else None
        raw = self.pipeline.classifier.raw(crop[None]) if crop is not None else None
        self.resting.add(raw, result.time_s)
        remaining = self.resting.remaining_s(result.time_s)
        if remaining > 0:
            self.view.notice = f"calibrating: keep a resting face ({remaining:.0f} s)"
            return
        model = self.pipeline.classifier
        path = Path(self.config.model.profile or Path(self.config.output.snapshot_dir) / "resting_profile.json")
        try:
            profile = make_profile(self.resting.probabilities(len(model.labels)), model.metadata,
                                   model.model_path.parent, "camera" if self.live else self.source.name)
            make_folder(path.parent, f"profile {path}", CalibrationError)
            profile.save(path)
        except CalibrationError as error:
            self.view.notice = f"calibration failed: {error}"
        else:
            model.profile = profile
            self.summary.profile = str(path)
            self.view.notice = f"calibrated: profile saved to {path}"
        self.log(self.view.notice)
        self.resting = None

    def _render(self, frame: Frame, result: FrameResult, status, status_line: bool = True) -> np.ndarray:
        view = self.view if status_line else replace(self.view, paused=False)
        return render_main(frame.image, result, view, self.fps_meter.fps, status, self.labels)

    def _show(self, shown: np.ndarray, result: FrameResult, status) -> None:
        from acting_mirror.display import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW
        from acting_mirror.render.details import details_canvas
        from acting_mirror.render.graph import ThrottledGraph

        self.windows.show(MAIN_WINDOW, shown)
        person = result.person(0)
        if self.view.details:
            targets = status.cue.targets if status is not None else ()
            canvas = details_canvas(person.probabilities if person else None, self.pipeline.labels, targets)
            self.windows.show(DETAILS_WINDOW, canvas)
        else:
            self.windows.close(DETAILS_WINDOW)
        if self.view.graph:
            if self.graph is None:
                self.graph = ThrottledGraph(self.pipeline.labels, self.config.display.graph_interval_s,
                                            clock=self.clock)
            self.windows.show(GRAPH_WINDOW, self.graph.image(self._graph_data()))
        else:
            self.windows.close(GRAPH_WINDOW)

    def _graph_data(self) -> np.ndarray:
        history = self.config.display.graph_history_s
        since = None
        if history and self._last_result is not None:
            since = self._last_result.time_s - history
        return self.timeline.person_probabilities(0, since_s=since)

    # -- the end ---------------------------------------------------------
    def _finish(self) -> None:
        if self.video is not None:
            try:
                # always: an interrupted run still leaves a playable file; a feed that stopped is not padded
                self.video.close(hold_to_now=self.summary.stopped_by is not StopReason.ENDED_EARLY)
            except SinkError as error:  # the finished file lacks frames: say so, never count them
                self.summary.error = self.summary.error or str(error)
            self.summary.output = str(self.video.path or self.config.output.video)
            self.summary.output_failed = self.video.failure is not None
            self.summary.output_frames = 0 if self.summary.output_failed else self.video.frames_written
            self._add_sound()
        if self.timeline_file is not None:
            self.timeline_file.close()
        if self.progress is not None:
            self.progress.close()
        if self.windows is not None and self.graph is not None and self.view.graph:
            from acting_mirror.display import GRAPH_WINDOW

            self.windows.show(GRAPH_WINDOW, self.graph.image(self._graph_data(), force=True))
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

    def _add_sound(self) -> None:
        """A file's sound into the finished video (frame for frame the source's, from its first)."""
        media = getattr(self.source, "media_path", None)
        # a local file only: a streamed URL is not fetched a second time, outside the checks it passed
        if not (self.config.output.audio and media and Path(media).is_file() and self.summary.output_frames
                and not self.live and self.video.fps):
            return
        from acting_mirror.audio.soundtrack import SoundtrackError, add_soundtrack

        try:
            self.summary.output_sound = add_soundtrack(self.summary.output, media, self.summary.output_frames,
                                                       self.video.fps)
        except SoundtrackError as error:  # the silent video is still complete
            self.log(f"note: {error}")

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
