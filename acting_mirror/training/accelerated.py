"""Training on an accelerator: Keras on JAX (or any Keras backend), with no TensorFlow.

A GPU machine often has JAX but no TensorFlow, and no way to fetch it; its CPUs would also
starve a GPU through tf.data. Here the whole step runs on the device: the faces sit in memory
as arrays, the augmentations are Keras layers inside the training model (`build_augmenter`'s
portable kinds: warp, erasing, noise, brightness, blur; geometric too, but Keras's rotation,
translation and zoom layers did not finish an epoch in 4 minutes under JAX on an H100, where
warp takes 3-7 s), and only the classifier is saved. A run directory comes out as `train.py`
writes it (config.json, log.csv, last.keras, best.keras, sharpness.json, labels.json,
epoch_seconds.json), so `package_model`, export and evaluation on the CPU machine read it
unchanged.

FER-2013 travels as a `.fer.xz` file (`acting_mirror.training.data.pack`), 74% of its raw bytes.

  python -m acting_mirror.training.accelerated pack --data fer2013.csv.gz --out train.fer.xz
  python -m acting_mirror.training.accelerated plan --plan plan.json --runs DIR --parallel 8
  python -m acting_mirror.training.accelerated archive --runs DIR --out "$OUT"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from acting_mirror.training.data import FER_SPLITS, DatasetError, pack

PORTABLE_AUGMENTATIONS = ("geometric", "warp", "erasing", "noise", "brightness", "blur")


def _trainer(model, augmenter):
    """The classifier behind its augmentation layers: what `fit` trains; `model` is what is saved."""
    import keras

    if augmenter is None:
        return model
    inputs = keras.Input(model.input_shape[1:], name="face")
    return keras.Model(inputs, model(augmenter(inputs)), name="trainer")


def _classifier_checkpoints(model, run_dir: Path):
    """last.keras every epoch and best.keras at the best validation accuracy: the classifier
    alone, after SwapEMAWeights has put the averaged weights in place."""
    import keras

    best = {"accuracy": -1.0}

    def save(epoch, logs=None):
        model.save(run_dir / "last.keras")
        accuracy = float((logs or {}).get("val_accuracy", -1.0))
        if accuracy > best["accuracy"]:
            best["accuracy"] = accuracy
            model.save(run_dir / "best.keras")

    return keras.callbacks.LambdaCallback(on_epoch_end=save)


MEASURED_EPOCHS = 3  # the first compiles; the next two give the steady time an epoch


def _schedule_to_deadline(config, deadline: float, run_dir: Path):
    """A lease that ends at `deadline` (time.time()) gets a finished schedule, not a run cut off at
    a high learning rate: after MEASURED_EPOCHS epochs the run's length becomes what fits, from
    the slowest of the measured steady epochs with a 20% margin, never more than asked. Only
    time decides it, before any accuracy counts; config.json records the length it ran.
    The epoch times are `epoch_timer`'s (epoch_seconds.json), which must come before this
    callback in the list (it does: see train_portable)."""
    import keras

    from acting_mirror.training.runs import write_config

    def end(epoch, logs=None):
        done = epoch + 1
        if done == MEASURED_EPOCHS and deadline:
            seconds = json.loads((run_dir / "epoch_seconds.json").read_text())
            steady = max(seconds[str(e)] for e in range(1, done))
            fits = done + int(max(0.0, deadline - time.time()) / (1.2 * steady))
            if fits < config.epochs:
                config.epochs = fits  # the cosine schedule (learning_rate_at) reads it from here on
                write_config(config, run_dir)
                print(f"schedule: {config.epochs} epochs fit before the deadline ({steady:.1f} s an epoch)",
                      flush=True)
        if done >= config.epochs:
            callback.model.stop_training = True

    callback = keras.callbacks.LambdaCallback(on_epoch_end=end)
    return callback


def train_portable(config, steps_per_execution: int = 1, verbose: int = 2, deadline: float = 0.0) -> Path:
    """Train one run of `config` (a TrainConfig) through Keras on whatever backend is set; with a
    `deadline` (time.time()), its schedule is cut to what fits (see _schedule_to_deadline)."""
    import keras

    from acting_mirror.training.architectures import build
    from acting_mirror.training.augment import build_augmenter
    from acting_mirror.training.inputs import prepare_splits, to_model_input, training_sharpness
    from acting_mirror.training.objectives import learning_rate_at, loss_for, optimizer_for
    from acting_mirror.training.runs import epoch_timer, write_config
    from acting_mirror.training.train import configure_tensorflow

    config.validate()
    unsupported = [kind for kind in config.augment if kind not in PORTABLE_AUGMENTATIONS]
    if unsupported or config.teacher or config.init_from or config.schedule == "plateau":
        raise ValueError(f"not for the accelerated path: {', '.join(unsupported) or 'teacher/init/plateau'}")
    run_dir = Path(config.run_dir)
    if (run_dir / "log.csv").exists():
        raise FileExistsError(f"{run_dir} already holds a run")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config, run_dir)
    if keras.backend.backend() == "tensorflow":
        configure_tensorflow(config.threads, config.seed)  # its threads; the seed as train() sets it
    keras.utils.set_random_seed(config.seed)
    train_data, val_data, labels, _ = prepare_splits(config)
    (run_dir / "sharpness.json").write_text(json.dumps(
        {"sharpness": training_sharpness(train_data.images, config.augment, config.seed)}) + "\n")
    num_classes = len(labels)
    model = build(config.architecture, num_classes=num_classes, width=config.width)
    trainer = _trainer(model, build_augmenter(config.augment, config.seed))
    trainer.compile(optimizer=optimizer_for(config), loss=loss_for(config, num_classes), metrics=["accuracy"],
                    steps_per_execution=steps_per_execution)
    one_hot = np.eye(num_classes, dtype=np.float32)
    callbacks = [
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []),
        _classifier_checkpoints(model, run_dir),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv")),
        epoch_timer(run_dir / "epoch_seconds.json"),
        keras.callbacks.TerminateOnNaN(),
        _schedule_to_deadline(config, deadline, run_dir),
    ]
    if config.schedule == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(config, epoch)))
    started = time.time()
    trainer.fit(to_model_input(train_data.images), one_hot[train_data.labels], batch_size=config.batch_size,
                epochs=config.epochs, shuffle=True, verbose=verbose, callbacks=callbacks,
                validation_data=(to_model_input(val_data.images), one_hot[val_data.labels]),
                validation_batch_size=512)
    (run_dir / "timing.json").write_text(json.dumps({"seconds": time.time() - started, "sessions": 1}) + "\n")
    (run_dir / "labels.json").write_text(json.dumps(labels) + "\n")
    (run_dir / "machine.json").write_text(json.dumps(_machine()) + "\n")
    return run_dir


def _machine() -> dict:
    import keras

    device = ""
    if keras.backend.backend() == "jax":
        import jax

        device = str(jax.devices()[0].device_kind)
    return {"backend": keras.backend.backend(), "device": device,
            "machine": f"{platform.machine()} {os.cpu_count()} cores"}


def run_plan(plan: list[dict], data: str, runs: Path, parallel: int, steps_per_execution: int = 1,
             seconds: float = 0.0) -> list[dict]:
    """Each entry of `plan` ({"name", **TrainConfig fields}) in its own process, `parallel` at a
    time, longest first; with `seconds`, every run's schedule is sized to end by then (see
    _schedule_to_deadline). Returns each run's name, exit code and seconds."""
    deadline = time.time() + seconds if seconds else 0.0
    runs.mkdir(parents=True, exist_ok=True)
    pending = sorted(plan, key=lambda job: -job.get("epochs", 100))
    running, finished = [], []
    environment = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            fields = {k: v for k, v in job.items() if k != "name"}
            config = {"data": data, "run_dir": str(runs / job["name"]), **fields}
            with open(runs / f"{job['name']}.out", "w") as log:  # the child keeps its own copy
                process = subprocess.Popen(
                    [sys.executable, "-m", "acting_mirror.training.accelerated", "train",
                     "--config", json.dumps(config), "--steps-per-execution", str(steps_per_execution),
                     "--deadline", str(deadline)],
                    stdout=log, stderr=subprocess.STDOUT, env=environment)
            running.append((job["name"], process, time.time()))
        time.sleep(1.0)
        for entry in list(running):
            name, process, started = entry
            if process.poll() is not None:
                running.remove(entry)
                finished.append({"name": name, "returncode": process.returncode,
                                 "seconds": round(time.time() - started, 1)})
                print(json.dumps(finished[-1]), flush=True)
    return finished


