"""Does each preprocessing rule of a model still help on canonical FER-2013 faces? The model as
it ships against the same model with one rule off (equalize, sharpness) and with other sets of
test-time views, on the FER+ figures (majority accuracy, neutral recall, cross-entropy) and the
original labels, on the split's faces as they are and under the robustness probe's conditions
(a dark room, side light, a far face, blur...: what a camera gives and a FER row does not).

    PYTHONPATH=. python experiments/preprocessing_check.py --data fer2013plus.csv.gz --split PublicTest
"""

from __future__ import annotations

import argparse
from dataclasses import replace

VIEW_SETS = ("1", "1,1m", "1,1.05m", "1,1m,1.05,1.05m")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER-2013 CSV with the FER+ vote columns")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--model", default="acting_mirror/models/mirror_ensemble.json")
    parser.add_argument("--conditions", default="far,low_light,side_light,blur",
                        help="robustness conditions to check the rules under as well ('' for none)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import load_split
    from acting_mirror.training.evaluate import evaluate_model
    from acting_mirror.training.robustness import conditions_named, degrade
    from acting_mirror.views import parse_views

    data = load_split(args.data, args.split)
    classifier = load_classifier(args.model, "tflite", threads=args.threads, quantized=True)
    shipped = classifier.metadata
    variants = {"as shipped": shipped, "equalize off": replace(shipped, equalize={}),
                "sharpness off": replace(shipped, sharpness=0.0)}
    face_sets = {"rows": data}
    for condition in conditions_named([c for c in args.conditions.split(",") if c]):
        face_sets[condition.name] = replace(data, images=degrade(data.images, condition))
    print(f"{shipped.name} on {args.split} ({len(data)} faces); views as shipped: "
          f"{'; '.join(view.describe() for view in shipped.views)}")
    print(f"{'faces':11} {'variant':22} {'FER+ maj':>8} {'neutral':>8} {'x-ent':>6} {'original':>8}")

    def row(faces: str, name: str, scored: dict) -> None:
        plus = scored["ferplus"]
        print(f"{faces:11} {name:22} {100 * plus['majority_accuracy']:7.2f}% "
              f"{100 * plus['majority_recall']['neutral']:7.2f}% {plus['cross_entropy']:6.3f} "
              f"{100 * scored['accuracy']:7.2f}%", flush=True)

    for faces, dataset in face_sets.items():
        for name, metadata in variants.items():
            classifier.metadata = metadata
            row(faces, name, evaluate_model(classifier, dataset, 256, metadata.views)["tta"])
        classifier.metadata = shipped
        if faces == "rows":  # the views matter on rows; under conditions the rules are the question
            for spec in VIEW_SETS:
                scored = evaluate_model(classifier, dataset, 256, parse_views(spec))
                row(faces, f"views {spec}", scored["tta"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
