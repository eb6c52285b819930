"""A run directory and what is made of it: starting or resuming a run (config.json), the
records it keeps as it trains (timing.json, epoch_seconds.json), its summary from log.csv,
and packaging its best (or last) model with the metadata the app reads.

A run directory holds config.json, log.csv, last.keras, best.keras, Keras's BackupAndRestore
state (backup/), labels.json, sharpness.json, timing.json, epoch_seconds.json, and for a
fine-tuned run init_from.json and init_eval.json. It is kept outside the repository.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from acting_mirror.metadata import ModelMetadata
from acting_mirror.training.inputs import PIXEL_OFFSET, PIXEL_SCALE, class_names
from acting_mirror.training.run_config import EQUALIZE_UNLIKE_FER, TrainConfig


def start_run(config: TrainConfig, resume: bool, epochs: int | None) -> tuple[TrainConfig, Path, Path | None]:
    """Config and resume: check `config`, or take a resumed run's own; make the run directory and
    write config.json. Returns the run's configuration, its directory and the model it starts from."""
    config.validate()
    run_dir = Path(config.run_dir).expanduser()
    config_path = run_dir / "config.json"
    if resume:
        if not config_path.is_file():
            raise FileNotFoundError(f"{run_dir}: no run to resume (config.json missing)")
        saved = json.loads(config_path.read_text())
        # a resumed run keeps its configuration, except where to find the data
        saved["data"] = config.data or saved["data"]
        saved["threads"] = config.threads
        saved.setdefault("equalize", EQUALIZE_UNLIKE_FER)  # runs from before the rule was derived
        if epochs is not None:
            if epochs < 1:
                raise ValueError("epochs must be positive")
            saved["epochs"] = epochs
        config = TrainConfig(**saved)
    elif (run_dir / "log.csv").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume or choose another --run-dir")
    parent = Path(config.init_from).expanduser() if config.init_from else None
    if not resume and parent and not parent.is_file():
        raise FileNotFoundError(f"--init-from {config.init_from}: no such model file")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config, run_dir)
    if not resume and parent and parent.with_suffix(".json").is_file():
        # kept with the run: the packaged model's metadata tells what it was fine-tuned from
        shutil.copy(parent.with_suffix(".json"), run_dir / "init_from.json")
    return config, run_dir, parent


def write_config(config: TrainConfig, run_dir: Path) -> None:
    """The run's configuration as it runs (config.json): what --resume and package_model read."""
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")


def add_training_time(run_dir: Path, seconds: float) -> None:
    """timing.json: the seconds of every start of the run, added up."""
    timing_path = run_dir / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {"seconds": 0.0, "sessions": 0}
    timing["seconds"] += seconds
    timing["sessions"] += 1
    timing_path.write_text(json.dumps(timing) + "\n")


def epoch_timer(path: Path):
    """Seconds per finished epoch, by epoch number: a run's time survives being killed and resumed."""
    import keras

    started = {}

    def begin(epoch, logs=None):
        started[epoch] = time.time()

    def end(epoch, logs=None):
        seconds = json.loads(path.read_text()) if path.exists() else {}
        seconds[str(epoch)] = round(time.time() - started[epoch], 2)
        path.write_text(json.dumps(seconds) + "\n")

    return keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)


def run_summary(run_dir: Path) -> dict:
    """Epochs done, best validation accuracy and training time from a run's files."""
    import csv

    rows = []
    if (run_dir / "log.csv").exists():
        with open(run_dir / "log.csv", newline="") as log:
            rows = list(csv.DictReader(log))
    best = max(rows, key=lambda r: float(r["val_accuracy"])) if rows else None
    timing = json.loads((run_dir / "timing.json").read_text()) if (run_dir / "timing.json").exists() else {}
    epoch_seconds = run_dir / "epoch_seconds.json"
    if epoch_seconds.exists():  # per epoch, so epochs of a killed session count too
        timing["seconds"] = sum(json.loads(epoch_seconds.read_text()).values())
    return {
        "epochs_run": len(rows),
        "best_epoch": int(best["epoch"]) + 1 if best else None,
        "best_val_accuracy": float(best["val_accuracy"]) if best else None,
        "train_seconds": round(timing.get("seconds", 0.0), 1),
    }


def package_model(run_dir: str | Path, output: str | Path, name: str | None = None,
                  which: str = "best") -> ModelMetadata:
    """Copy a run's best (or last) model to `output` (.keras) and write its metadata JSON."""
    import keras

    run_dir = Path(run_dir)
    output = Path(output)
    config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
    model = keras.models.load_model(run_dir / f"{which}.keras", compile=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    _, labels = class_names(config.exclude)
    height, width, channels = model.input_shape[1:]
    metadata = ModelMetadata(
        name=name or output.stem,
        labels=tuple(labels),
        input_size=(int(height), int(width)),
        channels=int(channels),
        pixel_scale=PIXEL_SCALE,
        pixel_offset=PIXEL_OFFSET,
        equalize=dict(config.equalize if config.equalize is not None else EQUALIZE_UNLIKE_FER),
        sharpness=_run_sharpness(run_dir),
        architecture=config.architecture,
        parameters=int(model.count_params()),
        files={"keras": output.name},
        training={
            "data": "FER-2013 with FER+ votes" if config.target != "label" else "FER-2013",
            "target": config.target,
            "train_split": config.train_split,
            "selection_split": config.val_split,
            "excluded_classes": list(config.exclude),
            "config": {k: v for k, v in asdict(config).items() if k not in ("data", "run_dir", "threads")},
            **run_summary(run_dir),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            **_parent_training(run_dir),
        },
    )
    metadata.save(output.with_suffix(".json"))
    return metadata


def _run_sharpness(run_dir: Path) -> float:
    """The run's sharpness rule (written when it trained); 0 (none) for runs from before it."""
    path = run_dir / "sharpness.json"
    return float(json.loads(path.read_text())["sharpness"]) if path.is_file() else 0.0


def _parent_training(run_dir: Path) -> dict:
    """For a fine-tuned model: the model it started from, and its training."""
    parent_path = run_dir / "init_from.json"
    if not parent_path.is_file():
        return {}
    parent = json.loads(parent_path.read_text())
    return {"initialized_from": {
        "name": parent.get("name"),
        "evaluation": parent.get("evaluation", {}),
        "training": parent.get("training", {}),
    }}
