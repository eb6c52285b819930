"""Training: FER-2013 (with or without FER+ votes) -> a Keras model plus its metadata, resumable epoch by epoch.

What a network learns from (`TrainConfig.target`): FER-2013's single label ("label"), the
FER+ majority of 10 annotators ("majority", one-hot) or their whole vote distribution
("votes", cross-entropy against it: Barsoum et al. 2016's "probability" mode).

A run lives in a run directory (config.json, log.csv, last.keras, best.keras and
Keras's BackupAndRestore state), kept outside the repository. `--resume` picks
the run up after its last finished epoch with the same configuration.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from acting_mirror.metadata import ModelMetadata
from acting_mirror.prepare import equalize_unlike
from acting_mirror.training.augment import AUGMENTATIONS, build_augmenter
from acting_mirror.training.data import (
    ALL_SPLITS,
    FER_CLASSES,
    FER_DISPLAY_NAMES,
    Dataset,
    DatasetError,
    class_index,
    load_dataset,
    majority_labels,
    remap_excluding,
    vote_distribution,
    votes_trainable,
)

# focal: cross-entropy weighted by (1 - p_true)^gamma, so faces the network already reads well
# count less and hard ones (restrained anger, scared vs sad) more (Lin et al. 2017)
LOSSES = ("categorical_crossentropy", "focal", "mean_squared_error", "squared_hinge")
# Training input is pixel / 127.5 - 1, i.e. [-1, 1] (as Arriaga et al.); stored in metadata.
PIXEL_SCALE = 1.0 / 127.5
PIXEL_OFFSET = -1.0
# A crop whose contrast (std of its grey levels) is below the 0.5th percentile of the training
# faces', or whose brightness (their mean) lies outside the 0.5th-99.5th percentiles, is equalized
# before the model sees it, in training and in the app (`ModelMetadata.equalize`, written into
# every model's metadata). Derived from each run's training faces (`equalize_rule`); on canonical
# FER-2013 Training: std below 22.7, mean outside 45.7-209.3 (on the contrast-stretched first
# copy it was std 70, mean 105-170, which would equalize most canonical faces).
EQUALIZE_PERCENTILE = 0.5
# the rule of the models trained on the stretched copy (kept for their runs' --resume)
EQUALIZE_UNLIKE_FER = {"std_below": 70.0, "mean_below": 105.0, "mean_above": 170.0}
TARGETS = ("label", "majority", "votes")
SHARPNESS_SAMPLE = 4000  # training rows whose median sharpness after augmentation sets a model's target


@dataclass
class TrainConfig:
    data: str
    run_dir: str
    architecture: str = "mirror_net"
    width: float = 1.0
    loss: str = "categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 100
    schedule: str = "cosine"          # cosine | plateau | constant
    warmup_epochs: int = 2
    augment: list = field(default_factory=lambda: ["geometric"])
    label_smoothing: float = 0.0
    focal_gamma: float = 2.0          # focal loss only: 0 is plain cross-entropy
    exclude: list = field(default_factory=list)  # FER class names left out
    early_stopping: int = 0           # patience in epochs, 0 = off
    plateau_patience: int = 5
    seed: int = 1
    train_split: str = "Training"
    val_split: str = "PublicTest"
    threads: int = 0                  # 0 = TensorFlow's default
    init_from: str = ""               # a .keras model of the same architecture to start from
    ema: float = 0.0                  # momentum of the weights' moving average (0 = off)
    teacher: str = ""                 # distillation: the teacher model (metadata JSON) run as the app runs it
    temperature: float = 3.0          # distillation: softening of teacher and student probabilities
    alpha: float = 0.3                # distillation: weight of the true labels (1 - alpha: the teacher's)
    teacher_copies: int = 0           # distillation: 0 = the teacher labels the clean rows; K = K augmented
                                      # copies of each row, each labelled as it is (consistent teaching)
    target: str = "label"             # label | majority | votes (FER+; see the module docstring)
    label_weight: float = 0.0         # votes only: this share of each target is FER-2013's own label
    crowd_only: list = field(default_factory=list)  # votes only: faces whose FER+ majority is one of
                                      # these classes keep the crowd's distribution, label weight 0
    equalize: dict | None = None      # the equalize rule; None = derived from the training faces

    def validate(self) -> None:
        from acting_mirror.training.architectures import ARCHITECTURES

        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose from {', '.join(ARCHITECTURES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.schedule not in ("cosine", "plateau", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; choose cosine, plateau or constant")
        if self.optimizer not in ("adam", "sgd", "adamw"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose adam, adamw or sgd")
        for name in self.augment:
            if name not in AUGMENTATIONS:
                raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
        if {"geometric", "warp"} <= set(self.augment):
            raise ValueError("choose geometric or warp, not both: they are the same changes, resampled differently")
        for name in self.exclude:
            class_index(name)
        for split in (self.train_split, self.val_split):
            if split not in ALL_SPLITS:
                raise ValueError(f"unknown split {split!r}; choose from {', '.join(ALL_SPLITS)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        if self.target != "label" and (self.exclude or self.teacher):
            raise ValueError(f"target {self.target} keeps all 7 emotions and takes no teacher: "
                             "--exclude and distillation train on single labels")
        if not 0.0 <= self.label_weight <= 1.0 or (self.label_weight and self.target != "votes"):
            raise ValueError("label weight must be in [0, 1], and is for target votes only")
        if self.crowd_only and not self.label_weight:
            raise ValueError("--crowd-only names the faces a label weight leaves alone: give --label-weight too")
        for name in self.crowd_only:
            class_index(name)
        if self.focal_gamma < 0:
            raise ValueError(f"focal gamma {self.focal_gamma} must be 0 or more")
        if self.temperature <= 0 or not 0.0 <= self.alpha <= 1.0:
            raise ValueError("temperature must be positive and alpha in [0, 1]")
        if self.teacher_copies < 0 or (self.teacher_copies and not self.teacher):
            raise ValueError("teacher copies must be 0 or more, and need a teacher")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema momentum {self.ema} must be in [0, 1)")
        if self.width <= 0 or self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("width, epochs, batch size and learning rate must be positive")


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


def to_model_input(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) * np.float32(PIXEL_SCALE) + np.float32(PIXEL_OFFSET))[..., None]


def equalize_rule(images: np.ndarray) -> dict:
    """The equalize rule of faces like `images` (uint8, (N, H, W)): see EQUALIZE_PERCENTILE."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    stds, means = flat.std(axis=1), flat.mean(axis=1)
    low, high = EQUALIZE_PERCENTILE, 100.0 - EQUALIZE_PERCENTILE
    return {"std_below": round(float(np.percentile(stds, low)), 1),
            "mean_below": round(float(np.percentile(means, low)), 1),
            "mean_above": round(float(np.percentile(means, high)), 1)}


