"""Crop preparation by the model's rules: the sharpness measure and the softening that
brings crops sharper than the training faces down to them (`acting_mirror.prepare`), on
real face crops, and the target training gives a model. The classifier's use of the rule
is tested in test_model.py."""

from __future__ import annotations

import cv2
import numpy as np

from acting_mirror.prepare import SIGMA_LADDER, sharpness, soften_to
from acting_mirror.training.export import face_crops
from acting_mirror.training.inputs import to_model_input, to_pixels, training_sharpness

TARGET = 0.5


def blurred(faces, sigma):
    return np.stack([cv2.GaussianBlur(face, (0, 0), sigma) for face in faces])


def direct_sharpness(face):
    """The definition, the long way: RMS Laplacian over RMS deviation of the Hann-windowed crop
    (periodic Laplacian, since the spectrum sees the crop as periodic)."""
    x = face.astype(np.float64)
    x = (x - x.mean()) * np.outer(np.hanning(x.shape[0]), np.hanning(x.shape[1]))
    laplacian = np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1) + np.roll(x, -1, 1) - 4 * x
    return np.sqrt((laplacian ** 2).sum() / (x ** 2).sum())


def test_sharpness_follows_its_definition_and_falls_with_blur():
    faces = face_crops(12, seed=3)
    measured = sharpness(faces)
    np.testing.assert_allclose(measured, [direct_sharpness(face) for face in faces], rtol=1e-4)
    # independent of contrast and brightness, zero for a flat crop, lower the more it is blurred
    np.testing.assert_allclose(sharpness((faces // 2 + 60).astype(np.uint8)), measured, rtol=0.05)
    assert sharpness(np.full((1, 48, 48), 128, np.uint8))[0] == 0
    assert np.all(sharpness(blurred(faces, 0.6)) < measured)
    assert np.all(sharpness(blurred(faces, 1.0)) < sharpness(blurred(faces, 0.6)))
    assert len(sharpness(faces[:0])) == 0


def test_soften_to_brings_sharp_crops_to_the_target_and_leaves_soft_ones():
    faces = face_crops(16, seed=5)
    sharp = np.concatenate([faces, np.clip(faces + np.random.default_rng(0).normal(0, 12, faces.shape), 0, 255)
                            .astype(np.uint8)])  # real faces, and the same with sensor noise (sharper still)
    assert np.all(sharpness(sharp) > TARGET + 0.1)
    out = soften_to(sharp, TARGET)
    assert out.dtype == np.uint8 and out.shape == sharp.shape and not np.shares_memory(out, sharp)
    # the predicted blur lands within a ladder step of the target
    assert np.all(np.abs(sharpness(out) - TARGET) < 0.05), sharpness(out)
    # each crop got one of the ladder's Gaussians, the one nearest the target
    for face, softened in zip(sharp[:4], out[:4], strict=True):
        candidates = [cv2.GaussianBlur(face, (0, 0), sigma) for sigma in SIGMA_LADDER]
        best = min(candidates, key=lambda c: abs(sharpness(c[None])[0] - TARGET))
        assert np.abs(best.astype(int) - softened).max() <= 1
    soft = blurred(faces, 1.3)                      # a far face enlarged, a blurred frame
    assert np.all(sharpness(soft) < TARGET)
    assert soften_to(soft, TARGET) is soft           # nothing to do: the same array back
    mixed = np.concatenate([soft[:3], faces[:3]])
    out = soften_to(mixed, TARGET)
    np.testing.assert_array_equal(out[:3], soft[:3])
    assert not np.array_equal(out[3:], faces[:3])
    assert soften_to(faces, 0) is faces and len(soften_to(faces[:0], TARGET)) == 0


def test_training_sharpness_is_the_softness_of_the_augmented_faces():
    faces = face_crops(300, seed=11)
    target = training_sharpness(faces, ["geometric", "erasing"], seed=0)
    assert 0 < target < np.median(sharpness(faces))               # resampling softens every face
    assert target == training_sharpness(faces, ["geometric"], seed=0)  # only the geometric ones count
    assert target == training_sharpness(faces, ["geometric"], seed=0)  # seeded: the same again
    assert training_sharpness(faces, ["erasing"], seed=0) == 0.0       # no resampling, no rule
    # one bicubic resampling ("warp") keeps most of a face's sharpness, three bilinear ones halve it
    warped = training_sharpness(faces, ["warp", "erasing"], seed=0)
    assert warped > 1.5 * target and warped > 0.8 * np.median(sharpness(faces))
    # the round trip through the model's input scale keeps pixels exact
    np.testing.assert_array_equal(to_pixels(to_model_input(faces[:4])), faces[:4])
