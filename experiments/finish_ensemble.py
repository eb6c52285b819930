"""Average trained models into an ensemble and judge it against the shipped default, in a
fixed order: the held-out slice first (ensemble and default as the app runs each), then
PublicTest once, then the time a face of both, measured in the same run.

    PYTHONPATH=. python experiments/finish_ensemble.py acting_mirror/models/mirror_net.json \\
        ~/.cache/acting-mirror/models/distill_bank10_far/mirror_distilled.json \\
        --name mirror_pair_as --views 1,1.05m --sharpness 0.494

Writes the ensemble's files, its evaluation JSONs, a confusion matrix and summary.json to
--out-dir (default ~/.cache/acting-mirror/models/<name>), never into the repository: whether
it replaces the default is a person's decision, made on the held-out figures in summary.json.
Nothing is chosen here: the views (and a common sharpness target, where members differ) are
given, fixed before the members' results were seen.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from finish_distill import (
    REPO,
    add_common_arguments,
    app_figures,
    default_on_holdout,
    publictest_once,
    times_and_summary,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", nargs="+", type=Path, help="the members' metadata JSON files")
    parser.add_argument("--name", required=True)
    parser.add_argument("--views", required=True, help="views fixed beforehand, e.g. 1,1.05m")
    parser.add_argument("--sharpness", type=float,
                        help="give every member this sharpness target (members must agree on it)")
    parser.add_argument("--out-dir", type=Path)
    add_common_arguments(parser)
    args = parser.parse_args(argv)

    from acting_mirror.metadata import ModelMetadata
    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import HOLDOUT_SPLIT, load_dataset
    from acting_mirror.training.ensemble import build_ensemble
    from acting_mirror.training.evaluate import evaluate_model, update_metadata_evaluation, write_json
    from acting_mirror.training.export import export_model, face_crops
    from acting_mirror.views import parse_views, views_spec

    out_dir = (args.out_dir or Path.home() / ".cache/acting-mirror/models" / args.name).expanduser()
    if REPO in out_dir.resolve().parents:
        parser.error("--out-dir must be outside the repository (the default model is a person's decision)")
    members = []
    for index, member in enumerate(args.members):
        # copies, so a common sharpness target never rewrites a member's own metadata
        folder = out_dir / "members" / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        metadata = ModelMetadata.load(member)
        keras_file = member.parent / metadata.files["keras"]
        shutil.copy(keras_file, folder / keras_file.name)
        if args.sharpness is not None:
            metadata = replace(metadata, sharpness=args.sharpness)
        metadata.save(folder / member.name)
        members.append(folder / member.name)
    keras_path = out_dir / f"{args.name}.keras"
    ensemble = build_ensemble(members, keras_path, args.name)
    export_model(keras_path, quantize=True, threads=args.threads)
    json_path = keras_path.with_suffix(".json")
    views = parse_views(args.views)

    splits = load_dataset(args.data, (HOLDOUT_SPLIT, "PublicTest"))
    holdout, public = splits[HOLDOUT_SPLIT], splits["PublicTest"]
    model = load_classifier(json_path, "tflite", threads=args.threads, quantized=True)
    baseline = load_classifier(args.baseline, "tflite", threads=args.threads, quantized=True)
    summary = {"members": [str(m) for m in args.members], "views": views_spec(views),
               "sharpness": model.metadata.sharpness, "parameters": ensemble.parameters}

    # 1. the held-out slice, the ensemble and the default each as the app runs it
    held = evaluate_model(model, holdout, views=views)
    update_metadata_evaluation(json_path, HOLDOUT_SPLIT, held, store_views=True)
    write_json({"split": HOLDOUT_SPLIT, **held}, out_dir / f"{args.name}_eval_holdout.json")
    summary["holdout"] = app_figures(held)
    summary["baseline"] = default_on_holdout(baseline, holdout)
    print(f"held-out slice: {summary['holdout']}, default {summary['baseline']}")

    # 2. PublicTest, once, with everything above frozen
    summary["publictest"], default_public = publictest_once(model, public, views, json_path, out_dir, args.name,
                                                            args.baseline)
    summary["baseline"].update(default_public)

    # 3. time a face at batch 1, quantised, both models in the same run
    crops = face_crops(8, model.input_size, seed=5)
    times_and_summary(summary, model, baseline, crops, views, args.threads, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
