"""`acting-mirror-model`: train, evaluate, export and inspect emotion models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acting_mirror.training.data import DatasetError


def _add_train(sub) -> None:
    from acting_mirror.training.train import AUGMENTATIONS, LOSSES, TrainConfig

    defaults = TrainConfig(data="", run_dir="")
    p = sub.add_parser("train", help="train a model on FER-2013 (CSV or image folders)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 CSV (.csv or .csv.gz) or <split>/<class>/ image tree")
    p.add_argument("--run-dir", required=True,
                   help="where checkpoints, log.csv and config.json go (keep it outside the repo)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir after its last epoch")
    p.add_argument("--arch", dest="architecture", default=defaults.architecture,
                   help="mini_xception (Arriaga et al. 2017) or mirror_net (our default)")
    p.add_argument("--width", type=float, default=defaults.width, help="channel width multiplier")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    p.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default=defaults.optimizer)
    p.add_argument("--lr", dest="learning_rate", type=float, default=defaults.learning_rate)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="AdamW only")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--schedule", choices=("cosine", "plateau", "constant"), default=defaults.schedule,
                   help="cosine: warm-up + cosine decay; plateau: reduce LR x0.1 when val loss stalls")
    p.add_argument("--plateau-patience", type=int, default=defaults.plateau_patience)
    p.add_argument("--early-stopping", type=int, default=defaults.early_stopping,
                   help="stop after this many epochs without a better val accuracy (0: off)")
    p.add_argument("--augment", default=",".join(defaults.augment),
                   help=f"comma list from {','.join(AUGMENTATIONS)}; geometric = rotation, shifts, zoom, "
                        "horizontal flip")
    p.add_argument("--no-augment", action="store_true", help="no augmentation at all")
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--exclude", default="", help="comma list of classes to leave out, e.g. disgust")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=int, default=defaults.threads, help="TensorFlow threads (0: all cores)")
    p.add_argument("--output", help="also write the best model here (.keras) with its metadata JSON")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")


def _run_train(args) -> int:
    from acting_mirror.training.train import TrainConfig, package_model, train

    augment = [] if args.no_augment else [a for a in args.augment.split(",") if a]
    config = TrainConfig(
        data=args.data, run_dir=args.run_dir, architecture=args.architecture, width=args.width,
        loss=args.loss, optimizer=args.optimizer, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, batch_size=args.batch_size, epochs=args.epochs,
        schedule=args.schedule, augment=augment, label_smoothing=args.label_smoothing,
        exclude=[c for c in args.exclude.split(",") if c], early_stopping=args.early_stopping,
        plateau_patience=args.plateau_patience, seed=args.seed, threads=args.threads,
    )
    run_dir = train(config, resume=args.resume, verbose=0 if args.quiet else 2)
    print(f"run finished: {run_dir}")
    if args.output:
        metadata = package_model(run_dir, args.output)
        print(f"wrote {args.output} ({metadata.parameters} parameters, labels {', '.join(metadata.labels)})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acting-mirror-model", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": _run_train}
    try:
        return handlers[args.command](args)
    except (DatasetError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"acting-mirror-model: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("acting-mirror-model: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
