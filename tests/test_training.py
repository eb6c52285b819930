"""Training tooling end to end on a tiny FER-2013-shaped data set built from a real face:
loaders, `acting-mirror-model train` (and --resume), evaluate, export and info."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest

from acting_mirror.metadata import ModelMetadata
from acting_mirror.model import load_classifier
from acting_mirror.prepare import equalize_unlike
from acting_mirror.training.augment import AUGMENTATIONS
from acting_mirror.training.cli import main
from acting_mirror.training.data import (
    FER_CLASSES,
    FER_DISPLAY_NAMES,
    FERPLUS_COLUMN_OF_CLASS,
    FERPLUS_COLUMNS,
    HOLDOUT_SPLIT,
    TRAIN_REST_SPLIT,
    DatasetError,
    holdout_mask,
    load_dataset,
    load_fer_csv,
    load_image_folder,
    load_split,
    majority_labels,
    vote_distribution,
    votes_trainable,
)
from acting_mirror.training.export import face_crops
from acting_mirror.training.inputs import equalize_rule, prepare_splits, targets_of
from acting_mirror.training.run_config import TrainConfig
from acting_mirror.views import DEFAULT_VIEWS, View

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

PER_CLASS = {"Training": 6, "PublicTest": 3, "PrivateTest": 3}
# small, fast and single-threaded: the machine is shared with real training runs
TINY = ["--arch", "mini_xception", "--width", "0.25", "--batch-size", "16", "--no-augment",
        "--threads", "1", "--quiet"]


def make_rows() -> list[tuple[int, np.ndarray, str]]:
    """(FER label, 48x48 uint8 face crop, split) for every class in every split."""
    rows = []
    for split_number, (split, count) in enumerate(PER_CLASS.items()):
        for label in range(len(FER_CLASSES)):
            crops = face_crops(count, seed=100 * split_number + label)
            rows += [(label, crop, split) for crop in crops]
    return rows


def write_csv(path, rows, header=("emotion", "pixels", "Usage")) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            label, pixels, split = row
            writer.writerow([label, pixels if isinstance(pixels, str) else " ".join(map(str, pixels.ravel())), split])


def by_content(pair: tuple[int, np.ndarray]) -> tuple[int, bytes]:
    return int(pair[0]), pair[1].tobytes()


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("acting-mirror-model: error: ")
    for fragment in fragments:
        assert fragment in last, last


@pytest.fixture(scope="module")
def rows():
    return make_rows()


@pytest.fixture(scope="module")
def fer_csv(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "fer_tiny.csv"
    write_csv(path, rows)
    return path


@pytest.fixture(scope="module")
def trained(fer_csv, tmp_path_factory):
    """A 7-class model trained for one epoch through the CLI, packaged with --output."""
    root = tmp_path_factory.mktemp("trained")
    model = root / "models" / "tiny.keras"
    assert main(["train", "--data", str(fer_csv), "--run-dir", str(root / "run"), "--epochs", "1",
                 "--output", str(model), *TINY]) == 0
    return root / "run", model.with_suffix(".json")


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """A copy of the trained model with its float32 and quantised TFLite files."""
    folder = tmp_path_factory.mktemp("exported")
    for file in trained[1].parent.iterdir():
        shutil.copy(file, folder / file.name)
    assert main(["export", "--model", str(folder / "tiny.keras"), "--quantize", "--samples", "16",
                 "--threads", "1"]) == 0
    return folder / "tiny.json"


@pytest.mark.parametrize("command", ["train", "distill", "evaluate", "robustness", "export", "ensemble", "info"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: acting-mirror-model {command}" in capsys.readouterr().out


# --- loaders --------------------------------------------------------------------------------------


def test_csv_gzip_and_image_folder_load_the_same_images(rows, fer_csv, tmp_path):
    gz = tmp_path / "fer_tiny.csv.gz"
    write_csv(gz, rows)
    tree = tmp_path / "tree"
    for number, (label, image, split) in enumerate(rows):
        # class folders may use FER names or display names
        names = FER_CLASSES if number % 2 else FER_DISPLAY_NAMES
        folder = tree / split / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{number:04d}.png"), image)
    from_csv, from_gz, from_tree = load_fer_csv(fer_csv), load_dataset(gz), load_dataset(tree)
    for split, count in PER_CLASS.items():
        expected = [(label, image) for label, image, s in rows if s == split]
        for loaded in (from_csv, from_gz):
            assert len(loaded[split]) == count * len(FER_CLASSES)
            assert loaded[split].images.dtype == np.uint8 and loaded[split].images.shape[1:] == (48, 48)
            np.testing.assert_array_equal(loaded[split].labels, [label for label, _ in expected])
            np.testing.assert_array_equal(loaded[split].images, np.stack([image for _, image in expected]))
        # the tree is read class folder by class folder: compare as sorted (label, image) pairs
        tree_pairs = sorted(zip(from_tree[split].labels, from_tree[split].images, strict=True), key=by_content)
        for (label_a, image_a), (label_b, image_b) in zip(tree_pairs, sorted(expected, key=by_content),
                                                          strict=True):
            assert label_a == label_b
            np.testing.assert_array_equal(image_a, image_b)
    assert set(load_fer_csv(gz, ("PrivateTest",))) == {"PrivateTest"}


def test_image_folder_resizes_other_sizes(tmp_path):
    folder = tmp_path / "PrivateTest" / "happy"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "big.jpg"), cv2.resize(face_crops(1)[0], (96, 96)))
    data = load_image_folder(tmp_path)["PrivateTest"]
    assert data.images.shape == (1, 48, 48) and data.labels.tolist() == [FER_CLASSES.index("happy")]


@pytest.mark.parametrize("bad_row, message", [
    ((3, "1 2 3", "Training"), ":3: expected 2304 pixels, found 3"),
    ((3, " ".join(["7"] * 2303 + ["x"]), "Training"), ":3: pixels must be integers"),
    ((3, " ".join(["256"] * 2304), "Training"), ":3: pixel values must be in 0..255"),
    ((7, " ".join(["1"] * 2304), "Training"), ":3: emotion 7 out of range 0..6"),
    (("happy", " ".join(["1"] * 2304), "Training"), ":3: emotion 'happy' is not an integer"),
    ((3, " ".join(["1"] * 2304), "Validation"), ":3: unknown split 'Validation'"),
])
def test_csv_errors_name_the_line(tmp_path, bad_row, message):
    path = tmp_path / "bad.csv"
    write_csv(path, [(0, face_crops(1)[0], "Training"), bad_row])
    with pytest.raises(DatasetError) as error:
        load_fer_csv(path)
    assert f"{path}{message}" in str(error.value)


def test_csv_errors_for_files(tmp_path):
    cases = []
    missing = tmp_path / "missing.csv"
    cases.append((missing, "no such file"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases.append((empty, "empty file"))
    header_only = tmp_path / "header_only.csv"
    write_csv(header_only, [])
    cases.append((header_only, "no images found"))
    wrong_header = tmp_path / "wrong_header.csv"
    write_csv(wrong_header, [], header=("label", "pixels", "Usage"))
    cases.append((wrong_header, "lacks emotion"))
    not_gzip = tmp_path / "not_gzip.csv.gz"
    not_gzip.write_bytes(b"emotion,pixels,Usage\n")
    cases.append((not_gzip, "cannot read as a FER-2013 CSV"))
    for path, message in cases:
        with pytest.raises(DatasetError, match=message) as error:
            load_fer_csv(path)
        assert str(path) in str(error.value)
    only_training = tmp_path / "only_training.csv"
    write_csv(only_training, [(0, face_crops(1)[0], "Training")])
    with pytest.raises(DatasetError, match="split 'PrivateTest' has no images|no images found"):
        load_split(only_training, "PrivateTest")
    with pytest.raises(DatasetError, match="unknown split 'Test'"):
        load_fer_csv(only_training, ("Test",))


def test_image_folder_errors_name_the_folder_or_file(tmp_path):
    unknown_class = tmp_path / "a" / "Training" / "bored"
    unknown_class.mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown emotion 'bored'") as error:
        load_image_folder(tmp_path / "a")
    assert str(unknown_class) in str(error.value)

    broken = tmp_path / "b" / "Training" / "sad" / "broken.png"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DatasetError, match="not a readable image") as error:
        load_image_folder(tmp_path / "b")
    assert str(broken) in str(error.value)

    unknown_split = tmp_path / "c" / "Validation" / "sad"
    unknown_split.mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown split 'Validation'"):
        load_image_folder(tmp_path / "c")

    (tmp_path / "d" / "Training" / "sad").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found"):
        load_image_folder(tmp_path / "d")
    with pytest.raises(DatasetError, match="no such folder"):
        load_image_folder(tmp_path / "missing")


# --- train ----------------------------------------------------------------------------------------


def test_train_writes_run_and_output_model(trained):
    import keras

    run_dir, json_path = trained
    for name in ("config.json", "log.csv", "last.keras", "best.keras", "timing.json", "labels.json"):
        assert (run_dir / name).is_file(), name
    with open(run_dir / "log.csv", newline="") as log:
        assert [int(row["epoch"]) for row in csv.DictReader(log)] == [0]
    metadata = ModelMetadata.load(json_path)
    model = keras.models.load_model(json_path.with_suffix(".keras"), compile=False)
    assert metadata.name == "tiny"
    # trained without the resampling augmentations: its faces were as sharp as the rows, no rule
    assert json.loads((run_dir / "sharpness.json").read_text()) == {"sharpness": 0.0} and metadata.sharpness == 0
    assert metadata.labels == FER_DISPLAY_NAMES
    assert metadata.files == {"keras": "tiny.keras"}
    assert (metadata.input_size, metadata.channels) == ((48, 48), 1)
    # what the app does to crops unlike the training faces: derived from them
    training_faces = load_split(json.loads((run_dir / "config.json").read_text())["data"], "Training").images
    assert metadata.equalize == equalize_rule(training_faces)
    assert set(metadata.equalize) == {"std_below", "mean_below", "mean_above"}
    assert metadata.architecture == "mini_xception"
    assert metadata.parameters == model.count_params()
    assert model.output_shape == (None, 7)
    assert metadata.training["epochs_run"] == 1
    assert metadata.training["config"]["width"] == 0.25
    epoch_seconds = json.loads((run_dir / "epoch_seconds.json").read_text())
    assert list(epoch_seconds) == ["0"] and epoch_seconds["0"] > 0
    assert metadata.training["train_seconds"] == pytest.approx(epoch_seconds["0"], abs=0.1)
    assert "initialized_from" not in metadata.training


def test_resume_extends_the_run_without_repeating_epochs(fer_csv, tmp_path, capsys):
    import keras

    run_dir, output = tmp_path / "run", tmp_path / "resumed.keras"
    common = ["--data", fer_csv, "--run-dir", run_dir, *TINY]
    code, out, _ = run_cli(capsys, "train", *common, "--epochs", "1")
    assert code == 0 and "(1 epoch" in out and "1 epochs" not in out
    # pretend epoch 1 was perfect: no resumed epoch may then replace best.keras
    log_path = run_dir / "log.csv"
    with open(log_path, newline="") as log:
        first_run = list(csv.DictReader(log))
    first_run[0]["val_accuracy"] = "1.0"
    with open(log_path, "w", newline="") as log:
        writer = csv.DictWriter(log, fieldnames=list(first_run[0]))
        writer.writeheader()
        writer.writerows(first_run)
    # --epochs on --resume sets a new total; --lr is the saved run's and is ignored, with a note
    code, out, err = run_cli(capsys, "train", *common, "--resume", "--epochs", "2", "--lr", "0.5",
                             "--output", output)
    assert code == 0
    assert "resuming" in out and "after epoch 1" in out
    assert "ignoring --lr (they differ" in err  # the other options repeat the run's own values
    # resuming a finished run trains nothing more
    code, out, _ = run_cli(capsys, "train", *common, "--resume")
    assert code == 0 and "(2 epochs" in out

    with open(run_dir / "log.csv", newline="") as log:
        log_rows = list(csv.DictReader(log))
    assert [int(row["epoch"]) for row in log_rows] == [0, 1]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["epochs"] == 2 and config["learning_rate"] == 1e-3
    assert json.loads((run_dir / "timing.json").read_text())["sessions"] == 3
    # the optimizer continued from the checkpoint: two epochs of steps, not one
    steps_per_epoch = -(-PER_CLASS["Training"] * len(FER_CLASSES) // 16)
    last = keras.models.load_model(run_dir / "last.keras")
    assert int(last.optimizer.iterations.numpy()) == 2 * steps_per_epoch
    # best.keras is still the one from epoch 1, the best logged
    best = keras.models.load_model(run_dir / "best.keras")
    assert int(best.optimizer.iterations.numpy()) == steps_per_epoch
    assert ModelMetadata.load(output.with_suffix(".json")).training["epochs_run"] == 2


@pytest.mark.parametrize("kind", AUGMENTATIONS)
def test_augmentations_keep_the_pixel_range(kind):
    from acting_mirror.training.augment import build_augmenter
    from acting_mirror.training.inputs import to_model_input

    faces = to_model_input(face_crops(16, seed=4))
    augmented = np.asarray(build_augmenter([kind], seed=1)(faces, training=True))
    assert augmented.shape == faces.shape and not np.allclose(augmented, faces)
    # dark and bright pixels both survive: nothing clips the [-1, 1] input to another range
    for low, high in ((-1.0, -0.5), (0.5, 1.0)):
        before = np.mean((faces >= low) & (faces <= high))
        after = np.mean((augmented >= low - 0.2) & (augmented <= high + 0.2))
        assert after > 0.5 * before, (kind, low, high, before, after)
    assert augmented.min() >= -1.3 and augmented.max() <= 1.3


def test_far_augmentation_leaves_about_half_the_faces_with_little_detail():
    from acting_mirror.training.augment import build_augmenter
    from acting_mirror.training.inputs import to_model_input

    faces = to_model_input(face_crops(64, seed=6))
    augmented = np.asarray(build_augmenter(["far"], seed=2)(faces, training=True))

    def detail(image):
        return float(cv2.Laplacian(image[..., 0].astype(np.float64), cv2.CV_64F).var())

    ratios = np.array([detail(a) / detail(f) for a, f in zip(augmented, faces, strict=True)])
    untouched = np.isclose(ratios, 1.0)
    assert 0.25 < untouched.mean() < 0.75               # half the faces, drawn at random
    assert np.all(ratios[~untouched] < 0.6)              # the others lost most of their detail
    # and are still the same faces, only softer
    for a, f in zip(augmented[~untouched], faces[~untouched], strict=True):
        assert np.corrcoef(a.ravel(), f.ravel())[0, 1] > 0.8


def blob_centres(images: np.ndarray) -> np.ndarray:
    """(x, y) of the bright blob's centroid in each [-1, 1] image."""
    weights = np.clip(images[..., 0], 0.0, None) ** 4
    ys, xs = np.mgrid[:images.shape[1], :images.shape[2]]
    return np.stack([(weights * xs).sum((1, 2)), (weights * ys).sum((1, 2))], axis=1) / weights.sum((1, 2))[:, None]


