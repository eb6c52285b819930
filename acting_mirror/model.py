"""Emotion classifier: a shipped model plus its metadata, run by LiteRT or Keras.

Only this module knows TensorFlow and LiteRT. `classify(crops)` takes uint8
grayscale face crops at the model's input size and returns probabilities in
the model's label order; scaling comes from the metadata.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.metadata import MetadataError, ModelMetadata
from acting_mirror.paths import package_root
from acting_mirror.quiet import native_stderr_silenced
from acting_mirror.views import View, average_views, render_views

BACKENDS = ("tflite", "keras")


class ModelError(MirrorError, RuntimeError):
    """A model that cannot be found, read or run; the message names the file."""


class BackendNotInstalled(ModelError):
    """A backend this install lacks (keras without the train extra): like a bad flag, exit 2."""

    exit_code = 2


def resolve_metadata_path(path: str | Path) -> Path:
    """Accept a metadata JSON or a model file beside one; relative paths are tried
    from the working directory, then from the project root."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"model {path} is a folder; give its metadata JSON (e.g. {path / 'mirror_net.json'})")
    candidates = [path] if path.is_absolute() else [path, package_root() / path]
    for candidate in candidates:
        json_path = candidate if candidate.suffix == ".json" else candidate.with_suffix(".json")
        if json_path.is_file():
            return json_path
    raise ModelError(f"model {path} not found (looked for its metadata JSON in "
                     f"{', '.join(str(c.parent) for c in candidates)})")


def load_metadata(path: str | Path) -> tuple[ModelMetadata, Path]:
    json_path = resolve_metadata_path(path)
    try:
        return ModelMetadata.load(json_path), json_path
    except MetadataError as error:
        raise ModelError(str(error)) from None


class EmotionClassifier:
    """Base: holds metadata and preprocessing; backends implement `_run`."""

    backend = ""

    def __init__(self, metadata: ModelMetadata, model_path: Path, test_time_views: bool = False,
                 views_max_faces: int = 0):
        self.metadata = metadata
        self.model_path = model_path
        self.test_time_views = test_time_views
        self.views_max_faces = views_max_faces  # 0: every face gets its views
        self.views = metadata.views             # parsed once, not per frame

    @property
    def labels(self) -> tuple[str, ...]:
        return self.metadata.labels

    @property
    def input_size(self) -> tuple[int, int]:
        return self.metadata.input_size

    def classify(self, crops: np.ndarray, test_time_views: bool | None = None) -> np.ndarray:
        """uint8 crops (N, H, W) -> float32 probabilities (N, len(labels)); one batched call.

        With `test_time_views` (default: the classifier's setting) each crop's probabilities
        are averaged over the views its metadata lists (mirror image, slight zoom), all in
        the same call; past `views_max_faces` crops (the detector sends the largest faces
        first) the rest get one pass, so a crowd costs little more than one view a face."""
        crops = np.asarray(crops)
        if crops.ndim != 3 or crops.shape[1:] != self.input_size:
            raise ValueError(f"expected crops of shape (N, {self.input_size[0]}, {self.input_size[1]}), "
                             f"got {crops.shape}")
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        crops = self.metadata.prepared(crops)
        if not (self.test_time_views if test_time_views is None else test_time_views):
            return self._run(self.metadata.scale_pixels(crops))
        return self._classify_views(crops, self.views, self.views_max_faces)

    def classify_views(self, crops: np.ndarray, views: tuple[View, ...], max_faces: int = 0) -> np.ndarray:
        """The mean probabilities over the given views of each crop (of the first `max_faces`
        crops when > 0; the others get one pass), in one call."""
        return self._classify_views(self.metadata.prepared(np.asarray(crops)), views, max_faces)

    def _classify_views(self, crops: np.ndarray, views: tuple[View, ...], max_faces: int) -> np.ndarray:
        with_views = len(crops) if max_faces <= 0 else min(len(crops), max_faces)
        batch = np.concatenate([render_views(crops[:with_views], views), crops[with_views:]])
        probabilities = self._run(self.metadata.scale_pixels(batch))
        split = with_views * len(views)
        return np.concatenate([average_views(probabilities[:split], len(views)), probabilities[split:]])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check_shapes(self, input_shape, output_shape) -> None:
        """At load, not at the first face: the model file must fit its metadata."""
        if any(shape is not None and any(isinstance(v, (tuple, list)) for v in shape)
               for shape in (input_shape, output_shape)):
            return  # several inputs or outputs: not a model this app runs; its first call says so
        outputs = output_shape[-1] if output_shape is not None and len(output_shape) else None
        if outputs is not None and int(outputs) != len(self.labels):
            raise ModelError(f"model {self.model_path} gives {int(outputs)} outputs, but its metadata lists "
                             f"{len(self.labels)} labels ({', '.join(self.labels)})")
        if input_shape is not None and len(input_shape) == 4:
            size = tuple(int(v) for v in input_shape[1:3] if v is not None and int(v) > 0)
            if len(size) == 2 and size != self.input_size:
                raise ModelError(f"model {self.model_path} takes {size[0]}x{size[1]} input, but its metadata "
                                 f"says {self.input_size[0]}x{self.input_size[1]}")


