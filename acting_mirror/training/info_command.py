"""`acting-mirror-model info`: a model's metadata, readably (or as raw JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from acting_mirror.training.model_commands import model_path


def add_info_parser(sub) -> None:
    p = sub.add_parser("info", help="show a model's metadata: labels, input, files, training, evaluation")
    p.add_argument("--model", help="metadata JSON or model file (default: the app's model, "
                                   "models/mirror_ensemble.json)")
    p.add_argument("--json", action="store_true", help="print the raw metadata JSON")


def run_info(args) -> int:
    from acting_mirror.model import load_metadata

    metadata, json_path = load_metadata(model_path(args.model))
    print(json.dumps(metadata.to_json(), indent=2) if args.json else format_info(metadata, json_path))
    return 0


def _describe_equalize(rule: dict) -> str:
    if not rule:
        return "never (crops reach the model as they are)"
    parts = [f"grey-level std < {rule['std_below']:g}" if "std_below" in rule else "",
             f"mean < {rule['mean_below']:g}" if "mean_below" in rule else "",
             f"mean > {rule['mean_above']:g}" if "mean_above" in rule else ""]
    return "histogram-equalized first when " + " or ".join(p for p in parts if p) + " (unlike the training faces)"


def format_info(metadata, json_path: Path) -> str:
    """A model's metadata, readably: identity, input, files (with sizes), training, evaluation."""
    lines = [
        f"model         {metadata.name}  ({json_path})",
        f"architecture  {metadata.architecture}, {metadata.parameters:,} parameters",
        f"labels        {', '.join(metadata.labels)} ({len(metadata.labels)} classes)",
        f"input         {metadata.input_size[0]}x{metadata.input_size[1]}x{metadata.channels} "
        f"({'grayscale' if metadata.channels == 1 else f'{metadata.channels} channels'}), "
        f"model input = pixel * {metadata.pixel_scale:.6g} {'-' if metadata.pixel_offset < 0 else '+'} "
        f"{abs(metadata.pixel_offset):g}",
        f"views         {'; '.join(view.describe() for view in metadata.views)} "
        f"({'stored' if metadata.test_time_views else 'default'}; averaged when model.test_time_views is on)",
        f"equalize      {_describe_equalize(metadata.equalize)}",
        "sharpness     " + (f"crops sharper than {metadata.sharpness:g} are blurred down to it, after "
                             "equalizing (as soft as the training faces were)" if metadata.sharpness
                             else "crops reach the model as sharp as they are"),
        "files",
    ]
    key_width = max((len(key) for key in metadata.files), default=0) + 2
    for key, name in metadata.files.items():
        file = json_path.parent / name
        size = f"{file.stat().st_size / 1024:.0f} KiB" if file.is_file() else "MISSING"
        lines.append(f"  {key:{key_width}}{name} ({size})")
    if not metadata.files:
        lines.append("  (none listed)")
    lines.append("training")
    lines += _nested(metadata.training, 1) or ["  (not recorded)"]
    lines.append("evaluation")
    lines += _nested(metadata.evaluation, 1) or ["  (not evaluated yet)"]
    return "\n".join(lines)


def _nested(values: dict, depth: int) -> list[str]:
    lines = []
    indent = "  " * depth
    for key, value in values.items():
        if isinstance(value, dict) and value:
            if all(not isinstance(v, dict | list) for v in value.values()) and len(value) <= 8:
                inline = ", ".join(f"{k}={_short(v)}" for k, v in value.items())
                if len(inline) <= 100:
                    lines.append(f"{indent}{key}: {inline}")
                    continue
            lines.append(f"{indent}{key}:")
            lines += _nested(value, depth + 1)
        else:
            lines.append(f"{indent}{key}: {_short(value)}")
    return lines


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
