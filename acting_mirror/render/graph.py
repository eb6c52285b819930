"""Every chart, drawn with matplotlib's Agg canvas (a Figure of our own, never pyplot, so
there is no global state and no GUI backend): the live polar chart of person 0, and the
report's emotion-over-time and distribution charts. Each returns a BGR uint8 image of
exactly the requested size, and all use one colour per emotion (`emotion_colours`).

The polar chart is redrawn while the capture loop runs, so it keeps one figure and
blits: the axes, grid and labels are rendered once and cached; a redraw restores that
background and draws only the data polygon, the "now" line and the title.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from acting_mirror.render import RenderError, check_size

DPI = 100
# One colour per emotion, by the model's display names; other labels take tab10 colours by position.
EMOTION_COLOURS = {
    "angry": "#d62728", "disgust": "#6b8e23", "scared": "#9467bd", "happy": "#e6b400",
    "sad": "#1f77b4", "surprised": "#ff7f0e", "neutral": "#7f7f7f",
}
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
NO_FACE_COLOUR = "#d9d9d9"
MEAN_COLOUR = "#1f77b4"   # filled polygon: mean over the whole history
NOW_COLOUR = "#e8590c"    # line: mean over the recent rows
MEAN_ALPHA = 0.35
MAX_CHART_POINTS = 600    # a longer run is averaged into this many points over time
MAX_NUMBERED_CUES = 60    # more cues than this are drawn but not numbered (unreadable anyway)


def emotion_colour(label: str, index: int) -> str:
    return EMOTION_COLOURS.get(label.lower(), TAB10[index % len(TAB10)])


def emotion_colours(labels: Sequence[str]) -> list[str]:
    return [emotion_colour(label, i) for i, label in enumerate(labels)]


def as_probability_rows(probabilities, labels: Sequence[str], name: str = "probabilities") -> np.ndarray:
    """(T, C) float rows in label order; an empty input gives (0, C)."""
    rows = np.asarray(probabilities, dtype=float)
    if rows.size == 0:
        return rows.reshape(0, len(labels))
    if rows.ndim != 2 or rows.shape[1] != len(labels):
        raise RenderError(f"{name} must have shape (T, {len(labels)}) for {len(labels)} labels, got {rows.shape}")
    return rows


def new_figure(size: tuple[int, int]):
    """A matplotlib Figure of `size` (width, height) pixels on its own Agg canvas: (figure, canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = check_size(size)
    # a hair over the exact size so float rounding never loses the last pixel column or row
    figure = Figure(figsize=((width + 0.01) / DPI, (height + 0.01) / DPI), dpi=DPI)
    return figure, FigureCanvasAgg(figure)


def canvas_to_bgr(canvas, size: tuple[int, int]) -> np.ndarray:
    """A drawn Agg canvas as a BGR image of `size` (width, height)."""
    rgba = np.asarray(canvas.buffer_rgba())
    width, height = size
    return np.ascontiguousarray(rgba[:height, :width, 2::-1])


class PolarChart:
    """A reusable radar chart over the emotions; `draw` changes only the data artists."""

    def __init__(self, labels: Sequence[str], size: tuple[int, int] = (400, 400)):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        self.labels = tuple(labels)
        if len(self.labels) < 3:
            raise RenderError(f"polar chart needs at least 3 emotion labels, got {len(self.labels)}")
        self.size = check_size(size)
        self.figure, self.canvas = new_figure(self.size)
        self.angles = np.linspace(0, 2 * np.pi, len(self.labels), endpoint=False)
        ax = self.figure.add_axes((0.16, 0.1, 0.68, 0.74), projection="polar")
        ax.set_theta_offset(np.pi / 2)   # first emotion at the top,
        ax.set_theta_direction(-1)       # the rest clockwise
        ax.set_xticks(self.angles, [label.lower() for label in self.labels], fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["", "50%", "", "100%"], fontsize=7, color="#777777")
        ax.set_rlabel_position(0)
        ax.set_axisbelow(True)
        self.axes = ax
        self.figure.legend(handles=[Patch(facecolor=MEAN_COLOUR, alpha=MEAN_ALPHA, label="whole run"),
                                    Line2D([], [], color=NOW_COLOUR, lw=2, label="now")],
                           loc="lower center", ncol=2, fontsize=8, frameon=False)

        closed = np.append(self.angles, self.angles[0])
        zeros = np.zeros_like(closed)
        (self._mean,) = ax.fill(closed, zeros, facecolor=MEAN_COLOUR, alpha=MEAN_ALPHA, edgecolor=MEAN_COLOUR,
                                linewidth=1.5, animated=True)
        (self._now,) = ax.plot(closed, zeros, color=NOW_COLOUR, linewidth=2, animated=True)
        self._title = self.figure.text(0.5, 0.97, "", ha="center", va="top", fontsize=11, animated=True)
        self._message = ax.text(0.5, 0.5, "no face yet", transform=ax.transAxes, ha="center", va="center",
                                fontsize=12, color="#555555", animated=True,
                                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        # animated artists are left out of this full draw: what it renders is the cached background
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)

    def pixel(self, index: int, radius: float) -> tuple[float, float]:
        """Image (x, y) of the point at `radius` on emotion `index`'s axis (y grows downwards)."""
        x, y = self.axes.transData.transform((self.angles[index], radius))
        return float(x), float(self.size[1] - y)

    def draw(self, probabilities, recent: int = 30, title: str | None = None) -> np.ndarray:
        """BGR image of rows (T, C): filled mean of all rows, line for the mean of the last `recent`."""
        rows = as_probability_rows(probabilities, self.labels)
        if recent < 1:
            raise RenderError(f"polar chart: recent must be >= 1, got {recent}")
        has_data = len(rows) > 0
        if has_data:
            self._mean.set_xy(self._closed(rows.mean(axis=0)))
            now = self._closed(rows[-recent:].mean(axis=0))
            self._now.set_data(now[:, 0], now[:, 1])
        self._title.set_text(title if title is not None else
                             f"Person 0 over {len(rows)} frames" if has_data else "Person 0")
        self.canvas.restore_region(self._background)
        artists = [self._mean, self._now, self._title] if has_data else [self._message, self._title]
        for artist in artists:
            self.figure.draw_artist(artist)
        return canvas_to_bgr(self.canvas, self.size)

    def _closed(self, values: np.ndarray) -> np.ndarray:
        radii = np.clip(values, 0.0, 1.0)
        return np.column_stack([np.append(self.angles, self.angles[0]), np.append(radii, radii[0])])


def polar_chart(probabilities: np.ndarray, labels: Sequence[str], size: tuple[int, int] = (400, 400),
                recent: int = 30, title: str | None = None) -> np.ndarray:
    """Radar chart of person 0's emotions: rows (T, C) -> BGR uint8 (height, width, 3) for size (width, height)."""
    return PolarChart(labels, size).draw(probabilities, recent, title)


class ThrottledGraph:
    """The live polar chart, redrawn at most every `interval_s` so the capture loop keeps its frame rate."""

    def __init__(self, labels: Sequence[str], interval_s: float = 0.5, size: tuple[int, int] = (400, 400),
                 clock: Callable[[], float] = time.monotonic, recent: int = 30):
        if interval_s < 0:
            raise RenderError(f"graph interval must be >= 0 seconds, got {interval_s}")
        self.labels = tuple(labels)
        self.interval_s = interval_s
        self.size = check_size(size)
        self.recent = recent
        self.clock = clock
        self.redraws = 0
        self.last_draw_s = 0.0    # how long the last redraw took (wall time)
        self._chart: PolarChart | None = None  # built on first use: matplotlib loads only when the graph is shown
        self._image: np.ndarray | None = None
        self._drawn_at = 0.0

    def image(self, probabilities: np.ndarray, force: bool = False) -> np.ndarray:
        """The chart for `probabilities` (T, C) if it is due (or forced), else the last one drawn."""
        now = self.clock()
        if self._image is None or force or now - self._drawn_at >= self.interval_s:
            if self._chart is None:
                self._chart = PolarChart(self.labels, self.size)
            started = time.perf_counter()
            self._image = self._chart.draw(probabilities, self.recent)
            self.last_draw_s = time.perf_counter() - started
            self._drawn_at = now
            self.redraws += 1
        return self._image


def emotion_over_time_chart(times, probabilities, shown: Sequence[str | None], labels: Sequence[str],
                            size: tuple[int, int] = (960, 460), fps: float = 0.0,
                            cue_spans: Sequence[tuple[float, float, str, str]] = (),
                            sound_level: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Person 0 over time -> BGR: one lane per emotion, each filled up to its probability
    on its own 0-100% scale (so an emotion that stays low still reads: it is not squashed
    under the strongest one; gaps where there was no face), a strip of the label shown on
    screen below, and, with `cue_spans` ((start_s, end_s, colour, text) each), a row of
    numbered cue bands above. The strip's legend lists only the labels it shows. With
    `sound_level` ((times_s, dBFS) arrays) a sound strip at the bottom shows when the take
    was loud, so the lines read against the face."""
    from matplotlib.patches import Patch

    labels = tuple(labels)
    times = np.asarray(times, float).reshape(-1)
    rows = np.asarray(probabilities, float).reshape(len(times), len(labels))
    if len(shown) != len(times):
        raise RenderError(f"emotion chart: {len(times)} times but {len(shown)} shown labels")
    colours = emotion_colours(labels)
    colour_of = dict(zip(labels, colours, strict=True))
    figure, canvas = new_figure(size)
    ratios = (0.6 if cue_spans else 0.001, 10, 0.7, 1.2 if sound_level is not None else 0.001)
    grid = figure.add_gridspec(4, 1, height_ratios=ratios, hspace=0.1, left=0.1, right=0.84, top=0.91,
                               bottom=0.11)
    cue_axes, lane_axes, strip_axes, sound_axes = (figure.add_subplot(grid[i]) for i in range(4))
    lane_axes.sharex(strip_axes)
    cue_axes.sharex(strip_axes)
    sound_axes.sharex(strip_axes)

    period = 1.0 / fps if fps > 0 else (float(np.median(np.diff(times))) if len(times) > 1 else 1.0)
    left = float(times[0]) if len(times) else 0.0
    right = float(times[-1]) + period if len(times) else 1.0

    # the lanes, top to bottom in label order; steps, so each frame holds its values until the next
    bin_times, bin_rows = _binned(times, rows, MAX_CHART_POINTS)
    edges = np.append(bin_times, right)
    present = np.append(~np.isnan(bin_rows).any(axis=1), False)
    lane_height = 0.86
    for lane, colour in enumerate(colours):
        base = len(labels) - 1 - lane
        values = np.append(np.nan_to_num(bin_rows[:, lane]), 0.0) if len(bin_times) else np.zeros(1)
        if len(bin_times):
            lane_axes.fill_between(edges, base, base + lane_height * values, step="post", where=present,
                                   color=colour, linewidth=0)
        lane_axes.axhline(base, color=colour, linewidth=1.2)
        lane_axes.axhline(base + lane_height, color="#dddddd", linewidth=0.6, zorder=0)  # the lane's 100%
    lane_axes.set_ylim(-0.1, len(labels))
    lane_axes.set_yticks(np.arange(len(labels)) + lane_height / 2, labels[::-1], fontsize=9)
    for tick, colour in zip(lane_axes.get_yticklabels(), colours[::-1], strict=True):
        tick.set_color(colour)
    lane_axes.set_xlim(left, right)
    lane_axes.tick_params(labelbottom=False, labelsize=8)
    lane_axes.grid(axis="x", alpha=0.3)
    if not len(times):
        lane_axes.text(0.5, 0.5, "no data", transform=lane_axes.transAxes, ha="center", va="center", fontsize=12,
                       color="#555555")

    draw_cue_bands(cue_axes, lane_axes, cue_spans, left, right)
    cue_axes.set_ylim(0, 1)
    cue_axes.set_yticks([])
    cue_axes.tick_params(labelbottom=False, bottom=False)
    if cue_spans:
        cue_axes.set_ylabel("cues", rotation=0, ha="right", va="center", fontsize=9)
    else:
        cue_axes.set_visible(False)

    # the strip: the label shown on screen, run by run (one bar collection per label: fast for long runs)
    ends = np.append(times[1:], times[-1] + period) if len(times) else times
    runs: dict[str | None, list[tuple[float, float]]] = {}
    run_start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or shown[i] != shown[run_start]:
            runs.setdefault(shown[run_start], []).append((times[run_start], ends[i - 1] - times[run_start]))
            run_start = i
    for label, bars in runs.items():
        strip_axes.broken_barh(bars, (0, 1), facecolors=colour_of.get(label, NO_FACE_COLOUR), linewidth=0)
    strip_axes.set_ylim(0, 1)
    strip_axes.set_yticks([])
    strip_axes.set_ylabel("shown", rotation=0, ha="right", va="center", fontsize=9)
    strip_axes.tick_params(labelsize=8)
    bottom_axes = draw_sound_strip(sound_axes, sound_level) if sound_level is not None else strip_axes
    if sound_level is None:
        sound_axes.set_visible(False)
    else:
        strip_axes.tick_params(labelbottom=False)
    bottom_axes.set_xlabel("time (s)", fontsize=9)
    figure.text(0.1, 0.955, "Emotions of person 0 over time (each lane 0-100%)", fontsize=11, va="bottom")

    handles = [Patch(color=colour_of[label], label=label) for label in labels if label in runs]
    if None in runs:
        handles.append(Patch(color=NO_FACE_COLOUR, label="no face"))
    if handles:
        strip_axes.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False,
                          fontsize=8, title="shown", title_fontsize=8)
    canvas.draw()
    return canvas_to_bgr(canvas, check_size(size))


def draw_sound_strip(sound_axes, sound_level: tuple[np.ndarray, np.ndarray], floor_db: float = -60.0):
    """The take's loudness as a filled envelope from `floor_db` to 0 dBFS; returns the axes."""
    times, db = (np.asarray(values, float).reshape(-1) for values in sound_level)
    if len(times) != len(db):
        raise RenderError(f"sound strip: {len(times)} times but {len(db)} levels")
    if len(times):
        sound_axes.fill_between(times, floor_db, np.clip(db, floor_db, 0.0), step="post", color="#4a6fa5",
                                linewidth=0)
    sound_axes.set_ylim(floor_db, 0.0)
    sound_axes.set_yticks([])
    sound_axes.set_ylabel("sound", rotation=0, ha="right", va="center", fontsize=9)
    sound_axes.tick_params(labelsize=8)
    return sound_axes


def draw_cue_bands(cue_axes, lane_axes, cue_spans: Sequence[tuple[float, float, str, str]], left: float,
                   right: float) -> None:
    """The cues: one band each on `cue_axes`, coloured by how well it went, with a start line on
    `lane_axes`, numbered while few enough to read. One bar collection per colour and one set of
    start lines, so the cost stays flat however many cues a script has (10,000 cues drawn one by
    one took minutes)."""
    bands: dict[str, list[tuple[float, float]]] = {}
    for start, end, colour, _ in cue_spans:
        bands.setdefault(colour, []).append((start, max(0.0, end - start)))
    for colour, bars in bands.items():
        cue_axes.broken_barh(bars, (0, 1), facecolors=colour, alpha=0.85, linewidth=0)
    if cue_spans:
        lane_axes.vlines([span[0] for span in cue_spans], 0, 1, transform=lane_axes.get_xaxis_transform(),
                         colors="#222222", alpha=0.5, linewidth=0.8)
    visible = [span for span in cue_spans if span[1] > left and span[0] < right]
    if len(visible) <= MAX_NUMBERED_CUES:
        for start, end, _, text in visible:
            cue_axes.text((max(start, left) + min(end, right)) / 2, 0.5, text, ha="center", va="center",
                          fontsize=8, color="white", fontweight="bold", clip_on=True)


def _binned(times: np.ndarray, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Average a long series into at most `points` bins, so a long rehearsal reads as a
    trend rather than noise; a bin with no face stays NaN (a gap)."""
    if len(times) <= points:
        return times, values
    size = -(-len(times) // points)
    padded = -len(times) % size
    present = ~np.isnan(values)
    sums = np.pad(np.where(present, values, 0.0), ((0, padded), (0, 0))).reshape(-1, size, values.shape[1]).sum(1)
    counts = np.pad(present, ((0, padded), (0, 0))).reshape(-1, size, values.shape[1]).sum(1)
    means = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    bin_times = np.pad(times, (0, padded), mode="edge").reshape(-1, size)[:, 0]
    return bin_times, means


def emotion_distribution_chart(share: Mapping[str, float], mean_probabilities, labels: Sequence[str],
                               size: tuple[int, int] = (460, 460)) -> np.ndarray:
    """Person 0's emotion distribution, polar -> BGR: a wedge per emotion for its share of
    the face frames (in the emotion's colour), a dashed outline for the mean probability.
    The legend names the emotions that have a wedge, in their wedge's colour."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    labels = tuple(labels)
    colours = emotion_colours(labels)
    figure, canvas = new_figure(size)
    axes = figure.add_axes((0.12, 0.2, 0.76, 0.66), projection="polar")
    angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False)
    values = np.array([share.get(label, 0.0) for label in labels])
    axes.bar(angles, values, width=2 * np.pi / len(labels) * 0.8, color=colours, alpha=0.85, edgecolor="white")
    handles = [Patch(facecolor=colour, alpha=0.85, label=f"{label} {value:.0%}")
               for label, colour, value in zip(labels, colours, values, strict=True) if value > 0]
    top = max(0.1, float(values.max()) if len(values) else 0.0)
    if mean_probabilities is not None:
        mean_probabilities = np.asarray(mean_probabilities, float)
        closed = np.append(angles, angles[0])
        axes.plot(closed, np.append(mean_probabilities, mean_probabilities[0]), color="#222222", linestyle="--",
                  linewidth=1.2)
        handles.append(Line2D([], [], color="#222222", linestyle="--", label="mean probability"))
        top = max(top, float(np.max(mean_probabilities)))
    axes.set_ylim(0, min(1.0, top * 1.1))
    axes.set_xticks(angles, labels, fontsize=9)
    axes.yaxis.set_major_locator(MaxNLocator(4))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_rlabel_position(180 / len(labels))  # between the first two wedges
    axes.tick_params(axis="y", labelsize=8, labelcolor="#555555")
    figure.text(0.5, 0.97, "Emotion distribution, person 0 (share of face frames)", ha="center", va="top",
                fontsize=10)
    if handles:
        figure.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False, fontsize=8)
    canvas.draw()
    return canvas_to_bgr(canvas, check_size(size))
