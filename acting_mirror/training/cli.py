"""`acting-mirror-model`: train, evaluate, export and inspect emotion models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from acting_mirror.errors import MirrorError
from acting_mirror.model import ModelError
from acting_mirror.training.data import ALL_SPLITS, DatasetError

# options a resumed run takes from the command line; the rest come from its config.json
RESUME_OPTIONS = {"data", "run_dir", "resume", "threads", "epochs", "output", "quiet", "help"}


def _add_train(sub, distill: bool = False) -> None:
    from acting_mirror.training.data import ALL_SPLITS, HOLDOUT_SPLIT, TRAIN_REST_SPLIT
    from acting_mirror.training.train import AUGMENTATIONS, LOSSES, TARGETS, TrainConfig

    defaults = TrainConfig(data="", run_dir="")
    if distill:
        p = sub.add_parser("distill", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                           help="train one network to match a teacher model's probabilities (as the app "
                                "runs it: quantised, with its views) and the true labels")
        p.add_argument("--teacher", required=True,
                       help="the teacher's metadata JSON, e.g. acting_mirror/models/mirror_ensemble.json")
        p.add_argument("--temperature", type=float, default=defaults.temperature,
                       help="softens teacher and student probabilities alike")
        p.add_argument("--alpha", type=float, default=defaults.alpha,
                       help="weight of the true labels; the teacher's soft targets get 1 - alpha")
        p.add_argument("--teacher-copies", type=int, default=defaults.teacher_copies,
                       help="0: the teacher labels the clean rows and the student trains on them augmented; "
                            "K: K augmented copies of each row are made once, the teacher labels each copy "
                            "as it is, and every epoch the student sees one copy of each row (teacher and "
                            "student see the same picture)")
        train_split, val_split = TRAIN_REST_SPLIT, HOLDOUT_SPLIT
    else:
        p = sub.add_parser("train", help="train a model on FER-2013 (CSV or image folders)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        train_split, val_split = defaults.train_split, defaults.val_split
    p.add_argument("--train-split", default=train_split, choices=ALL_SPLITS,
                   help=f"rows trained on; {TRAIN_REST_SPLIT} is Training without the fixed held-out slice")
    p.add_argument("--val-split", default=val_split, choices=ALL_SPLITS,
                   help=f"rows that choose the best epoch; {HOLDOUT_SPLIT} is 10%% of Training, fixed by a "
                        "seeded rule (acting_mirror.training.data.holdout_mask)")
    p.add_argument("--data", required=True, help="FER-2013 CSV (.csv or .csv.gz) or <split>/<class>/ image tree")
    p.add_argument("--run-dir", required=True,
                   help="where checkpoints, log.csv and config.json go (keep it outside the repo)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir after its last epoch")
    p.add_argument("--arch", dest="architecture", default=defaults.architecture,
                   help="mini_xception (Arriaga et al. 2017) or mirror_net (our default)")
    p.add_argument("--width", type=float, default=defaults.width, help="channel width multiplier")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                   help="focal: cross-entropy that weights hard faces more, by (1 - p)^gamma")
    p.add_argument("--focal-gamma", type=float, default=defaults.focal_gamma,
                   help="focal loss only: how much easy faces are discounted (0: plain cross-entropy)")
    p.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default=defaults.optimizer)
    p.add_argument("--lr", dest="learning_rate", type=float, default=defaults.learning_rate)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="AdamW only")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    # SUPPRESS: absent unless given, so --resume can tell "keep the run's count" from a new total
    p.add_argument("--epochs", type=int, default=argparse.SUPPRESS,
                   help=f"total epochs (default: {defaults.epochs}); with --resume, a new total to extend "
                        "or shorten the run (the cosine schedule is stretched to it)")
    p.add_argument("--schedule", choices=("cosine", "plateau", "constant"), default=defaults.schedule,
                   help="cosine: warm-up + cosine decay; plateau: reduce LR x0.1 when val loss stalls")
    p.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs,
                   help="cosine: epochs of linear learning-rate warm-up")
    p.add_argument("--plateau-patience", type=int, default=defaults.plateau_patience)
    p.add_argument("--early-stopping", type=int, default=defaults.early_stopping,
                   help="stop after this many epochs without a better val accuracy (0: off)")
    p.add_argument("--augment", default=",".join(defaults.augment),
                   help=f"comma list from {','.join(AUGMENTATIONS)}; geometric = rotation, shifts, zoom, "
                        "horizontal flip; warp = the same in one bicubic resampling (sharper faces)")
    p.add_argument("--no-augment", action="store_true", help="no augmentation at all")
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--init-from", default=defaults.init_from,
                   help="start from this .keras model's weights (same architecture and width): fine-tuning")
    p.add_argument("--ema", type=float, default=defaults.ema,
                   help="keep a moving average of the weights with this momentum (e.g. 0.999) and "
                        "validate and save the average (0: off)")
    p.add_argument("--target", choices=TARGETS, default=defaults.target,
                   help="label: FER-2013's single label; majority: the FER+ majority of 10 annotators (one-hot); "
                        "votes: cross-entropy against the FER+ vote distribution (needs a file with vote columns)")
    p.add_argument("--label-weight", type=float, default=defaults.label_weight,
                   help="target votes: this share of each face's target is FER-2013's own label (0: votes only)")
    p.add_argument("--crowd-only", default=",".join(defaults.crowd_only),
                   help="comma list of classes: faces whose FER+ majority is one of them keep the votes alone "
                        "(no --label-weight), e.g. neutral")
    p.add_argument("--exclude", default="", help="comma list of classes to leave out, e.g. disgust")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=int, default=defaults.threads, help="TensorFlow threads (0: all cores)")
    p.add_argument("--output", help="also write the best model here (.keras) with its metadata JSON")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")


def _run_train(args) -> int:
    from acting_mirror.training.train import TrainConfig, package_model, run_summary, train

    if args.output and Path(args.output).suffix != ".keras":
        raise ValueError(f"--output {args.output}: the model file must end in .keras")
    epochs = getattr(args, "epochs", None)
    augment = [] if args.no_augment else [a for a in args.augment.split(",") if a]
    config = TrainConfig(
        data=args.data, run_dir=args.run_dir, architecture=args.architecture, width=args.width,
        loss=args.loss, optimizer=args.optimizer, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, batch_size=args.batch_size,
        epochs=TrainConfig.epochs if epochs is None else epochs,
        schedule=args.schedule, warmup_epochs=args.warmup_epochs, augment=augment, label_smoothing=args.label_smoothing,
        focal_gamma=args.focal_gamma,
        exclude=[c for c in args.exclude.split(",") if c], early_stopping=args.early_stopping,
        plateau_patience=args.plateau_patience, seed=args.seed, threads=args.threads,
        init_from=args.init_from, ema=args.ema, train_split=args.train_split, val_split=args.val_split,
        teacher=getattr(args, "teacher", ""), temperature=getattr(args, "temperature", TrainConfig.temperature),
        alpha=getattr(args, "alpha", TrainConfig.alpha),
        teacher_copies=getattr(args, "teacher_copies", TrainConfig.teacher_copies),
        target=getattr(args, "target", TrainConfig.target),
        label_weight=getattr(args, "label_weight", TrainConfig.label_weight),
        crowd_only=[c for c in getattr(args, "crowd_only", "").split(",") if c],
    )
    if args.resume:
        ignored = _ignored_on_resume(args, config)
        if ignored:
            print(f"note: --resume keeps the run's saved configuration; ignoring {', '.join(ignored)} "
                  "(they differ from it)",
                  file=sys.stderr)
        run_dir = Path(args.run_dir).expanduser()
        if (run_dir / "log.csv").exists():
            done = run_summary(run_dir)["epochs_run"]
            print(f"resuming {run_dir} after epoch {done}" +
                  (f", to {epochs} epochs in total" if epochs is not None else ""))
    run_dir = train(config, resume=args.resume, verbose=0 if args.quiet else 2,
                    epochs=epochs if args.resume else None)
    summary = run_summary(run_dir)
    best = (f", best val accuracy {summary['best_val_accuracy']:.4f} at epoch {summary['best_epoch']}"
            if summary["best_epoch"] else "")
    run = summary["epochs_run"]
    print(f"run finished: {run_dir} ({run} epoch{'' if run == 1 else 's'}{best})")
    if args.output:
        metadata = package_model(run_dir, args.output)
        print(f"wrote {args.output} ({metadata.parameters} parameters, labels {', '.join(metadata.labels)})")
    return 0


def _ignored_on_resume(args, config) -> list[str]:
    """Train options given (not left at their defaults) whose values differ from the saved
    run's: --resume ignores them, and the user should know."""
    config_path = Path(args.run_dir).expanduser() / "config.json"
    if not config_path.is_file():
        return []  # train() says there is nothing to resume
    saved = json.loads(config_path.read_text())
    sub = argparse.ArgumentParser().add_subparsers()
    _add_train(sub, distill=args.command == "distill")
    ignored = []
    for action in sub.choices[args.command]._actions:
        if not action.option_strings or action.dest in RESUME_OPTIONS:
            continue
        if getattr(args, action.dest, action.default) == action.default:
            continue
        field = {"no_augment": "augment"}.get(action.dest, action.dest)
        if getattr(config, field, None) != saved.get(field):
            ignored.append(action.option_strings[0])
    return ignored


