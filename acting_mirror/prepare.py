"""How a face crop is prepared before the network sees it, by rules in the model's metadata.

Two differences between a crop the app cuts and the faces a network learnt from:

- Contrast. FER-2013's faces come histogram-equalized, a camera's crops do not:
  `equalize_unlike` equalizes the crops whose grey levels lie outside the training faces'.
- Sharpness. Every training face passed through the augmentations, whose rotations, shifts
  and zooms resample it, so the network learnt from softer faces than a FER row or a crop
  shrunk from a large face in a camera frame. `soften_to` blurs each crop that is sharper
  than the training faces were down to their sharpness, and leaves softer ones (a far face
  enlarged, a blurred frame) as they are.

Sharpness here is contrast-free: the root-mean-square Laplacian of the crop over its own
root-mean-square deviation, both taken from the spectrum of the crop under a Hann window (the
window keeps the crop's edges out of it; the spectrum lets the effect of each blur be predicted
without blurring: within 0.005 of the measured value on FER faces).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SIGMA_LADDER = tuple(round(0.25 + 0.05 * i, 2) for i in range(27))  # 0.25 to 1.55 px


def equalize_unlike(crops: np.ndarray, rule: dict) -> np.ndarray:
    """uint8 crops (N, H, W) with each crop whose contrast (std of its grey levels) or brightness
    (their mean) lies outside `rule` histogram-equalized; the others unchanged. FER-2013's faces
    come equalized (a flat histogram, std about 74), a camera's do not: equalizing those brings
    them to what the model learnt from, while a crop already like the training faces is left as
    it is (equalizing it again would change it). An empty rule changes nothing."""
    if not rule or len(crops) == 0:
        return crops
    flat = crops.reshape(len(crops), -1).astype(np.float32)
    means, stds = flat.mean(axis=1), flat.std(axis=1)
    unlike = ((stds < rule.get("std_below", 0.0)) | (means < rule.get("mean_below", 0.0))
              | (means > rule.get("mean_above", 256.0)))
    if not unlike.any():
        return crops
    import cv2

    out = np.array(crops, dtype=np.uint8, copy=True)
    for i in np.flatnonzero(unlike):
        out[i] = cv2.equalizeHist(out[i])
    return out


def _kernel_response(sigma: float, frequencies: np.ndarray) -> np.ndarray:
    """The frequency response of the 1-D kernel OpenCV's GaussianBlur uses on uint8 images."""
    import cv2

    size = int(round(sigma * 3 * 2 + 1)) | 1  # OpenCV's own kernel size for 8-bit images at ksize (0, 0)
    kernel = cv2.getGaussianKernel(size, sigma).ravel()
    offsets = np.arange(size) - size // 2
    return np.cos(np.outer(frequencies, offsets)) @ kernel


@lru_cache(maxsize=8)
def _spectral_weights(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For rfft2 spectra of (height, width) crops: the Hann window, each bin's weight (interior
    columns stand for two bins), the Laplacian's power response, and the responses that give,
    in one product with a power spectrum, its Laplacian power and its total power without a
    blur and after each ladder sigma's Gaussian: (bins, 2 x (1 + len(SIGMA_LADDER))), float32
    (one small product a crop, the cheapest step of the rule)."""
    wy = 2 * np.pi * np.fft.fftfreq(height)
    wx = 2 * np.pi * np.fft.rfftfreq(width)
    weight = np.full((height, len(wx)), 2.0)
    weight[:, 0] = 1.0
    if width % 2 == 0:
        weight[:, -1] = 1.0
    laplacian = (2 * np.cos(wy)[:, None] + 2 * np.cos(wx)[None, :] - 4.0) ** 2
    gaussians = np.stack([np.outer(_kernel_response(s, wy), _kernel_response(s, wx)).ravel() ** 2
                          for s in SIGMA_LADDER], axis=1)
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    blurs = np.concatenate([np.ones((len(laplacian.ravel()), 1)), gaussians], axis=1)
    responses = np.ascontiguousarray(np.concatenate([laplacian.ravel()[:, None] * blurs, blurs], axis=1),
                                     dtype=np.float32)
    return window, weight.ravel(), laplacian.ravel(), responses


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b without BLAS: BLAS's threads would go on spinning after these small products and
    take the cores from the classifier's own threads (measured: batches of 20 ran 1.9x slower)."""
    return np.einsum("nf,f...->n...", a, b)


def _power(crops: np.ndarray) -> np.ndarray:
    """Each crop's weighted power spectrum under the window, (N, bins)."""
    window, weight, _, _ = _spectral_weights(*crops.shape[1:3])
    pixels = crops.astype(np.float32)
    pixels -= pixels.mean(axis=(1, 2), keepdims=True)
    return (np.abs(np.fft.rfft2(pixels * window)) ** 2).reshape(len(crops), -1) * weight


def _sharpness_of(laplacian_power: np.ndarray, total_power: np.ndarray) -> np.ndarray:
    """Sharpness from a spectrum's Laplacian-weighted and total powers (a flat crop: 0)."""
    return np.sqrt(laplacian_power / np.maximum(total_power, 1e-9)) * (total_power > 1e-9)


def sharpness(crops: np.ndarray) -> np.ndarray:
    """(N,) contrast-free sharpness of uint8 crops (N, H, W): std of the Laplacian / std of the
    crop (a flat crop: 0). FER-2013's Training rows: 1.07 (median); after the geometric
    augmentations, 0.49."""
    crops = np.asarray(crops)
    if len(crops) == 0:
        return np.zeros(0)
    _, _, laplacian, _ = _spectral_weights(*crops.shape[1:3])
    power = _power(crops)
    return _sharpness_of(_dot(power, laplacian), power.sum(axis=1))


def soften_to(crops: np.ndarray, target: float) -> np.ndarray:
    """uint8 crops (N, H, W), each one sharper than `target` blurred with the Gaussian (from
    `SIGMA_LADDER`) that brings its sharpness nearest `target`; the others unchanged. 0: none."""
    crops = np.asarray(crops)
    if target <= 0 or len(crops) == 0:
        return crops
    _, _, _, responses = _spectral_weights(*crops.shape[1:3])
    # column 0: the crop as it is; column 1 + k: after ladder sigma k, whose blur scales every
    # frequency's power by its response. Laplacian powers first, then total powers.
    laplacian_power, total_power = np.split(_dot(_power(crops).astype(np.float32), responses), 2, axis=1)
    blurred = _sharpness_of(laplacian_power, total_power)
    sharp = np.flatnonzero(blurred[:, 0] > target)
    if len(sharp) == 0:
        return crops
    sigmas = np.asarray(SIGMA_LADDER)[np.abs(blurred[sharp, 1:] - target).argmin(axis=1)]
    import cv2

    out = np.array(crops, dtype=np.uint8, copy=True)
    for i, sigma in zip(sharp, sigmas, strict=True):
        out[i] = cv2.GaussianBlur(out[i], (0, 0), float(sigma))
    return out