def test_warp_draws_the_geometric_changes_in_one_resampling():
    """A blob left of centre, moved by each augmentation: "warp" flips, shifts, turns and zooms
    it as "geometric" does (same shares, same spread). That it keeps faces sharper is
    tests/test_prepare.py's (a smooth blob has no detail to lose)."""
    from acting_mirror.training.augment import build_augmenter

    ys, xs = np.mgrid[:48, :48]
    blob = np.exp(-((xs - 14.0) ** 2 + (ys - 24.0) ** 2) / (2 * 2.0 ** 2)) * 2.0 - 1.0
    faces = np.repeat(blob[None, ..., None].astype(np.float32), 400, axis=0)
    moved = {}
    for kind in ("geometric", "warp"):
        augmented = np.asarray(build_augmenter([kind], seed=3)(faces, training=True))
        centres = blob_centres(augmented)
        flipped = centres[:, 0] > 23.5
        assert 0.4 < flipped.mean() < 0.6, kind                          # half the faces mirrored
        x = np.where(flipped, 47.0 - centres[:, 0], centres[:, 0])       # undo the flip
        shift = np.stack([x - 14.0, centres[:, 1] - 24.0], axis=1)
        # shifts of up to 10% (4.8 px), plus what a 10-degree turn and a 10% zoom add off-centre
        assert np.abs(shift).max() < 7.5, kind
        moved[kind] = shift.std(axis=0)
    # shifts uniform in +-4.8 px have a std of 2.8 px; the turn and zoom add a little
    assert np.all((moved["geometric"] > 2.3) & (moved["geometric"] < 3.6)), moved
    assert np.allclose(moved["warp"], moved["geometric"], rtol=0.2), moved