def _model_path(path: str | None) -> str:
    """The model a command was given, else the app's default."""
    from acting_mirror.config import ModelConfig

    return path or ModelConfig().path


def _add_evaluate(sub) -> None:
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


def _run_evaluate(args) -> int:
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
    metadata, json_path = load_metadata(_model_path(args.model))
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


def _add_reference(sub) -> None:
    p = sub.add_parser("reference", help="store a model's mean output on neutral faces (as the app runs it) in "
                                         "its metadata: what resting-face profiles are calibrated against")
    p.add_argument("--model", help="metadata JSON (default: the app's model)")
    p.add_argument("--data", required=True,
                   help="FER-2013 CSV (with FER+ votes: faces whose majority is neutral) or image tree")
    p.add_argument("--split", default="Training", choices=ALL_SPLITS, help="default: %(default)s")
    p.add_argument("--threads", type=int, default=2, help="inference threads (default: %(default)s)")


def _run_reference(args) -> int:
    from dataclasses import replace

    from acting_mirror.model import load_classifier, load_metadata
    from acting_mirror.training.data import load_split
    from acting_mirror.training.reference import neutral_faces, neutral_reference

    metadata, json_path = load_metadata(_model_path(args.model))
    classifier = load_classifier(json_path, "tflite" if "tflite" in metadata.files else "keras",
                                 threads=args.threads, quantized=True, test_time_views=True)
    dataset = load_split(args.data, args.split)
    reference = neutral_reference(classifier, dataset)
    replace(metadata, neutral_reference=[round(float(v), 6) for v in reference]).save(json_path)
    shown = ", ".join(f"{label} {value:.3f}" for label, value in zip(metadata.labels, reference, strict=True))
    print(f"neutral reference of {metadata.name} on {len(neutral_faces(dataset))} neutral {args.split} faces: "
          f"{shown}\nupdated {json_path}")
    return 0


