"""Configuration: the shipped config.yaml, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from acting_mirror.config import Config, ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_yaml_holds_every_key_with_the_default_values():
    shipped = load_config(ROOT / "acting_mirror" / "config.yaml")
    assert shipped == Config()
    import yaml

    data = yaml.safe_load((ROOT / "acting_mirror" / "config.yaml").read_text())
    for section, values in Config().__dict__.items():
        assert set(data[section]) == set(values.__dict__), f"config.yaml section {section} is incomplete"
    for sub in ("yunet", "haar"):  # the detectors' own sections
        assert set(data["detector"][sub]) == set(getattr(Config().detector, sub).__dict__), f"detector.{sub}"
    text = (ROOT / "acting_mirror" / "config.yaml").read_text()
    for line in text[text.index("detector:"):text.index("model:")].splitlines():
        if line.strip() and not line.strip().startswith("#") and not line.rstrip().endswith(":"):
            assert "#" in line, f"config.yaml: no comment on {line.strip()!r}"


def test_override_applies_and_validates():
    config = Config().override(display={"graph": True}, detector={"haar": {"min_size": 60}})
    assert config.display.graph and config.detector.haar.min_size == 60
    assert config.detector.haar.scale_factor == 1.1 and config.detector.kind == "yunet"  # the rest kept
    assert Config().display.graph is False  # the original is untouched (frozen)
    with pytest.raises(ConfigError, match=r"detector\.haar\.scale_factor"):
        Config().override(detector={"haar": {"scale_factor": 1.0}})
    config = config.override(detector={"kind": "haar", "yunet": {"input_size": 320}})
    assert (config.detector.kind, config.detector.yunet.input_size, config.detector.haar.min_size) == ("haar", 320, 60)


@pytest.mark.parametrize("data, key", [
    ({"detector": {"haar": {"scale_factr": 1.2}}}, "detector.haar.scale_factr"),
    ({"detector": {"scale_factor": 1.2}}, "detector.scale_factor"),  # a Haar key now lives in detector.haar
    ({"detectors": {}}, "detectors"),
    ({"display": {"graph": "yes"}}, "display.graph"),
    ({"detector": {"haar": {"min_neighbors": 2.5}}}, "detector.haar.min_neighbors"),
    ({"detector": {"haar": {"min_neighbors": True}}}, "detector.haar.min_neighbors"),
    ({"detector": {"haar": 3}}, "detector.haar"),
    ({"detector": {"kind": "dlib"}}, "detector.kind"),
    ({"detector": {"align": "yes"}}, "detector.align"),
    ({"detector": {"every_n_frames": 0}}, "detector.every_n_frames"),
    ({"detector": {"every_n_frames": 10**20}}, "detector.every_n_frames"),
    # each detector key has a bounded range: .inf hung detectMultiScale, 1e20 crashed OpenCV
    ({"detector": {"haar": {"scale_factor": float("inf")}}}, "detector.haar.scale_factor"),
    ({"detector": {"haar": {"scale_factor": float("nan")}}}, "detector.haar.scale_factor"),
    ({"detector": {"haar": {"scale_factor": 1.0}}}, "detector.haar.scale_factor"),
    ({"detector": {"haar": {"min_size": 10**20}}}, "detector.haar.min_size"),
    ({"detector": {"haar": {"min_size": 4}}}, "detector.haar.min_size"),
    ({"detector": {"haar": {"min_neighbors": -1}}}, "detector.haar.min_neighbors"),
    ({"detector": {"haar": {"min_neighbors": 10**12}}}, "detector.haar.min_neighbors"),
    ({"detector": {"haar": {"detection_width": 100}}}, "detector.haar.detection_width"),
    ({"detector": {"haar": {"detection_width": 10**9}}}, "detector.haar.detection_width"),
    ({"detector": {"yunet": {"input_size": 480}}}, "detector.yunet.input_size"),
    ({"detector": {"yunet": {"score_threshold": float("inf")}}}, "detector.yunet.score_threshold"),
    ({"detector": {"yunet": {"score_threshold": float("nan")}}}, "detector.yunet.score_threshold"),
    ({"detector": {"yunet": {"score_threshold": 0.0}}}, "detector.yunet.score_threshold"),
    ({"detector": {"yunet": {"nms_threshold": 1.5}}}, "detector.yunet.nms_threshold"),
    ({"detector": {"yunet": {"top_k": 0}}}, "detector.yunet.top_k"),
    ({"detector": {"yunet": {"top_k": 10**20}}}, "detector.yunet.top_k"),
    ({"detector": {"yunet": {"model": 5}}}, "detector.yunet.model"),
    ({"model": {"backend": "onnx"}}, "model.backend"),
    ({"model": {"views_max_faces": -1}}, "model.views_max_faces"),
    ({"tracking": {"iou_threshold": 1.5}}, "tracking.iou_threshold"),
    ({"output": {"codec": "MJPEG"}}, "output.codec"),
    ({"source": []}, "source"),
])
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(data)


def test_yaml_ints_are_accepted_for_floats():
    assert config_from_dict({"detector": {"haar": {"scale_factor": 2}}}).detector.haar.scale_factor == 2.0


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("display:\n  graph: [true\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        load_config(broken)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_a_microphone_index_may_be_written_as_a_number(tmp_path):
    from acting_mirror.audio.microphone import parse_device

    settings = tmp_path / "mirror.yaml"
    settings.write_text("output:\n  audio_device: 3\n")
    assert parse_device(load_config(settings).output.audio_device) == 3
    settings.write_text("output:\n  audio_device: USB Audio\n")
    assert parse_device(load_config(settings).output.audio_device) == "USB Audio"
    with pytest.raises(ConfigError, match=r"output\.audio_device must be str, not True"):
        config_from_dict({"output": {"audio_device": True}})
