"""acting_mirror.model on a small freshly built model saved with its metadata and exported
to TFLite: loading errors, input checks, batching and backend agreement."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from acting_mirror.metadata import MetadataError, ModelMetadata
from acting_mirror.model import ModelError, load_classifier
from acting_mirror.prepare import equalize_unlike, soften_to
from acting_mirror.training.data import FER_DISPLAY_NAMES
from acting_mirror.training.export import face_crops
from acting_mirror.views import View, parse_views, render_views, views_spec

BACKENDS = ("keras", "tflite")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An untrained mini_xception (random weights are enough to compare code paths)
    saved as tiny.keras + tiny.json, then exported to tiny.tflite."""
    import keras

    from acting_mirror.training.architectures import build
    from acting_mirror.training.export import export_model
    from acting_mirror.training.inputs import PIXEL_OFFSET, PIXEL_SCALE

    folder = tmp_path_factory.mktemp("tiny_model")
    keras.utils.set_random_seed(3)
    model = build("mini_xception", num_classes=len(FER_DISPLAY_NAMES), width=0.25)
    model.save(folder / "tiny.keras")
    ModelMetadata(
        name="tiny", labels=FER_DISPLAY_NAMES, input_size=(48, 48), channels=1,
        pixel_scale=PIXEL_SCALE, pixel_offset=PIXEL_OFFSET, architecture="mini_xception",
        parameters=model.count_params(), files={"keras": "tiny.keras"},
    ).save(folder / "tiny.json")
    export_model(folder / "tiny.json", samples=4, threads=1, log=lambda *_: None)
    return folder / "tiny.json"


@pytest.fixture(scope="module")
def crops():
    """Real face crops and a few random ones, uint8 (N, 48, 48)."""
    noise = np.random.default_rng(5).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    return np.concatenate([face_crops(9, seed=1), noise])


@pytest.fixture(scope="module", params=BACKENDS)
def classifier(request, tiny_model):
    return load_classifier(tiny_model, request.param, threads=1)


def copy_model(tiny_model, folder):
    for file in tiny_model.parent.iterdir():
        shutil.copy(file, folder / file.name)
    return folder / tiny_model.name


def test_classify_returns_probabilities_in_metadata_order(classifier, crops):
    probabilities = classifier.classify(crops)
    assert classifier.labels == FER_DISPLAY_NAMES
    assert probabilities.dtype == np.float32 and probabilities.shape == (len(crops), 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probabilities >= 0)
    assert classifier.classify(crops[:0]).shape == (0, 7)


def test_batched_and_one_by_one_give_the_same_probabilities(classifier, crops):
    batched = classifier.classify(crops)
    one_by_one = np.concatenate([classifier.classify(crop[None]) for crop in crops])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    # changing batch sizes back and forth (the TFLite input is resized each time) changes nothing
    np.testing.assert_allclose(classifier.classify(crops[:5]), batched[:5], atol=1e-5)
    np.testing.assert_allclose(classifier.classify(crops), batched, atol=1e-5)
    assert not np.allclose(batched[0], batched[-1])  # different crops, different outputs


def test_default_views_are_the_crop_and_its_mirror_image(tiny_model, crops, classifier):
    assert ModelMetadata.load(tiny_model).test_time_views == []  # nothing stored: the default views
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    expected = (classifier.classify(crops) + classifier.classify(mirrored)) / 2
    np.testing.assert_allclose(classifier.classify(crops, test_time_views=True), expected, atol=1e-5)
    averaging = load_classifier(tiny_model, classifier.backend, threads=1, test_time_views=True)
    np.testing.assert_allclose(averaging.classify(crops), expected, atol=1e-5)
    np.testing.assert_allclose(averaging.classify(crops[:1]), expected[:1], atol=1e-5)
    # the setting can be overridden per call (evaluate reports both)
    np.testing.assert_allclose(averaging.classify(crops, test_time_views=False), classifier.classify(crops),
                               atol=1e-5)
    assert not np.allclose(expected, classifier.classify(crops), atol=1e-3)