def _add_robustness(sub) -> None:
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


def _run_robustness(args) -> int:
    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import load_split
    from acting_mirror.training.evaluate import write_json
    from acting_mirror.training.robustness import conditions_named, format_probe, probe

    if args.threads < 1 or args.limit < 0:
        raise ValueError("--threads must be positive and --limit not negative")
    conditions = conditions_named([name.strip() for name in args.conditions.split(",")] if args.conditions
                                  else None)
    classifiers = [load_classifier(path, "tflite", threads=args.threads, quantized=True)
                   for path in (args.model or [_model_path(None)])]
    dataset = load_split(args.data, args.split)
    if args.limit:
        dataset = dataset.subset(slice(0, args.limit))
    print(f"{len(dataset)} {args.split} faces, {len(conditions)} conditions", file=sys.stderr)
    results = [probe(classifier, dataset, conditions, seed=args.seed) for classifier in classifiers]
    print(format_probe(results))
    if args.json:
        print(f"wrote {write_json({'split': args.split, 'models': results}, args.json)}")
    return 0


def _add_export(sub) -> None:
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


def _run_export(args) -> int:
    from acting_mirror.training.export import export_model

    export_model(args.model, quantize=args.quantize, samples=args.samples, tolerance=args.tolerance,
                 threads=args.threads)
    return 0


def _add_ensemble(sub) -> None:
    p = sub.add_parser("ensemble", help="average several trained models into one model (one file, one call)")
    p.add_argument("--members", nargs="+", required=True,
                   help="two or more models (metadata JSON or .keras) with the same labels, input and scaling")
    p.add_argument("--output", required=True, help="the ensemble's .keras file; its metadata JSON goes beside it")
    p.add_argument("--name", help="model name in the metadata (default: the output file's stem)")


def _run_ensemble(args) -> int:
    from acting_mirror.training.ensemble import build_ensemble

    metadata = build_ensemble(args.members, args.output, args.name)
    print(f"wrote {args.output}: {metadata.architecture}, {metadata.parameters:,} parameters")
    print(f"next: acting-mirror-model export --model {args.output} --quantize")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show a model's metadata: labels, input, files, training, evaluation")
    p.add_argument("--model", help="metadata JSON or model file (default: the app's model, "
                                   "models/mirror_ensemble.json)")
    p.add_argument("--json", action="store_true", help="print the raw metadata JSON")


def _run_info(args) -> int:
    from acting_mirror.model import load_metadata

    metadata, json_path = load_metadata(_model_path(args.model))
    print(json.dumps(metadata.to_json(), indent=2) if args.json else format_info(metadata, json_path))
    return 0


