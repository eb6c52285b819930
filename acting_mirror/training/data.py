"""FER-2013 loaders: the Kaggle CSV (plain or .gz, with or without FER+ votes) and the image-folder tree.

Each returns a :class:`Dataset` per split: uint8 images (N, 48, 48), integer labels in
FER-2013 order and, where the file has them, the FER+ votes of 10 annotators a face.
Bad input raises :class:`DatasetError` naming the line or file, so a user sees what to
fix instead of a traceback.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError

# FER-2013's label order as published (the CSV's `emotion` column), with the
# display names the app shows. This is the dataset's definition; a trained
# model's own label list is written to its metadata and read from there.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_DISPLAY_NAMES = ("angry", "disgust", "scared", "happy", "sad", "surprised", "neutral")
FER_SPLITS = ("Training", "PublicTest", "PrivateTest")
# The held-out slice: 10% of Training, stratified by class, drawn with a fixed seed. The
# rule was fixed before any model was selected on it (issue 15) and must not change, or
# figures measured on it stop being comparable. It depends only on the Training rows'
# labels, in file order, so every loader and every session draws the same rows.
HOLDOUT_SPLIT = "Training-holdout"
TRAIN_REST_SPLIT = "Training-rest"      # Training without the held-out slice
DERIVED_SPLITS = (TRAIN_REST_SPLIT, HOLDOUT_SPLIT)
ALL_SPLITS = FER_SPLITS + DERIVED_SPLITS
HOLDOUT_FRACTION = 0.10
HOLDOUT_SEED = 20261125
IMAGE_SIDE = 48
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# packed faces (`pack`): each face coded as the residual of the LOCO-I median predictor, then LZMA,
# 74% of the raw bytes where gzip keeps 95%: FER-2013 fits where the CSV does not (a GPU machine)
PACK_SUFFIX = ".fer.xz"
PACK_MAGIC = "acting-mirror faces v1"
# FER+ (Barsoum et al. 2016): 10 annotators a face, their votes in these columns
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")
# the FER+ column of each FER class, in FER order (angry, disgust, fear, happy, sad, surprise, neutral)
FERPLUS_COLUMN_OF_CLASS = (4, 5, 6, 1, 3, 2, 0)


class DatasetError(MirrorError, ValueError):
    """Bad training or evaluation data; the message names the line or file."""


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # uint8, (N, 48, 48)
    labels: np.ndarray  # int64, (N,), indices into FER_CLASSES
    source: str
    votes: np.ndarray | None = None  # int32, (N, 10): FER+ votes in FERPLUS_COLUMNS order, where known

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, rows: np.ndarray) -> Dataset:
        """The rows `rows` (a boolean mask or indices), votes included."""
        votes = None if self.votes is None else self.votes[rows]
        return Dataset(self.images[rows], self.labels[rows], self.source, votes)


def emotion_votes(votes: np.ndarray) -> np.ndarray:
    """(N, 10) FER+ votes -> (N, 7) votes for the FER classes, in FER order (contempt, unknown
    and not-a-face left out)."""
    return np.asarray(votes)[:, list(FERPLUS_COLUMN_OF_CLASS)]


def votes_trainable(votes: np.ndarray) -> np.ndarray:
    """True for faces whose top vote is one of the 7 emotions (ties with contempt, unknown or
    not-a-face count): a face most annotators called unknown, not a face, or contempt alone is
    not trained on."""
    emotions = emotion_votes(votes)
    return (emotions.max(axis=1) >= np.asarray(votes)[:, 7:].max(axis=1)) & (emotions.max(axis=1) > 0)


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    """(N, 7) float32: each face's votes over the 7 emotions, summing to 1 (zeros where it has none)."""
    emotions = emotion_votes(votes).astype(np.float32)
    totals = emotions.sum(axis=1, keepdims=True)
    return np.divide(emotions, totals, out=np.zeros_like(emotions), where=totals > 0)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """The FER+ majority in FER order, or -1 where there is none: a face has a majority when one
    of the 7 emotions has more votes than every other column (contempt, unknown and not-a-face
    included)."""
    votes = np.asarray(votes)
    emotions = emotion_votes(votes)
    top = emotions.max(axis=1)
    single = (emotions == top[:, None]).sum(axis=1) == 1
    clear = single & (top > votes[:, 7:].max(axis=1))
    return np.where(clear, emotions.argmax(axis=1), -1).astype(np.int64)