def test_zoom_views_magnify_the_centre_of_the_crop(crops):
    import cv2

    # zoom 2 about the centre is the central 24x24 pixels scaled up twice (inside the outermost
    # ring, where resize clamps to the region and the zoom still sees the pixels beyond it)
    zoomed = render_views(crops, (View(zoom=2.0),))
    for crop, view in zip(crops, zoomed, strict=True):
        expected = cv2.resize(crop[12:36, 12:36], (48, 48), interpolation=cv2.INTER_LINEAR)
        assert np.abs(view.astype(int) - expected.astype(int))[1:-1, 1:-1].max() <= 1
    both = render_views(crops, (View(), View(zoom=1.05, flip=True)))
    assert both.shape == (2 * len(crops), 48, 48)
    np.testing.assert_array_equal(both[:len(crops)], crops)
    np.testing.assert_array_equal(both[len(crops):], render_views(crops, (View(zoom=1.05),))[:, :, ::-1])
    faces = slice(0, 9)  # the real face crops: a slight zoom changes them a little
    assert 0 < np.abs(both[len(crops):][faces].astype(int) - crops[faces, :, ::-1]).mean() < 20


def test_views_stored_in_the_metadata_are_the_ones_averaged(tiny_model, crops, tmp_path):
    path = copy_model(tiny_model, tmp_path)
    replace(ModelMetadata.load(path), test_time_views=[{"zoom": 1.0, "flip": False},
                                                       {"zoom": 1.1, "flip": True}]).save(path)
    for backend in BACKENDS:
        plain = load_classifier(path, backend, threads=1)
        zoomed_mirror = plain.classify(render_views(crops, (View(zoom=1.1, flip=True),)))
        averaging = load_classifier(path, backend, threads=1, test_time_views=True)
        np.testing.assert_allclose(averaging.classify(crops), (plain.classify(crops) + zoomed_mirror) / 2, atol=1e-5)


def test_only_the_first_faces_get_the_views_when_limited(tiny_model, crops):
    plain = load_classifier(tiny_model, "tflite", threads=1)
    averaged = plain.classify(crops, test_time_views=True)
    limited = load_classifier(tiny_model, "tflite", threads=1, test_time_views=True, views_max_faces=3)
    probabilities = limited.classify(crops)
    # the detector sends the largest faces first: those get their views, the rest one pass
    np.testing.assert_allclose(probabilities[:3], averaged[:3], atol=1e-5)
    np.testing.assert_allclose(probabilities[3:], plain.classify(crops[3:]), atol=1e-5)
    np.testing.assert_allclose(limited.classify(crops[:2]), averaged[:2], atol=1e-5)  # fewer faces than the limit


@pytest.mark.parametrize("views, message", [
    ({"zoom": 1.0}, "must be a list"),
    ([{"zoom": 0.5, "flip": False}], r"test_time_views\[0\].zoom must be a number from 1 to 2"),
    ([{"zoom": 1.0, "flip": "yes"}], r"test_time_views\[0\].flip must be true or false"),
    ([{"zoom": 1.0, "flop": True}], r"test_time_views\[0\] must be an object"),
])
def test_bad_views_in_the_metadata_are_named(tiny_model, tmp_path, views, message):
    path = copy_model(tiny_model, tmp_path)
    path.write_text(json.dumps({**ModelMetadata.load(path).to_json(), "test_time_views": views}))
    with pytest.raises(ModelError, match=message):
        load_classifier(path)


def test_views_on_the_command_line():
    assert parse_views("1, 1m,1.05,1.05m") == (View(), View(flip=True), View(1.05), View(1.05, True))
    assert views_spec(parse_views("1, 1m,1.05,1.05m")) == "1,1m,1.05,1.05m"
    for bad, message in (("1,big", "bad view 'big'"), ("0.9", "zoom must be a number from 1 to 2"),
                         ("", "bad view ''")):
        with pytest.raises(ValueError, match=message):
            parse_views(bad)


def test_classify_rejects_wrong_shapes(classifier, crops):
    for bad in (crops[0], crops[:, :, :47], crops[..., None], np.zeros((2, 64, 64), np.uint8)):
        with pytest.raises(ValueError, match=r"expected crops of shape \(N, 48, 48\)"):
            classifier.classify(bad)


def test_keras_and_tflite_agree(tiny_model, crops):
    keras_probabilities = load_classifier(tiny_model, "keras", threads=1).classify(crops)
    tflite_probabilities = load_classifier(tiny_model, "tflite", threads=1).classify(crops)
    np.testing.assert_allclose(keras_probabilities, tflite_probabilities, atol=1e-4)


