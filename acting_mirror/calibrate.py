"""`acting-mirror calibrate`: record an actor's resting face into a profile.

    acting-mirror calibrate --profile me.json --camera 0          # a few seconds of person 0
    acting-mirror calibrate --profile me.json --video resting.mp4
    acting-mirror calibrate --profile me.json --crops rest1.png rest2.png

The faces are found and classified exactly as the mirror does (the config's detector, model
and test-time views); from a clip or the camera the largest face of each frame over the first
`model.calibration_s` seconds counts, from `--crops` each image is one already-cropped face.
The profile (`acting_mirror.calibration`) then corrects the mirror, `batch` and `evaluate`
with `--profile`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from acting_mirror.calibration import CalibrationError, RestingProfile, make_profile


def resting_crops(source, config, input_size: tuple[int, int], seconds: float) -> np.ndarray:
    """The largest face's crop of each frame of `source` during its first `seconds`."""
    import cv2

    from acting_mirror.detect import build_detector, crop_faces

    detector = build_detector(config.detector)
    crops, started = [], None
    for frame in source:
        started = frame.time_s if started is None else started
        if frame.time_s - started >= seconds:
            break
        detections = detector.detect(frame.image)
        if detections:
            largest = max(detections, key=lambda d: d.box.w * d.box.h)
            gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
            crops.append(crop_faces(gray, [largest], input_size, config.detector.align)[0])
    return np.array(crops, np.uint8).reshape(-1, *input_size)


def image_crops(paths: Sequence[str], input_size: tuple[int, int]) -> np.ndarray:
    """Already-cropped face images as the model's grey crops (as `evaluate` reads image folders)."""
    import cv2

    from acting_mirror.files import check_input_file

    crops = []
    for path in paths:
        check_input_file(path, "face image", 64 << 20, CalibrationError)
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise CalibrationError(f"{path} is not a readable image")
        crops.append(cv2.resize(image, (input_size[1], input_size[0]), interpolation=cv2.INTER_AREA))
    return np.array(crops, np.uint8).reshape(-1, *input_size)


def record_profile(config, *, camera: int | None = None, video: str | None = None,
                   crops: Sequence[str] | None = None, log: Callable[[str], None] = print) -> RestingProfile:
    """Measure the resting face from exactly one of camera, video or crops; the profile."""
    from acting_mirror.model import load_configured_classifier

    classifier = load_configured_classifier(config.model)
    if not classifier.metadata.neutral_reference:  # say it before the actor sits still for nothing
        make_profile(np.zeros((1, len(classifier.labels))), classifier.metadata, classifier.model_path.parent, "")
    if crops:
        faces, described = image_crops(crops, classifier.input_size), f"{len(crops)} still crops"
    else:
        from acting_mirror import sources

        source = sources.open_video(video) if video else sources.open_camera(camera, fps=config.source.camera_fps)
        described = f"the first {config.model.calibration_s:g} s of {source.name}"
        log(f"recording the resting face: {described}")
        try:
            faces = resting_crops(source, config, classifier.input_size, config.model.calibration_s)
        finally:
            source.close()
    probabilities = classifier.classify(faces) if len(faces) else np.zeros((0, len(classifier.labels)))
    return make_profile(probabilities, classifier.metadata, classifier.model_path.parent, described)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from acting_mirror.commandline import Parser

    parser = Parser(prog=f"{prog} calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, metavar="PATH", help="where the profile (JSON) is written")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--camera", type=int, metavar="N", help="record a few seconds from camera N")
    where.add_argument("--video", metavar="PATH", help="a clip of the resting face")
    where.add_argument("--crops", nargs="+", metavar="IMAGE", help="already-cropped stills of the resting face")
    parser.add_argument("--seconds", type=float, help="how long to record from a clip or the camera (default: "
                                                      "model.calibration_s in config.yaml, 3 s as shipped)")
    parser.add_argument("--model", metavar="PATH", help="model metadata JSON (default: from config.yaml)")
    parser.add_argument("--config", metavar="PATH", help="config file")
    return parser


def calibrate_main(argv: Sequence[str]) -> int:
    from acting_mirror.commandline import PROG, default_config_path, log
    from acting_mirror.config import load_config

    args = build_parser(PROG).parse_args(argv)
    config = load_config(Path(args.config) if args.config else default_config_path())
    model = {"path": args.model} if args.model else {}
    if args.seconds is not None:
        model["calibration_s"] = args.seconds
    config = config.override(model=model)
    profile = record_profile(config, camera=args.camera, video=args.video, crops=args.crops, log=log)
    path = profile.save(args.profile)
    top = max(zip(profile.resting, profile.labels, strict=True))
    print(f"profile: {path} ({profile.faces} faces of {profile.source}; the resting face reads {top[1]} "
          f"{top[0]:.0%} without it)")
    return 0
