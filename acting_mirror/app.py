"""The capture loop: source -> detect -> classify -> track -> timeline -> render -> sinks.

This module wires the steps; it holds no drawing, model or capture code, so tests
can run the loop with an injected source and sinks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from acting_mirror.config import Config
from acting_mirror.sinks import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW, SinkError
from acting_mirror.types import Frame, FrameResult


class Pipeline:
    """Per-frame analysis: detection, batched classification, tracking."""

    def __init__(self, detector, classifier, tracker):
        self.detector = detector
        self.classifier = classifier
        self.tracker = tracker

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def process(self, frame: Frame) -> FrameResult:
        import cv2

        from acting_mirror.detect import crop_faces

        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        boxes = self.detector.detect(gray)
        crops = crop_faces(gray, boxes, self.classifier.input_size)
        probabilities = self.classifier.classify(crops)  # every face of the frame in one call
        faces = self.tracker.update(boxes, probabilities)
        return FrameResult(frame.index, frame.time_s, faces)


def build_pipeline(config: Config) -> Pipeline:
    from acting_mirror.detect import FaceDetector
    from acting_mirror.model import load_classifier
    from acting_mirror.track import FaceTracker

    classifier = load_classifier(config.model.path, config.model.backend, config.model.threads,
                                 config.model.quantized, config.model.test_time_views,
                                 config.model.views_max_faces)
    detector = FaceDetector(config.detector)
    tracker = FaceTracker.from_config(classifier.labels, config.tracking)
    return Pipeline(detector, classifier, tracker)


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


class LiveRateVideo:
    """Video output for a live source: the first second of frames is held back
    until the real processing rate is known, so the file plays at true speed."""

    def __init__(self, open_sink: Callable[[float], object], probe_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, release: Callable[[], None] | None = None):
        self._open_sink = open_sink
        self._release = release  # called by close() when no frame came, so the sink never opened
        self._probe_s = probe_s
        self._clock = clock
        self._pending: list[np.ndarray] = []
        self._started: float | None = None
        self._sink = None

    @property
    def frames_written(self) -> int:
        return self._sink.frames_written if self._sink is not None else 0

    @property
    def path(self):
        return getattr(self._sink, "path", None)

    @property
    def failure(self) -> str | None:
        return getattr(self._sink, "failure", None)

    def write(self, image: np.ndarray) -> None:
        if self._sink is not None:
            self._sink.write(image)
            return
        now = self._clock()
        if self._started is None:
            self._started = now
        self._pending.append(image)
        if now - self._started >= self._probe_s and len(self._pending) > 1:
            self._flush()

    def _flush(self) -> None:
        elapsed = self._clock() - (self._started or 0.0)
        fps = (len(self._pending) - 1) / elapsed if elapsed > 0 and len(self._pending) > 1 else 30.0
        self._sink = self._open_sink(max(1.0, min(fps, 120.0)))
        for image in self._pending:
            self._sink.write(image)
        self._pending.clear()

    def close(self) -> None:
        if self._sink is None and self._pending:
            self._flush()
        if self._sink is not None:
            self._sink.close()
        elif self._release is not None:
            self._release()


@dataclass
class ViewState:
    """What the user toggled with keys."""

    details: bool
    graph: bool
    rectangles: bool
    paused: bool = False


@dataclass
class RunSummary:
    frames: int = 0
    seconds: float = 0.0
    faces_seen: int = 0
    person0_share: dict = field(default_factory=dict)
    person0_frames: int = 0
    output: str | None = None
    output_frames: int = 0
    output_failed: bool = False
    error: str | None = None  # an output that could not be written (the run stopped there)
    report: str | None = None
    snapshots: list = field(default_factory=list)
    stopped_by: str = "end of input"

    @property
    def mean_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        lines = [f"{self.frames} frames in {self.seconds:.1f} s ({self.mean_fps:.1f} FPS mean), "
                 f"stopped by {self.stopped_by}",
                 f"faces seen: {self.faces_seen}; person 0 in {self.person0_frames} frames"]
        if self.person0_share:
            shares = sorted(self.person0_share.items(), key=lambda kv: kv[1], reverse=True)
            lines.append("person 0: " + ", ".join(f"{label} {share:.0%}" for label, share in shares if share > 0))
        if self.output and self.output_failed:
            lines.append(f"video: {self.output} is incomplete (see the error)")
        elif self.output:
            lines.append(f"video: {self.output} ({self.output_frames} frames)")
        if self.report:
            lines.append(f"report: {self.report}")
        for path in self.snapshots:
            lines.append(f"snapshot: {path}")
        return lines


def render_main(image: np.ndarray, result: FrameResult, view: ViewState, fps: float, cue_status=None) -> np.ndarray:
    from acting_mirror.render.overlay import draw_cue, draw_faces, draw_fps, draw_status

    out = draw_faces(image, result.faces, show_boxes=view.rectangles)
    out = draw_fps(out, fps)
    if cue_status is not None:
        out = draw_cue(out, cue_status.cue.line, cue_status.cue.targets, cue_status.on_target,
                       cue_status.held_s, cue_status.remaining_s)
    if view.paused:
        out = draw_status(out, "PAUSED - space to resume")
    return out


class MirrorApp:
    """One run of the mirror over one source, with optional windows, video and report."""

    def __init__(self, config: Config, pipeline: Pipeline, source, *, windows=None, video=None,
                 timeline_file=None, script=None, progress=None, log: Callable[[str], None] = print,
                 pace: bool | None = None, clock: Callable[[], float] = time.monotonic):
        from acting_mirror.timeline import Timeline

        self.config = config
        self.pipeline = pipeline
        self.source = source
        self.windows = windows
        self.video = video
        self.timeline_file = timeline_file  # timeline.csv streamed as the run goes (sinks.TimelineFile)
        self.script = script
        self.progress = progress
        self.log = log
        self.clock = clock
        self.live = source.live
        self.source_is_image = source.is_image
        # with windows open a file plays at its own frame rate, never faster; headless it runs flat out
        self.pace = (windows is not None and not self.live and not self.source_is_image) if pace is None else pace
        self._play_start = 0.0
        self._clock_offset = 0.0  # how long the file's clock stood still: pauses, frames shown late
        self.timeline = Timeline(pipeline.labels)
        self.view = ViewState(config.display.details, config.display.graph, config.display.rectangles)
        self.fps_meter = FpsMeter(clock=clock)
        self.player = None
        if script is not None:
            from acting_mirror.script import CuePlayer

            self.player = CuePlayer(script, manual=self.live)
        self.graph = None
        self.summary = RunSummary()
        self._last_result: FrameResult | None = None
        self._last_status = None  # the active cue's status for the last frame (None without a cue)

    # -- the loop -------------------------------------------------------
    def run(self) -> RunSummary:
        started = self._play_start = self.clock()
        max_frames = self.config.source.max_frames
        try:
            for frame in self.source:
                shown = self.step(frame)
                if self.windows is not None and not self._interact(frame, shown):
                    break
                if max_frames and self.summary.frames >= max_frames:
                    self.summary.stopped_by = f"--max-frames {max_frames}"
                    break
            ended_early = getattr(self.source, "ended_early", None)
            if ended_early and self.summary.stopped_by == "end of input":
                self.summary.stopped_by = f"the input ending early: {ended_early}"
            skipped = getattr(self.source, "skipped_frames", 0)
            if skipped:
                self.summary.stopped_by += f" ({skipped} damaged frames skipped)"
        except KeyboardInterrupt:
            self.summary.stopped_by = "interrupt (Ctrl-C)"
        except SinkError as error:  # an output cannot be written: stop here, keep everything else
            self.summary.error = str(error)
            self.summary.stopped_by = "an output error"
        finally:
            self.summary.seconds = self.clock() - started
            self._finish()
        return self.summary

    def step(self, frame: Frame) -> np.ndarray:
        """Analyse and render one frame, write it out; returns the image shown."""
        result = self.pipeline.process(frame)
        self.timeline.add(result)
        if self.timeline_file is not None:
            self.timeline_file.write(result)
        self._last_result = result
        fps = self.fps_meter.tick()
        self._last_status = self._cue_status(result)
        shown = render_main(frame.image, result, self.view, fps, self._last_status)
        self.summary.frames += 1  # analysed and in the timeline, even if the video cannot take it
        if self.progress is not None:
            self.progress.update(1)
        if self.video is not None:
            self.video.write(shown)
        return shown

    def _cue_status(self, result: FrameResult):
        if self.player is None:
            return None
        return self.player.status(result.time_s, result.person(0))

    # -- windows and keys ------------------------------------------------
    def _interact(self, frame: Frame, shown: np.ndarray) -> bool:
        """Show the windows, react to keys, pace file playback; False = stop."""
        self._show(shown)
        deadline = self._play_start + self._clock_offset + frame.time_s if self.pace else None
        pause_started = None
        while True:
            wait_ms = 1 if deadline is None else int((deadline - self.clock()) * 1000)
            action = self.windows.poll(max(1, min(wait_ms, 30)))
            if self.windows.main_closed():
                self.summary.stopped_by = "window closed"
                return False
            if action == "quit":
                self.summary.stopped_by = "q"
                return False
            if action:
                self._apply(action, frame)
                self._show(self._rerender(frame))
            if self.view.paused or self.source_is_image:
                pause_started = pause_started if pause_started is not None else self.clock()
                continue  # paused, or a photo that stays up until the user quits
            if pause_started is not None:  # resumed: the file's clock (or the scene's) resumes where it stopped
                paused_for = self.clock() - pause_started
                self._clock_offset += paused_for
                if self.player is not None and self.live:
                    self.player.resume(paused_for, frame.time_s + paused_for)
                deadline = deadline + paused_for if deadline is not None else None
                pause_started = None
            if deadline is None:
                return True
            late_s = self.clock() - deadline
            if late_s >= 0:
                if late_s > 1.0 / self.source.fps:
                    # behind by more than a frame (a slow frame, a busy machine): the file's clock waits
                    # for us, so the frames after it keep their spacing instead of rushing to catch up
                    self._clock_offset += late_s
                return True

    def _apply(self, action: str, frame: Frame) -> None:
        from acting_mirror.sinks import save_snapshot

        if action == "pause":
            if self.player is not None and self.live and not self.player.started:
                self.player.start(frame.time_s)  # with a script, space starts the scene
            else:
                self.view.paused = not self.view.paused
        elif action == "toggle_details":
            self.view.details = not self.view.details
        elif action == "toggle_graph":
            self.view.graph = not self.view.graph
        elif action == "toggle_rectangles":
            self.view.rectangles = not self.view.rectangles
        elif action == "snapshot" and self._last_result is not None:
            # the picture as it looks now (keys pressed since the frame count), without the PAUSED line
            path = save_snapshot(self._rerender(frame, status_line=False), self.config.output.snapshot_dir)
            self.summary.snapshots.append(str(path))
            self.log(f"snapshot saved: {path}")
        elif action in ("next_cue", "prev_cue") and self.player is not None and self.live:
            (self.player.next if action == "next_cue" else self.player.previous)(frame.time_s)

    def _rerender(self, frame: Frame, status_line: bool = True) -> np.ndarray:
        result = self._last_result
        self._last_status = self._cue_status(result)  # a key (n, p, space) may have moved the cue
        view = self.view if status_line else replace(self.view, paused=False)
        return render_main(frame.image, result, view, self.fps_meter.fps, self._last_status)

    def _show(self, shown: np.ndarray) -> None:
        from acting_mirror.render.details import details_canvas
        from acting_mirror.render.graph import ThrottledGraph

        self.windows.show(MAIN_WINDOW, shown)
        person = self._last_result.person(0) if self._last_result else None
        if self.view.details:
            targets = self._last_status.cue.targets if self._last_status is not None else ()
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
                self.video.close()  # always: an interrupted run still leaves a playable file
            except SinkError as error:  # the finished file lacks frames: say so, never count them
                self.summary.error = self.summary.error or str(error)
            self.summary.output = str(getattr(self.video, "path", "") or self.config.output.video)
            self.summary.output_failed = getattr(self.video, "failure", None) is not None
            self.summary.output_frames = 0 if self.summary.output_failed else self.video.frames_written
        if self.timeline_file is not None:
            self.timeline_file.close()
        if self.progress is not None:
            self.progress.close()
        if self.windows is not None and self.graph is not None and self.view.graph:
            self.windows.show(GRAPH_WINDOW, self.graph.image(self._graph_data(), force=True))
        self.summary.person0_share = self.timeline.emotion_share(0)
        self.summary.person0_frames = self.timeline.face_frames(0)
        self.summary.faces_seen = self.pipeline.tracker.tracks_started
        if self.config.output.report_dir:
            from acting_mirror.report import write_report

            fps, spans = self.report_inputs()
            # timeline.csv is already on disk when it was streamed; written whole here otherwise
            streamed = self.timeline_file is not None and self.timeline_file.failure is None
            paths = write_report(self.config.output.report_dir, self.timeline, fps, self.script, cue_spans=spans,
                                 write_timeline=not streamed)
            self.summary.report = str(paths.get("html", Path(self.config.output.report_dir)))

    def report_inputs(self) -> tuple[float, list | None]:
        """The frame rate and the played cue spans the run's summary and report are built with."""
        fps = (self.summary.mean_fps or self.source.fps) if self.live else self.source.fps
        # a camera actor moves through cues with space / n / p: score the cue times they really played
        spans = None
        if self.player is not None and self.timeline.frames:
            spans = self.player.played_spans(self.timeline.times[-1] + 1 / fps)
        return fps, spans
