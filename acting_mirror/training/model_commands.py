"""The `acting-mirror-model` commands that work on a trained model: evaluate, reference,
robustness, export and ensemble, each its flags (add_*_parser) and its run (run_*)."""

from __future__ import annotations

import sys

from acting_mirror.training.data import ALL_SPLITS


def model_path(path: str | None) -> str:
    """The model a command was given, else the app's default."""
    from acting_mirror.config import ModelConfig

    return path or ModelConfig().path


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a FER-2013 split: accuracy with its 95%% CI, "
                                        "per-class metrics, confusion matrix")
    p.add_argument("--data", required=True, help="FER-2013 CSV (.csv or .csv.gz) or <split>/<class>/ image tree")
    p.add_argument("--split", default="PrivateTest", choices=ALL_SPLITS,
                   help="default: %(default)s; Training-holdout is the fixed held-out 10%% of Training")
    p.add_argument("--model", help="metadata JSON or model file (default: the app's model, "
                                   "models/mirror_ensemble.json)")
    p.add_argument("--backend", choices=("keras", "tflite"),
                   help="default: tflite when the metadata lists a .tflite file, else keras")
    p.add_argument("--float32", action="store_true",
                   help="tflite: run the float32 file even when a dynamic-range quantised one is listed")
    p.add_argument("--json", help="write all results to this JSON file")
    p.add_argument("--tta", action="store_true",
                   help="also report the mean over the model's test-time views (its metadata's; by default "
                        "the crop and its mirror image), separately")
    p.add_argument("--views", help="--tta with these views instead: comma list of zooms, 'm' for mirrored, "
                                   "e.g. 1,1m,1.05,1.05m; with --update-metadata they become the model's views")
    p.add_argument("--sharpness", type=float,
                   help="blur crops sharper than this down to it (acting_mirror.prepare.sharpness), instead "
                        "of the model's own sharpness rule (0: never); with --update-metadata it becomes "
                        "the model's")
    p.add_argument("--plot", help="write the normalised confusion matrix to this PNG")
    p.add_argument("--profile", help="a resting-face profile (acting-mirror calibrate) applied to every face")
    p.add_argument("--update-metadata", action="store_true",
                   help="store the headline numbers in the model's metadata JSON (evaluation.<split>)")
    p.add_argument("--batch-size", type=int, default=256, help="crops per classifier call (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="inference threads (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_evaluate(args) -> int:
    from dataclasses import replace

    from acting_mirror.metadata import MAX_SHARPNESS
    from acting_mirror.model import load_classifier, load_metadata
    from acting_mirror.training.data import load_split
    from acting_mirror.training.evaluate import (
        evaluate_model,
        format_results,
        plot_confusion_matrix,
        update_metadata_evaluation,
        write_json,
    )
    from acting_mirror.views import parse_views

    if args.batch_size < 1 or args.threads < 1:
        raise ValueError("--batch-size and --threads must be positive")
    metadata, json_path = load_metadata(model_path(args.model))
    backend = args.backend or ("tflite" if "tflite" in metadata.files else "keras")
    classifier = load_classifier(json_path, backend, threads=args.threads, quantized=not args.float32)
    if args.profile:
        from acting_mirror.calibration import CalibratedClassifier, load_profile

        classifier = CalibratedClassifier(classifier, load_profile(args.profile, metadata, json_path.parent))
    if args.sharpness is not None:
        if not 0 <= args.sharpness <= MAX_SHARPNESS:
            raise ValueError(f"--sharpness must be from 0 (off) to {MAX_SHARPNESS:g}")
        classifier.metadata = replace(classifier.metadata, sharpness=args.sharpness)
    print(f"loading {args.split} from {args.data}", file=sys.stderr)
    dataset = load_split(args.data, args.split)
    print(f"evaluating {metadata.name} ({backend}) on {len(dataset)} {args.split} images", file=sys.stderr)
    views = parse_views(args.views) if args.views else (metadata.views if args.tta else None)
    results = {"split": args.split, "sharpness": classifier.metadata.sharpness,
               **evaluate_model(classifier, dataset, args.batch_size, views, progress=not args.quiet)}
    print(format_results(results))
    if args.json:
        print(f"wrote {write_json(results, args.json)}")
    if args.plot:
        print(f"wrote {plot_confusion_matrix(results, args.plot)}")
    if args.update_metadata:
        update_metadata_evaluation(json_path, args.split, results, store_views=bool(args.views),
                                   store_sharpness=args.sharpness is not None)
        stored = [name for name, given in (("test_time_views", args.views), ("sharpness", args.sharpness))
                  if given is not None]
        print(f"updated {json_path} evaluation.{args.split}" + "".join(f" and {name}" for name in stored))
    return 0


def add_reference_parser(sub) -> None:
    p = sub.add_parser("reference", help="store a model's mean output on neutral faces (as the app runs it) in "
                                         "its metadata: what resting-face profiles are calibrated against")
    p.add_argument("--model", help="metadata JSON (default: the app's model)")
    p.add_argument("--data", required=True,
                   help="FER-2013 CSV (with FER+ votes: faces whose majority is neutral) or image tree")
    p.add_argument("--split", default="Training", choices=ALL_SPLITS, help="default: %(default)s")
    p.add_argument("--threads", type=int, default=2, help="inference threads (default: %(default)s)")


def run_reference(args) -> int:
    from dataclasses import replace

    from acting_mirror.model import load_classifier, load_metadata
    from acting_mirror.training.data import load_split
    from acting_mirror.training.reference import neutral_faces, neutral_reference

    metadata, json_path = load_metadata(model_path(args.model))
    classifier = load_classifier(json_path, "tflite" if "tflite" in metadata.files else "keras",
                                 threads=args.threads, quantized=True, test_time_views=True)
    dataset = load_split(args.data, args.split)
    reference = neutral_reference(classifier, dataset)
    replace(metadata, neutral_reference=[round(float(v), 6) for v in reference]).save(json_path)
    shown = ", ".join(f"{label} {value:.3f}" for label, value in zip(metadata.labels, reference, strict=True))
    print(f"neutral reference of {metadata.name} on {len(neutral_faces(dataset))} neutral {args.split} faces: "
          f"{shown}\nupdated {json_path}")
    return 0


def add_robustness_parser(sub) -> None:
    from acting_mirror.training.robustness import CONDITION_NAMES

    p = sub.add_parser("robustness", help="accuracy under what a camera does to a face (box jitter, blur, "
                                          "noise, JPEG, light, roll, distance), one model or several")
    p.add_argument("--data", required=True, help="FER-2013 CSV (.csv or .csv.gz) or <split>/<class>/ image tree")
    p.add_argument("--split", default="PublicTest", choices=ALL_SPLITS, help="default: %(default)s")
    p.add_argument("--model", action="append",
                   help="metadata JSON; repeat to compare models on the same degraded faces "
                        "(default: the app's model)")
    p.add_argument("--conditions", help=f"comma list from {', '.join(CONDITION_NAMES)} (default: all; "
                                        "clean is always measured)")
    p.add_argument("--limit", type=int, default=0, help="the first N faces of the split only (0: all)")
    p.add_argument("--seed", type=int, default=0, help="the degradations' random draws (default: %(default)s)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--threads", type=int, default=2, help="inference threads (default: %(default)s)")


def run_robustness(args) -> int:
    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import load_split
    from acting_mirror.training.evaluate import write_json
    from acting_mirror.training.robustness import conditions_named, format_probe, probe

    if args.threads < 1 or args.limit < 0:
        raise ValueError("--threads must be positive and --limit not negative")
    conditions = conditions_named([name.strip() for name in args.conditions.split(",")] if args.conditions
                                  else None)
    classifiers = [load_classifier(path, "tflite", threads=args.threads, quantized=True)
                   for path in (args.model or [model_path(None)])]
    dataset = load_split(args.data, args.split)
    if args.limit:
        dataset = dataset.subset(slice(0, args.limit))
    print(f"{len(dataset)} {args.split} faces, {len(conditions)} conditions", file=sys.stderr)
    results = [probe(classifier, dataset, conditions, seed=args.seed) for classifier in classifiers]
    print(format_probe(results))
    if args.json:
        print(f"wrote {write_json({'split': args.split, 'models': results}, args.json)}")
    return 0


def add_export_parser(sub) -> None:
    from acting_mirror.training.export import FLOAT_TOLERANCE

    p = sub.add_parser("export", help="convert a Keras model to TFLite and check it against Keras")
    p.add_argument("--model", required=True, help="the model's .keras file or its metadata JSON")
    p.add_argument("--quantize", action="store_true",
                   help="also write NAME_dynamic.tflite (dynamic-range quantised weights)")
    p.add_argument("--samples", type=int, default=32,
                   help="random crops and face crops each, compared between Keras and TFLite "
                        "(default: %(default)s)")
    p.add_argument("--tolerance", type=float, default=FLOAT_TOLERANCE,
                   help="largest probability difference accepted for the float32 file (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow/LiteRT threads (default: %(default)s)")


def run_export(args) -> int:
    from acting_mirror.training.export import export_model

    export_model(args.model, quantize=args.quantize, samples=args.samples, tolerance=args.tolerance,
                 threads=args.threads)
    return 0


def add_ensemble_parser(sub) -> None:
    p = sub.add_parser("ensemble", help="average several trained models into one model (one file, one call)")
    p.add_argument("--members", nargs="+", required=True,
                   help="two or more models (metadata JSON or .keras) with the same labels, input and scaling")
    p.add_argument("--output", required=True, help="the ensemble's .keras file; its metadata JSON goes beside it")
    p.add_argument("--name", help="model name in the metadata (default: the output file's stem)")


def run_ensemble(args) -> int:
    from acting_mirror.training.ensemble import build_ensemble

    metadata = build_ensemble(args.members, args.output, args.name)
    print(f"wrote {args.output}: {metadata.architecture}, {metadata.parameters:,} parameters")
    print(f"next: acting-mirror-model export --model {args.output} --quantize")
    return 0
