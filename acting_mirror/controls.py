"""What the keys do to a run and what its windows show: the mirror, the details and the graph.

`WindowControls` works on one `MirrorApp` (its view, clocks, cue player, recording and
summary) while the loop waits between frames; the windows themselves are display.Windows.
Headless runs have no WindowControls at all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from acting_mirror.types import Frame, FrameResult, StopReason


class WindowControls:
    def __init__(self, app, windows):
        self.app = app
        self.windows = windows
        self.graph = None     # a ThrottledGraph once the graph window was shown
        self.resting = None   # a RestingRecorder while the resting-face key records

    def interact(self, frame: Frame, result: FrameResult, status, shown: np.ndarray) -> StopReason | None:
        """Show the windows, react to keys, pace file playback; a reason to stop, or None to go on."""
        from acting_mirror.display import KeyAction

        app = self.app
        self.show(shown, result, status)
        while True:
            wait_s = app.playback.due_in(frame.time_s) if app.pace and not app.playback.paused else 0.0
            action = self.windows.poll(max(1, min(int(wait_s * 1000), 30)))
            if self.windows.main_closed():
                return StopReason.WINDOW_CLOSED
            if action is KeyAction.QUIT:
                return StopReason.QUIT_KEY
            if action is not None:
                self.apply(action, frame, result)
                status = app.cue_status(result)  # a key (n, p, space) may have moved the cue
                self.show(self.render(frame, result, status), result, status)
            if app.view.paused or app.source_is_image:
                app.playback.pause()  # paused, or a photo that stays up until the user quits
                if app.live and app.recording is not None and app.recording.now_s() is not None:
                    app.recording.hold_until(app.recording.now_s())  # the recording goes on showing the paused frame
                continue
            paused_for = app.playback.resume()
            if paused_for and app.player is not None and app.live:
                app.player.resume(paused_for, frame.time_s + paused_for)  # the scene stood still meanwhile
            if not app.pace or app.playback.ready(frame.time_s):
                return None

    def apply(self, action, frame: Frame, result: FrameResult) -> None:
        from acting_mirror.display import KeyAction
        from acting_mirror.sinks import save_snapshot

        app, view = self.app, self.app.view
        if action is KeyAction.PAUSE:
            if app.player is not None and app.live and not app.player.started:
                app.player.start(frame.time_s)  # with a script, space starts the scene
            else:
                view.paused = not view.paused
        elif action is KeyAction.TOGGLE_DETAILS:
            view.details = not view.details
        elif action is KeyAction.TOGGLE_GRAPH:
            view.graph = not view.graph
        elif action is KeyAction.TOGGLE_RECTANGLES:
            view.rectangles = not view.rectangles
        elif action is KeyAction.SNAPSHOT:
            # the picture as it looks now (keys pressed since the frame count), without the PAUSED line
            image = self.render(frame, result, app.cue_status(result), status_line=False)
            path = save_snapshot(image, app.config.output.snapshot_dir)
            app.summary.snapshots.append(str(path))
            app.log(f"snapshot saved: {path}")
        elif action is KeyAction.CALIBRATE:
            from acting_mirror.calibration import RestingRecorder

            self.resting = RestingRecorder(app.config.model.calibration_s)
            view.notice = f"calibrating: keep a resting face ({self.resting.seconds:.0f} s)"
        elif action in (KeyAction.NEXT_CUE, KeyAction.PREVIOUS_CUE) and app.player is not None and app.live:
            (app.player.next if action is KeyAction.NEXT_CUE else app.player.previous)(frame.time_s)

    def record_resting(self, result: FrameResult) -> None:
        """The resting-face key: person 0's raw probabilities for a few seconds, then a profile
        that is saved and applied from the next frame on."""
        from acting_mirror.calibration import CalibrationError, make_profile
        from acting_mirror.sinks import make_folder

        if self.resting is None:
            return
        app, view = self.app, self.app.view
        person = result.person(0)
        crop = app.pipeline.last_crops.get(person.box) if person is not None else None
        raw = app.pipeline.classifier.raw(crop[None]) if crop is not None else None
        self.resting.add(raw, result.time_s)
        remaining = self.resting.remaining_s(result.time_s)
        if remaining > 0:
            view.notice = f"calibrating: keep a resting face ({remaining:.0f} s)"
            return
        model = app.pipeline.classifier
        path = Path(app.config.model.profile or Path(app.config.output.snapshot_dir) / "resting_profile.json")
        try:
            profile = make_profile(self.resting.probabilities(len(model.labels)), model.metadata,
                                   model.model_path.parent, "camera" if app.live else app.source.name)
            make_folder(path.parent, f"profile {path}", CalibrationError)
            profile.save(path)
        except CalibrationError as error:
            view.notice = f"calibration failed: {error}"
        else:
            model.profile = profile
            app.summary.profile = str(path)
            view.notice = f"calibrated: profile saved to {path}"
        app.log(view.notice)
        self.resting = None

    def render(self, frame: Frame, result: FrameResult, status, status_line: bool = True) -> np.ndarray:
        app = self.app
        view = app.view if status_line else replace(app.view, paused=False)
        return app.render(frame.image, result, view, app.fps_meter.fps, status)

    def show(self, shown: np.ndarray, result: FrameResult, status) -> None:
        from acting_mirror.display import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW
        from acting_mirror.render.details import details_canvas
        from acting_mirror.render.graph import ThrottledGraph

        app = self.app
        self.windows.show(MAIN_WINDOW, shown)
        person = result.person(0)
        if app.view.details:
            targets = status.cue.targets if status is not None else ()
            canvas = details_canvas(person.probabilities if person else None, app.pipeline.labels, targets)
            self.windows.show(DETAILS_WINDOW, canvas)
        else:
            self.windows.close(DETAILS_WINDOW)
        if app.view.graph:
            if self.graph is None:
                self.graph = ThrottledGraph(app.pipeline.labels, app.config.display.graph_interval_s,
                                            clock=app.clock)
            self.windows.show(GRAPH_WINDOW, self.graph.image(self.graph_data()))
        else:
            self.windows.close(GRAPH_WINDOW)

    def show_final_graph(self) -> None:
        """The graph window with the whole run, whatever the throttle said (the run is over)."""
        from acting_mirror.display import GRAPH_WINDOW

        if self.graph is not None and self.app.view.graph:
            self.windows.show(GRAPH_WINDOW, self.graph.image(self.graph_data(), force=True))

    def graph_data(self) -> np.ndarray:
        app = self.app
        history = app.config.display.graph_history_s
        since = None
        if history and app.last_result is not None:
            since = app.last_result.time_s - history
        return app.timeline.person_probabilities(0, since_s=since)