def test_scaling_comes_from_the_metadata(tiny_model, crops, tmp_path):
    import keras

    model = keras.models.load_model(tiny_model.with_suffix(".keras"), compile=False)
    metadata = ModelMetadata.load(tiny_model)
    expected = model(crops[..., None].astype(np.float32) * metadata.pixel_scale + metadata.pixel_offset).numpy()
    np.testing.assert_allclose(load_classifier(tiny_model, "keras", threads=1).classify(crops), expected, atol=1e-5)

    # the same weights with [0, 1] scaling written in the metadata give other outputs
    rescaled = copy_model(tiny_model, tmp_path)
    replace(metadata, pixel_scale=1 / 255, pixel_offset=0.0).save(rescaled)
    for backend in BACKENDS:
        other = load_classifier(rescaled, backend, threads=1).classify(crops)
        assert np.abs(other - expected).max() > 1e-3


def test_load_accepts_the_model_file_beside_the_metadata(tiny_model):
    for name in ("tiny.keras", "tiny.tflite", "tiny.json"):
        classifier = load_classifier(tiny_model.parent / name, "tflite", threads=1)
        assert classifier.model_path == tiny_model.parent / "tiny.tflite"


def test_load_errors_are_model_errors_naming_the_file(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="model .*missing.json not found"):
        load_classifier(tmp_path / "missing.json")
    with pytest.raises(ModelError, match="unknown backend 'onnx'"):
        load_classifier(tiny_model, "onnx")

    path = copy_model(tiny_model, tmp_path)
    metadata = ModelMetadata.load(path)

    (tmp_path / "tiny.tflite").write_bytes(b"\x00" * 64 + b"not a flatbuffer")
    with pytest.raises(ModelError, match="tiny.tflite is not a valid TFLite model"):
        load_classifier(path, "tflite")
    (tmp_path / "tiny.keras").write_bytes(b"PK\x03\x04 not a zip archive")
    with pytest.raises(ModelError, match="tiny.keras is not a valid Keras model"):
        load_classifier(path, "keras")

    replace(metadata, files={"keras": "tiny.keras"}).save(path)
    with pytest.raises(ModelError, match="has no tflite file listed in its metadata"):
        load_classifier(path, "tflite")
    replace(metadata, files={"tflite": "gone.tflite"}).save(path)
    with pytest.raises(ModelError, match="model file .*gone.tflite not found"):
        load_classifier(path, "tflite")

    path.write_text("{ not json")
    with pytest.raises(ModelError, match="tiny.json is not valid JSON"):
        load_classifier(path)
    data = metadata.to_json()
    del data["labels"]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="missing labels"):
        load_classifier(path)
    path.write_text(json.dumps({**metadata.to_json(), "input_size": [48]}))
    with pytest.raises(ModelError, match="'input_size' must be"):
        load_classifier(path)


# --- crops unlike the training faces are equalized, as FER-2013's faces are -------------------------

FER_LIKE_RULE = {"std_below": 70.0, "mean_below": 105.0, "mean_above": 170.0}


def test_equalize_unlike_changes_only_crops_unlike_the_training_faces():
    faces = face_crops(8, seed=2)
    flat = np.stack([cv2_equalize(face) for face in faces])  # like FER's faces: a flat histogram
    assert all(face.std() >= 70 for face in flat)
    assert equalize_unlike(flat, FER_LIKE_RULE) is flat  # nothing to do: the same array back

    dark = (faces * 0.35).astype(np.uint8)                  # a dim room
    washed = (faces * 0.3 + 170).astype(np.uint8)           # over-exposed, little contrast
    for shifted in (dark, washed):
        out = equalize_unlike(shifted, FER_LIKE_RULE)
        assert out.dtype == np.uint8 and out.shape == shifted.shape
        assert all(60 < face.std() < 90 and 110 < face.mean() < 150 for face in out)
        assert not np.shares_memory(out, shifted)
    mixed = np.concatenate([flat[:2], dark[:2]])
    out = equalize_unlike(mixed, FER_LIKE_RULE)
    np.testing.assert_array_equal(out[:2], flat[:2])
    np.testing.assert_array_equal(out[2:], [cv2_equalize(face) for face in dark[:2]])
    assert equalize_unlike(dark, {}) is dark and len(equalize_unlike(dark[:0], FER_LIKE_RULE)) == 0


