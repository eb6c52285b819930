"""Crop framing and eye-level crops, measured on FER-2013 PublicTest (the model card's
"Crop framing" and "Eye-level crops" tables).

Each 48x48 face is upscaled 4x and padded to 320x320 by repeating its edges, so its true
FER frame is known. On the faces both detectors find, this fits the YuNet box -> FER
framing (on half the faces, measured on the other half) and compares crops: accuracy as
the app runs the model, and how often a rolled face keeps its upright label, with and
without eye-level crops.

    .venv/bin/python benchmarks/detector_framing.py --data fer2013.csv.gz [--limit 1200]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UPSCALE, CANVAS = 4, 320
ANGLES = (0, 10, 20, 30)


def iou(a, b) -> float:
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def square(centre_x, centre_y, side):
    return (centre_x - side / 2, centre_y - side / 2, side, side)


def canvas_of(face: np.ndarray) -> np.ndarray:
    import cv2

    big = cv2.resize(face, (48 * UPSCALE, 48 * UPSCALE), interpolation=cv2.INTER_CUBIC)
    pad = (CANVAS - 48 * UPSCALE) // 2
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def main(argv=None) -> int:
    import cv2

    from acting_mirror.config import HaarConfig, YuNetConfig
    from acting_mirror.detect import FRAMING_SCALE, FRAMING_SHIFT, HaarDetector, YuNetDetector, crop_faces
    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import load_split
    from acting_mirror.training.evaluate import label_lookup
    from acting_mirror.types import Detection

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="fer2013.csv(.gz)")
    parser.add_argument("--limit", type=int, default=1200, help="faces for the crop and alignment tables")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    data = load_split(args.data, "PublicTest")
    haar = HaarDetector(HaarConfig(detection_width=0))
    yunet = YuNetDetector(YuNetConfig(input_size=320))
    pad = (CANVAS - 48 * UPSCALE) // 2
    truth = (pad, pad, 48 * UPSCALE, 48 * UPSCALE)

    # 1. where each detector's box falls against the true frame, on the faces both find once
    both = []
    for index, face in enumerate(data.images):
        canvas = canvas_of(face)
        haar_found, rows = haar.detect(canvas), yunet.detect_raw(canvas)
        if len(haar_found) == 1 and len(rows) == 1:
            box = haar_found[0].box
            both.append((index, (box.x, box.y, box.w, box.h), rows[0]))
    rows = np.array([row for _, _, row in both])
    x, y, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    centre_x, centre_y, mean_side = x + w / 2, y + h / 2, (w + h) / 2
    true_centre = pad + 48 * UPSCALE / 2
    fit = np.random.default_rng(0).permutation(len(both))
    fit, held = fit[::2], fit[1::2]
    scale = float(np.median((truth[2] / mean_side)[fit]))
    shift = float(np.median(((true_centre - centre_y) / h)[fit]))
    haar_iou = np.array([iou(box, truth) for _, box, _ in both])
    calibrated = np.array([iou(square(centre_x[k], centre_y[k] + shift * h[k], scale * mean_side[k]), truth)
                           for k in held])
    results = {
        "faces": len(data.images), "both_found": len(both), "fitted_scale": scale, "fitted_shift": shift,
        "shipped_scale": FRAMING_SCALE, "shipped_shift": FRAMING_SHIFT,
        "haar_iou_median": float(np.median(haar_iou)), "haar_iou_median_held": float(np.median(haar_iou[held])),
        "yunet_raw_iou_median": float(np.median([iou(r[:4], truth) for r in rows])),
        "yunet_calibrated_iou_median_held": float(np.median(calibrated)),
        "yunet_calibrated_iou_p10_held": float(np.percentile(calibrated, 10)),
    }
    print(json.dumps(results, indent=1), flush=True)

    # 2. crops: accuracy, and labels of rolled faces against the upright face (shipped framing)
    classifier = load_classifier("models/mirror_ensemble.json", "tflite", 2, True, True)
    to_model = label_lookup(classifier.labels)
    chosen = [both[k][0] for k in np.random.default_rng(1).permutation(len(both))[:args.limit]]
    crops: dict[str, list] = {}
    for count, index in enumerate(chosen):
        canvas = canvas_of(data.images[index])
        crops.setdefault("fer frame", []).append(data.images[index][None])
        crops.setdefault("haar", []).append(crop_faces(canvas, haar.detect(canvas), (48, 48))[:1])
        sign = 1 if count % 2 == 0 else -1
        for angle in ANGLES:
            matrix = cv2.getRotationMatrix2D(((CANVAS - 1) / 2, (CANVAS - 1) / 2), sign * angle, 1.0)
            turned = cv2.warpAffine(canvas, matrix, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            found = yunet.detect(turned)
            nearest = min(found, key=lambda d: math.dist(d.box.center, (CANVAS / 2, CANVAS / 2)), default=None)
            for align in (False, True):
                key = f"yunet {angle} {'eye-level' if align else 'plain'}"
                crop = None if nearest is None else crop_faces(turned, [Detection(nearest.box, nearest.landmarks)],
                                                               (48, 48), align=align)
                crops.setdefault(key, []).append(crop)
    expected = np.array([to_model[data.labels[i]] for i in chosen])
    labels = {}
    for key, items in crops.items():
        have = np.array([item is not None for item in items])
        predicted = np.full(len(items), -1)
        predicted[have] = classifier.classify(np.concatenate([i for i in items if i is not None])).argmax(axis=1)
        labels[key] = predicted
    table = {"faces": len(chosen), "accuracy": {k: float((v == expected)[v >= 0].mean()) for k, v in labels.items()},
             "found": {k: float((v >= 0).mean()) for k, v in labels.items()}}
    table["same_label_as_upright"] = {}
    for key, predicted in labels.items():
        if key.startswith("yunet"):
            upright = labels[f"yunet 0 {key.split()[-1]}"]
            both_seen = (predicted >= 0) & (upright >= 0)
            table["same_label_as_upright"][key] = float((predicted == upright)[both_seen].mean())
    table["same_label_as_haar"] = {k: float((labels[k] == labels["haar"]).mean()) for k in labels if " 0 " in k}
    results["crops"] = table
    print(json.dumps(table, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