ARCHIVE_LIMIT = 15 * 2 ** 20  # a device call returns files of up to about this size


def archive_runs(runs: Path, out: Path, limit: int = ARCHIVE_LIMIT) -> list[Path]:
    """Tar the run directories under `runs` into out/runs0.tar, runs1.tar, ..., each holding
    whole runs and at most `limit` bytes of them unless one run alone is larger, plus
    out/logs.tar of the runs' .out logs. best.keras stays behind: only `last` is packaged
    from a lease, and it is the largest file. Returns the tar files written."""
    out.mkdir(parents=True, exist_ok=True)
    groups: list[list[Path]] = [[]]
    size = 0
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        files = [f for f in sorted(run.iterdir()) if f.is_file() and f.name != "best.keras"]
        run_size = sum(f.stat().st_size for f in files)
        if groups[-1] and size + run_size > limit:
            groups.append([])
            size = 0
        groups[-1].append(run)
        size += run_size
        epochs = json.loads((run / "epoch_seconds.json").read_text()) if (run / "epoch_seconds.json").exists() else {}
        median = sorted(epochs.values())[len(epochs) // 2] if epochs else None
        print(f"{run.name}: {len(epochs)} epochs, median {median} s an epoch, {run_size / 2 ** 20:.1f} MiB")
    written = []
    for index, group in enumerate(g for g in groups if g):
        written.append(out / f"runs{index}.tar")
        with tarfile.open(written[-1], "w") as tar:
            for run in group:
                for f in sorted(run.iterdir()):
                    if f.is_file() and f.name != "best.keras":
                        tar.add(f, arcname=f"{run.name}/{f.name}")
    logs = sorted(runs.glob("*.out"))
    if logs:
        written.append(out / "logs.tar")
        with tarfile.open(written[-1], "w") as tar:
            for log in logs:
                tar.add(log, arcname=log.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acting_mirror.training.accelerated", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packer = commands.add_parser("pack", help="FER-2013 CSV -> a .fer.xz file of its splits")
    packer.add_argument("--data", required=True)
    packer.add_argument("--out", required=True)
    packer.add_argument("--splits", default="Training", help="comma-separated FER-2013 splits")
    trainer = commands.add_parser("train", help="one run from a TrainConfig given as JSON")
    trainer.add_argument("--config", required=True)
    trainer.add_argument("--steps-per-execution", type=int, default=1)
    trainer.add_argument("--deadline", type=float, default=0.0, help="time.time() by which to finish")
    planner = commands.add_parser("plan", help="many runs, several at a time")
    planner.add_argument("--plan", required=True, help="JSON list of {name, TrainConfig fields}")
    planner.add_argument("--data", required=True)
    planner.add_argument("--runs", required=True)
    planner.add_argument("--parallel", type=int, default=4)
    planner.add_argument("--steps-per-execution", type=int, default=1)
    planner.add_argument("--seconds", type=float, default=0.0,
                         help="size every run's schedule to end within this many seconds (a lease)")
    archiver = commands.add_parser("archive", help="tar run directories for the trip back from a device")
    archiver.add_argument("--runs", required=True)
    archiver.add_argument("--out", required=True)
    archiver.add_argument("--limit-mib", type=float, default=ARCHIVE_LIMIT / 2 ** 20,
                          help="the most MiB of runs a tar holds (a larger run still gets one of its own)")
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            from acting_mirror.training.data import load_fer_csv

            splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
            unknown = [s for s in splits if s not in FER_SPLITS]
            if unknown:
                raise DatasetError(f"unknown split {unknown[0]!r}; choose from {', '.join(FER_SPLITS)}")
            size = pack(load_fer_csv(args.data, splits), args.out)
            print(f"{args.out}: {size / 2 ** 20:.1f} MiB")
        elif args.command == "train":
            from acting_mirror.training.run_config import TrainConfig

            train_portable(TrainConfig(**json.loads(args.config)), args.steps_per_execution,
                           deadline=args.deadline)
        elif args.command == "archive":
            for path in archive_runs(Path(args.runs), Path(args.out), int(args.limit_mib * 2 ** 20)):
                print(f"{path}: {path.stat().st_size / 2 ** 20:.1f} MiB")
        else:
            finished = run_plan(json.loads(Path(args.plan).read_text()), args.data, Path(args.runs),
                                args.parallel, args.steps_per_execution, args.seconds)
            return 0 if all(run["returncode"] == 0 for run in finished) else 1
    except (DatasetError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
