"""Average trained models into one model: one `.keras` file, one TFLite file, one call.

Networks trained from different random starts make partly different mistakes, so the
mean of their probabilities is right more often than either alone. Packing the members
into a single Keras model keeps everything downstream unchanged: `export` converts it
to one TFLite graph, `evaluate` scores it, and the app loads it like any other model.
Members must agree on labels, input size and pixel scaling; those come from their
metadata files and are copied, never restated.
"""

from __future__ import annotations

from pathlib import Path

from acting_mirror.metadata import ModelMetadata
from acting_mirror.model import ModelError, load_metadata

# what every member must share for their probabilities to be averaged
SHARED_FIELDS = ("labels", "input_size", "channels", "pixel_scale", "pixel_offset", "equalize", "sharpness")


def load_members(paths: list[str | Path]) -> list[tuple[ModelMetadata, Path]]:
    """Each member's metadata and Keras file; refuses members that cannot be averaged."""
    if len(paths) < 2:
        raise ValueError("an ensemble needs at least two member models")
    members = []
    for path in paths:
        metadata, json_path = load_metadata(path)
        keras_name = metadata.files.get("keras")
        if not keras_name or not (json_path.parent / keras_name).is_file():
            raise ModelError(f"member {json_path} has no Keras file to build from")
        members.append((metadata, json_path.parent / keras_name))
    first = members[0][0]
    for metadata, keras_path in members[1:]:
        for name in SHARED_FIELDS:
            if getattr(metadata, name) != getattr(first, name):
                raise ModelError(f"member {keras_path.name} has {name} {getattr(metadata, name)!r}, "
                                 f"but {members[0][1].name} has {getattr(first, name)!r}")
    return members


def build_ensemble(paths: list[str | Path], output: str | Path, name: str | None = None) -> ModelMetadata:
    """Write one Keras model averaging the members' probabilities, with its metadata JSON."""
    import keras

    members = load_members(paths)
    output = Path(output)
    if output.suffix != ".keras":
        raise ValueError(f"ensemble output must be a .keras file, got {output}")
    first = members[0][0]
    inputs = keras.Input(shape=(*first.input_size, first.channels), name="face")
    outputs = []
    for index, (_, keras_path) in enumerate(members):
        member = keras.models.load_model(keras_path, compile=False)
        member.name = f"member_{index}_{member.name}"  # members often share a name; layers must not
        outputs.append(member(inputs))
    model = keras.Model(inputs, keras.layers.Average(name="mean_probability")(outputs), name="ensemble")
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    metadata = ModelMetadata(
        name=name or output.stem,
        labels=first.labels,
        input_size=first.input_size,
        channels=first.channels,
        pixel_scale=first.pixel_scale,
        pixel_offset=first.pixel_offset,
        equalize=dict(first.equalize),
        sharpness=first.sharpness,
        architecture="ensemble of " + " + ".join(_describe(metadata) for metadata, _ in members),
        parameters=int(model.count_params()),
        files={"keras": output.name},
        training={
            "combination": "mean of the members' probabilities",
            "train_split": first.training.get("train_split"),
            "selection_split": first.training.get("selection_split"),
            "train_seconds": round(sum(m.training.get("train_seconds", 0.0) for m, _ in members), 1),
            "members": [_member_record(metadata, keras_path) for metadata, keras_path in members],
        },
    )
    metadata.save(output.with_suffix(".json"))
    return metadata


def _describe(metadata: ModelMetadata) -> str:
    width = metadata.training.get("config", {}).get("width")
    return f"{metadata.architecture} w{width:g}" if width is not None else metadata.architecture


def _member_record(metadata: ModelMetadata, keras_path: Path) -> dict:
    return {
        "name": metadata.name,
        "file": keras_path.name,
        "architecture": metadata.architecture,
        "parameters": metadata.parameters,
        "evaluation": metadata.evaluation,
        "training": metadata.training,
    }