def test_warp_resamples_as_opencv_does():
    """warp_faces is cv2.warpAffine(INTER_CUBIC, BORDER_REFLECT) of the flipped face, in Keras ops
    (so it also runs in a jitted step on a GPU): the same faces to OpenCV's 1/32-pixel precision."""
    import cv2

    from acting_mirror.training.warp import warp_faces

    rng = np.random.default_rng(5)
    face = np.clip(cv2.GaussianBlur(rng.uniform(-1, 1, (48, 48)).astype(np.float32), (0, 0), 1.5) * 3, -1, 1)
    draws = [(False, 0.0, 1.0, 0.0, 0.0), (True, 0.0, 1.0, 0.0, 0.0)] + [
        (bool(rng.random() < 0.5), rng.uniform(-10, 10), rng.uniform(0.9, 1.1), *rng.uniform(-4.8, 4.8, 2))
        for _ in range(6)]
    flip, angle, scale, shift_x, shift_y = (np.array(column) for column in zip(*draws, strict=True))
    warped = np.asarray(warp_faces(np.repeat(face[None, ..., None], len(draws), axis=0),
                                   flip, angle, scale, shift_x, shift_y))[..., 0]
    for got, (flipped, *change) in zip(warped, draws, strict=True):
        matrix = cv2.getRotationMatrix2D((23.5, 23.5), change[0], change[1])
        matrix[:, 2] += change[2:]
        expected = cv2.warpAffine(np.ascontiguousarray(face[:, ::-1] if flipped else face), matrix, (48, 48),
                                  flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        assert np.abs(got - expected).max() < 0.02 and np.abs(got - expected).mean() < 0.003
    assert np.array_equal(warped[0], face) and np.array_equal(warped[1], face[:, ::-1])


def test_train_with_warp(fer_csv, tmp_path, capsys):
    sharpness = {}
    for kind in ("geometric", "warp"):
        run_dir = tmp_path / kind
        args = [a for a in TINY if a != "--no-augment"]
        code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", run_dir, "--epochs", "1",
                               "--augment", f"{kind},erasing", *args)
        assert code == 0, err
        sharpness[kind] = json.loads((run_dir / "sharpness.json").read_text())["sharpness"]
    assert sharpness["warp"] > 1.5 * sharpness["geometric"] > 0, sharpness
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "both", "--augment",
                           "geometric,warp", *args)
    assert_one_line_error(code, err, "choose geometric or warp, not both")


def test_train_refuses_bad_runs_and_outputs(fer_csv, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", run_dir, "--output",
                           tmp_path / "model.h5", *TINY)
    assert_one_line_error(code, err, "must end in .keras")
    assert not run_dir.exists()  # refused before training
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", run_dir, "--resume", *TINY)
    assert_one_line_error(code, err, "no run to resume")
    run_dir.mkdir()
    (run_dir / "log.csv").write_text("epoch,accuracy\n")
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", run_dir, *TINY)
    assert_one_line_error(code, err, "already holds a run")
    code, _, err = run_cli(capsys, "train", "--data", tmp_path / "none.csv", "--run-dir", tmp_path / "r2", *TINY)
    assert_one_line_error(code, err, "none.csv: no such file")


def test_focal_loss_matches_its_formula_and_discounts_easy_faces():
    from acting_mirror.training.objectives import loss_for
    from acting_mirror.training.run_config import TrainConfig

    rng = np.random.default_rng(5)
    probabilities = rng.dirichlet(np.ones(7), size=6).astype(np.float32)
    labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 6)]
    p_true = (labels * probabilities).sum(axis=1)

    def per_face(config, y_true, y_pred):  # the loss of each face, before Keras averages them
        return np.asarray(loss_for(config, 7).call(y_true, y_pred))

    for gamma in (0.0, 1.0, 2.0, 3.5):
        got = per_face(TrainConfig(data="", run_dir="", loss="focal", focal_gamma=gamma), labels, probabilities)
        assert np.allclose(got, -(1.0 - p_true) ** gamma * np.log(p_true), rtol=1e-4), gamma
    cross_entropy = TrainConfig(data="", run_dir="", loss="categorical_crossentropy")
    plain = TrainConfig(data="", run_dir="", loss="focal", focal_gamma=0.0)
    assert np.allclose(per_face(plain, labels, probabilities), per_face(cross_entropy, labels, probabilities),
                       rtol=1e-5)
    # a face read at 0.9 keeps 1% of its cross-entropy at gamma 2, one read at 0.2 keeps 64%
    label = np.eye(7, dtype=np.float32)[[0, 0]]
    easy_and_hard = np.array([[0.9] + [0.1 / 6] * 6, [0.2] + [0.8 / 6] * 6], dtype=np.float32)
    ratio = (per_face(TrainConfig(data="", run_dir="", loss="focal"), label, easy_and_hard)
             / per_face(cross_entropy, label, easy_and_hard))
    assert np.allclose(ratio, [0.01, 0.64], rtol=1e-3)


def test_train_with_focal_loss(fer_csv, tmp_path, capsys):
    losses = {}
    for loss in ("categorical_crossentropy", "focal"):
        run_dir = tmp_path / loss
        code, out, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", run_dir, "--epochs", "1",
                                 "--loss", loss, "--focal-gamma", "2", *TINY)
        assert code == 0, err
        assert f"run finished: {run_dir} (1 epoch, best val accuracy" in out  # not "1 epochs"
        with open(run_dir / "log.csv") as handle:
            losses[loss] = float(next(csv.DictReader(handle))["loss"])
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["loss"] == loss and saved["focal_gamma"] == 2.0
    # same seed, same faces: every face's focal term is at most its cross-entropy, and near
    # chance (p about 1/7) it is about (6/7)^2 of it
    assert losses["focal"] < 0.9 * losses["categorical_crossentropy"], losses
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "bad", "--loss", "focal",
                           "--focal-gamma", "-1", *TINY)
    assert_one_line_error(code, err, "focal gamma -1.0 must be 0 or more")
    assert not (tmp_path / "bad").exists()


def test_exclude_disgust_trains_and_evaluates_six_classes(fer_csv, rows, tmp_path, capsys):
    from acting_mirror.training.inputs import prepare_splits
    from acting_mirror.training.run_config import TrainConfig

    train_data, val_data, names, _ = prepare_splits(TrainConfig(data=str(fer_csv), run_dir="", exclude=["disgust"]))
    disgust = FER_CLASSES.index("disgust")
    assert len(train_data) == sum(1 for label, _, split in rows if split == "Training" and label != disgust)
    assert len(val_data) == sum(1 for label, _, split in rows if split == "PublicTest" and label != disgust)
    assert set(train_data.labels.tolist()) == set(range(6))
    assert names == [n for n in FER_DISPLAY_NAMES if n != "disgust"]

    model = tmp_path / "six.keras"
    code, _, _ = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "run", "--epochs", "1",
                         "--exclude", "disgust", "--output", model, *TINY)
    assert code == 0
    metadata = ModelMetadata.load(model.with_suffix(".json"))
    assert list(metadata.labels) == names
    assert metadata.training["excluded_classes"] == ["disgust"]

    results_path = tmp_path / "results6.json"
    code, out, _ = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", model, "--backend", "keras",
                           "--json", results_path, "--update-metadata", "--quiet")
    assert code == 0
    results = json.loads(results_path.read_text())
    private = [(label, image) for label, image, split in rows if split == "PrivateTest"]
    assert results["labels"] == names
    assert results["n"] == sum(1 for label, _ in private if label != disgust)
    assert results["dropped_rows"] == {"disgust": sum(1 for label, _ in private if label == disgust)}
    assert np.array(results["confusion_matrix"]).shape == (6, 6)
    assert "rows left out" in out and "disgust" in out
    stored = ModelMetadata.load(model.with_suffix(".json")).evaluation["PrivateTest"]
    assert stored["accuracy"] == round(results["accuracy"], 4) and stored["n"] == results["n"]
    assert set(stored["recall"]) == set(names)


# --- evaluate -------------------------------------------------------------------------------------