def class_index(name: str) -> int:
    """Index of a class given by its FER name or display name (case-insensitive)."""
    key = name.strip().lower()
    for names in (FER_CLASSES, FER_DISPLAY_NAMES):
        if key in names:
            return names.index(key)
    raise DatasetError(
        f"unknown emotion {name!r}; expected one of {', '.join(FER_CLASSES)} "
        f"(or {', '.join(FER_DISPLAY_NAMES)})"
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return open(path, newline="")


def _check_split(split: str, where: str) -> str:
    if split not in FER_SPLITS:
        raise DatasetError(f"{where}: unknown split {split!r}; expected one of {', '.join(FER_SPLITS)}")
    return split


def load_fer_csv(path: str | Path, splits: tuple[str, ...] | None = None) -> dict[str, Dataset]:
    """Read a FER-2013 CSV (`emotion,pixels,Usage`) into one Dataset per split.

    `splits` limits what is kept (rows of other splits are still validated).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    for split in splits or ():
        _check_split(split, str(path))
    pixel_count = IMAGE_SIDE * IMAGE_SIDE
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    votes: dict[str, list[list[int]]] = {}
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{path}: empty file")
            columns = [c.strip() for c in header]
            missing = {"emotion", "pixels", "Usage"} - set(columns)
            if missing:
                raise DatasetError(
                    f"{path}:1: header {','.join(columns)!r} lacks {', '.join(sorted(missing))}; "
                    "expected the Kaggle FER-2013 columns emotion,pixels,Usage"
                )
            i_label, i_pixels, i_usage = (columns.index(c) for c in ("emotion", "pixels", "Usage"))
            present = [c for c in FERPLUS_COLUMNS if c in columns]
            if present and len(present) != len(FERPLUS_COLUMNS):
                missing_votes = ", ".join(c for c in FERPLUS_COLUMNS if c not in columns)
                raise DatasetError(f"{path}:1: FER+ vote columns incomplete: {missing_votes} missing")
            i_votes = [columns.index(c) for c in present]
            for line_number, row in enumerate(reader, start=2):
                if not row:
                    continue
                where = f"{path}:{line_number}"
                if len(row) != len(columns):
                    raise DatasetError(f"{where}: expected {len(columns)} fields, found {len(row)}")
                split = _check_split(row[i_usage].strip(), where)
                try:
                    label = int(row[i_label])
                except ValueError:
                    raise DatasetError(f"{where}: emotion {row[i_label]!r} is not an integer") from None
                if not 0 <= label < len(FER_CLASSES):
                    raise DatasetError(f"{where}: emotion {label} out of range 0..{len(FER_CLASSES) - 1}")
                fields = row[i_pixels].split()
                if len(fields) != pixel_count:
                    raise DatasetError(f"{where}: expected {pixel_count} pixels, found {len(fields)}")
                try:
                    values = np.array(fields, dtype=np.int32)
                except ValueError:
                    raise DatasetError(f"{where}: pixels must be integers 0..255") from None
                if values.min() < 0 or values.max() > 255:
                    raise DatasetError(f"{where}: pixel values must be in 0..255")
                counts = None
                if i_votes:
                    try:
                        counts = [int(row[i]) for i in i_votes]
                    except ValueError:
                        raise DatasetError(f"{where}: FER+ votes must be integers") from None
                    if min(counts) < 0:
                        raise DatasetError(f"{where}: FER+ votes must not be negative")
                if splits is not None and split not in splits:
                    continue
                images.setdefault(split, []).append(values.astype(np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE))
                labels.setdefault(split, []).append(label)
                if counts is not None:
                    votes.setdefault(split, []).append(counts)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as error:
        raise DatasetError(f"{path}: cannot read as a FER-2013 CSV ({error})") from None
    return _finish(images, labels, str(path), splits, votes)


def load_image_folder(root: str | Path, splits: tuple[str, ...] | None = None) -> dict[str, Dataset]:
    """Read `<root>/<split>/<class>/*.png|jpg` (class folders use FER or display names)."""
    import cv2  # only this loader needs it

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    split_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    for split_dir in split_dirs:
        split = _check_split(split_dir.name, str(split_dir))
        if splits is not None and split not in splits:
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            try:
                label = class_index(class_dir.name)
            except DatasetError as error:
                raise DatasetError(f"{class_dir}: {error}") from None
            for file in sorted(class_dir.iterdir()):
                if file.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if image is None:
                    raise DatasetError(f"{file}: not a readable image")
                if image.shape != (IMAGE_SIDE, IMAGE_SIDE):
                    image = cv2.resize(image, (IMAGE_SIDE, IMAGE_SIDE), interpolation=cv2.INTER_AREA)
                images.setdefault(split, []).append(image)
                labels.setdefault(split, []).append(label)
    return _finish(images, labels, str(root), splits)


def _median_prediction(left: np.ndarray, up: np.ndarray, up_left: np.ndarray) -> np.ndarray:
    """LOCO-I's median edge detector (JPEG-LS): min(left, up) or max(left, up) at an edge,
    left + up - up_left elsewhere."""
    low, high = np.minimum(left, up), np.maximum(left, up)
    return np.where(up_left >= high, low, np.where(up_left <= low, high, left + up - up_left))


def pack(datasets: dict[str, Dataset], path: str | Path) -> int:
    """Write the splits' faces and labels to one `.fer.xz` file; returns its size in bytes."""
    header = {"magic": PACK_MAGIC, "splits": {}}
    chunks = []
    for split, data in datasets.items():
        faces = data.images.astype(np.int16)
        padded = np.pad(faces, ((0, 0), (1, 0), (1, 0)))
        prediction = _median_prediction(padded[:, 1:, :-1], padded[:, :-1, 1:], padded[:, :-1, :-1])
        chunks += [(faces - prediction).astype(np.uint8).tobytes(), data.labels.astype(np.uint8).tobytes()]
        header["splits"][split] = {"count": len(data), "shape": list(data.images.shape[1:])}
    body = lzma.compress(b"".join(chunks), preset=9 | lzma.PRESET_EXTREME)
    text = json.dumps(header).encode()
    Path(path).write_bytes(len(text).to_bytes(4, "little") + text + body)
    return Path(path).stat().st_size


def load_packed(path: str | Path, splits: tuple[str, ...] | None = None) -> dict[str, Dataset]:
    """The splits of a `.fer.xz` file (`splits`: those only), as `load_fer_csv` returns them."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        size = int.from_bytes(raw[:4], "little")
        header = json.loads(raw[4:4 + size])
        body = np.frombuffer(lzma.decompress(raw[4 + size:]), np.uint8)
    except (OSError, ValueError, lzma.LZMAError) as error:
        raise DatasetError(f"{path}: cannot read as packed faces ({error})") from None
    if not isinstance(header, dict) or header.get("magic") != PACK_MAGIC:
        raise DatasetError(f"{path}: not a packed faces file")
    for split in splits or ():
        if split not in header["splits"]:
            raise DatasetError(f"{path}: split {split!r} has no images")
    out, start = {}, 0
    for split, info in header["splits"].items():
        count, (height, width) = info["count"], info["shape"]
        if len(body) < start + count * (height * width + 1):
            raise DatasetError(f"{path}: split {split!r} is cut short ({count} faces announced)")
        residual = body[start:start + count * height * width].reshape(count, height, width)
        start += count * height * width
        labels = body[start:start + count].astype(np.int64)
        start += count
        # decode row by row: each pixel's prediction needs its decoded left and upper neighbours
        faces = np.zeros((count, height + 1, width + 1), np.int16)
        for y in range(1, height + 1):
            for x in range(1, width + 1):
                prediction = _median_prediction(faces[:, y, x - 1], faces[:, y - 1, x], faces[:, y - 1, x - 1])
                faces[:, y, x] = (prediction + residual[:, y - 1, x - 1]) & 0xFF
        if splits is None or split in splits:
            out[split] = Dataset(faces[:, 1:, 1:].astype(np.uint8), labels, str(path))
    return out


def holdout_mask(labels: np.ndarray) -> np.ndarray:
    """True for the rows of Training that form the held-out slice (see HOLDOUT_FRACTION):
    in each class, round(10%) of its rows, picked by a permutation with HOLDOUT_SEED."""
    rng = np.random.default_rng(HOLDOUT_SEED)
    mask = np.zeros(len(labels), dtype=bool)
    for label in range(len(FER_CLASSES)):
        rows = np.flatnonzero(labels == label)
        count = int(round(HOLDOUT_FRACTION * len(rows)))
        mask[rng.permutation(rows)[:count]] = True
    return mask


def split_holdout(training: Dataset) -> dict[str, Dataset]:
    """Training -> {Training-rest, Training-holdout}, by the fixed rule of holdout_mask."""
    mask = holdout_mask(training.labels)
    return {TRAIN_REST_SPLIT: training.subset(~mask), HOLDOUT_SPLIT: training.subset(mask)}


def load_dataset(path: str | Path, splits: tuple[str, ...] | None = None) -> dict[str, Dataset]:
    """Load a CSV file, an image-folder tree or a packed `.fer.xz` file, whichever `path` is. `splits` may name
    the derived splits Training-rest and Training-holdout (cut from Training)."""
    path = Path(path)
    for split in splits or ():
        if split not in ALL_SPLITS:
            raise DatasetError(f"{path}: unknown split {split!r}; expected one of {', '.join(ALL_SPLITS)}")
    base = None if splits is None else tuple(dict.fromkeys(
        "Training" if split in DERIVED_SPLITS else split for split in splits))
    if path.is_dir():
        loaded = load_image_folder(path, base)
    elif path.name.endswith(PACK_SUFFIX):
        loaded = load_packed(path, base)
    else:
        loaded = load_fer_csv(path, base)
    if splits is None or not set(splits) & set(DERIVED_SPLITS):
        return loaded
    derived = split_holdout(loaded["Training"])
    return {split: derived[split] if split in derived else loaded[split] for split in splits}


def load_split(path: str | Path, split: str) -> Dataset:
    datasets = load_dataset(path, (split,))
    return datasets[split]


def _finish(images, labels, source: str, splits, votes=None) -> dict[str, Dataset]:
    if not labels:
        raise DatasetError(f"{source}: no images found")
    for split in splits or ():
        if split not in labels:
            raise DatasetError(f"{source}: split {split!r} has no images")
    votes = votes or {}
    return {
        split: Dataset(np.stack(images[split]), np.asarray(labels[split], dtype=np.int64), source,
                       np.asarray(votes[split], dtype=np.int32) if split in votes else None)
        for split in labels
    }


def remap_excluding(dataset: Dataset, excluded: tuple[int, ...]) -> tuple[Dataset, list[int]]:
    """Drop excluded FER classes; return the dataset with labels renumbered 0..k-1
    and the list of kept FER class indices (new label i is FER class kept[i])."""
    kept = [i for i in range(len(FER_CLASSES)) if i not in excluded]
    lookup = np.full(len(FER_CLASSES), -1, dtype=np.int64)
    lookup[kept] = np.arange(len(kept))
    mask = np.isin(dataset.labels, kept)
    kept_rows = dataset.subset(mask)
    return Dataset(kept_rows.images, lookup[kept_rows.labels], dataset.source, kept_rows.votes), kept
