"""Test-time views of a face crop: the crop itself, its mirror image, slight zooms.

A classifier that averages its probabilities over a few views of each face is right more
often than one pass: the views disagree mostly on noise. Which views a model uses is
chosen on the selection split and stored in its metadata (`test_time_views`), like its
input size and scaling, so the app and `evaluate` run exactly the same views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ZOOM = 2.0


@dataclass(frozen=True)
class View:
    zoom: float = 1.0   # > 1 magnifies the centre: the crop shows a tighter box around the face
    flip: bool = False  # mirror image (left-right)

    def describe(self) -> str:
        text = "crop" if self.zoom == 1.0 else f"zoom {self.zoom:g}"
        return f"{text}, mirrored" if self.flip else text

    def to_json(self) -> dict:
        return {"zoom": self.zoom, "flip": self.flip}


# what a model without stored views gets: the crop and its mirror image
DEFAULT_VIEWS = (View(), View(flip=True))


def views_from_json(data, where: str = "test_time_views") -> tuple[View, ...]:
    """Parse `[{"zoom": 1.0, "flip": false}, ...]`; an empty list means the default views."""
    if not isinstance(data, list):
        raise ValueError(f"{where} must be a list of {{zoom, flip}} objects")
    views = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or set(item) - {"zoom", "flip"}:
            raise ValueError(f"{where}[{index}] must be an object with 'zoom' and 'flip'")
        zoom, flip = item.get("zoom", 1.0), item.get("flip", False)
        if isinstance(zoom, bool) or not isinstance(zoom, int | float) or not 1.0 <= zoom <= MAX_ZOOM:
            raise ValueError(f"{where}[{index}].zoom must be a number from 1 to {MAX_ZOOM:g}, got {zoom!r}")
        if not isinstance(flip, bool):
            raise ValueError(f"{where}[{index}].flip must be true or false, got {flip!r}")
        views.append(View(float(zoom), flip))
    return tuple(views) or DEFAULT_VIEWS


def parse_views(text: str) -> tuple[View, ...]:
    """Command-line form: comma list of zooms, `m` suffix for mirrored, e.g. `1,1m,1.05,1.05m`."""
    views = []
    for token in (t.strip() for t in text.split(",")):
        flip = token.endswith("m")
        number = token[:-1] if flip else token
        try:
            zoom = float(number)
        except ValueError:
            raise ValueError(f"bad view {token!r}: expected a zoom such as 1.05, or 1.05m for its mirror image") \
                from None
        views.append({"zoom": zoom, "flip": flip})
    if not views:
        raise ValueError("no views given")
    return views_from_json(views, "view")


def views_spec(views: tuple[View, ...]) -> str:
    """The command-line form of `views` (what `parse_views` reads), e.g. `1,1m,1.05,1.05m`."""
    return ",".join(f"{view.zoom:g}{'m' if view.flip else ''}" for view in views)


def render_views(crops: np.ndarray, views: tuple[View, ...]) -> np.ndarray:
    """uint8 crops (N, H, W) -> (len(views) * N, H, W), view-major: view 0's N crops first."""
    import cv2

    height, width = crops.shape[1:3]
    rendered = []
    for view in views:
        batch = crops
        if view.zoom != 1.0:
            matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 0.0, view.zoom)
            batch = np.stack([cv2.warpAffine(crop, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REPLICATE) for crop in crops])
        rendered.append(batch[:, :, ::-1] if view.flip else batch)
    return np.ascontiguousarray(np.concatenate(rendered))


def average_views(probabilities: np.ndarray, view_count: int) -> np.ndarray:
    """(V * N, C) view-major probabilities -> (N, C) mean over the views."""
    return probabilities.reshape(view_count, -1, probabilities.shape[-1]).mean(axis=0)
