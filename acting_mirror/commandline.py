"""What every `acting-mirror` command shares: its name, an argparse parser whose errors
carry that name, the one-line log on stderr and where the config file is found.
The commands (cli, batch, calibrate) import from here, never from each other."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "acting-mirror"


class Parser(argparse.ArgumentParser):
    """argparse with every message under the one `acting-mirror:` prefix (also for the subcommands)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


def log(message: str) -> None:
    """One line on stderr, under the program's name (capped in length)."""
    from acting_mirror.quiet import one_line

    print(one_line(f"{PROG}: {message}"), file=sys.stderr)


def default_config_path() -> Path | None:
    """./config.yaml when there is one, else the package's own."""
    from acting_mirror.paths import package_root

    for candidate in (Path("config.yaml"), package_root() / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None
