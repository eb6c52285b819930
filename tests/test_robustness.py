"""The robustness probe (`acting-mirror-model robustness`): each camera condition does to a
real face what its name says, deterministically, and the probe's figures are the shipped
model's own accuracy on those crops."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from acting_mirror.model import load_classifier
from acting_mirror.training.cli import main
from acting_mirror.training.data import Dataset, load_split
from acting_mirror.training.evaluate import evaluate_model
from acting_mirror.training.export import face_crops
from acting_mirror.training.robustness import (
    CAMERA_SCALE,
    CONDITION_NAMES,
    CONDITIONS,
    conditions_named,
    degrade,
    probe,
    to_camera_scale,
    to_crop,
)

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

SHIPPED = "acting_mirror/models/mirror_net.json"  # the faster shipped model keeps the tests quick


def condition(name: str):
    return next(c for c in CONDITIONS if c.name == name)


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return face_crops(12, seed=3)


@pytest.fixture(scope="module")
def camera_face(faces) -> np.ndarray:
    return to_camera_scale(faces[0])


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(image.astype(np.float64), cv2.CV_64F).var())


def best_match(degraded: np.ndarray, clean: np.ndarray) -> float:
    middle = degraded[12:36, 12:36].astype(np.float32)
    return float(cv2.matchTemplate(clean.astype(np.float32), middle, cv2.TM_CCOEFF_NORMED).max())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


@pytest.mark.parametrize("name", CONDITION_NAMES)
def test_every_condition_gives_crops_of_the_model_size_deterministically(faces, name):
    first = degrade(faces, condition(name), seed=1, size=(48, 48))
    assert first.shape == faces.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, degrade(faces, condition(name), seed=1, size=(48, 48)))
    other_size = degrade(faces[:2], condition(name), seed=1, size=(64, 56))
    assert other_size.shape == (2, 64, 56)
    # still the same face: the middle of each degraded crop is found in the clean crop
    # (normalised cross-correlation at the best shift, so a moved box counts as the same face)
    clean = degrade(faces, condition("clean"), seed=1)
    assert all(best_match(a, b) > 0.35 for a, b in zip(first, clean, strict=True)), name


def test_clean_is_the_round_trip_alone(faces):
    clean = degrade(faces, condition("clean"))
    assert np.abs(clean.astype(int) - faces).mean() < 3.0
    assert to_camera_scale(faces[0]).shape == (48 * CAMERA_SCALE, 48 * CAMERA_SCALE)
    np.testing.assert_array_equal(clean[0], to_crop(to_camera_scale(faces[0]), (48, 48)))


def test_random_conditions_change_with_the_seed_and_not_with_the_others_chosen(faces):
    for name in ("box_jitter", "noise", "blur", "jpeg", "roll"):
        assert not np.array_equal(degrade(faces, condition(name), seed=1), degrade(faces, condition(name), seed=2))
    # a condition's draws are its own: probing fewer conditions does not change its faces
    assert [c.name for c in conditions_named(["roll"])] == ["clean", "roll"]
    assert conditions_named(None) == CONDITIONS


def test_blur_and_distance_remove_detail_noise_adds_it(faces, camera_face):
    # detail (variance of the Laplacian) of what the model gets, the 48x48 crops
    def detail(name):
        return np.mean([sharpness(crop) for crop in degrade(faces, condition(name), seed=2)])

    clean = detail("clean")
    assert detail("blur") < 0.5 * clean
    assert detail("far") < 0.3 * clean
    assert detail("noise") > 1.15 * clean
    noisy = condition("noise").apply(camera_face, np.random.default_rng(0))
    residual = noisy.astype(float) - camera_face
    assert 8.0 < residual.std() < 22.0 and abs(residual.mean()) < 2.0


def test_light_conditions_darken_where_they_say(camera_face):
    rng = np.random.default_rng(0)
    lit = condition("side_light").apply(camera_face, rng).astype(float)
    half = camera_face.shape[1] // 2
    ratio_left = lit[:, :half].mean() / camera_face[:, :half].mean()
    ratio_right = lit[:, half:].mean() / camera_face[:, half:].mean()
    assert max(ratio_left, ratio_right) > 0.95 and min(ratio_left, ratio_right) < 0.7
    dark = condition("low_light").apply(camera_face, rng)
    assert dark.mean() < 0.45 * camera_face.mean()


def test_roll_turns_the_face_by_fifteen_degrees(camera_face):
    turned = condition("roll").apply(camera_face, np.random.default_rng(0))
    side = camera_face.shape[0]
    centre = ((side - 1) / 2, (side - 1) / 2)
    inner = slice(side // 4, 3 * side // 4)  # away from the repeated edges

    def back(angle):
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        return cv2.warpAffine(turned, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)

    scores = {angle: correlation(back(angle)[inner, inner], camera_face[inner, inner]) for angle in (-15, 0, 15)}
    assert max(scores, key=scores.get) != 0 and max(scores.values()) > 0.97


def test_jpeg_and_jitter_change_the_picture_but_keep_the_face(camera_face):
    rng = np.random.default_rng(0)
    compressed = condition("jpeg").apply(camera_face, rng)
    error = np.abs(compressed.astype(float) - camera_face)
    assert 1.0 < error.mean() < 12.0
    # JPEG works in 8x8 blocks: its error jumps across block edges more than inside them
    columns = np.abs(np.diff(compressed.astype(float) - camera_face, axis=1)).mean(axis=0)
    at_edges = columns[7::8].mean()
    inside = np.delete(columns, np.s_[7::8]).mean()
    assert at_edges > 1.2 * inside
    moved = condition("box_jitter").apply(camera_face, rng)
    assert moved.shape == camera_face.shape and not np.array_equal(moved, camera_face)
    # the middle of the moved crop sits elsewhere in the clean face, at about the same scale
    middle = moved[48:144, 48:144].astype(np.float32)
    match = cv2.matchTemplate(camera_face.astype(np.float32), middle, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(match)
    assert best > 0.8 and (x, y) != (48, 48)


def test_probe_scores_are_the_models_accuracy_on_those_crops(faces):
    classifier = load_classifier(SHIPPED, "tflite", threads=1, quantized=True)
    labels = np.array([3] * 6 + [6] * 6)  # FER happy and neutral
    data = Dataset(faces, labels, "real face crops")
    conditions = conditions_named(["far", "roll"])
    results = probe(classifier, data, conditions, seed=4)
    assert list(results["conditions"]) == ["clean", "roll", "far"]
    assert results["conditions"]["clean"]["drop_points"] == 0
    for name in ("clean", "far"):
        crops = degrade(faces, condition(name), seed=4, size=classifier.input_size)
        expected = evaluate_model(classifier, Dataset(crops, labels, "x"), views=classifier.views)
        entry = results["conditions"][name]
        assert entry["one_pass"] == pytest.approx(expected["accuracy"])
        assert entry["as_the_app_runs_it"] == pytest.approx(expected["tta"]["accuracy"])
        assert set(entry["recall_as_the_app_runs_it"]) == set(classifier.labels)
    clean, far = results["conditions"]["clean"], results["conditions"]["far"]
    assert far["drop_points"] == pytest.approx(100 * (clean["as_the_app_runs_it"] - far["as_the_app_runs_it"]),
                                               abs=0.01)


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("robust") / "tiny.csv"
    crops = face_crops(14, seed=9)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("emotion", "pixels", "Usage"))
        for i, crop in enumerate(crops):
            writer.writerow((i % 7, " ".join(map(str, crop.ravel())), "PublicTest"))
    return path


def test_cli_compares_models_on_the_same_faces(tiny_csv, tmp_path, capsys):
    out = tmp_path / "probe.json"
    code = main(["robustness", "--data", str(tiny_csv), "--model", SHIPPED, "--model",
                 "acting_mirror/models/mirror_ensemble.json", "--conditions", "blur,jpeg", "--limit", "10",
                 "--threads", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    results = json.loads(out.read_text())
    assert results["split"] == "PublicTest"
    assert [m["model"] for m in results["models"]] == ["mirror_net", "mirror_ensemble"]
    for model in results["models"]:
        assert model["n"] == 10 and list(model["conditions"]) == ["clean", "blur", "jpeg"]
    assert "mirror_ensemble" in printed and "blur" in printed and "jpeg" in printed
    data = load_split(str(tiny_csv), "PublicTest")
    assert len(data) == 14


@pytest.mark.parametrize("argv, fragment", [
    (["--conditions", "fog"], "unknown condition 'fog'"),
    (["--limit", "-1"], "--limit"),
    (["--model", "no/such/model.json"], "no/such/model.json"),
])
def test_cli_errors_are_one_line(tiny_csv, capsys, argv, fragment):
    code = main(["robustness", "--data", str(tiny_csv), "--threads", "1", *argv])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("acting-mirror-model: error: ") and fragment in last, last
