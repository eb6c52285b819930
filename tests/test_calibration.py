"""Resting-face calibration: `acting-mirror calibrate`, `--profile` on the mirror, batch, the API
and `evaluate`, on crops and clips of a real face with the shipped model."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from acting_mirror import analyze, demo
from acting_mirror.calibration import (
    MAX_CORRECTION,
    CalibratedClassifier,
    CalibrationError,
    apply_correction,
    correction_for,
    load_profile,
)
from acting_mirror.metadata import ModelMetadata
from acting_mirror.model import load_classifier
from acting_mirror.paths import package_root
from acting_mirror.training.export import face_crops

SIZE = (320, 240)


def run(*args: str, cwd: Path, module: str = "acting_mirror") -> subprocess.CompletedProcess:
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=environment)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, last


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """The shipped default, copied, with a neutral reference taken by `acting-mirror-model reference`
    from real face crops labelled neutral (FER+-style votes: 8 of 10 say neutral)."""
    folder = tmp_path_factory.mktemp("model")
    shipped = package_root() / "models"
    metadata = ModelMetadata.load(shipped / "mirror_ensemble.json")
    for name in ["mirror_ensemble.json", *metadata.files.values()]:
        shutil.copy(shipped / name, folder / name)
    data = folder / "neutral.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage", "neutral", "happiness", "surprise", "sadness", "anger",
                         "disgust", "fear", "contempt", "unknown", "NF"])
        for crop in face_crops(24, seed=3):
            writer.writerow([6, " ".join(map(str, crop.ravel())), "Training", 8, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    result = run("reference", "--model", str(folder / "mirror_ensemble.json"), "--data", str(data),
                 "--threads", "1", cwd=folder, module="acting_mirror.training.cli")
    assert result.returncode == 0, result.stderr
    assert "on 24 neutral Training faces" in result.stdout
    return folder / "mirror_ensemble.json"


@pytest.fixture(scope="module")
def stills(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("stills")
    paths = []
    for index, crop in enumerate(face_crops(2, size=(96, 96), seed=11)):
        paths.append(folder / f"rest{index}.png")
        cv2.imwrite(str(paths[-1]), crop)
    return paths


@pytest.fixture(scope="module")
def profile(model, stills, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("profile")
    result = run("calibrate", "--profile", "me.json", "--model", str(model), "--crops", *map(str, stills),
                 cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "profile: me.json (2 faces of 2 still crops" in result.stdout
    return folder / "me.json"


def test_a_profile_from_two_stills_records_what_was_measured(model, profile, stills):
    data = json.loads(profile.read_text())
    metadata = ModelMetadata.load(model)
    assert data["model"] == metadata.name and data["faces"] == 2 and data["source"] == "2 still crops"
    assert data["labels"] == list(metadata.labels) and data["created"].endswith("+00:00")
    # the resting mean is what the model, as the app runs it, gives the two stills
    classifier = load_classifier(model, "tflite", threads=1, test_time_views=True)
    crops = np.array([cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (48, 48), interpolation=cv2.INTER_AREA)
                      for p in stills])
    assert np.allclose(data["resting"], classifier.classify(crops).mean(axis=0), atol=1e-5)
    reference = np.asarray(metadata.neutral_reference)
    expected = np.clip(np.log(reference) - np.log(np.asarray(data["resting"])), -MAX_CORRECTION, MAX_CORRECTION)
    assert np.allclose(data["correction"], expected, atol=1e-6)


def test_the_profile_maps_the_resting_face_onto_the_neutral_reference(model, profile, stills):
    metadata = ModelMetadata.load(model)
    classifier = load_classifier(model, "tflite", threads=1, test_time_views=True)
    loaded = load_profile(profile, metadata, model.parent)
    calibrated = CalibratedClassifier(classifier, loaded)
    rest = cv2.resize(cv2.imread(str(stills[0]), cv2.IMREAD_GRAYSCALE), (48, 48), interpolation=cv2.INTER_AREA)
    # one still alone: its own correction moves it exactly onto the reference
    own = correction_for(classifier.classify(rest[None])[0], np.asarray(metadata.neutral_reference))
    single = CalibratedClassifier(classifier, replace(loaded, correction=tuple(own)))
    assert np.allclose(single.classify(rest[None])[0], metadata.neutral_reference, atol=1e-4)
    # every other face is moved by the same log-ratios, and nothing changes without a profile
    others = face_crops(6, seed=99)
    plain = classifier.classify(others)
    corrected = calibrated.classify(others)
    ratio = np.log(corrected) - np.log(plain)
    assert np.allclose(ratio - ratio[:, :1], np.asarray(loaded.correction) - loaded.correction[0], atol=1e-3)
    assert np.array_equal(CalibratedClassifier(classifier).classify(others), plain)
    assert np.allclose(apply_correction(plain, np.zeros(7)), plain, atol=1e-6)


def test_a_profile_of_another_model_is_refused(model, profile, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(model.parent, other)
    metadata = ModelMetadata.load(other / model.name)
    renamed = ModelMetadata(**{**metadata.__dict__, "name": "someone_else"})
    renamed.save(other / model.name)
    with pytest.raises(CalibrationError, match="was made with model mirror_ensemble, not with the model in use"):
        load_profile(profile, renamed, other)
    clip = demo.write_clip(tmp_path / "take.avi", "one", 6, 6.0, SIZE)
    result = run("--video", str(clip), "--no-display", "--no-output", "--model", str(other / model.name),
                 "--profile", str(profile), cwd=tmp_path)
    one_line_error(result, "was made with model mirror_ensemble")


def test_no_face_no_profile(model, tmp_path):
    clip = demo.write_clip(tmp_path / "empty.avi", "none", 12, 6.0, SIZE)
    result = run("calibrate", "--profile", "p.json", "--model", str(model), "--video", str(clip), cwd=tmp_path)
    one_line_error(result, "no face found")
    assert not (tmp_path / "p.json").exists()
    (tmp_path / "not_an_image.png").write_text("hello")
    result = run("calibrate", "--profile", "p.json", "--model", str(model), "--crops", "not_an_image.png",
                 cwd=tmp_path)
    one_line_error(result, "not a readable image")
    # a model without a neutral reference says what to run
    bare = tmp_path / "bare"
    shutil.copytree(model.parent, bare)
    metadata = ModelMetadata.load(bare / model.name)
    ModelMetadata(**{**metadata.__dict__, "neutral_reference": []}).save(bare / model.name)
    result = run("calibrate", "--profile", "p.json", "--model", str(bare / model.name), "--video", str(clip),
                 cwd=tmp_path)
    one_line_error(result, "no neutral reference", "acting-mirror-model reference")


@pytest.mark.slow
def test_profile_from_a_clip_and_applied_by_the_mirror_the_api_and_batch(model, tmp_path):
    clip = demo.write_clip(tmp_path / "take.avi", "one", 24, 6.0, SIZE)
    result = run("calibrate", "--profile", "clip.json", "--model", str(model), "--video", str(clip),
                 "--seconds", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "clip.json").read_text())
    assert recorded["faces"] == 12 and "the first 2 s of take.avi" in recorded["source"]

    result = run("--video", str(clip), "--no-display", "--no-output", "--model", str(model), "--profile",
                 "clip.json", "--report", "r", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["profile"]["path"] == "clip.json" and summary["profile"]["faces"] == 12
    assert "resting face" in (tmp_path / "r" / "report.html").read_text()
    plain = analyze(clip, model=model)
    calibrated = analyze(clip, model=model, profile=tmp_path / "clip.json")
    assert plain.summary["profile"] is None
    assert calibrated.summary["emotion_share"] == summary["emotion_share"]
    # the take was the resting face itself: corrected, it reads as the model's neutral faces do
    reference = ModelMetadata.load(model).neutral_reference
    top = ModelMetadata.load(model).labels[int(np.argmax(reference))]
    assert max(calibrated.emotion_share, key=calibrated.emotion_share.get) == top

    result = run("batch", str(clip), "--out", "b", "--model", str(model), "--profile", "clip.json",
                 "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    take = json.loads((tmp_path / "b" / "take" / "summary.json").read_text())
    assert take["profile"]["faces"] == 12 and take["emotion_share"] == summary["emotion_share"]


def test_evaluate_applies_a_profile(model, profile, tmp_path):
    data = tmp_path / "faces.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for index, crop in enumerate(face_crops(14, seed=5)):
            writer.writerow([index % 7, " ".join(map(str, crop.ravel())), "PublicTest"])
    outputs = {}
    for name, extra in (("plain", []), ("calibrated", ["--profile", str(profile)])):
        result = run("evaluate", "--model", str(model), "--data", str(data), "--json", f"{name}.json", "--quiet",
                     "--threads", "1", "--split", "PublicTest", *extra, cwd=tmp_path,
                     module="acting_mirror.training.cli")
        assert result.returncode == 0, result.stderr
        outputs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    classifier = load_classifier(model, "tflite", threads=1)
    corrected = CalibratedClassifier(classifier, load_profile(profile, ModelMetadata.load(model), model.parent))
    crops = face_crops(14, seed=5)
    labels = np.arange(14) % 7
    assert outputs["calibrated"]["accuracy"] == pytest.approx(np.mean(corrected.classify(crops).argmax(1) == labels))
    assert outputs["plain"]["accuracy"] == pytest.approx(np.mean(classifier.classify(crops).argmax(1) == labels))


@pytest.mark.display
def test_the_c_key_records_a_profile_live_and_applies_it(model, xvfb_display, tmp_path):
    import threading
    import time

    from helpers import FaceCamera
    from xutil import press, require_xdotool, visible_windows, wait_until, x_connection

    from acting_mirror.config import Config
    from acting_mirror.display import MAIN_WINDOW
    from acting_mirror.sources import open_camera

    require_xdotool()
    config = Config().override(model={"path": str(model), "profile": "", "calibration_s": 1.0},
                               output={"snapshot_dir": str(tmp_path / "snapshots")})
    camera = FaceCamera(fps=15.0, duration_s=40.0)
    source = open_camera(0, fps=15.0, capture_factory=lambda index: camera)
    notes: list[str] = []
    failures: list[str] = []

    def actor() -> None:
        try:
            if not wait_until(lambda: visible_windows(MAIN_WINDOW), 60.0):
                failures.append("the mirror window never appeared")
                return
            window = visible_windows(MAIN_WINDOW)[0]
            time.sleep(0.5)
            press(window, "c")
            if not wait_until(lambda: any("calibrated" in note for note in notes), 30.0):
                failures.append(f"no profile was recorded: {notes}")
            time.sleep(0.5)
            press(window, "q")
        except Exception as error:
            failures.append(repr(error))

    user = threading.Thread(target=actor, daemon=True)
    with x_connection(xvfb_display):
        try:
            user.start()
            analysis = analyze(source, config=config, show=True, log=notes.append)
        finally:
            source.close()
            user.join(timeout=60)
    assert not failures, failures
    default_path = tmp_path / "snapshots" / "resting_profile.json"
    assert f"calibrated: profile saved to {default_path}" in notes
    recorded = json.loads(default_path.read_text())
    assert recorded["faces"] >= 5 and recorded["source"] == "camera"  # about a second at 15 fps
    assert analysis.summary["profile"]["path"] == str(default_path)
    assert f"resting-face profile: {default_path}" in analysis.run.lines()