def cv2_equalize(face):
    import cv2

    return cv2.equalizeHist(face)


def test_a_dim_face_reads_like_the_lit_one_when_the_model_equalizes(tiny_model, tmp_path):
    """The same real face, lit and in a dim room: with the rule in its metadata the model gets
    (nearly) the same input for both, so (nearly) the same probabilities; without it, not."""
    faces = face_crops(6, seed=4)
    dim = (faces * 0.35).astype(np.uint8)
    plain = load_classifier(tiny_model, "tflite", threads=1)
    path = copy_model(tiny_model, tmp_path)
    replace(ModelMetadata.load(path), equalize=FER_LIKE_RULE).save(path)
    equalizing = load_classifier(path, "tflite", threads=1)
    assert equalizing.metadata.equalize == FER_LIKE_RULE
    for classify in (lambda c, x: c.classify(x), lambda c, x: c.classify(x, test_time_views=True),
                     lambda c, x: c.classify_views(x, parse_views("1,1.05m"))):
        gap_plain = np.abs(classify(plain, faces) - classify(plain, dim)).max()
        gap_equalizing = np.abs(classify(equalizing, faces) - classify(equalizing, dim)).max()
        assert gap_equalizing < 0.5 * gap_plain, (gap_equalizing, gap_plain)
        # and it is the equalized crop the network sees
        np.testing.assert_allclose(classify(equalizing, dim),
                                   classify(plain, np.stack([cv2_equalize(face) for face in dim])), atol=1e-6)


@pytest.mark.parametrize("rule", [[70], {"std_above": 3}, {"std_below": "70"}, {"mean_below": -1},
                                  {"mean_above": True}])
def test_bad_equalize_rules_in_the_metadata_are_named(tiny_model, tmp_path, rule):
    path = copy_model(tiny_model, tmp_path)
    data = json.loads(path.read_text())
    data["equalize"] = rule
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataError, match="'equalize' must map"):
        ModelMetadata.load(path)


SOFTNESS_RULE = 0.5


def test_the_classifier_softens_sharp_crops_when_its_metadata_says_so(tiny_model, tmp_path):
    path = copy_model(tiny_model, tmp_path)
    faces = face_crops(6, seed=7)
    plain = load_classifier(path, "tflite", threads=1)
    replace(ModelMetadata.load(path), sharpness=SOFTNESS_RULE).save(path)
    softening = load_classifier(path, "tflite", threads=1)
    assert softening.metadata.sharpness == SOFTNESS_RULE
    # the network sees the softened crop, one pass and with views alike
    softened = soften_to(faces, SOFTNESS_RULE)
    np.testing.assert_allclose(softening.classify(faces), plain.classify(softened), atol=1e-6)
    np.testing.assert_allclose(softening.classify(faces, test_time_views=True),
                               plain.classify(softened, test_time_views=True), atol=1e-6)
    assert np.abs(softening.classify(faces) - plain.classify(faces)).max() > 1e-4
    soft = blurred(faces, 1.3)
    np.testing.assert_allclose(softening.classify(soft), plain.classify(soft), atol=1e-6)


@pytest.mark.parametrize("value", [-0.1, 3.5, "0.5", True, None])
def test_bad_sharpness_in_the_metadata_is_named(tiny_model, tmp_path, value):
    data = json.loads(tiny_model.read_text())
    data["sharpness"] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataError, match="'sharpness' must be a number from 0"):
        ModelMetadata.load(path)




def blurred(faces, sigma):
    import cv2

    return np.stack([cv2.GaussianBlur(face, (0, 0), sigma) for face in faces])


def test_metadata_with_a_label_named_twice_is_refused(tmp_path):
    import json

    from acting_mirror.metadata import MetadataError, ModelMetadata
    from acting_mirror.paths import package_root

    data = json.loads((package_root() / "models" / "mirror_ensemble.json").read_text())
    data["labels"] = ["angry", "disgust", "scared", "happy", "sad", "sad", "neutral"]
    (tmp_path / "twice.json").write_text(json.dumps(data))
    with pytest.raises(MetadataError, match="'labels' names sad more than once"):
        ModelMetadata.load(tmp_path / "twice.json")
