"""The arguments the model-checking experiments share: the data file, the split, the models, the threads."""

from __future__ import annotations

import argparse


def model_check_parser(description: str, split: str = "PublicTest") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default=split)
    parser.add_argument("--model", action="append",
                        help="metadata JSON (repeatable; default: the shipped ensemble and mirror_net)")
    parser.add_argument("--threads", type=int, default=1)
    return parser