def _describe_equalize(rule: dict) -> str:
    if not rule:
        return "never (crops reach the model as they are)"
    parts = [f"grey-level std < {rule['std_below']:g}" if "std_below" in rule else "",
             f"mean < {rule['mean_below']:g}" if "mean_below" in rule else "",
             f"mean > {rule['mean_above']:g}" if "mean_above" in rule else ""]
    return "histogram-equalized first when " + " or ".join(p for p in parts if p) + " (unlike the training faces)"


def format_info(metadata, json_path: Path) -> str:
    """A model's metadata, readably: identity, input, files (with sizes), training, evaluation."""
    lines = [
        f"model         {metadata.name}  ({json_path})",
        f"architecture  {metadata.architecture}, {metadata.parameters:,} parameters",
        f"labels        {', '.join(metadata.labels)} ({len(metadata.labels)} classes)",
        f"input         {metadata.input_size[0]}x{metadata.input_size[1]}x{metadata.channels} "
        f"({'grayscale' if metadata.channels == 1 else f'{metadata.channels} channels'}), "
        f"model input = pixel * {metadata.pixel_scale:.6g} {'-' if metadata.pixel_offset < 0 else '+'} "
        f"{abs(metadata.pixel_offset):g}",
        f"views         {'; '.join(view.describe() for view in metadata.views)} "
        f"({'stored' if metadata.test_time_views else 'default'}; averaged when model.test_time_views is on)",
        f"equalize      {_describe_equalize(metadata.equalize)}",
        "sharpness     " + (f"crops sharper than {metadata.sharpness:g} are blurred down to it, after "
                             "equalizing (as soft as the training faces were)" if metadata.sharpness
                             else "crops reach the model as sharp as they are"),
        "files",
    ]
    key_width = max((len(key) for key in metadata.files), default=0) + 2
    for key, name in metadata.files.items():
        file = json_path.parent / name
        size = f"{file.stat().st_size / 1024:.0f} KiB" if file.is_file() else "MISSING"
        lines.append(f"  {key:{key_width}}{name} ({size})")
    if not metadata.files:
        lines.append("  (none listed)")
    lines.append("training")
    lines += _nested(metadata.training, 1) or ["  (not recorded)"]
    lines.append("evaluation")
    lines += _nested(metadata.evaluation, 1) or ["  (not evaluated yet)"]
    return "\n".join(lines)


def _nested(values: dict, depth: int) -> list[str]:
    lines = []
    indent = "  " * depth
    for key, value in values.items():
        if isinstance(value, dict) and value:
            if all(not isinstance(v, dict | list) for v in value.values()) and len(value) <= 8:
                inline = ", ".join(f"{k}={_short(v)}" for k, v in value.items())
                if len(inline) <= 100:
                    lines.append(f"{indent}{key}: {inline}")
                    continue
            lines.append(f"{indent}{key}:")
            lines += _nested(value, depth + 1)
        else:
            lines.append(f"{indent}{key}: {_short(value)}")
    return lines


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    from acting_mirror import installed_version

    parser = argparse.ArgumentParser(prog="acting-mirror-model", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_train(sub, distill=True)
    _add_evaluate(sub)
    _add_reference(sub)
    _add_robustness(sub)
    _add_export(sub)
    _add_ensemble(sub)
    _add_info(sub)
    return parser


# what a command imports from the `train` extra; any command not listed needs TensorFlow and Keras
COMMAND_MODULES = {"info": (), "evaluate": ("sklearn", "scipy"), "robustness": ("sklearn", "scipy"), "reference": ()}
KERAS_MODULES = ("tensorflow", "keras")


def main(argv: list[str] | None = None) -> int:
    from acting_mirror.extras import TRAIN, MissingExtra, require

    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": _run_train, "distill": _run_train, "evaluate": _run_evaluate, "robustness": _run_robustness,
                "export": _run_export, "ensemble": _run_ensemble, "info": _run_info, "reference": _run_reference}
    try:
        require(TRAIN, f"acting-mirror-model {args.command}", COMMAND_MODULES.get(args.command, KERAS_MODULES))
        return handlers[args.command](args)
    except MissingExtra as error:
        print(f"acting-mirror-model: error: {error}", file=sys.stderr)
        return 2
    except (DatasetError, ModelError, MirrorError, ValueError, OSError) as error:
        from acting_mirror.quiet import report_error
        from acting_mirror.sinks import describe_os_error

        report_error("acting-mirror-model: error: ", error,
                     describe_os_error(error) if isinstance(error, OSError) else None)
        return 2
    except KeyboardInterrupt:
        print("acting-mirror-model: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