def confusion_by_hand(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    counts = np.zeros((classes, classes), dtype=int)
    for t, p in zip(true, predicted, strict=True):
        counts[t, p] += 1
    return counts


def check_metrics(results: dict, true: np.ndarray, probabilities: np.ndarray) -> None:
    counts = confusion_by_hand(true, probabilities.argmax(axis=1), probabilities.shape[1])
    n = len(true)
    assert results["n"] == n
    assert results["confusion_matrix"] == counts.tolist()
    assert results["accuracy"] == pytest.approx(np.trace(counts) / n)
    low, high = results["ci95"]
    assert 0.0 <= low <= results["accuracy"] <= high <= 1.0
    assert high - low > 0.05  # a few dozen rows cannot pin accuracy down closely
    row_sums, column_sums = counts.sum(axis=1), counts.sum(axis=0)
    np.testing.assert_allclose(results["confusion_matrix_normalized"], counts / row_sums[:, None], atol=1e-6)
    for i, name in enumerate(results["labels"]):
        metrics = results["per_class"][name]
        assert metrics["support"] == row_sums[i]
        assert metrics["recall"] == pytest.approx(counts[i, i] / row_sums[i])
        precision = counts[i, i] / column_sums[i] if column_sums[i] else 0.0
        assert metrics["precision"] == pytest.approx(precision)
        f1 = 2 * precision * metrics["recall"] / (precision + metrics["recall"]) if counts[i, i] else 0.0
        assert metrics["f1"] == pytest.approx(f1)


@pytest.mark.parametrize("backend", ["keras", "tflite"])
def test_evaluate_matches_the_classifiers_own_predictions(exported, fer_csv, tmp_path, capsys, backend):
    results_path, plot_path = tmp_path / "results.json", tmp_path / "plots" / "cm.png"
    code, out, _ = run_cli(capsys, "evaluate", "--data", fer_csv, "--split", "PrivateTest", "--model", exported,
                           "--backend", backend, "--json", results_path, "--tta", "--plot", plot_path,
                           "--batch-size", "8", "--threads", "1")
    assert code == 0
    results = json.loads(results_path.read_text())
    assert (results["model"], results["backend"], results["split"]) == ("tiny", backend, "PrivateTest")
    assert results["data"] == str(fer_csv)
    assert results["labels"] == list(FER_DISPLAY_NAMES)

    classifier = load_classifier(exported, backend, threads=1)
    data = load_split(fer_csv, "PrivateTest")
    probabilities = classifier.classify(data.images)
    check_metrics(results, data.labels, probabilities)
    mirrored = classifier.classify(np.ascontiguousarray(data.images[:, :, ::-1]))
    check_metrics(results["tta"], data.labels, (probabilities + mirrored) / 2)

    assert f"accuracy: {results['accuracy']:.4f}" in out
    assert "95% CI" in out and "confusion matrix" in out
    image = cv2.imread(str(plot_path))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 10  # drawn, not blank


def test_evaluate_function_and_metadata_update(exported, fer_csv, tmp_path):
    from acting_mirror.training.evaluate import evaluate_model, update_metadata_evaluation

    json_path = tmp_path / "tiny.json"
    shutil.copy(exported, json_path)
    for file in ModelMetadata.load(exported).files.values():
        shutil.copy(exported.parent / file, tmp_path / file)
    classifier = load_classifier(json_path, "tflite", threads=1)
    data = load_split(fer_csv, "PublicTest")
    results = evaluate_model(classifier, data, batch_size=5)
    check_metrics(results, data.labels, classifier.classify(data.images))
    assert "tta" not in results

    update_metadata_evaluation(json_path, "PublicTest", results)
    stored = ModelMetadata.load(json_path).evaluation["PublicTest"]
    assert stored["accuracy"] == round(results["accuracy"], 4)
    assert stored["n"] == len(data)
    assert stored["backend"] == "tflite"
    assert stored["data"] == "fer_tiny.csv"
    assert ModelMetadata.load(json_path).files == ModelMetadata.load(exported).files
    # a second backend on the same split adds its line and becomes the headline
    keras_results = evaluate_model(load_classifier(json_path, "keras", threads=1), data, batch_size=5,
                                   views=DEFAULT_VIEWS)
    update_metadata_evaluation(json_path, "PublicTest", keras_results)
    stored = ModelMetadata.load(json_path).evaluation["PublicTest"]
    assert stored["backend"] == "keras" and stored["tta_accuracy"] == round(keras_results["tta"]["accuracy"], 4)
    assert stored["by_file"] == {
        "tiny_dynamic.tflite": {"backend": "tflite", "accuracy": round(results["accuracy"], 4), "n": len(data)},
        "tiny.keras": {"backend": "keras", "accuracy": round(keras_results["accuracy"], 4),
                       "tta_accuracy": round(keras_results["tta"]["accuracy"], 4),
                       "tta_views": "1,1m", "n": len(data)},
    }
    assert ModelMetadata.load(json_path).test_time_views == []  # evaluating views does not adopt them


def evaluate_and_update_a_copy(exported, fer_csv, folder, capsys, *options):
    """`evaluate --update-metadata` with `options` on a copy of the exported model in `folder`."""
    for file in exported.parent.iterdir():
        shutil.copy(file, folder / file.name)
    json_path, results_path = folder / "tiny.json", folder / "results.json"
    code, out, _ = run_cli(capsys, "evaluate", "--data", fer_csv, "--split", "PublicTest", "--model", json_path,
                           *options, "--json", results_path, "--update-metadata", "--quiet", "--threads", "1")
    assert code == 0
    return out, json_path, results_path


def test_evaluate_views_become_the_models_own(exported, fer_csv, tmp_path, capsys):
    out, json_path, results_path = evaluate_and_update_a_copy(exported, fer_csv, tmp_path, capsys,
                                                              "--views", "1,1.1m,1.2")
    assert "with 3 test-time views" in out and "crop; zoom 1.1, mirrored; zoom 1.2" in out
    views = (View(), View(1.1, flip=True), View(1.2))
    assert ModelMetadata.load(json_path).views == views
    classifier = load_classifier(json_path, "tflite", threads=1)
    data = load_split(fer_csv, "PublicTest")
    # each view alone, then averaged
    expected = np.mean([classifier.classify_views(data.images, (view,)) for view in views], axis=0)
    results = json.loads(results_path.read_text())
    check_metrics(results["tta"], data.labels, expected)
    check_metrics(results, data.labels, classifier.classify(data.images))
    code, out, _ = run_cli(capsys, "info", "--model", json_path)
    assert "views         crop; zoom 1.1, mirrored; zoom 1.2 (stored;" in out
    # the app's classifier now averages those views
    averaging = load_classifier(json_path, "tflite", threads=1, test_time_views=True)
    np.testing.assert_allclose(averaging.classify(data.images), expected, atol=1e-5)


def test_evaluate_sharpness_becomes_the_models_own(exported, fer_csv, tmp_path, capsys):
    from acting_mirror.prepare import soften_to

    out, json_path, results_path = evaluate_and_update_a_copy(exported, fer_csv, tmp_path, capsys,
                                                              "--sharpness", "0.5")
    assert "crops sharper than 0.5 blurred down to it" in out and "and sharpness" in out
    data = load_split(fer_csv, "PublicTest")
    plain = load_classifier(json_path, "tflite", threads=1)
    assert plain.metadata.sharpness == 0.5
    results = json.loads(results_path.read_text())
    assert results["sharpness"] == 0.5
    # the figures are those of the crops equalized (where unlike FER's), then softened, as a
    # classifier that does neither by itself sees them
    reference = load_classifier(exported, "tflite", threads=1)
    prepared = soften_to(reference.metadata.equalized(data.images), 0.5)
    reference.metadata = replace(reference.metadata, equalize={})
    check_metrics(results, data.labels, reference.classify(prepared))
    code, out, _ = run_cli(capsys, "info", "--model", json_path)
    assert "sharpness     crops sharper than 0.5 are blurred down to it" in out
    code, _, err = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", json_path, "--sharpness", "4")
    assert_one_line_error(code, err, "--sharpness must be from 0")

    code, _, err = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", json_path, "--views", "1,x")
    assert_one_line_error(code, err, "bad view 'x'")


def test_evaluate_errors_are_one_line(trained, fer_csv, tmp_path, capsys):
    model = trained[1]
    code, _, err = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", tmp_path / "nothing.json")
    assert_one_line_error(code, err, "nothing.json not found")

    bad = tmp_path / "bad.csv"
    write_csv(bad, [(0, "1 2", "PrivateTest")])
    code, _, err = run_cli(capsys, "evaluate", "--data", bad, "--model", model, "--backend", "keras")
    assert_one_line_error(code, err, f"{bad}:2: expected 2304 pixels")

    code, _, err = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", model, "--backend", "tflite")
    assert_one_line_error(code, err, "has no tflite file")

    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip file")
    metadata = ModelMetadata.load(model)
    replace(metadata, files={"keras": corrupt.name}).save(corrupt.with_suffix(".json"))
    code, _, err = run_cli(capsys, "evaluate", "--data", fer_csv, "--model", corrupt, "--backend", "keras")
    assert_one_line_error(code, err, "not a valid Keras model")

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--data", str(fer_csv), "--split", "Validation"])
    assert exit_info.value.code == 2


# --- export and info ------------------------------------------------------------------------------


def test_export_writes_tflite_that_matches_keras(exported, trained):
    from acting_mirror.training.export import compare, sample_crops

    folder = exported.parent
    metadata = ModelMetadata.load(exported)
    assert metadata.files == {"keras": "tiny.keras", "tflite": "tiny.tflite", "tflite_dynamic": "tiny_dynamic.tflite"}
    assert (folder / "tiny.tflite").stat().st_size > 10_000
    # dynamic-range quantisation stores weights as int8 (this tiny model is mostly graph, not weights)
    assert (folder / "tiny_dynamic.tflite").stat().st_size < (folder / "tiny.tflite").stat().st_size
    keras_classifier = load_classifier(exported, "keras", threads=1)
    float_classifier = load_classifier(exported, "tflite", threads=1)
    samples = sample_crops(20, (48, 48), seed=7)
    for check in compare(keras_classifier, float_classifier, "tflite", samples):
        # float32 kernels sum in other orders than Keras: about 1e-4 on random (non-face) crops
        assert check.max_abs_diff < 3e-4, check.describe()
    # the same top class wherever the top two are further apart than the largest difference
    # (this barely trained model's probabilities are close to 1/7, so some crops are near-ties)
    for crops in samples.values():
        expected, actual = keras_classifier.classify(crops), float_classifier.classify(crops)
        top_two = np.sort(expected, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 2e-4
        assert clear.sum() >= len(crops) // 2
        np.testing.assert_array_equal(expected[clear].argmax(axis=1), actual[clear].argmax(axis=1))
    # the trained package itself is untouched
    assert ModelMetadata.load(trained[1]).files == {"keras": "tiny.keras"}


def test_export_reports_differences(trained, tmp_path, capsys):
    for file in trained[1].parent.iterdir():
        shutil.copy(file, tmp_path / file.name)
    code, out, _ = run_cli(capsys, "export", "--model", tmp_path / "tiny.json", "--samples", "4", "--threads", "1")
    assert code == 0
    assert "tflite vs keras on 4 random crops: max |dp|" in out
    assert "tflite vs keras on 4 face crops" in out
    assert ModelMetadata.load(tmp_path / "tiny.json").files["tflite"] == "tiny.tflite"


def test_export_refuses_a_tflite_file_beyond_the_tolerance(trained, tmp_path, capsys):
    for file in trained[1].parent.iterdir():
        shutil.copy(file, tmp_path / file.name)
    code, out, err = run_cli(capsys, "export", "--model", tmp_path / "tiny.keras", "--tolerance", "0",
                             "--samples", "8", "--threads", "1")
    if code == 0:  # only when LiteRT and Keras agree to the last bit on every crop
        assert out.count("max |dp| = 0.00e+00") == 2
    else:
        assert_one_line_error(code, err, "tiny.tflite differs from tiny.keras by", "metadata unchanged")
        assert not (tmp_path / "tiny.tflite").exists()
        assert ModelMetadata.load(tmp_path / "tiny.json").files == {"keras": "tiny.keras"}
    code, _, err = run_cli(capsys, "export", "--model", tmp_path / "tiny.keras", "--tolerance", "-1")
    assert_one_line_error(code, err, "--tolerance must be >= 0")


def test_export_and_info_errors_are_one_line(trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", "--model", tmp_path / "missing.keras")
    assert_one_line_error(code, err, "missing.keras not found")
    metadata = ModelMetadata.load(trained[1])
    replace(metadata, files={}).save(tmp_path / "nofiles.json")
    code, _, err = run_cli(capsys, "export", "--model", tmp_path / "nofiles.json")
    assert_one_line_error(code, err, "lists no keras file")
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = run_cli(capsys, "info", "--model", tmp_path / "broken.json")
    assert_one_line_error(code, err, "broken.json is not valid JSON")


def test_info_shows_the_metadata(exported, capsys):
    code, out, _ = run_cli(capsys, "info", "--model", exported)
    assert code == 0
    metadata = ModelMetadata.load(exported)
    assert "tiny" in out and "mini_xception" in out and f"{metadata.parameters:,} parameters" in out
    assert ", ".join(FER_DISPLAY_NAMES) in out
    assert "48x48x1 (grayscale)" in out
    assert "tiny_dynamic.tflite (" in out and "MISSING" not in out
    assert "epochs_run: 1" in out
    assert "views         crop; crop, mirrored (default;" in out
    rule = metadata.equalize
    assert (f"equalize      histogram-equalized first when grey-level std < {rule['std_below']:g} or "
            f"mean < {rule['mean_below']:g} or mean > {rule['mean_above']:g}") in out
    code, out, _ = run_cli(capsys, "info", "--model", exported, "--json")
    assert json.loads(out) == json.loads(exported.read_text())


def trainable_arrays(model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.trainable_weights]


def test_init_from_starts_from_the_given_weights(trained, fer_csv, tmp_path, capsys):
    import keras

    source = keras.models.load_model(trained[1].with_suffix(".keras"), compile=False)
    # a learning rate too small to move anything: what comes out is what went in
    frozen = ["--data", fer_csv, "--epochs", "1", "--lr", "1e-12", "--schedule", "constant", *TINY]
    assert run_cli(capsys, "train", "--run-dir", tmp_path / "fine", "--init-from", trained[1].with_suffix(".keras"),
                   "--output", tmp_path / "fine.keras", *frozen)[0] == 0
    assert run_cli(capsys, "train", "--run-dir", tmp_path / "fresh", *frozen)[0] == 0
    fine = keras.models.load_model(tmp_path / "fine" / "last.keras", compile=False)
    fresh = keras.models.load_model(tmp_path / "fresh" / "last.keras", compile=False)
    for before, after in zip(trainable_arrays(source), trainable_arrays(fine), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-6)
    # the fine-tuned model's metadata names where it started and how that was trained
    parent = ModelMetadata.load(tmp_path / "fine.json").training["initialized_from"]
    assert parent["name"] == "tiny" and parent["training"]["epochs_run"] == 1
    # resuming takes the weights from the run's backup: the parent may be gone by then
    shutil.copy(trained[1].with_suffix(".keras"), tmp_path / "parent.keras")
    moving = ["--data", fer_csv, "--run-dir", tmp_path / "moved", *TINY]
    assert run_cli(capsys, "train", *moving, "--epochs", "1", "--init-from", tmp_path / "parent.keras")[0] == 0
    (tmp_path / "parent.keras").unlink()
    assert run_cli(capsys, "train", *moving, "--resume", "--epochs", "2")[0] == 0
    assert not all(np.allclose(a, b, atol=1e-3)
                   for a, b in zip(trainable_arrays(source), trainable_arrays(fresh), strict=True))
    # a model of another shape is refused in one line
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "wide", "--init-from",
                           trained[1].with_suffix(".keras"), *TINY[:2], "--width", "0.5", *TINY[4:])
    assert_one_line_error(code, err, "--init-from", "do not match")
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "none", "--init-from",
                           tmp_path / "missing.keras", *TINY)
    assert_one_line_error(code, err, "missing.keras")
    assert not (tmp_path / "none").exists()  # refused before the run directory is made


def test_ema_validates_and_saves_the_averaged_weights(trained, fer_csv, rows, tmp_path, capsys):
    import keras

    start = ["--data", fer_csv, "--epochs", "2", "--lr", "0.01", "--schedule", "constant",
             "--init-from", trained[1].with_suffix(".keras"), *TINY]
    assert run_cli(capsys, "train", "--run-dir", tmp_path / "ema", "--ema", "0.9", *start)[0] == 0
    assert run_cli(capsys, "train", "--run-dir", tmp_path / "raw", *start)[0] == 0
    averaged = keras.models.load_model(tmp_path / "ema" / "last.keras", compile=False)
    raw = keras.models.load_model(tmp_path / "raw" / "last.keras", compile=False)
    # same start, same seed, same steps: only the averaging tells the two apart
    pairs = zip(trainable_arrays(averaged), trainable_arrays(raw), strict=True)
    assert not all(np.allclose(a, b, atol=1e-4) for a, b in pairs)
    # what was saved is what was validated: the logged accuracy is the saved model's
    with open(tmp_path / "ema" / "log.csv", newline="") as log:
        logged = float(list(csv.DictReader(log))[-1]["val_accuracy"])
    val = [(label, crop) for label, crop, split in rows if split == "PublicTest"]
    x = np.stack([crop for _, crop in val]).astype(np.float32)[..., None] / 127.5 - 1
    predicted = averaged.predict(x, verbose=0).argmax(axis=1)
    assert np.mean(predicted == np.array([label for label, _ in val])) == pytest.approx(logged, abs=1e-6)
    code, _, err = run_cli(capsys, "train", "--data", fer_csv, "--run-dir", tmp_path / "bad", "--ema", "1.5", *TINY)
    assert_one_line_error(code, err, "ema")


# --- ensemble -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_model(fer_csv, tmp_path_factory):
    """Another tiny model from a different seed: different weights, same labels and input."""
    root = tmp_path_factory.mktemp("second")
    model = root / "models" / "tiny_b.keras"
    assert main(["train", "--data", str(fer_csv), "--run-dir", str(root / "run"), "--epochs", "1", "--seed", "5",
                 "--output", str(model), *TINY]) == 0
    return model.with_suffix(".json")


def test_ensemble_averages_its_members_in_one_model(trained, second_model, tmp_path, capsys):
    output = tmp_path / "models" / "pair.keras"
    code, out, _ = run_cli(capsys, "ensemble", "--members", trained[1], second_model, "--output", output)
    assert code == 0, out
    assert "export --model" in out
    members = [ModelMetadata.load(trained[1]), ModelMetadata.load(second_model)]
    metadata = ModelMetadata.load(output.with_suffix(".json"))
    assert metadata.parameters == sum(m.parameters for m in members)
    assert metadata.architecture == "ensemble of mini_xception w0.25 + mini_xception w0.25"
    for name in ("labels", "input_size", "channels", "pixel_scale", "pixel_offset", "equalize"):
        assert getattr(metadata, name) == getattr(members[0], name)
    assert [m["name"] for m in metadata.training["members"]] == ["tiny", "tiny_b"]
    assert metadata.training["members"][1]["training"]["config"]["seed"] == 5

    crops = face_crops(12, seed=3)
    member_probabilities = [load_classifier(m, "keras", threads=1).classify(crops)
                            for m in (trained[1], second_model)]
    assert np.abs(member_probabilities[0] - member_probabilities[1]).max() > 1e-3  # the members differ
    ensemble = load_classifier(output.with_suffix(".json"), "keras", threads=1)
    np.testing.assert_allclose(ensemble.classify(crops), np.mean(member_probabilities, axis=0), atol=1e-5)

    # one TFLite graph for the whole ensemble, checked against Keras by export itself
    code, out, _ = run_cli(capsys, "export", "--model", output, "--quantize", "--samples", "8", "--threads", "1")
    assert code == 0, out
    tflite = load_classifier(output.with_suffix(".json"), "tflite", threads=1, quantized=False)
    np.testing.assert_allclose(tflite.classify(crops), np.mean(member_probabilities, axis=0), atol=1e-4)
    code, out, _ = run_cli(capsys, "info", "--model", output.with_suffix(".json"))
    assert code == 0 and "ensemble of mini_xception" in out and "members:" in out


def test_ensemble_refuses_members_that_cannot_be_averaged(trained, second_model, tmp_path, capsys):
    output = tmp_path / "pair.keras"
    code, _, err = run_cli(capsys, "ensemble", "--members", trained[1], "--output", output)
    assert_one_line_error(code, err, "at least two")
    code, _, err = run_cli(capsys, "ensemble", "--members", trained[1], tmp_path / "absent.json", "--output", output)
    assert_one_line_error(code, err, "absent.json")

    for file in second_model.parent.iterdir():
        shutil.copy(file, tmp_path / file.name)
    scaled = replace(ModelMetadata.load(second_model), pixel_scale=1 / 255, pixel_offset=0.0)
    scaled.save(tmp_path / "tiny_b.json")
    code, _, err = run_cli(capsys, "ensemble", "--members", trained[1], tmp_path / "tiny_b.json", "--output", output)
    assert_one_line_error(code, err, "pixel_scale")
    replace(ModelMetadata.load(second_model), equalize={}).save(tmp_path / "tiny_b.json")
    code, _, err = run_cli(capsys, "ensemble", "--members", trained[1], tmp_path / "tiny_b.json", "--output", output)
    assert_one_line_error(code, err, "equalize")
    code, _, err = run_cli(capsys, "ensemble", "--members", trained[1], second_model, "--output", tmp_path / "x.h5")
    assert_one_line_error(code, err, ".keras")
    assert not output.exists() and not (tmp_path / "x.h5").exists()


# --- the held-out slice and distillation ----------------------------------------------------------


def test_holdout_rule_is_fixed_stratified_and_disjoint(fer_csv):
    labels = np.repeat(np.arange(7), [40, 5, 41, 72, 48, 31, 50])
    np.random.default_rng(0).shuffle(labels)
    mask = holdout_mask(labels)
    # 10% of each class (rounded), the same rows every time
    assert [int(np.sum(mask & (labels == c))) for c in range(7)] == [4, 0, 4, 7, 5, 3, 5]
    assert np.array_equal(mask, holdout_mask(labels.copy()))
    # pinned: figures measured on the slice stay comparable only while the rule stays the same
    assert np.flatnonzero(holdout_mask(np.arange(140) % 7)).tolist() == [
        2, 3, 6, 13, 35, 40, 71, 98, 102, 107, 115, 117, 123, 127]
    splits = load_dataset(fer_csv, (TRAIN_REST_SPLIT, HOLDOUT_SPLIT, "Training"))
    rest, holdout, training = splits[TRAIN_REST_SPLIT], splits[HOLDOUT_SPLIT], splits["Training"]
    assert list(splits) == [TRAIN_REST_SPLIT, HOLDOUT_SPLIT, "Training"]
    assert len(holdout) == 7 and np.array_equal(np.bincount(holdout.labels), np.ones(7))
    assert len(rest) + len(holdout) == len(training)
    held = {image.tobytes() for image in holdout.images}
    assert not held & {image.tobytes() for image in rest.images}
    assert held | {image.tobytes() for image in rest.images} == {image.tobytes() for image in training.images}
    with pytest.raises(DatasetError, match="unknown split 'Holdout'"):
        load_dataset(fer_csv, ("Holdout",))


def test_soften_and_distillation_loss_match_their_formulas():
    from acting_mirror.training.objectives import distillation_loss, soften

    rng = np.random.default_rng(3)
    teacher = rng.dirichlet(np.ones(7), size=5).astype(np.float32)
    assert np.allclose(soften(teacher, 1.0), teacher, atol=1e-6)
    soft = soften(teacher, 3.0)
    assert np.allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    assert np.array_equal(soft.argmax(axis=1), teacher.argmax(axis=1))
    assert np.all(soft.max(axis=1) < teacher.max(axis=1))  # flatter: the runner-up classes count
    student = rng.dirichlet(np.ones(7), size=5).astype(np.float32)
    labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 5)]
    loss = distillation_loss(7, temperature=3.0, alpha=0.3)
    got = np.asarray(loss(np.concatenate([labels, soft], axis=1), student))
    student_soft = soften(student, 3.0)
    expected = (0.3 * -np.sum(labels * np.log(student), axis=1)
                + 0.7 * 9.0 * -np.sum(soft * np.log(student_soft), axis=1))
    assert np.allclose(got, expected, rtol=1e-4)
    # with the labels' weight at 0 the loss is lowest where the student equals the teacher
    teacher_only = distillation_loss(7, temperature=3.0, alpha=0.0)
    target = np.concatenate([labels, soft], axis=1)
    assert np.all(np.asarray(teacher_only(target, teacher)) < np.asarray(teacher_only(target, student)))


