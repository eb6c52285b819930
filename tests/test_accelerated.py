"""The accelerated training path (a GPU machine with JAX and no TensorFlow), run here on the
installed Keras backend: packed faces, a plan of runs in their own processes, and run
directories that the CPU tools package and load unchanged."""

from __future__ import annotations

import json
import lzma
import tarfile
from pathlib import Path

import numpy as np
import pytest

from acting_mirror.training import accelerated
from acting_mirror.training.data import (
    HOLDOUT_SPLIT,
    TRAIN_REST_SPLIT,
    Dataset,
    DatasetError,
    load_dataset,
    load_packed,
    pack,
)
from acting_mirror.training.export import face_crops

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow


def splits_of_faces() -> dict[str, Dataset]:
    """Real face crops (the demo's face, shifted, zoomed, lit differently), 8 a class in
    Training and 3 in PublicTest, plus the two corners of the pixel range."""
    out = {}
    for split, count in (("Training", 8), ("PublicTest", 3)):
        images = np.concatenate([face_crops(count, seed=10 * label + len(split)) for label in range(7)])
        labels = np.repeat(np.arange(7), count)
        out[split] = Dataset(images, labels, "faces")
    images = out["Training"].images.copy()
    images[0] = 0
    images[1] = 255
    images[2, ::2] = 255  # a hard edge every other row: residuals wrap around 0/255
    out["Training"] = Dataset(images, out["Training"].labels, "faces")
    return out


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    path = tmp_path_factory.mktemp("packed") / "faces.fer.xz"
    size = pack(splits_of_faces(), path)
    return path, size


def test_packed_faces_come_back_exactly_and_smaller(packed):
    path, size = packed
    original = splits_of_faces()
    loaded = load_packed(path)
    assert list(loaded) == ["Training", "PublicTest"]
    for split, data in original.items():
        assert np.array_equal(loaded[split].images, data.images)
        assert np.array_equal(loaded[split].labels, data.labels)
    raw = sum(data.images.nbytes + len(data) for data in original.values())
    assert size < 0.8 * raw
    # load_dataset reads the file like a CSV: derived splits too
    derived = load_dataset(path, (TRAIN_REST_SPLIT, HOLDOUT_SPLIT))
    assert len(derived[TRAIN_REST_SPLIT]) + len(derived[HOLDOUT_SPLIT]) == len(original["Training"])
    assert set(load_dataset(path, ("PublicTest",))) == {"PublicTest"}


