"""Write each member of an ensemble model (`acting-mirror-model ensemble`) to its own .keras file,
so that a new training run can start from it (`--init-from`).

    python scripts/ensemble_members.py acting_mirror/models/mirror_ensemble.keras ~/.cache/acting-mirror/runs/init
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ensemble", type=Path, help="the ensemble's .keras file")
    parser.add_argument("out_dir", type=Path, help="where member0.keras, member1.keras, ... go")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(args.ensemble, compile=False)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not members:
        parser.error(f"{args.ensemble} is not an ensemble: it holds no member models")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for index, member in enumerate(members):
        path = args.out_dir / f"member{index}.keras"
        member.save(path)
        print(f"wrote {path} ({member.count_params():,} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