def test_distill_trains_on_the_teachers_probabilities_and_resumes(exported, fer_csv, tmp_path, capsys,
                                                                  monkeypatch):
    import keras

    from acting_mirror.training.distill import teacher_probabilities

    monkeypatch.setenv("ACTING_MIRROR_CACHE", str(tmp_path / "cache"))
    run_dir, output = tmp_path / "run", tmp_path / "student" / "student.keras"
    common = ["--data", fer_csv, "--run-dir", run_dir, "--teacher", exported, *TINY]
    code, out, _ = run_cli(capsys, "distill", *common, "--epochs", "1", "--temperature", "2", "--alpha", "0.5",
                           "--init-from", exported.with_suffix(".keras"))
    assert code == 0, out
    assert "teacher tiny (tiny_dynamic.tflite, views 1,1m) on 35 faces" in out
    # the cached probabilities are the teacher's as the app runs it: quantised, averaged over its views
    cached = list((tmp_path / "cache" / "teacher").glob("tiny-*.npz"))
    assert len(cached) == 1
    rest = load_dataset(fer_csv, (TRAIN_REST_SPLIT,))[TRAIN_REST_SPLIT]
    # the rows the student learns from, equalized by the run's own rule
    rest = replace(rest, images=equalize_unlike(rest.images, json.loads((run_dir / "config.json").read_text())
                                                ["equalize"]))
    app_teacher = load_classifier(exported, "tflite", threads=1, quantized=True, test_time_views=True)
    assert np.allclose(np.load(cached[0])["probabilities"], app_teacher.classify(rest.images), atol=1e-6)
    assert np.allclose(teacher_probabilities(exported, rest, FER_DISPLAY_NAMES, log=lambda _: None),
                       app_teacher.classify(rest.images), atol=1e-6)
    # the run started from the teacher's own weights, scored on the held-out slice first
    start = json.loads((run_dir / "init_eval.json").read_text())
    assert start["split"] == HOLDOUT_SPLIT and 0.0 <= start["val_accuracy"] <= 1.0
    code, out, _ = run_cli(capsys, "distill", *common, "--resume", "--epochs", "2", "--output", output)
    assert code == 0 and "after epoch 1" in out and "teacher probabilities from the cache" in out
    with open(run_dir / "log.csv", newline="") as log:
        log_rows = list(csv.DictReader(log))
    assert [int(row["epoch"]) for row in log_rows] == [0, 1]
    assert all(0.0 <= float(row["val_accuracy"]) <= 1.0 for row in log_rows)
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["teacher"], config["temperature"], config["alpha"]) == (str(exported), 2.0, 0.5)
    assert (config["train_split"], config["val_split"]) == (TRAIN_REST_SPLIT, HOLDOUT_SPLIT)
    metadata = ModelMetadata.load(output.with_suffix(".json"))
    assert metadata.training["selection_split"] == HOLDOUT_SPLIT
    assert metadata.training["config"]["teacher"] == str(exported)
    assert metadata.training["initialized_from"]["name"] == "tiny"
    assert keras.models.load_model(output, compile=False).output_shape == (None, 7)
    # the held-out slice is a split evaluate knows
    code, out, _ = run_cli(capsys, "evaluate", "--data", fer_csv, "--split", HOLDOUT_SPLIT, "--model", exported,
                           "--quiet")
    assert code == 0 and "/7)" in out


