"""Training: FER-2013 (with or without FER+ votes) -> a Keras model plus its metadata, resumable epoch by epoch.

`train` runs (or resumes) one run: its configuration and directory (runs.py), the data as the
network sees it (inputs.py), the loss, optimizer and schedule (objectives.py), and the Keras
callbacks that make it resumable. A run lives in a run directory (config.json, log.csv,
last.keras, best.keras and Keras's BackupAndRestore state), kept outside the repository.
`--resume` picks the run up after its last finished epoch with the same configuration.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from acting_mirror.training.augment import build_augmenter
from acting_mirror.training.inputs import (
    make_bank_dataset,
    make_dataset,
    pixel_augmenter,
    prepare_splits,
    training_sharpness,
)
from acting_mirror.training.objectives import label_accuracy, learning_rate_at, loss_for, optimizer_for, soften
from acting_mirror.training.run_config import TrainConfig
from acting_mirror.training.runs import add_training_time, epoch_timer, run_summary, start_run, write_config


def configure_tensorflow(threads: int, seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already running in this process (a second run, tests): keep its threads
    keras.utils.set_random_seed(seed)


def _start_weights(model, init_from: Path) -> None:
    """Fine-tuning: copy the weights of an earlier model of the same shape."""
    import keras

    source = keras.models.load_model(init_from, compile=False)
    try:
        model.set_weights(source.get_weights())
    except ValueError as error:
        raise ValueError(f"--init-from {init_from}: its layers do not match this architecture and width "
                         f"({error})") from None


@dataclass(frozen=True)
class TrainingData:
    """What a run trains and validates on, with the configuration as fixed at its first start."""

    config: TrainConfig
    labels: list[str]
    train: object  # tf.data.Dataset of (input, target) batches
    validation: object


def train(config: TrainConfig, resume: bool = False, verbose: int = 2, epochs: int | None = None) -> Path:
    """Run (or resume) training; returns the run directory.

    `epochs` (resume only) changes the run's total epoch count, e.g. to extend a
    finished run; with the cosine schedule this stretches the remaining decay."""
    config, run_dir, parent = start_run(config, resume, epochs)
    configure_tensorflow(config.threads, config.seed)
    from acting_mirror.training.architectures import build

    data = training_data(config, run_dir, resume)
    config, num_classes = data.config, len(data.labels)
    model = build(config.architecture, num_classes=num_classes, width=config.width)
    if parent and not (resume and (run_dir / "backup").exists()):
        # a resumed run takes its weights from the backup (so a parent since moved or replaced is no loss)
        _start_weights(model, parent)
    metrics = [label_accuracy(num_classes)] if config.teacher else ["accuracy"]
    model.compile(optimizer=optimizer_for(config), loss=loss_for(config, num_classes), metrics=metrics)
    if parent and not resume:
        # where the run starts: the parent's accuracy on the validation split, before any step
        start = model.evaluate(data.validation, verbose=0, return_dict=True)
        (run_dir / "init_eval.json").write_text(json.dumps(
            {"split": config.val_split, "val_accuracy": float(start["accuracy"]), "val_loss": float(start["loss"])}
        ) + "\n")
    started = time.time()
    # tf.data shuffles each epoch itself (see make_dataset)
    model.fit(data.train, validation_data=data.validation, epochs=config.epochs,
              callbacks=training_callbacks(config, run_dir), verbose=verbose, shuffle=False)
    add_training_time(run_dir, time.time() - started)
    (run_dir / "labels.json").write_text(json.dumps(data.labels) + "\n")
    return run_dir


def training_data(config: TrainConfig, run_dir: Path, resume: bool) -> TrainingData:
    """Data: the splits, the equalize and sharpness rules the run's model will carry (written to the
    run directory), and the batches: augmented, with a teacher's soft targets when distilling."""
    train_data, val_data, labels, rule = prepare_splits(config)
    if config.equalize is None:  # fixed at the first start, so a resumed run keeps it
        config = replace(config, equalize=rule)
        write_config(config, run_dir)
    num_classes = len(labels)
    # the sharpness rule its model will carry: how soft its training faces were (see training_sharpness)
    (run_dir / "sharpness.json").write_text(json.dumps(
        {"sharpness": training_sharpness(train_data.images, config.augment, config.seed)}) + "\n")
    augmenter = build_augmenter(config.augment, config.seed)
    soft_train = soft_val = None
    if config.teacher:
        from acting_mirror.training.distill import teacher_bank, teacher_probabilities

        # validation scores the labels only; its soft half repeats them to keep the shape
        soft_val = np.eye(num_classes, dtype=np.float32)[val_data.labels]
    if config.teacher and config.teacher_copies:
        bank, teacher = teacher_bank(
            config.teacher, train_data, labels, config.teacher_copies,
            pixel_augmenter(augmenter, rule),
            f"augment {','.join(config.augment) or 'none'} seed {config.seed}; equalize {rule}",
            threads=config.threads or 2)
        soft_bank = soften(teacher.reshape(-1, num_classes), config.temperature).reshape(teacher.shape)
        train_ds = make_bank_dataset(bank, soft_bank, train_data.labels, num_classes, config.batch_size,
                                     config.seed, first_epoch=run_summary(run_dir)["epochs_run"] if resume else 0)
    else:
        if config.teacher:
            soft_train = soften(teacher_probabilities(config.teacher, train_data, labels,
                                                      threads=config.threads or 2), config.temperature)
        train_ds = make_dataset(train_data, num_classes, config.batch_size, augmenter, True, config.seed,
                                soft_train, config.threads, config.target, config.label_weight,
                                tuple(config.crowd_only), config.crowd_weight)
    val_ds = make_dataset(val_data, num_classes, 256, None, False, config.seed, soft_val, config.threads)
    return TrainingData(config, labels, train_ds, val_ds)


def training_callbacks(config: TrainConfig, run_dir: Path) -> list:
    """Callbacks: the backup that makes a run resumable, the checkpoints, the logs, and the schedule."""
    import keras

    callbacks = [
        # the backup holds the raw weights (and the optimizer's average); the swap after it
        # puts the averaged weights in place for validation and the checkpoints below
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), save_freq="epoch", delete_checkpoint=False),
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []),
        keras.callbacks.ModelCheckpoint(str(run_dir / "last.keras")),
        # on resume, best.keras is replaced only by an epoch better than the best logged so far
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_accuracy",
                                        mode="max", save_best_only=True,
                                        initial_value_threshold=run_summary(run_dir)["best_val_accuracy"]),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True),
        epoch_timer(run_dir / "epoch_seconds.json"),
        keras.callbacks.TerminateOnNaN(),
    ]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1,
                                                           patience=config.plateau_patience,
                                                           min_lr=1e-6, verbose=1))
    elif config.schedule == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(config, epoch)))
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                                       patience=config.early_stopping))
    return callbacks