def targets_of(data: Dataset, target: str, num_classes: int, label_weight: float = 0.0,
               crowd_only: tuple[str, ...] = ()) -> np.ndarray:
    """The training target of each row: one-hot labels, or (FER+) the vote distribution, mixed
    with `label_weight` of the row's own label, except on faces whose FER+ majority is one of
    `crowd_only`, which keep the crowd's distribution alone: where FER-2013's single label is
    least trustworthy (it calls 56% of the faces the crowd calls neutral sad, scared or angry)."""
    one_hot = np.eye(num_classes, dtype=np.float32)[data.labels]
    if target != "votes":
        return one_hot
    weight = np.full((len(data), 1), label_weight, np.float32)
    if crowd_only:
        majority = majority_labels(data.votes)
        weight[np.isin(majority, [class_index(name) for name in crowd_only])] = 0.0
    return (1.0 - weight) * vote_distribution(data.votes) + weight * one_hot


def make_dataset(data: Dataset, num_classes: int, batch_size: int, augmenter, shuffle: bool, seed: int,
                 soft_targets: np.ndarray | None = None, threads: int = 0, target: str = "label",
                 label_weight: float = 0.0, crowd_only: tuple[str, ...] = ()):
    """Batches of (input, target). With `soft_targets` (distillation) a target row is the
    one-hot label followed by the teacher's softened probabilities (2 x num_classes)."""
    import tensorflow as tf

    x = to_model_input(data.images)
    y = targets_of(data, target, num_classes, label_weight, crowd_only)
    if soft_targets is not None:
        y = np.concatenate([y, soft_targets.astype(np.float32)], axis=1)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        ds = ds.with_options(options)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augmenter is not None:
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b), num_parallel_calls=1)
    return ds.prefetch(2)