def test_bank_batches_pair_each_copy_with_its_own_target_and_redraw_every_epoch():
    from acting_mirror.training.inputs import make_bank_dataset

    rows, copies, classes = 37, 3, 7
    # copy k of row n is a flat image of grey level 3n + k; its soft target is one-hot at k
    images = (3 * np.arange(rows)[:, None] + np.arange(copies)[None, :]).astype(np.uint8)
    images = np.broadcast_to(images[:, :, None, None], (rows, copies, 48, 48)).copy()
    soft = np.broadcast_to(np.eye(classes, dtype=np.float32)[:copies], (rows, copies, classes)).copy()
    labels = np.arange(rows) % classes
    bank = make_bank_dataset(images, soft, labels, classes, batch_size=8, seed=5)

    def one_epoch(dataset):
        seen = []
        for x, y in dataset:
            x, y = x.numpy(), y.numpy()
            assert x.shape[1:] == (48, 48, 1) and y.shape == (len(x), 2 * classes) and len(x) <= 8
            level = np.rint((x[:, 0, 0, 0] + 1.0) * 127.5).astype(int)
            row, copy = level // 3, level % 3
            assert np.array_equal(y[:, :classes].argmax(1), labels[row])   # the row's own label
            assert np.array_equal(y[:, classes:].argmax(1), copy)          # the chosen copy's own target
            seen += list(zip(row.tolist(), copy.tolist(), strict=True))
        return seen

    first, second = one_epoch(bank), one_epoch(bank)
    for epoch in (first, second):
        assert sorted(row for row, _ in epoch) == list(range(rows))  # every row once an epoch
        assert len({copy for _, copy in epoch}) == copies             # copies drawn, not always the first
    assert [r for r, _ in first] != [r for r, _ in second]            # a new order each epoch
    assert dict(first) != dict(second)                                # and new copies
    # the same seed gives the same batches; a resumed run (first_epoch 1) draws anew
    assert one_epoch(make_bank_dataset(images, soft, labels, classes, batch_size=8, seed=5)) == first
    assert one_epoch(make_bank_dataset(images, soft, labels, classes, batch_size=8, seed=5, first_epoch=1)) != first


