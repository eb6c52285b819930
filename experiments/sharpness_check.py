"""Does the sharpness rule help, and where? Accuracy of each model with its crops as they are
and with the rule (`sharpness` in the metadata: crops sharper than the training faces were,
after their geometric augmentations, blurred down to it), one pass and with the model's own
views, on the split's rows as they are and on the same faces as a camera gives them at
several sizes (brought to camera scale, shrunk to the face size, enlarged to the crop the
detector cuts, shrunk to the model's input, as `training/robustness.py` does).

Each model's rule is the target stored in its metadata (computed from its training rows by
`training_sharpness` when it was trained), not chosen by any score here:

    PYTHONPATH=. python experiments/sharpness_check.py --data fer2013plus.csv.gz --split PublicTest
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

SIZES = (20, 32, 48, 96, 192)


def at_face_size(images: np.ndarray, pixels: int, size: tuple[int, int]) -> np.ndarray:
    import cv2

    from acting_mirror.training.robustness import to_camera_scale, to_crop

    out = []
    for face in images:
        large = to_camera_scale(face)
        side = large.shape[0]
        if pixels != side:
            small = cv2.resize(large, (pixels, pixels), interpolation=cv2.INTER_AREA)
            large = cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)
        out.append(to_crop(large, size))
    return np.array(out)


def main(argv=None) -> int:
    from arguments import model_check_parser  # experiments/, the script's own folder

    args = model_check_parser(__doc__.splitlines()[0]).parse_args(argv)

    from acting_mirror.model import load_classifier
    from acting_mirror.prepare import sharpness
    from acting_mirror.training.data import Dataset, load_dataset
    from acting_mirror.training.evaluate import evaluate_model

    data = load_dataset(args.data, (args.split,))[args.split]
    print(f"{args.split}, {len(data)} faces; each model's rule is its metadata's sharpness (derived from "
          "its training faces after augmentation when it was trained); accuracy against the FER+ majority "
          "where the file has votes, else against its labels")
    sets = {"rows": data.images, **{f"{px} px": at_face_size(data.images, px, (48, 48)) for px in SIZES}}
    print(f"{'model':16} {'faces':7} {'sharpness':>9}  {'one pass':>17}  {'with views':>17}")
    for path in args.model or ["acting_mirror/models/mirror_ensemble.json", "acting_mirror/models/mirror_net.json"]:
        classifier = load_classifier(path, "tflite", threads=args.threads, quantized=True)
        own = classifier.metadata
        target = own.sharpness
        for name, images in sets.items():
            scores = []
            for rule in (0.0, target):
                classifier.metadata = replace(own, sharpness=rule)
                scored = evaluate_model(classifier, Dataset(images, data.labels, data.source, data.votes), 256,
                                        views=own.views)
                key = "ferplus" if data.votes is not None else None
                scores.append((100 * (scored[key]["majority_accuracy"] if key else scored["accuracy"]),
                               100 * (scored["tta"][key]["majority_accuracy"] if key else scored["tta"]["accuracy"])))
            (one, views), (one_rule, views_rule) = scores
            print(f"{own.name:16} {name:7} {np.median(sharpness(images)):9.3f}  "
                  f"{one:6.2f} -> {one_rule:6.2f}%  {views:6.2f} -> {views_rule:6.2f}%", flush=True)
        classifier.metadata = own
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
