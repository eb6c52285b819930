"""`acting-mirror-model`: train, evaluate, export and inspect emotion models.

Each command's flags and run live with its job: train_command.py (train, distill),
model_commands.py (evaluate, reference, robustness, export, ensemble), info_command.py (info).
"""

from __future__ import annotations

import argparse
import sys

from acting_mirror.errors import MirrorError
from acting_mirror.model import ModelError
from acting_mirror.training.data import DatasetError
from acting_mirror.training.info_command import add_info_parser, run_info
from acting_mirror.training.model_commands import (
    add_ensemble_parser,
    add_evaluate_parser,
    add_export_parser,
    add_reference_parser,
    add_robustness_parser,
    run_ensemble,
    run_evaluate,
    run_export,
    run_reference,
    run_robustness,
)
from acting_mirror.training.train_command import add_train_parser, run_train


def build_parser() -> argparse.ArgumentParser:
    from acting_mirror import installed_version

    parser = argparse.ArgumentParser(prog="acting-mirror-model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_train_parser(sub, distill=True)
    add_evaluate_parser(sub)
    add_reference_parser(sub)
    add_robustness_parser(sub)
    add_export_parser(sub)
    add_ensemble_parser(sub)
    add_info_parser(sub)
    return parser


# what a command imports from the `train` extra; any command not listed needs TensorFlow and Keras
COMMAND_MODULES = {"info": (), "evaluate": ("sklearn", "scipy"), "robustness": ("sklearn", "scipy"), "reference": ()}
KERAS_MODULES = ("tensorflow", "keras")


def main(argv: list[str] | None = None) -> int:
    from acting_mirror.extras import TRAIN, MissingExtra, require

    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": run_train, "distill": run_train, "evaluate": run_evaluate, "robustness": run_robustness,
                "export": run_export, "ensemble": run_ensemble, "info": run_info, "reference": run_reference}
    try:
        require(TRAIN, f"acting-mirror-model {args.command}", COMMAND_MODULES.get(args.command, KERAS_MODULES))
        return handlers[args.command](args)
    except MissingExtra as error:
        print(f"acting-mirror-model: error: {error}", file=sys.stderr)
        return 2
    except (DatasetError, ModelError, MirrorError, ValueError, OSError) as error:
        from acting_mirror.quiet import report_error
        from acting_mirror.sinks import describe_os_error

        report_error("acting-mirror-model: error: ", error,
                     describe_os_error(error) if isinstance(error, OSError) else None)
        return 2
    except KeyboardInterrupt:
        print("acting-mirror-model: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
