"""Charts drawn with matplotlib's Agg canvas (a Figure of our own, never pyplot, so there is
no global state and no GUI backend): the live polar chart of person 0 and the report's
emotion-over-time chart. Both return BGR uint8 images of exactly the requested size.

The polar chart is redrawn while the capture loop runs, so it keeps one figure and
blits: the axes, grid and labels are rendered once and cached; a redraw restores that
background and draws only the data polygon, the "now" line and the title.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from acting_mirror.render import RenderError, check_size

DPI = 100
# Colours per emotion (the FER-2013 names); other labels take tab10 colours by position.
EMOTION_COLOURS = {
    "angry": "#d62728", "disgust": "#2ca02c", "fear": "#9467bd", "happy": "#f2b701",
    "sad": "#1f77b4", "surprise": "#17becf", "neutral": "#8c8c8c",
}
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
MEAN_COLOUR = "#1f77b4"   # filled polygon: mean over the whole history
NOW_COLOUR = "#e8590c"    # line: mean over the recent rows
MEAN_ALPHA = 0.35


def emotion_colour(label: str, index: int) -> str:
    return EMOTION_COLOURS.get(label.lower(), TAB10[index % len(TAB10)])


def as_probability_rows(probabilities, labels: Sequence[str], name: str = "probabilities") -> np.ndarray:
    """(T, C) float rows in label order; an empty input gives (0, C)."""
    rows = np.asarray(probabilities, dtype=float)
    if rows.size == 0:
        return rows.reshape(0, len(labels))
    if rows.ndim != 2 or rows.shape[1] != len(labels):
        raise RenderError(f"{name} must have shape (T, {len(labels)}) for {len(labels)} labels, got {rows.shape}")
    return rows


def _new_figure(size: tuple[int, int]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = check_size(size)
    # a hair over the exact size so float rounding never loses the last pixel column or row
    figure = Figure(figsize=((width + 0.01) / DPI, (height + 0.01) / DPI), dpi=DPI)
    return figure, FigureCanvasAgg(figure)


def _canvas_to_bgr(canvas, size: tuple[int, int]) -> np.ndarray:
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
        self.figure, self.canvas = _new_figure(self.size)
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
        return _canvas_to_bgr(self.canvas, self.size)

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


def emotion_over_time_chart(times: np.ndarray, probabilities: np.ndarray, labels: Sequence[str],
                            size: tuple[int, int] = (900, 300), shaded_spans: Sequence[tuple] = (),
                            title: str = "Person 0: emotions over time", stacked: bool = True) -> np.ndarray:
    """Each emotion's probability over `times` (seconds), stacked areas or one line per emotion,
    -> BGR uint8 (height, width, 3) for size (width, height).

    `shaded_spans` holds (start_s, end_s, colour) or (start_s, end_s, colour, alpha) tuples, e.g.
    the script's cues; colours are matplotlib colours ("tab:green", "#88cc88"). Each span tints
    the chart with `alpha` (default 0.25) and shows as a solid strip along the top."""
    labels = tuple(labels)
    rows = as_probability_rows(probabilities, labels)
    times = np.asarray(times, dtype=float).reshape(-1)
    if len(times) != len(rows):
        raise RenderError(f"emotion chart: {len(times)} times but {len(rows)} probability rows")
    size = check_size(size)
    figure, canvas = _new_figure(size)
    ax = figure.add_axes((0.07, 0.16, 0.75, 0.72))
    colours = [emotion_colour(label, i) for i, label in enumerate(labels)]
    if len(rows):
        if stacked:
            ax.stackplot(times, rows.T, labels=labels, colors=colours, alpha=0.85)
        else:
            for i, label in enumerate(labels):
                ax.plot(times, rows[:, i], color=colours[i], label=label, linewidth=1.5)
        if len(times) > 1 and times[-1] > times[0]:
            ax.set_xlim(times[0], times[-1])
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")
    top = 1.08  # room above 100% for the span strips
    for span in shaded_spans:
        if len(span) not in (3, 4):
            raise RenderError(f"emotion chart: a shaded span is (start, end, colour[, alpha]), got {span!r}")
        start, end, colour = float(span[0]), float(span[1]), span[2]
        alpha = float(span[3]) if len(span) == 4 else 0.25
        # over stacked areas the tint must lie on top to show; under lines it must not hide them
        ax.axvspan(start, end, ymax=1 / top, color=colour, alpha=alpha, lw=0, zorder=3 if stacked else 0.5)
        ax.axvspan(start, end, ymin=1 / top, color=colour, alpha=0.9, lw=0, zorder=3)
    ax.set_ylim(0, top)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("time (s)", fontsize=9)
    ax.set_ylabel("probability", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=10)
    canvas.draw()
    return _canvas_to_bgr(canvas, size)