def test_distill_with_teacher_copies_trains_on_what_the_teacher_saw(exported, fer_csv, tmp_path, capsys,
                                                                     monkeypatch):

    monkeypatch.setenv("ACTING_MIRROR_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    tiny = [arg for arg in TINY if arg != "--no-augment"]
    common = ["--data", fer_csv, "--run-dir", run_dir, "--teacher", exported, *tiny,
              "--augment", "geometric,far,erasing", "--teacher-copies", "3"]
    code, out, _ = run_cli(capsys, "distill", *common, "--epochs", "1")
    assert code == 0, out
    assert "on 3 augmented copies of 35 faces" in out
    banks = list((tmp_path / "cache" / "teacher").glob("tiny-bank3-*.npz"))
    assert len(banks) == 1
    with np.load(banks[0]) as cached:
        images, probabilities = cached["images"], cached["probabilities"]
    rest = load_dataset(fer_csv, (TRAIN_REST_SPLIT,))[TRAIN_REST_SPLIT]
    assert images.shape == (35, 3, 48, 48) and probabilities.shape == (35, 3, 7)
    clean = equalize_unlike(rest.images, equalize_rule(rest.images))
    # three different pictures of each face, none of them the clean row
    assert all(not np.array_equal(images[n, a], images[n, b]) for n in range(35) for a, b in ((0, 1), (1, 2)))
    assert np.mean([np.array_equal(images[n, k], clean[n]) for n in range(35) for k in range(3)]) < 0.1
    # each copy is prepared as the app prepares a crop, and its target is the teacher's answer to it
    flat = images.reshape(-1, 48, 48)
    assert np.array_equal(equalize_unlike(flat, equalize_rule(rest.images)), flat)
    app_teacher = load_classifier(exported, "tflite", threads=1, quantized=True, test_time_views=True)
    assert np.allclose(probabilities.reshape(-1, 7), app_teacher.classify(flat), atol=1e-6)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["teacher_copies"] == 3
    # trained with the geometric augmentations: its model will soften crops sharper than its faces were
    assert 0 < json.loads((run_dir / "sharpness.json").read_text())["sharpness"] < 1
    code, out, _ = run_cli(capsys, "distill", *common, "--resume", "--epochs", "2")
    assert code == 0 and "teacher's bank of augmented copies from the cache" in out
    with open(run_dir / "log.csv", newline="") as log:
        assert [int(row["epoch"]) for row in csv.DictReader(log)] == [0, 1]
    from acting_mirror.training.run_config import TrainConfig

    with pytest.raises(ValueError, match="need a teacher"):
        TrainConfig(data="d", run_dir="r", teacher_copies=2).validate()


def test_distill_errors_are_one_line(exported, fer_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACTING_MIRROR_CACHE", str(tmp_path / "cache"))
    common = ["--data", fer_csv, *TINY, "--epochs", "1"]
    code, _, err = run_cli(capsys, "distill", *common, "--run-dir", tmp_path / "a", "--teacher",
                           tmp_path / "none.json")
    assert_one_line_error(code, err, "none.json")
    # a 7-class teacher cannot teach a student that leaves disgust out
    code, _, err = run_cli(capsys, "distill", *common, "--run-dir", tmp_path / "b", "--teacher", exported,
                           "--exclude", "disgust")
    assert_one_line_error(code, err, "teacher", "has labels angry, disgust", "trained on angry, scared")
    code, _, err = run_cli(capsys, "distill", *common, "--run-dir", tmp_path / "c", "--teacher", exported,
                           "--temperature", "0")
    assert_one_line_error(code, err, "temperature must be positive")
    assert not (tmp_path / "cache").exists()  # nothing computed for refused runs


# -- FER+ votes --------------------------------------------------------------------


def ferplus_votes(label: int, row: int) -> list[int]:
    """10 annotators' votes (FERPLUS_COLUMNS) for a face of FER class `label`: most agree,
    some say neutral; every 9th face most call unknown, every 11th contempt alone."""
    votes = [0] * len(FERPLUS_COLUMNS)
    if row % 9 == 4:
        votes[FERPLUS_COLUMNS.index("unknown")], votes[FERPLUS_COLUMN_OF_CLASS[label]] = 6, 4
    elif row % 11 == 5:
        votes[FERPLUS_COLUMNS.index("contempt")], votes[FERPLUS_COLUMN_OF_CLASS[label]] = 5, 3
    else:
        votes[FERPLUS_COLUMN_OF_CLASS[label]] = 7 - row % 3
        votes[FERPLUS_COLUMNS.index("neutral")] += 3 + row % 3
    return votes


def write_voted_csv(path, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage", *FERPLUS_COLUMNS, "orig_row"])
        for number, (label, pixels, split) in enumerate(rows):
            writer.writerow([label, " ".join(map(str, pixels.ravel())), split, *ferplus_votes(label, number),
                             number])


@pytest.fixture(scope="module")
def voted_csv(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("voted") / "ferplus_tiny.csv"
    write_voted_csv(path, rows)
    return path


def test_vote_rules_on_hand_made_votes():
    #              neu hap sur sad ang dis fea con unk NF
    votes = np.array([[6, 4, 0, 0, 0, 0, 0, 0, 0, 0],   # neutral by majority
                      [0, 0, 0, 5, 5, 0, 0, 0, 0, 0],   # sad and angry tie: trained on, no majority
                      [0, 0, 0, 0, 0, 0, 2, 0, 8, 0],   # most say unknown: not trained on
                      [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face
                      [0, 0, 0, 0, 3, 0, 0, 7, 0, 0],   # contempt alone on top
                      [0, 0, 0, 0, 0, 4, 0, 4, 2, 0],   # disgust ties contempt: trained on, no majority
                      [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]])  # one vote, neutral
    assert votes_trainable(votes).tolist() == [True, True, False, False, False, True, True]
    neutral, sad, angry = (FER_CLASSES.index(name) for name in ("neutral", "sad", "angry"))
    assert majority_labels(votes).tolist() == [neutral, -1, -1, -1, -1, -1, neutral]
    distribution = vote_distribution(votes)
    assert distribution[0, neutral] == pytest.approx(0.6)
    assert distribution[1, sad] == distribution[1, angry] == pytest.approx(0.5)
    assert distribution[3].sum() == 0  # no emotion votes at all
    assert distribution[4, angry] == pytest.approx(1.0)  # contempt is not one of the 7


def test_csv_with_votes_loads_them_and_checks_them(rows, voted_csv, tmp_path):
    datasets = load_fer_csv(voted_csv)
    for split, data in datasets.items():
        numbered = [(number, row) for number, row in enumerate(rows) if row[2] == split]
        assert data.votes.shape == (len(numbered), len(FERPLUS_COLUMNS))
        assert data.votes.tolist() == [ferplus_votes(label, number) for number, (label, _, _) in numbered]
    # the derived splits keep each face's votes with it
    derived = load_dataset(voted_csv, (TRAIN_REST_SPLIT, HOLDOUT_SPLIT))
    training = datasets["Training"]
    mask = holdout_mask(training.labels)
    assert derived[HOLDOUT_SPLIT].votes.tolist() == training.votes[mask].tolist()
    header = ["emotion", "pixels", "Usage", *FERPLUS_COLUMNS[:-2]]
    text = voted_csv.read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join([",".join(header)] + [",".join(line.split(",")[:-3]) for line in text[1:3]]) + "\n")
    with pytest.raises(DatasetError, match="unknown, NF missing"):
        load_fer_csv(short)
    bad = tmp_path / "bad.csv"
    bad.write_text(text[0] + "\n" + text[1].replace(",7,", ",seven,", 1) + "\n")
    with pytest.raises(DatasetError, match=r"bad.csv:2: FER\+ votes must be integers"):
        load_fer_csv(bad)


def test_vote_targets_train_on_the_faces_people_agree_on(voted_csv, tmp_path, capsys):
    config = TrainConfig(data=str(voted_csv), run_dir="", target="votes")
    train_data, val_data, names, rule = prepare_splits(config)
    raw = load_split(voted_csv, "Training")
    assert len(train_data) == int(votes_trainable(raw.votes).sum()) < len(raw)
    validation = load_split(voted_csv, "PublicTest")
    assert val_data.labels.tolist() == [label for label in majority_labels(validation.votes) if label >= 0]
    # votes rows keep FER-2013's own label, which --label-weight mixes into their target
    trainable = votes_trainable(raw.votes)
    assert train_data.labels.tolist() == raw.labels[trainable].tolist()
    mixed = targets_of(train_data, "votes", 7, label_weight=0.25)
    expected = 0.75 * vote_distribution(raw.votes[trainable]) + 0.25 * np.eye(7)[raw.labels[trainable]]
    assert np.allclose(mixed, expected) and np.allclose(mixed.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="label weight"):
        TrainConfig(data="", run_dir="", target="majority", label_weight=0.5).validate()
    # --crowd-only: faces whose FER+ majority is neutral keep the votes alone
    resting = targets_of(train_data, "votes", 7, label_weight=0.25, crowd_only=("neutral",))
    crowd_neutral = majority_labels(raw.votes[trainable]) == 6
    assert 0 < crowd_neutral.sum() < len(crowd_neutral)
    assert np.allclose(resting[crowd_neutral], vote_distribution(raw.votes[trainable][crowd_neutral]))
    assert np.allclose(resting[~crowd_neutral], expected[~crowd_neutral])
    # --crowd-weight: those faces take a smaller share of their label instead of none
    partly = targets_of(train_data, "votes", 7, label_weight=0.25, crowd_only=("neutral",), crowd_weight=0.1)
    assert np.allclose(partly[crowd_neutral], 0.9 * vote_distribution(raw.votes[trainable][crowd_neutral])
                       + 0.1 * np.eye(7)[raw.labels[trainable][crowd_neutral]])
    assert np.allclose(partly[~crowd_neutral], expected[~crowd_neutral])
    for label_weight, crowd_weight, crowd_only in ((0.25, 0.5, ["neutral"]), (0.25, 0.1, [])):
        with pytest.raises(ValueError, match="--crowd-weight"):
            TrainConfig(data="", run_dir="", target="votes", label_weight=label_weight, crowd_only=crowd_only,
                        crowd_weight=crowd_weight).validate()
    with pytest.raises(ValueError, match="--label-weight"):
        TrainConfig(data="", run_dir="", target="votes", crowd_only=["neutral"]).validate()
    with pytest.raises(ValueError, match="calm"):
        TrainConfig(data="", run_dir="", target="votes", label_weight=0.5, crowd_only=["calm"]).validate()
    majority_train, _, _, _ = prepare_splits(replace(config, target="majority"))
    assert len(majority_train) == int((majority_labels(raw.votes) >= 0).sum())
    assert rule == equalize_rule(raw.subset(votes_trainable(raw.votes)).images)

    run_dir = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--data", voted_csv, "--run-dir", run_dir, "--epochs", "1",
                           "--target", "votes", "--output", tmp_path / "voted.keras", *TINY)
    assert code == 0, out
    metadata = ModelMetadata.load(tmp_path / "voted.json")
    assert metadata.training["target"] == "votes"
    assert metadata.training["config"]["target"] == "votes"
    assert metadata.equalize == rule
    # a file without votes cannot give vote targets: one line
    plain = tmp_path / "plain.csv"
    write_csv(plain, make_rows())
    code, _, err = run_cli(capsys, "train", "--data", plain, "--run-dir", tmp_path / "run2", "--epochs", "1",
                           "--target", "majority", *TINY)
    assert_one_line_error(code, err, "no FER+ vote columns", "majority")


def test_evaluate_reports_the_ferplus_figures(exported, voted_csv, tmp_path, capsys):
    results_path = tmp_path / "results.json"
    code, out, _ = run_cli(capsys, "evaluate", "--data", voted_csv, "--split", "PrivateTest", "--model", exported,
                           "--json", results_path, "--tta", "--batch-size", "8", "--threads", "1")
    assert code == 0
    results = json.loads(results_path.read_text())
    classifier = load_classifier(exported, "tflite", threads=1)
    data = load_split(voted_csv, "PrivateTest")
    probabilities = classifier.classify(data.images)
    mirrored = classifier.classify(np.ascontiguousarray(data.images[:, :, ::-1]))
    majority = majority_labels(data.votes)
    for figures, predicted in ((results["ferplus"], probabilities), (results["tta"]["ferplus"],
                                                                     (probabilities + mirrored) / 2)):
        has = majority >= 0
        assert figures["majority_n"] == int(has.sum())
        assert figures["majority_accuracy"] == pytest.approx(np.mean(predicted[has].argmax(1) == majority[has]))
        for index, name in enumerate(FER_DISPLAY_NAMES):
            rows_of = has & (majority == index)
            if rows_of.any():
                assert figures["majority_recall"][name] == pytest.approx(np.mean(predicted[rows_of].argmax(1) == index))
        scored = votes_trainable(data.votes)
        target = vote_distribution(data.votes)[scored]
        expected = -np.mean(np.sum(target * np.log(np.clip(predicted[scored], 1e-7, 1)), axis=1))
        assert figures["cross_entropy"] == pytest.approx(expected, rel=1e-4)
    assert "FER+ majority accuracy" in out and "FER+ with the views majority accuracy" in out
    # the original labels are still scored as before
    assert results["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == data.labels))