def to_pixels(model_input) -> np.ndarray:
    """The inverse of `to_model_input`: [-1, 1] batches (B, H, W, 1) back to uint8 (B, H, W)."""
    pixels = (np.asarray(model_input, np.float32)[..., 0] - np.float32(PIXEL_OFFSET)) / np.float32(PIXEL_SCALE)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def pixel_augmenter(augmenter, equalize: dict | None):
    """A uint8 batch -> the augmented batch as the app would hand it to the model: the
    augmentations (camera conditions), then the equalize rule the app applies to odd crops."""
    def augment(images: np.ndarray) -> np.ndarray:
        out = images if augmenter is None else to_pixels(augmenter(to_model_input(images), training=True))
        return equalize_unlike(out, equalize) if equalize else out

    return augment


def training_sharpness(images: np.ndarray, augment: list[str], seed: int = 0) -> float:
    """The sharpness rule a model trained with `augment` gets (`ModelMetadata.sharpness`): the
    median sharpness (`acting_mirror.prepare.sharpness`) of a seeded sample of its training faces
    after the geometric augmentations ("geometric" or "warp"), which resample every face; 0 (no
    rule) without them.
    Only the geometric ones count: erasing's noise patches and the far faces are not the
    sharpness of a face the network learnt from. For FER-2013's Training rows: 0.49 with
    "geometric", 0.94 with "warp" (a row as it is: 1.07)."""
    from acting_mirror.prepare import sharpness

    geometric = [kind for kind in augment if kind in ("geometric", "warp")]
    if not geometric or len(images) == 0:
        return 0.0
    rows = np.random.default_rng(seed).choice(len(images), min(SHARPNESS_SAMPLE, len(images)), replace=False)
    augmenter = build_augmenter(geometric, seed)
    faces = np.concatenate([to_pixels(augmenter(to_model_input(images[np.sort(rows)[start:start + 500]]),
                                                training=True))
                            for start in range(0, len(rows), 500)])
    return round(float(np.median(sharpness(faces))), 3)


