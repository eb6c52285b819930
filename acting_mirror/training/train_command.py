"""`acting-mirror-model train` and `distill`: their flags, and a run started or resumed from them.

A resumed run keeps its saved configuration (config.json); flags given with --resume that
differ from it are named and ignored, except those in RESUME_OPTIONS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# options a resumed run takes from the command line; the rest come from its config.json
RESUME_OPTIONS = {"data", "run_dir", "resume", "threads", "epochs", "output", "quiet", "help"}


def add_train_parser(sub, distill: bool = False) -> None:
    """The `train` subcommand (or, distill=True, `distill`: train, plus a teacher) on `sub`."""
    from acting_mirror.training.augment import AUGMENTATIONS
    from acting_mirror.training.data import ALL_SPLITS, HOLDOUT_SPLIT, TRAIN_REST_SPLIT
    from acting_mirror.training.run_config import LOSSES, TARGETS, TrainConfig

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
    p.add_argument("--crowd-weight", type=float, default=defaults.crowd_weight,
                   help="the label weight of the --crowd-only faces instead of 0 (at most --label-weight)")
    p.add_argument("--exclude", default="", help="comma list of classes to leave out, e.g. disgust")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=int, default=defaults.threads, help="TensorFlow threads (0: all cores)")
    p.add_argument("--output", help="also write the best model here (.keras) with its metadata JSON")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")


def run_train(args) -> int:
    """Flags -> TrainConfig -> a run (or its resumption), then its summary; --output packages the best model."""
    from acting_mirror.training.run_config import TrainConfig
    from acting_mirror.training.runs import package_model, run_summary
    from acting_mirror.training.train import train

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
        crowd_weight=getattr(args, "crowd_weight", TrainConfig.crowd_weight),
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
    add_train_parser(sub, distill=args.command == "distill")
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
