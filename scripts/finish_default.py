"""Package the FER+ runs of scripts/train_default.sh into a candidate default and judge it
against the shipped default, in one run on the same faces and the same machine:

    python scripts/finish_default.py --data ../shared/data/fer2013plus.csv.gz

1. each member run's last epoch (no epoch is chosen on the evaluation split) is packaged; the
   members get one common sharpness target (the mean of theirs), as an ensemble needs;
2. the members are averaged into one model, exported to TFLite (float32 and dynamic-range
   quantised) and given the shipped default's test-time views (its cost a face is then the
   shipped default's: same networks, same views);
3. both models are evaluated on PublicTest as the app runs them (quantised file, views), with
   the FER+ figures, and their time a face is measured alternately in the same process;
4. the comparison run (FER+ majority targets) and its votes twin are evaluated alone.
Writes everything to --out-dir (default ~/.cache/acting-mirror/models/ferplus), never into the
repository; summary.json holds the figures. Replacing the default is a separate, deliberate copy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = Path.home() / ".cache/acting-mirror/runs"


def package(run_dir: Path, output: Path):
    from acting_mirror.training.runs import package_model

    return package_model(run_dir, output, which="last")


def evaluate(json_path: Path, data, views: bool) -> dict:
    from acting_mirror.model import load_classifier
    from acting_mirror.training.evaluate import evaluate_model

    classifier = load_classifier(json_path, "tflite", threads=2, quantized=True)
    return evaluate_model(classifier, data, 256, classifier.metadata.views if views else None)


def seconds_a_face(paths: list[Path], faces, rounds: int = 7) -> list[float]:
    """Median seconds a face of each model as the app runs it (views on), one face a call, the
    models alternating round by round so that both see the same machine."""
    from acting_mirror.model import load_classifier

    classifiers = [load_classifier(path, "tflite", threads=2, quantized=True, test_time_views=True)
                   for path in paths]
    times = [[] for _ in classifiers]
    for _ in range(rounds):
        for index, classifier in enumerate(classifiers):
            started = time.perf_counter()
            for face in faces:
                classifier.classify(face[None])
            times[index].append((time.perf_counter() - started) / len(faces))
    return [statistics.median(t) for t in times]


def figures(results: dict) -> dict:
    out = {"accuracy": round(results["accuracy"], 4)}
    for key, source in (("", results), ("tta_", results.get("tta"))):
        if source and "ferplus" in source:
            vote = source["ferplus"]
            out[f"{key}ferplus_majority"] = round(vote["majority_accuracy"], 4)
            out[f"{key}ferplus_ci95"] = [round(v, 4) for v in vote["majority_ci95"]]
            out[f"{key}neutral_recall"] = round(vote["majority_recall"]["neutral"], 4)
            out[f"{key}sad_recall"] = round(vote["majority_recall"]["sad"], 4)
            out[f"{key}cross_entropy"] = round(vote["cross_entropy"], 4)
            if key:
                out["tta_accuracy"] = round(source["accuracy"], 4)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER-2013 CSV with the FER+ vote columns")
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--out-dir", type=Path, default=Path.home() / ".cache/acting-mirror/models/ferplus")
    parser.add_argument("--name", default="mirror_ensemble")
    parser.add_argument("--members", nargs="+", default=["votes_m0", "votes_m1"], help="the member runs' names")
    parser.add_argument("--no-sharpness", action="store_true",
                        help="leave the sharpness rule out (experiments/sharpness_check.py: on canonical faces it "
                             "lowered the FER+ majority accuracy at every face size)")
    parser.add_argument("--reference", type=Path,
                        help="also the default of before (metadata JSON), timed in the same run: the cost a face "
                             "is judged against it")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from acting_mirror.metadata import ModelMetadata
    from acting_mirror.training.data import load_split
    from acting_mirror.training.ensemble import build_ensemble
    from acting_mirror.training.evaluate import update_metadata_evaluation, write_json
    from acting_mirror.training.export import export_model

    shipped = REPO / "acting_mirror/models/mirror_ensemble.json"
    out = args.out_dir.expanduser()
    members = [package(args.runs / run, out / "members" / f"{run}.keras") for run in args.members]
    sharpness = 0.0 if args.no_sharpness else round(statistics.mean(m.sharpness for m in members), 3)
    member_paths = []
    for run in args.members:
        path = out / "members" / f"{run}.json"
        replace(ModelMetadata.load(path), sharpness=sharpness).save(path)
        member_paths.append(path)
    build_ensemble(member_paths, out / f"{args.name}.keras", name=args.name)
    candidate = out / f"{args.name}.json"
    views = ModelMetadata.load(shipped).test_time_views
    replace(ModelMetadata.load(candidate), test_time_views=views).save(candidate)
    export_model(candidate, quantize=True)

    data = load_split(args.data, "PublicTest")
    summary = {"data": Path(args.data).name, "split": "PublicTest", "faces": len(data), "models": {}}
    compared = [("shipped", shipped), ("candidate", candidate)]
    if args.reference:
        compared.append(("reference", args.reference))
    for label, path in compared:
        results = evaluate(path, data, views=True)
        write_json(results, out / f"eval_{label}_publictest.json")
        summary["models"][label] = figures(results)
        if label == "candidate":
            update_metadata_evaluation(candidate, "PublicTest", results)
    for run in ("votes_m0", "majority_m0", "blend_m0", "rest_m0"):
        if (args.runs / run / "finished").exists():
            metadata = package(args.runs / run, out / "comparison" / f"{run}.keras")
            path = out / "comparison" / f"{run}.json"
            replace(metadata, test_time_views=views).save(path)
            export_model(path, quantize=True, log=lambda _: None)
            summary["models"][f"single {run}"] = figures(evaluate(path, data, views=True))
    faces = data.images[:300]
    timed = seconds_a_face([path for _, path in compared], faces)
    seconds = {label: value for (label, _), value in zip(compared, timed, strict=True)}
    summary["seconds_a_face"] = {label: round(value, 6) for label, value in seconds.items()}
    summary["seconds_a_face"]["ratio"] = round(seconds["candidate"] / seconds["shipped"], 3)
    if args.reference:
        summary["seconds_a_face"]["ratio_to_reference"] = round(seconds["candidate"] / seconds["reference"], 3)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