class TFLiteClassifier(EmotionClassifier):
    backend = "tflite"

    def __init__(self, metadata: ModelMetadata, model_path: Path, threads: int = 2, test_time_views: bool = False,
                 views_max_faces: int = 0):
        super().__init__(metadata, model_path, test_time_views, views_max_faces)
        from ai_edge_litert.interpreter import Interpreter

        try:
            with native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"model {model_path} is not a valid TFLite model ({error})") from None
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 1
        self._check_shapes(self._interpreter.get_input_details()[0]["shape"],
                           self._interpreter.get_output_details()[0]["shape"])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:
            # resize once per new batch size; steady-state frames reuse the allocation
            self._interpreter.resize_tensor_input(self._input, batch.shape, strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


class KerasClassifier(EmotionClassifier):
    backend = "keras"

    def __init__(self, metadata: ModelMetadata, model_path: Path, threads: int = 2, test_time_views: bool = False,
                 views_max_faces: int = 0):
        super().__init__(metadata, model_path, test_time_views, views_max_faces)
        from acting_mirror.extras import TRAIN, MissingExtra, require

        try:
            require(TRAIN, "the keras backend", ("tensorflow", "keras"))
        except MissingExtra as error:
            raise BackendNotInstalled(f"{error}, or use the default tflite backend") from None
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with native_stderr_silenced():
            import keras
            import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # TensorFlow already running: keep its thread setting
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        try:
            with native_stderr_silenced():
                self._model = keras.models.load_model(model_path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise ModelError(f"model {model_path} is not a valid Keras model ({error})") from error  # debug: kept
        self._check_shapes(getattr(self._model, "input_shape", None), getattr(self._model, "output_shape", None))
        # A compiled graph call: Keras' predict() costs ~45 ms of overhead per call.
        self._call = tf.function(lambda x: self._model(x, training=False), reduce_retracing=True)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._call(batch), dtype=np.float32)


def load_classifier(path: str | Path, backend: str = "tflite", threads: int = 2,
                    quantized: bool = True, test_time_views: bool = False,
                    views_max_faces: int = 0) -> EmotionClassifier:
    """Load the model named by a metadata JSON (or a model file beside one). With the
    tflite backend, `quantized` picks the dynamic-range quantised file when there is one;
    `test_time_views` makes `classify` average each crop over the model's test-time views
    (the first `views_max_faces` crops of a call when > 0)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose {' or '.join(BACKENDS)}")
    metadata, json_path = load_metadata(path)
    file_name = metadata.files.get(backend)
    if backend == "tflite" and quantized and metadata.files.get("tflite_dynamic"):
        file_name = metadata.files["tflite_dynamic"]
    if not file_name:
        raise ModelError(f"model {json_path} has no {backend} file listed in its metadata")
    model_path = json_path.parent / file_name
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} not found")
    cls = TFLiteClassifier if backend == "tflite" else KerasClassifier
    return cls(metadata, model_path, threads=threads, test_time_views=test_time_views,
               views_max_faces=views_max_faces)


def load_configured_classifier(settings) -> EmotionClassifier:
    """The classifier a config's `model` section names (path, backend, threads, quantised file,
    test-time views), as the mirror runs it."""
    return load_classifier(settings.path, settings.backend, settings.threads, settings.quantized,
                           settings.test_time_views, settings.views_max_faces)