def make_bank_dataset(images: np.ndarray, soft_targets: np.ndarray, labels: np.ndarray, num_classes: int,
                      batch_size: int, seed: int, first_epoch: int = 0):
    """Batches of (input, one-hot label + soft target) from a bank of augmented copies
    ((N, K, H, W) images, (N, K, classes) targets): every epoch visits each row once, in a
    new order, as one of its K copies drawn at random, with that copy's own target. The
    draws are seeded by (seed, first_epoch), so a resumed run goes on with new ones."""
    import tensorflow as tf

    count, copies = images.shape[:2]
    one_hot = np.eye(num_classes, dtype=np.float32)[labels]
    draw = np.random.default_rng([seed, first_epoch])

    def gather(rows: np.ndarray):
        chosen = draw.integers(copies, size=len(rows))
        targets = np.concatenate([one_hot[rows], soft_targets[rows, chosen].astype(np.float32)], axis=1)
        return to_model_input(images[rows, chosen]), targets

    def batch(rows):
        x, y = tf.numpy_function(gather, [rows], (tf.float32, tf.float32), stateful=True)
        x.set_shape((None, *images.shape[2:], 1))
        y.set_shape((None, 2 * num_classes))
        return x, y

    rows = tf.data.Dataset.range(count).shuffle(count, seed=seed + 7919 * first_epoch, reshuffle_each_iteration=True)
    # one call at a time keeps the draws in order, so the same seed gives the same batches
    return rows.batch(batch_size).map(batch, num_parallel_calls=1).prefetch(2)


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """Linear warm-up then cosine decay to 1% (a pure function of the epoch: resume-safe)."""
    if config.schedule != "cosine":
        return config.learning_rate
    if epoch < config.warmup_epochs:
        return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
    return config.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a temperature: softmax(log p / T), i.e. p^(1/T) renormalised."""
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return (soft / soft.sum(axis=1, keepdims=True)).astype(np.float32)


def distillation_loss(num_classes: int, temperature: float, alpha: float, label_smoothing: float = 0.0):
    """alpha x cross-entropy with the true labels + (1 - alpha) x T^2 x cross-entropy between
    the teacher's and the student's probabilities, both softened at temperature T (Hinton
    et al. 2015; T^2 keeps the soft term's gradients on the scale of the hard one's).
    The student ends in softmax, so log p is its logits up to a constant and
    log_softmax(log p / T) is exactly its softened log-probabilities."""
    from keras import ops

    def distillation(y_true, y_pred):
        hard, soft = y_true[:, :num_classes], y_true[:, num_classes:]
        if label_smoothing:
            hard = hard * (1.0 - label_smoothing) + label_smoothing / num_classes
        log_p = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        hard_term = -ops.sum(hard * log_p, axis=-1)
        soft_term = -ops.sum(soft * ops.log_softmax(log_p / temperature, axis=-1), axis=-1)
        return alpha * hard_term + (1.0 - alpha) * temperature ** 2 * soft_term

    return distillation


def label_accuracy(num_classes: int):
    """Accuracy against the one-hot labels at the front of a distillation target."""
    from keras import ops

    def accuracy(y_true, y_pred):
        return ops.cast(ops.argmax(y_true[:, :num_classes], axis=-1) == ops.argmax(y_pred, axis=-1), "float32")

    return accuracy


def loss_for(config: TrainConfig, num_classes: int):
    import keras

    if config.teacher:
        return distillation_loss(num_classes, config.temperature, config.alpha, config.label_smoothing)
    if config.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    if config.loss == "focal":
        # alpha 1: no class weighting (measured not to help the weak classes, see docs/experiments/models.md),
        # so gamma 0 is exactly cross-entropy
        return keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=config.focal_gamma,
                                                         label_smoothing=config.label_smoothing)
    return config.loss


def optimizer_for(config: TrainConfig):
    import keras

    # Polyak averaging of the weights: validation and checkpoints see the average
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True, **ema)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay or 1e-4, **ema)
    return keras.optimizers.Adam(config.learning_rate, **ema)


def _start_weights(model, init_from: Path) -> None:
    """Fine-tuning: copy the weights of an earlier model of the same shape."""
    import keras

    source = keras.models.load_model(init_from, compile=False)
    try:
        model.set_weights(source.get_weights())
    except ValueError as error:
        raise ValueError(f"--init-from {init_from}: its layers do not match this architecture and width "
                         f"({error})") from None


def _class_names(excluded: list[str]) -> tuple[list[int], list[str]]:
    excluded_ids = {class_index(name) for name in excluded}
    kept = [i for i in range(len(FER_CLASSES)) if i not in excluded_ids]
    return kept, [FER_DISPLAY_NAMES[i] for i in kept]


def to_vote_target(data: Dataset, target: str, split: str, validation: bool) -> Dataset:
    """FER+ rows for `target`: the faces trained on (see votes_trainable; "majority" and
    validation: only faces with a majority). Validation rows and "majority" rows are labelled
    with their majority (what the accuracy metric then reads); "votes" rows keep FER-2013's
    own label (mixed into the target with `label_weight`)."""
    if data.votes is None:
        raise DatasetError(f"{data.source}: split {split} has no FER+ vote columns; target {target} needs them")
    majority = majority_labels(data.votes)
    if validation or target == "majority":
        kept = data.subset(majority >= 0)
        return replace(kept, labels=majority[majority >= 0].astype(np.int64))
    return data.subset(votes_trainable(data.votes))


def prepare_splits(config: TrainConfig) -> tuple[Dataset, Dataset, list[str], dict]:
    """The training and validation rows as the network sees them, their class names and the
    equalize rule applied to them (the config's, or derived from the training rows)."""
    splits = load_dataset(config.data, (config.train_split, config.val_split))
    train, val = splits[config.train_split], splits[config.val_split]
    _, names = _class_names(config.exclude)
    if config.exclude:
        excluded = tuple(class_index(name) for name in config.exclude)
        train, _ = remap_excluding(train, excluded)
        val, _ = remap_excluding(val, excluded)
    if config.target != "label":
        train = to_vote_target(train, config.target, config.train_split, validation=False)
        val = to_vote_target(val, config.target, config.val_split, validation=True)
    if len(train) == 0 or len(val) == 0:
        raise DatasetError(f"{config.data}: nothing left to train or validate on")
    # the app equalizes crops unlike the training faces (the model's metadata says so): train on the same
    rule = config.equalize if config.equalize is not None else equalize_rule(train.images)
    train, val = (replace(data, images=equalize_unlike(data.images, rule)) for data in (train, val))
    return train, val, names, rule


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
    _add_training_time(run_dir, time.time() - started)
    (run_dir / "labels.json").write_text(json.dumps(data.labels) + "\n")
    return run_dir


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
                                tuple(config.crowd_only))
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


def _add_training_time(run_dir: Path, seconds: float) -> None:
    """timing.json: the seconds of every start of the run, added up."""
    timing_path = run_dir / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {"seconds": 0.0, "sessions": 0}
    timing["seconds"] += seconds
    timing["sessions"] += 1
    timing_path.write_text(json.dumps(timing) + "\n")


def write_config(config: TrainConfig, run_dir: Path) -> None:
    """The run's configuration as it runs (config.json): what --resume and package_model read."""
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")


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
    _, labels = _class_names(config.exclude)
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
