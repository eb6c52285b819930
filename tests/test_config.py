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


def test_override_applies_and_validates():
    config = Config().override(display={"graph": True}, detector={"min_size": 60})
    assert config.display.graph and config.detector.min_size == 60
    assert Config().display.graph is False  # the original is untouched (frozen)
    with pytest.raises(ConfigError, match=r"detector\.scale_factor"):
        Config().override(detector={"scale_factor": 1.0})


@pytest.mark.parametrize("data, key", [
    ({"detector": {"scale_factr": 1.2}}, "detector.scale_factr"),
    ({"detectors": {}}, "detectors"),
    ({"display": {"graph": "yes"}}, "display.graph"),
    ({"detector": {"min_neighbors": 2.5}}, "detector.min_neighbors"),
    ({"detector": {"min_neighbors": True}}, "detector.min_neighbors"),
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
    assert config_from_dict({"detector": {"scale_factor": 2}}).detector.scale_factor == 2.0


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("display:\n  graph: [true\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        load_config(broken)
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
