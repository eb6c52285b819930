"""Training augmentations: Keras preprocessing layers applied to [-1, 1] batches of faces.

Each kind mimics something a camera does to a face ("light": a lamp to one side, "jpeg":
compression, "far": a face few pixels across, "blur", "noise") or varies its framing
("geometric": Keras's flip, turn, shifts and zoom; "warp": the same changes in one bicubic
resampling, see `acting_mirror.training.warp`).
"""

from __future__ import annotations

from acting_mirror.training.warp import one_warp_layer

# "light" (uneven lighting) and "jpeg" (compression artefacts) mimic the app's webcam crops,
# with "blur" and "noise"; box jitter and small rolls are "geometric"'s shifts, zooms and rotations.
# "warp" draws the same changes as "geometric" but resamples each face once, bicubic (sharper faces)
AUGMENTATIONS = ("geometric", "warp", "noise", "brightness", "blur", "erasing", "light", "jpeg", "far")


def _uneven_light_layer(seed: int):
    """A random brightness ramp across the face (one side lit, the other in shadow) and a
    random gamma, as a desk lamp or window gives a webcam; half the faces, [-1, 1] kept."""
    import keras
    import tensorflow as tf

    class UnevenLight(keras.layers.Layer):
        def call(self, images, training=True):
            if not training:
                return images
            shape = tf.shape(images)
            batch = shape[0]
            ys, xs = tf.meshgrid(tf.linspace(-1.0, 1.0, shape[1]), tf.linspace(-1.0, 1.0, shape[2]), indexing="ij")
            slope = tf.random.uniform((batch, 2), -0.35, 0.35, seed=seed)
            ramp = slope[:, 0, None, None] * xs + slope[:, 1, None, None] * ys
            gamma = tf.exp(tf.random.uniform((batch, 1, 1), -0.4, 0.4, seed=seed))
            unit = tf.clip_by_value((images[..., 0] + 1.0) / 2.0, 0.0, 1.0)
            lit = tf.clip_by_value(tf.pow(unit, gamma) * (1.0 + ramp), 0.0, 1.0) * 2.0 - 1.0
            chosen = tf.random.uniform((batch, 1, 1), seed=seed) < 0.5
            return tf.where(chosen, lit, images[..., 0])[..., None]

    return UnevenLight(name="uneven_light")


def _jpeg_layer(seed: int):
    """JPEG artefacts at quality 25-85 (webcam streams, downloaded videos) on half the faces."""
    import keras
    import tensorflow as tf

    class JpegArtefacts(keras.layers.Layer):
        def call(self, images, training=True):
            if not training:
                return images
            batch = tf.shape(images)[0]
            quality = tf.random.uniform((batch,), 25, 86, dtype=tf.int32, seed=seed)
            unit = tf.clip_by_value((images + 1.0) / 2.0, 0.0, 1.0)
            compressed = tf.map_fn(lambda pair: tf.image.adjust_jpeg_quality(pair[0], pair[1]),
                                   (unit, quality), fn_output_signature=tf.float32)
            compressed = tf.reshape(compressed, tf.shape(images)) * 2.0 - 1.0
            chosen = tf.random.uniform((batch, 1, 1, 1), seed=seed) < 0.5
            return tf.where(chosen, compressed, images)

    return JpegArtefacts(name="jpeg_artefacts")


def _far_layer(seed: int):
    """A face far from the camera: half the faces shrunk to 16-32 px across (area-averaged, as a
    camera and the app's INTER_AREA shrink do) and enlarged back, so they keep only that much
    detail. The robustness probe's largest drop (docs/experiments/models.md, "Faces as a camera gives them")."""
    import keras
    import tensorflow as tf

    class FarFace(keras.layers.Layer):
        def call(self, images, training=True):
            if not training:
                return images
            shape = tf.shape(images)
            side = tf.random.uniform((), 16, 33, dtype=tf.int32, seed=seed)  # one size a batch
            small = tf.image.resize(images, (side, side), method="area")
            back = tf.image.resize(small, shape[1:3], method="bilinear")
            chosen = tf.random.uniform((shape[0], 1, 1, 1), seed=seed) < 0.5
            return tf.where(chosen, back, images)

    return FarFace(name="far_face")


def build_augmenter(kinds: list[str], seed: int):
    """Keras preprocessing layers applied to [-1, 1] batches inside tf.data."""
    import keras
    from keras import layers

    steps = []
    if "geometric" in kinds:
        steps += [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
            layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
        ]
    if "warp" in kinds:
        steps.append(one_warp_layer(seed))
    if "brightness" in kinds:
        steps += [
            layers.RandomBrightness(0.2, value_range=(-1.0, 1.0), seed=seed),
            # value_range matters: the default (0, 255) clips every negative pixel to 0
            layers.RandomContrast(0.2, value_range=(-1.0, 1.0), seed=seed),
        ]
    if "light" in kinds:
        steps.append(_uneven_light_layer(seed))
    if "blur" in kinds:
        steps.append(layers.RandomGaussianBlur(factor=0.5, kernel_size=3, sigma=1.0,
                                               value_range=(-1.0, 1.0), seed=seed))
    if "noise" in kinds:
        steps.append(layers.GaussianNoise(0.05, seed=seed))
    if "jpeg" in kinds:
        steps.append(_jpeg_layer(seed))
    if "far" in kinds:
        steps.append(_far_layer(seed))
    if "erasing" in kinds:
        steps.append(layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(-1.0, 1.0), seed=seed))
    return keras.Sequential(steps, name="augment") if steps else None
