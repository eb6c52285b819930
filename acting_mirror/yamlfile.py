"""Reading the user's YAML files (config, acting scripts) with one-line errors."""

from __future__ import annotations

from pathlib import Path


def load_yaml_file(path: str | Path, what: str, error: type[Exception]):
    """`yaml.safe_load` of a file; a missing, unreadable or malformed file raises
    `error` with a message naming `what` ("config file", "script file") and the path."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"{what} {path} cannot be read ({problem})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{what} {path} is not valid YAML{where}") from None
