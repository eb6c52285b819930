"""One bicubic warp of a batch of faces, in Keras ops: the same code runs in tf.data (TensorFlow),
inside a jitted training step (JAX, on a GPU) and on NumPy arrays.

"geometric" augmentation resamples each face three times, bilinear (rotation, translation, zoom
layers), which halves its sharpness; `OneWarp` draws the same changes (a flip of half the faces, a
turn of up to 10 degrees, shifts of up to 10%, a zoom of up to 10% either way), composes them into
one affine map and resamples once, bicubic with OpenCV's kernel (A = -0.75) and OpenCV's
BORDER_REFLECT, as `cv2.warpAffine(..., INTER_CUBIC, BORDER_REFLECT)` would.
"""

from __future__ import annotations

import math

CUBIC_A = -0.75  # OpenCV's bicubic kernel (Keys' cubic convolution with a = -0.75)


def _cubic_weight(distance):
    """Keys' cubic convolution kernel at |distance| (0 <= d < 2)."""
    from keras import ops

    d = ops.abs(distance)
    near = ((CUBIC_A + 2.0) * d - (CUBIC_A + 3.0)) * d * d + 1.0
    far = ((CUBIC_A * d - 5.0 * CUBIC_A) * d + 8.0 * CUBIC_A) * d - 4.0 * CUBIC_A
    return ops.where(d <= 1.0, near, ops.where(d < 2.0, far, 0.0))


def _reflect(index, size: int):
    """OpenCV's BORDER_REFLECT (fedcba|abcdefgh|hgfedcb) for any integer index."""
    from keras import ops

    period = 2 * size
    folded = ops.mod(index, period)
    return ops.where(folded < size, folded, period - 1 - folded)


def warp_faces(images, flip, angle, scale, shift_x, shift_y):
    """(B, H, W, 1) float faces -> the same faces, each flipped (where `flip`), turned by `angle`
    degrees and scaled by `scale` about its centre, then moved by (`shift_x`, `shift_y`) pixels:
    cv2.getRotationMatrix2D's map plus the shift, resampled once, bicubic. Each parameter is (B,)."""
    from keras import ops

    height, width = int(images.shape[1]), int(images.shape[2])
    batch = ops.shape(images)[0]
    centre_x, centre_y = (width - 1) / 2.0, (height - 1) / 2.0
    radians = ops.cast(angle, "float32") * (math.pi / 180.0)
    scale = ops.cast(scale, "float32")
    alpha, beta = scale * ops.cos(radians), scale * ops.sin(radians)
    # destination = A @ source + b (cv2.getRotationMatrix2D, plus the shift); invert per face
    offset_x = (1.0 - alpha) * centre_x - beta * centre_y + ops.cast(shift_x, "float32")
    offset_y = beta * centre_x + (1.0 - alpha) * centre_y + ops.cast(shift_y, "float32")
    grid_y, grid_x = ops.meshgrid(ops.arange(height, dtype="float32"), ops.arange(width, dtype="float32"),
                                  indexing="ij")
    dx = grid_x[None] - offset_x[:, None, None]
    dy = grid_y[None] - offset_y[:, None, None]
    inverse = 1.0 / (scale * scale)
    source_x = (alpha[:, None, None] * dx - beta[:, None, None] * dy) * inverse[:, None, None]
    source_y = (beta[:, None, None] * dx + alpha[:, None, None] * dy) * inverse[:, None, None]
    # a flipped face is sampled at the mirrored column: flipping moves whole pixels, no resampling
    source_x = ops.where(ops.reshape(flip, (-1, 1, 1)), (width - 1.0) - source_x, source_x)

    base_x, base_y = ops.floor(source_x), ops.floor(source_y)
    frac_x, frac_y = source_x - base_x, source_y - base_y
    base_x, base_y = ops.cast(base_x, "int32"), ops.cast(base_y, "int32")
    flat = ops.reshape(ops.cast(images, "float32"), (batch, height * width))
    out = 0.0
    for k_y in range(-1, 3):
        rows = _reflect(base_y + k_y, height) * width
        weight_y = _cubic_weight(frac_y - k_y)
        line = 0.0
        for k_x in range(-1, 3):
            index = ops.reshape(rows + _reflect(base_x + k_x, width), (batch, height * width))
            values = ops.reshape(ops.take_along_axis(flat, index, axis=1), (batch, height, width))
            line = line + _cubic_weight(frac_x - k_x) * values
        out = out + weight_y * line
    return ops.reshape(out, (batch, height, width, 1))


def one_warp_layer(seed: int, rotation: float = 10.0, shift: float = 0.1, zoom: float = 0.1):
    """A Keras layer that warps a training batch once (see the module's docstring); the identity
    when not training. Its random draws come from a seeded Keras SeedGenerator, so a run repeats."""
    import keras
    from keras import ops

    class OneWarp(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=True):
            if not training:
                return images
            batch = ops.shape(images)[0]
            height, width = int(images.shape[1]), int(images.shape[2])

            def uniform(low, high):
                return keras.random.uniform((batch,), low, high, seed=self.seed_generator)

            flip = uniform(0.0, 1.0) < 0.5
            warped = warp_faces(images, flip, uniform(-rotation, rotation), uniform(1.0 - zoom, 1.0 + zoom),
                                uniform(-shift, shift) * width, uniform(-shift, shift) * height)
            return ops.clip(warped, -1.0, 1.0)  # bicubic overshoots a little at hard edges

        def compute_output_shape(self, input_shape):
            return input_shape

    return OneWarp(name="one_warp")