def test_bad_packed_files_are_named(packed, tmp_path):
    path, _ = packed
    with pytest.raises(DatasetError, match="split 'PrivateTest' has no images"):
        load_packed(path, ("PrivateTest",))
    for name, content in (("text.fer.xz", b"emotion,pixels,Usage\n"), ("cut.fer.xz", path.read_bytes()[:200])):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DatasetError, match="cannot read as packed faces|not a packed faces file"):
            load_dataset(tmp_path / name)
    # a whole LZMA stream that holds fewer faces than its header announces
    raw = path.read_bytes()
    size = int.from_bytes(raw[:4], "little")
    body = lzma.decompress(raw[4 + size:])
    (tmp_path / "short.fer.xz").write_bytes(raw[:4 + size] + lzma.compress(body[:len(body) // 2]))
    with pytest.raises(DatasetError, match="split 'Training' is cut short"):
        load_dataset(tmp_path / "short.fer.xz")


def test_a_plan_trains_runs_the_cpu_tools_package(packed, tmp_path, capsys):
    """Two runs in their own processes, one at a time: warp (the Keras-ops warp), erasing and
    EMA on Training-rest, and plain cross-entropy on all of Training; each run directory holds
    what `train` writes, and `package_model` turns it into a model the app loads. Archived for
    the trip back from a device (a tar a run under a small limit), a run unpacks elsewhere and
    packages the same."""
    import keras

    from acting_mirror.training.runs import package_model

    path, _ = packed
    common = {"architecture": "mirror_net", "width": 0.125, "epochs": 2, "batch_size": 16,
              "val_split": HOLDOUT_SPLIT, "threads": 1}
    plan = [
        {"name": "warped", **common, "augment": ["warp", "erasing"], "ema": 0.9, "train_split": TRAIN_REST_SPLIT},
        {"name": "plain", **common, "augment": [], "train_split": "Training", "seed": 3},
    ]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code = accelerated.main(["plan", "--plan", str(tmp_path / "plan.json"), "--data", str(path),
                             "--runs", str(tmp_path / "runs"), "--parallel", "1", "--steps-per-execution", "2"])
    finished = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, (tmp_path / "runs" / "warped.out").read_text()[-2000:]
    assert sorted(run["name"] for run in finished) == ["plain", "warped"]
    for name in ("warped", "plain"):
        run = tmp_path / "runs" / name
        log = (run / "log.csv").read_text().splitlines()
        assert log[0].startswith("epoch,accuracy,loss") and len(log) == 3
        assert json.loads((run / "config.json").read_text())["augment"] == next(
            job["augment"] for job in plan if job["name"] == name)
        metadata = package_model(run, tmp_path / "models" / f"{name}.keras", which="last")
        model = keras.models.load_model(tmp_path / "models" / f"{name}.keras", compile=False)
        assert model.name == "mirror_net" and model.count_params() == metadata.parameters
        probabilities = model.predict(np.zeros((2, 48, 48, 1), np.float32), verbose=0)
        assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        assert json.loads((run / "machine.json").read_text())["backend"] == keras.backend.backend()
    # a warped run gets the warp's sharpness target; a run with no geometric augmentation none
    assert package_model(tmp_path / "runs" / "warped", tmp_path / "m.keras", which="last").sharpness > 0.3
    assert metadata.sharpness == 0.0

    sizes = sorted(sum(f.stat().st_size for f in (tmp_path / "runs" / name).iterdir() if f.name != "best.keras")
                   for name in ("warped", "plain"))
    code = accelerated.main(["archive", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "back"),
                             "--limit-mib", str((sizes[1] + sizes[0] / 2) / 2 ** 20)])
    assert code == 0
    tars = sorted(p.name for p in (tmp_path / "back").iterdir())
    assert tars == ["logs.tar", "runs0.tar", "runs1.tar"]  # two runs over the limit together: one tar each
    unpacked = tmp_path / "unpacked"
    for name in tars:
        with tarfile.open(tmp_path / "back" / name) as tar:
            tar.extractall(unpacked, filter="data")
    assert sorted(p.name for p in unpacked.glob("*.out")) == ["plain.out", "warped.out"]
    for name in ("warped", "plain"):
        kept = {p.name for p in (unpacked / name).iterdir()}
        assert "best.keras" not in kept and {"last.keras", "log.csv", "config.json"} <= kept
    # a run larger than the limit on its own still travels, whole, in a tar of its own
    assert accelerated.main(["archive", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "tiny"),
                             "--limit-mib", "0.001"]) == 0
    with tarfile.open(tmp_path / "tiny" / "runs1.tar") as tar:
        assert {Path(name).parent.name for name in tar.getnames()} == {"warped"}
    again = package_model(unpacked / "plain", tmp_path / "again.keras", which="last")
    assert again.parameters == metadata.parameters
    assert np.allclose(keras.models.load_model(tmp_path / "again.keras", compile=False).predict(
        np.zeros((1, 48, 48, 1), np.float32), verbose=0), probabilities[:1], atol=1e-6)


def test_the_accelerated_path_refuses_what_it_cannot_do(packed, tmp_path, capsys):
    path, _ = packed
    for change, fragment in (({"augment": ["jpeg"]}, "jpeg"), ({"teacher": "x.json"}, "teacher")):
        config = {"data": str(path), "run_dir": str(tmp_path / "run"), **change}
        code = accelerated.main(["train", "--config", json.dumps(config)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]
    assert accelerated.main(["pack", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_lease_gets_a_finished_schedule_not_a_cut_one(packed, tmp_path, capsys):
    """With --seconds, a run measures its steady epochs and shortens its cosine schedule to what
    fits: here nothing more fits, so a 12-epoch run ends after its 3 measured epochs and
    config.json says 3 (the plan test above: without --seconds a run does all it was asked)."""
    path, _ = packed
    job = {"name": "leased", "architecture": "mirror_net", "width": 0.125, "epochs": 12, "batch_size": 16,
           "augment": [], "train_split": TRAIN_REST_SPLIT, "val_split": HOLDOUT_SPLIT, "threads": 1}
    (tmp_path / "plan.json").write_text(json.dumps([job]))
    code = accelerated.main(["plan", "--plan", str(tmp_path / "plan.json"), "--data", str(path),
                             "--runs", str(tmp_path / "runs"), "--parallel", "1", "--seconds", "1"])
    capsys.readouterr()
    run = tmp_path / "runs" / "leased"
    assert code == 0, (tmp_path / "runs" / "leased.out").read_text()[-2000:]
    assert json.loads((run / "config.json").read_text())["epochs"] == accelerated.MEASURED_EPOCHS == 3
    rows = (run / "log.csv").read_text().splitlines()[1:]
    assert len(rows) == 3
    assert "3 epochs fit before the deadline" in (tmp_path / "runs" / "leased.out").read_text()
