"""What a network sees: the training and validation rows prepared as the app will hand faces
to the model (pixel scaling, the equalize rule, the targets), and the tf.data batches made of
them, augmented, with a teacher's soft targets when distilling.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from acting_mirror.prepare import equalize_unlike
from acting_mirror.training.augment import build_augmenter
from acting_mirror.training.data import (
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
from acting_mirror.training.run_config import TrainConfig

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
SHARPNESS_SAMPLE = 4000  # training rows whose median sharpness after augmentation sets a model's target


def to_model_input(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) * np.float32(PIXEL_SCALE) + np.float32(PIXEL_OFFSET))[..., None]


def to_pixels(model_input) -> np.ndarray:
    """The inverse of `to_model_input`: [-1, 1] batches (B, H, W, 1) back to uint8 (B, H, W)."""
    pixels = (np.asarray(model_input, np.float32)[..., 0] - np.float32(PIXEL_OFFSET)) / np.float32(PIXEL_SCALE)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def equalize_rule(images: np.ndarray) -> dict:
    """The equalize rule of faces like `images` (uint8, (N, H, W)): see EQUALIZE_PERCENTILE."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    stds, means = flat.std(axis=1), flat.mean(axis=1)
    low, high = EQUALIZE_PERCENTILE, 100.0 - EQUALIZE_PERCENTILE
    return {"std_below": round(float(np.percentile(stds, low)), 1),
            "mean_below": round(float(np.percentile(means, low)), 1),
            "mean_above": round(float(np.percentile(means, high)), 1)}


def targets_of(data: Dataset, target: str, num_classes: int, label_weight: float = 0.0,
               crowd_only: tuple[str, ...] = (), crowd_weight: float = 0.0) -> np.ndarray:
    """The training target of each row: one-hot labels, or (FER+) the vote distribution, mixed
    with `label_weight` of the row's own label, except on faces whose FER+ majority is one of
    `crowd_only`, which take only `crowd_weight` of it (0: the crowd's distribution alone): where
    FER-2013's single label is least trustworthy (it calls 56% of the faces the crowd calls
    neutral sad, scared or angry)."""
    one_hot = np.eye(num_classes, dtype=np.float32)[data.labels]
    if target != "votes":
        return one_hot
    weight = np.full((len(data), 1), label_weight, np.float32)
    if crowd_only:
        majority = majority_labels(data.votes)
        weight[np.isin(majority, [class_index(name) for name in crowd_only])] = crowd_weight
    return (1.0 - weight) * vote_distribution(data.votes) + weight * one_hot


def make_dataset(data: Dataset, num_classes: int, batch_size: int, augmenter, shuffle: bool, seed: int,
                 soft_targets: np.ndarray | None = None, threads: int = 0, target: str = "label",
                 label_weight: float = 0.0, crowd_only: tuple[str, ...] = (), crowd_weight: float = 0.0):
    """Batches of (input, target). With `soft_targets` (distillation) a target row is the
    one-hot label followed by the teacher's softened probabilities (2 x num_classes)."""
    import tensorflow as tf

    x = to_model_input(data.images)
    y = targets_of(data, target, num_classes, label_weight, crowd_only, crowd_weight)
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


def class_names(excluded: list[str]) -> tuple[list[int], list[str]]:
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
    _, names = class_names(config.exclude)
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
